"""The scenario suite in offline mode: every turn of tests/assistant/scenarios, through the real engine."""

from __future__ import annotations

import re
import uuid

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from chat.assistant import offline
from chat.assistant.engine import AnswerResult, answer_customer_message_sync
from chat.conversations import services
from tests.assistant.scenarios import Turn, all_turns

TURNS = all_turns()


@pytest.fixture(autouse=True)
def _offline(settings) -> None:
    settings.OPENAI_API_KEY = ""
    settings.ASSISTANT_CACHE_ENABLED = False


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", text).casefold()


def converse(tenant, turn: Turn) -> AnswerResult:
    """Send the turn's messages in one new conversation; the answer to the last one."""
    now = turn.now or timezone.now()
    with schema_context(tenant.schema_name):
        contact = services.contact_get_or_create(visitor_id=f"v-{uuid.uuid4().hex}")
        conversation = services.conversation_start(contact=contact)
    result = None
    for text in turn.says:
        with schema_context(tenant.schema_name):
            received = services.message_receive(conversation=conversation, text=text, channel_message_id=uuid.uuid4().hex)
        result = answer_customer_message_sync(schema_name=tenant.schema_name, message_id=received.message.pk,
                                              now=now)
    assert result is not None
    return result


def assert_turn_holds(turn: Turn, result: AnswerResult) -> None:
    """What the customer would act on is in the answer, and nothing the turn forbids."""
    said = _plain(result.text)
    where = f"\n{turn.id}: {' / '.join(turn.says)!r}\nanswer: {result.text!r}"
    for fact in turn.must_say:
        assert _plain(fact) in said, f"missing {fact!r}{where}"
    for group in turn.must_say_one_of:
        assert any(_plain(option) in said for option in group), f"none of {group!r}{where}"
    for wrong in turn.must_not_say:
        assert _plain(wrong) not in said, f"should not say {wrong!r}{where}"
    if turn.offers_person is not None:
        offered = result.handoff or any(reply in result.quick_replies
                                        for reply in (offline.phrase(lang, "talk_to_person") for lang in offline.PHRASES))
        assert offered == turn.offers_person, f"person offered: {offered}{where}"


@pytest.mark.parametrize("turn", TURNS, ids=[turn.id for turn in TURNS])
def test_turn_offline(demo_copies, turn: Turn) -> None:
    assert_turn_holds(turn, converse(demo_copies[turn.tenant], turn))
