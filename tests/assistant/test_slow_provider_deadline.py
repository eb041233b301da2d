"""A deadline on every answer (issue 26): a model that is slow to start, slow between tool rounds,
stalls midway or writes slowly never keeps a customer waiting past the answer's deadlines. Past
them the customer gets the offline answer, and the model's late text is never sent after it.

Through the engine (the widget's sink records what was streamed) and through a real web process's
widget socket. The demo shop's opening hours give an offline answer to compare with.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django_tenants.utils import schema_context

from chat.conversations.models import Author, Message
from chat.widget.services import widget_settings_get
from tenants.models import Tenant
from tests.assistant.test_engine_llm import (
    HOURS_QUESTION,
    Sink,
    answer,
    assert_offline_hours_answer,
    customer_says,
    demo_tenant_create,
)
from tests.support.fake_openai import FakeOpenAIServer
from tests.support.processes import ROOT, WebServer, child_env
from tests.support.ws import WidgetSocket

LATE_WORDS = "Something the customer must never read"
HOURS_CALL = {"name": "opening_hours", "arguments": {"date": "2026-11-14"}}


@pytest.fixture(scope="module")
def shop(django_db_setup: None, django_db_blocker: Any) -> Iterator[Tenant]:
    with django_db_blocker.unblock():
        yield demo_tenant_create()


@pytest.fixture
def model(llm: FakeOpenAIServer, fast_limits: Any) -> FakeOpenAIServer:
    """The platform's provider is the fake model; each call's own limits are far from the answer's."""
    fast_limits.OPENAI_API_KEY = "sk-platform-test"
    fast_limits.OPENAI_BASE_URL = llm.base_url
    fast_limits.KB_EMBEDDING_PROVIDER = "local"
    fast_limits.ASSISTANT_CACHE_ENABLED = False
    fast_limits.LLM_FIRST_TOKEN_TIMEOUT_SECONDS = 20
    fast_limits.LLM_TOTAL_TIMEOUT_SECONDS = 60
    fast_limits.ASSISTANT_FIRST_TEXT_DEADLINE_SECONDS = 1.5
    fast_limits.ASSISTANT_ANSWER_DEADLINE_SECONDS = 3
    return llm


def timed_answer(shop: Tenant, sink: Sink) -> tuple[Any, float]:
    _, message = customer_says(shop, HOURS_QUESTION)
    started = time.monotonic()
    result = answer(shop, message, sink=sink)
    return result, time.monotonic() - started


def test_a_model_that_says_nothing_gets_the_offline_answer_at_the_first_text_deadline(
        shop: Tenant, model: FakeOpenAIServer) -> None:
    model.script_reply(hang=True, times=3)
    sink = Sink()

    result, elapsed = timed_answer(shop, sink)

    assert_offline_hours_answer(result)
    assert sink.text == result.text
    assert 1.5 <= elapsed < 2.8, elapsed
    assert len(model.chat_requests) == 1


def test_a_model_that_keeps_missing_the_deadline_opens_its_circuit(shop: Tenant, model: FakeOpenAIServer,
                                                                     fast_limits: Any) -> None:
    fast_limits.LLM_CIRCUIT_FAILURES = 2
    model.script_reply(first_token_delay=10, text="Too late.", times=3)
    for _ in range(2):
        assert_offline_hours_answer(timed_answer(shop, Sink())[0])
    assert len(model.chat_requests) == 2

    result, elapsed = timed_answer(shop, Sink())

    assert_offline_hours_answer(result)
    assert len(model.chat_requests) == 2, "an open circuit answers at once, without asking the slow model"
    assert elapsed < 1, elapsed


def test_slow_tool_rounds_share_one_first_text_deadline(shop: Tenant, model: FakeOpenAIServer) -> None:
    # Each round starts in 0.6 s, well within a call's own first-token limit; together they would
    # keep the customer waiting for as long as the model likes to call tools.
    model.script_reply(tool_calls=[HOURS_CALL], first_token_delay=0.6, times=4)
    model.script_reply(text=f"{LATE_WORDS}.", first_token_delay=0.6)
    sink = Sink()

    result, elapsed = timed_answer(shop, sink)

    assert_offline_hours_answer(result)
    assert LATE_WORDS not in sink.text
    assert 1.5 <= elapsed < 2.8, elapsed
    assert len(model.chat_requests) < 4


def test_a_model_that_stalls_midway_is_cut_off_and_its_late_text_never_reaches_the_customer(
        shop: Tenant, model: FakeOpenAIServer) -> None:
    # The model starts at once, writes a sentence, then falls silent for 20 s before the rest.
    model.script_reply(text=f"Let me look that up for you. Here it is. {LATE_WORDS} after the pause.",
                       chunk_size=6, pause_midway=20)
    sink = Sink()

    result, elapsed = timed_answer(shop, sink)

    assert_offline_hours_answer(result)
    assert 3 <= elapsed < 4.5, elapsed
    assert LATE_WORDS not in sink.text
    with schema_context(shop.schema_name):
        stored = Message.objects.get(pk=result.message_id, author=Author.ASSISTANT)
    assert stored.text == result.text and stored.mode == "offline" and LATE_WORDS not in stored.text


