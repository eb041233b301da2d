"""A careless model (tests/support/fake_openai.py: invented phone numbers, e-mails, addresses and
URLs, other scripts, off-topic paragraphs, echoes, another variant's stock, the wrong currency,
merged and dropped parts, silence, a stall) answers a real web process's widget customers: no
frame the widget receives carries the wrong piece, and the answer that ends the turn is the data's.

The REST API for conversations does not exist yet; when it does, its path gets the same cases.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from chat.assistant.resilience import circuit_reset
from tests.assistant.test_careless_model import QUESTIONS, correct_answer_and_calls
from tests.assistant.test_scenarios_llm import the_data_answer
from tests.chat.test_widget_protocol import open_widget
from tests.support.fake_openai import CARELESS_CASES, FakeOpenAIServer, careless_replies
from tests.support.processes import WebServer, child_env


@pytest.fixture(scope="module")
def model() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture(scope="module")
def web(model: FakeOpenAIServer) -> Iterator[WebServer]:
    # The stall's 60 seconds end at a first-token budget of 2 (the answer deadline has its own tests).
    server = WebServer(env=child_env(OPENAI_API_KEY="sk-careless", OPENAI_BASE_URL=model.base_url,
                                     ASSISTANT_CACHE_ENABLED="false", KB_EMBEDDING_PROVIDER="local",
                                     LLM_FIRST_TOKEN_TIMEOUT_SECONDS="2", LLM_MAX_RETRIES="0"))
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _fresh_script(model: FakeOpenAIServer) -> Iterator[None]:
    asyncio.run(circuit_reset(base_url=model.base_url))
    yield
    model.discard_scripts()


@pytest.mark.parametrize("case", CARELESS_CASES)
def test_a_careless_answer_never_reaches_a_widget(web: WebServer, model: FakeOpenAIServer, demo_copies: Any,
                                                  case: str) -> None:
    shop = demo_copies["shop"]
    question = QUESTIONS[case]
    correct, calls = correct_answer_and_calls(shop, question)
    replies, wrong = careless_replies(case, question=question, correct=correct, tool_calls=calls)
    for reply in replies:
        model.script_reply(reply)
    ws = open_widget(web, shop)
    try:
        ws.recv_until("welcome")
        ws.send({"type": "message", "client_id": f"careless-{case}", "text": question})
        asked = ws.recv_until("ack")["message_id"]
        end = ws.recv_until("answer.end", timeout=40)
    finally:
        ws.close()

    expected, _calls = the_data_answer(shop.schema_name, asked, timezone.now())
    seen = " ".join(str(frame.get("text") or frame.get("message", {}).get("text") or "") for frame in ws.frames)
    if wrong:
        assert wrong.casefold() not in seen.casefold(), f"{case}: the widget was sent {wrong!r}"
    assert end["message"]["text"] == expected, f"{case}: the answer from the data, not {end['message']['text']!r}"
