"""The scenario suite in LLM mode: every turn of tests/assistant/scenarios through the LLM path,
answered by a careless model.

For each customer message the fake model first calls the tools the data needs (those the offline
assistant calls for the same message), then answers carelessly: a correct answer with one thing
made wrong (a figure changed, another variant's stock, the wrong currency, two parts' figures
merged, a part dropped) or one of the failures a small model showed (invented contact details,
another script, an off-topic paragraph, an echo of the question, silence). Whatever the model
says, the customer must never be shown the wrong piece, and must still get the turn's facts.

One fake model serves the whole module, scripted per message; the answer cache is off.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from chat.assistant import offline, tools
from chat.assistant.engine import AnswerResult, answer_customer_message, turn_load
from chat.assistant.llm import run_then_close_llm_clients
from chat.assistant.resilience import circuit_reset
from chat.conversations import services
from tests.assistant.scenarios import Turn, all_turns
from tests.assistant.test_scenarios import assert_turn_holds
from tests.support.fake_openai import CARELESS_TEXTS, MUTATIONS, FakeOpenAIServer, careless_answer, careless_replies

TURNS = all_turns()
# The failures that need no correct answer to build, in the order turns without a figure get them.
PLAIN_CASES = ("invented_phone", "echo", "invented_email", "other_script", "off_topic", "invented_url",
               "invented_address", "not_offered", "measurement", "degenerate", "silence", "invented_extra")
assert set(PLAIN_CASES) - {"invented_extra"} == set(CARELESS_TEXTS)


@dataclass
class Sink:
    deltas: list[str] = field(default_factory=list)

    async def delta(self, text: str) -> None:
        self.deltas.append(text)


@pytest.fixture(scope="module")
def model() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _careless_provider(fast_limits: Any, model: FakeOpenAIServer) -> Iterator[None]:
    fast_limits.OPENAI_API_KEY = "sk-careless-test"
    fast_limits.OPENAI_BASE_URL = model.base_url
    fast_limits.OPENAI_CHAT_MODEL = "gpt-4o-mini"
    fast_limits.KB_EMBEDDING_PROVIDER = "local"
    fast_limits.ASSISTANT_CACHE_ENABLED = False
    asyncio.run(circuit_reset(base_url=model.base_url))
    yield
    model.discard_scripts()


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", text).casefold()


def case_for(index: int, correct: str, question: str, tool_names: list[str]) -> str:
    """A mutation of the correct answer when it has something to make wrong, else a plain failure."""
    usable = [case for case in MUTATIONS if careless_answer(case, question=question, correct=correct) is not None
              and (case != "dropped_part" or len(set(tool_names)) >= 2)]
    return usable[index % len(usable)] if usable else PLAIN_CASES[index % len(PLAIN_CASES)]


def the_data_answer(schema_name: str, message_id: int, now: Any) -> tuple[str, list[dict[str, Any]]]:
    """What the assistant answers from the data, and the tool calls that answer needed."""
    with schema_context(schema_name):
        turn = turn_load(schema_name, message_id)
        context = tools.TurnContext(customer_texts=turn.customer_texts, now=now)
        result = offline.answer(text=turn.text, state=turn.state, context=context)
    calls = [{"name": call["name"], "arguments": call["arguments"]} for call in context.calls]
    return result.text, calls


def converse_carelessly(tenant: Any, turn: Turn, index: int, model: FakeOpenAIServer,
                        settings: Any) -> tuple[AnswerResult, str, str, str]:
    """The turn's messages in one new conversation; earlier ones answered from the data (offline, so
    the conversation holds what the offline suite's does: an order number asked about, say), the
    last one carelessly. Returns the last answer, what streamed of it, the case and its wrong piece."""
    now = turn.now or timezone.now()
    with schema_context(tenant.schema_name):
        contact = services.contact_get_or_create(visitor_id=f"v-{uuid.uuid4().hex}")
        conversation = services.conversation_start(contact=contact)
    result, sink, case, wrong = None, Sink(), "", ""
    for position, text in enumerate(turn.says):
        with schema_context(tenant.schema_name):
            received = services.message_receive(conversation=conversation, text=text, channel_message_id=uuid.uuid4().hex)
        model.discard_scripts()
        last = position == len(turn.says) - 1
        if last:
            correct, calls = the_data_answer(tenant.schema_name, received.message.pk, now)
            case = case_for(index, correct, text, [call["name"] for call in calls])
            replies, wrong = careless_replies(case, question=text, correct=correct, tool_calls=tuple(calls))
            for reply in replies:
                model.script_reply(reply)
        key, settings.OPENAI_API_KEY = settings.OPENAI_API_KEY, settings.OPENAI_API_KEY if last else ""
        sink = Sink()
        try:
            result = run_then_close_llm_clients(answer_customer_message(
                schema_name=tenant.schema_name, message_id=received.message.pk, sink=sink, now=now))
        finally:
            settings.OPENAI_API_KEY = key
    assert result is not None
    return result, "".join(sink.deltas), case, wrong


@pytest.mark.parametrize("turn", TURNS, ids=[turn.id for turn in TURNS])
def test_turn_with_a_careless_model(demo_copies, model: FakeOpenAIServer, fast_limits: Any, turn: Turn) -> None:
    result, streamed, case, wrong = converse_carelessly(demo_copies[turn.tenant], turn, TURNS.index(turn), model,
                                                        fast_limits)

    where = f"\n{turn.id} ({case}): {turn.says[-1]!r}\nstreamed: {streamed!r}\nanswer: {result.text!r}"
    if wrong:
        assert _plain(wrong) not in _plain(streamed), f"the customer saw {wrong!r} while it streamed{where}"
        assert _plain(wrong) not in _plain(result.text), f"the answer says {wrong!r}{where}"
    assert_turn_holds(turn, result)