def test_a_model_writing_too_slowly_is_replaced_at_the_answer_deadline(shop: Tenant, model: FakeOpenAIServer) -> None:
    words = " ".join(f"Sentence {number} is here." for number in range(40))
    model.script_reply(text=words, chunk_size=5, chunk_delay=0.1)
    sink = Sink()

    result, elapsed = timed_answer(shop, sink)

    assert_offline_hours_answer(result)
    assert 3 <= elapsed < 4.5, elapsed
    assert "Sentence 39" not in sink.text


def test_a_quick_answer_is_untouched_by_the_deadlines(shop: Tenant, model: FakeOpenAIServer) -> None:
    model.script_reply(tool_calls=[HOURS_CALL], first_token_delay=0.3)
    model.script_reply(text="On Saturday we're open from 10:00 to 14:00.", first_token_delay=0.3, chunk_size=6,
                       chunk_delay=0.05)
    sink = Sink()

    result, _ = timed_answer(shop, sink)

    assert (result.mode, result.text) == ("llm", "On Saturday we're open from 10:00 to 14:00.")
    assert sink.text == result.text


def test_through_the_widget_a_stalled_model_gives_the_offline_answer_in_time(shop: Tenant) -> None:
    with FakeOpenAIServer() as llm:
        llm.default_reply = {"text": f"One moment please. {LATE_WORDS} at last.", "chunk_size": 6,
                             "pause_midway": 30}
        server = WebServer(env=child_env(OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=llm.base_url,
                                         ASSISTANT_CACHE_ENABLED="false", KB_EMBEDDING_PROVIDER="local",
                                         ASSISTANT_FIRST_TEXT_DEADLINE_SECONDS="2",
                                         ASSISTANT_ANSWER_DEADLINE_SECONDS="4"))
        try:
            with schema_context(shop.schema_name):
                key = widget_settings_get().public_key
            ws = WidgetSocket(server.port, shop.get_primary_domain().domain, f"/ws/widget/?key={key}")
            ws.recv_until("welcome")
            started = time.monotonic()
            ws.send({"type": "message", "client_id": "slow-1", "text": HOURS_QUESTION})
            asked = ws.recv_until("ack")["message_id"]
            end = ws.recv_until("answer.end", timeout=30)
            elapsed = time.monotonic() - started
            # Whatever the model says after the fallback would arrive within these seconds.
            late = [frame for frame in _frames_for(ws, seconds=1.5) if LATE_WORDS in str(frame)]
            ws.close()
        finally:
            server.stop()

    assert "10:00" in end["message"]["text"] and "14:00" in end["message"]["text"], end
    assert elapsed < 6, elapsed
    with schema_context(shop.schema_name):
        assert Message.objects.get(in_reply_to_id=asked, author=Author.ASSISTANT).mode == "offline"
    assert LATE_WORDS not in str(ws.frames) and late == []


def test_through_the_command_line_a_silent_model_gives_the_offline_answer_in_time(shop: Tenant) -> None:
    with FakeOpenAIServer() as llm:
        llm.default_reply = {"text": f"{LATE_WORDS}.", "first_token_delay": 30}
        ran = subprocess.run([sys.executable, "manage.py", "assistant", "ask", "--tenant", shop.schema_name, "--json",
                              HOURS_QUESTION], cwd=ROOT, capture_output=True, text=True, timeout=120,
                             env=child_env(OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=llm.base_url,
                                           ASSISTANT_CACHE_ENABLED="false", ASSISTANT_FIRST_TEXT_DEADLINE_SECONDS="2",
                                           ASSISTANT_ANSWER_DEADLINE_SECONDS="4"))

    assert ran.returncode == 0, ran.stderr[-2000:]
    answered = json.loads(ran.stdout)
    assert answered["mode"] == "offline" and "10:00" in answered["answer"] and LATE_WORDS not in answered["answer"]
    assert 2000 <= answered["timings"]["total_ms"] < 3500, answered["timings"]


def _frames_for(ws: WidgetSocket, *, seconds: float) -> list[dict[str, Any]]:
    """Every frame the socket receives in the next `seconds`."""
    frames: list[dict[str, Any]] = []
    until = time.monotonic() + seconds
    while (remaining := until - time.monotonic()) > 0:
        try:
            frames.append(ws.recv(timeout=remaining))
        except TimeoutError:
            break
    return frames
