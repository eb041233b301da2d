"""Every case of the careless model (tests/support/fake_openai.py), through the engine: whatever it
says, the customer is never shown the wrong piece, and the answer that stays is the one from the
data. The same cases reach a real web process's widget in tests/security/test_careless_model_*.py."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from chat.assistant.engine import answer_customer_message
from chat.assistant.llm import run_then_close_llm_clients
from chat.assistant.resilience import circuit_reset
from chat.conversations import services
from tests.assistant.test_scenarios_llm import Sink, the_data_answer
from tests.support.fake_openai import CARELESS_CASES, CARELESS_TEXTS, FakeOpenAIServer, careless_replies

# The question each case is asked: one whose correct answer has what the case makes wrong.
PRODUCT_QUESTION = "do you have the harbour hoodie in M?"
QUESTIONS = {
    **{case: "are you open on sunday?" for case in CARELESS_TEXTS},
    "echo": "Do you have the Essential Hoodie in navy, size M?",
    "off_topic": "are you open on boxing day?",
    "measurement": "how much is the harbour hoodie?",
    **{case: PRODUCT_QUESTION for case in ("changed_figure", "wrong_currency", "stock_flipped", "invented_extra")},
    # A product with several colours: its answer names the colour, which the careless model swaps.
    "wrong_variant": "do you have the essential hoodie in black, size M?",
    "merged_parts": "what time are you open on saturday?",
    "dropped_part": "what time are you open on saturday? and do you have the harbour hoodie in M?",
    "stall": "are you open on sunday?",
}
assert set(QUESTIONS) == set(CARELESS_CASES)


@pytest.fixture(scope="module")
def model() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _careless_provider(fast_limits: Any, model: FakeOpenAIServer) -> Iterator[None]:
    fast_limits.OPENAI_API_KEY = "sk-careless-test"
    fast_limits.OPENAI_BASE_URL = model.base_url
    fast_limits.KB_EMBEDDING_PROVIDER = "local"
    fast_limits.ASSISTANT_CACHE_ENABLED = False
    # The stall's 60 seconds end at the first-token budget (the deadline is tested on its own).
    fast_limits.LLM_FIRST_TOKEN_TIMEOUT_SECONDS = 1
    asyncio.run(circuit_reset(base_url=model.base_url))
    yield
    model.discard_scripts()


def correct_answer_and_calls(tenant: Any, question: str) -> tuple[str, tuple[dict[str, Any], ...]]:
    """The data's answer to `question` and its tool calls; for a two-part question, each part's."""
    parts = [part.strip() + "?" for part in question.split("? and ")] if "? and " in question else [question]
    texts, calls = [], []
    for part in parts:
        with schema_context(tenant.schema_name):
            contact = services.contact_get_or_create(visitor_id=f"v-{uuid.uuid4().hex}")
            conversation = services.conversation_start(contact=contact)
            message = services.message_receive(conversation=conversation, text=part, channel_message_id=uuid.uuid4().hex)
        text, part_calls = the_data_answer(tenant.schema_name, message.message.pk, timezone.now())
        texts.append(text)
        calls.extend(part_calls)
    return " ".join(texts), tuple(calls)


@pytest.mark.parametrize("case", CARELESS_CASES)
def test_a_careless_answer_never_reaches_the_customer(demo_copies, model: FakeOpenAIServer, case: str) -> None:
    shop = demo_copies["shop"]
    question = QUESTIONS[case]
    correct, calls = correct_answer_and_calls(shop, question)
    replies, wrong = careless_replies(case, question=question, correct=correct, tool_calls=calls)
    for reply in replies:
        model.script_reply(reply)
    with schema_context(shop.schema_name):
        contact = services.contact_get_or_create(visitor_id=f"v-{uuid.uuid4().hex}")
        conversation = services.conversation_start(contact=contact)
        message = services.message_receive(conversation=conversation, text=question, channel_message_id=uuid.uuid4().hex)
    sink = Sink()

    result = run_then_close_llm_clients(answer_customer_message(schema_name=shop.schema_name,
                                                                message_id=message.message.pk, sink=sink))

    streamed = "".join(sink.deltas)
    expected, _calls = the_data_answer(shop.schema_name, message.message.pk, timezone.now())
    if wrong:
        assert wrong.casefold() not in streamed.casefold(), f"{case}: streamed {streamed!r}"
    assert result.text == expected, f"{case}: the answer from the data, not {result.text!r}"
    if case != "stall":
        assert len(model.chat_requests) and model.pending_scripts() == 0, "the careless model was asked"
