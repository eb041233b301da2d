"""The fake OpenAI server, driven by the real `openai` client: it must look like the real API."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import openai
import pytest

from tests.support.fake_openai import FakeOpenAIServer, ScriptedReply


def client_for(llm: FakeOpenAIServer, **options: object) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-test", base_url=llm.base_url, max_retries=0, **options)  # type: ignore[arg-type]


def test_streamed_text_arrives_in_pieces_with_usage() -> None:
    with FakeOpenAIServer() as llm:
        llm.script_reply(text="Our shop opens at 09:00.", chunk_size=5, prompt_tokens=12, completion_tokens=7)
        stream = client_for(llm).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "When do you open?"}], stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)

    pieces = [chunk.choices[0].delta.content for chunk in chunks if chunk.choices and chunk.choices[0].delta.content]
    assert "".join(pieces) == "Our shop opens at 09:00."
    assert len(pieces) == 5
    assert [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices][-1] == "stop"
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (12, 7)
    received = llm.chat_requests[0]
    assert received.json["messages"][0]["content"] == "When do you open?"
    assert received.headers["authorization"] == "Bearer sk-test"


def test_streamed_tool_call_is_cut_into_deltas_that_join_back() -> None:
    with FakeOpenAIServer() as llm:
        llm.script_reply(tool_calls=[{"name": "order_status", "arguments": {"order_number": "TL-10421"}}],
                         chunk_size=6)
        stream = client_for(llm).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Where is my order?"}], stream=True,
        )
        deltas = [call for chunk in stream if chunk.choices for call in (chunk.choices[0].delta.tool_calls or [])]

    assert deltas[0].id and deltas[0].function and deltas[0].function.name == "order_status"
    arguments = "".join(delta.function.arguments or "" for delta in deltas if delta.function)
    assert json.loads(arguments) == {"order_number": "TL-10421"}
    assert len(deltas) > 2
    assert {delta.index for delta in deltas} == {0}


def test_non_streaming_answer_has_tool_calls_and_usage() -> None:
    with FakeOpenAIServer() as llm:
        llm.script_reply(text="Checking.", tool_calls=[{"name": "product_lookup", "arguments": {"q": "hoodie"}}])
        completion = client_for(llm).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Hoodie price?"}],
        )

    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Checking."
    assert choice.message.tool_calls and choice.message.tool_calls[0].function.name == "product_lookup"  # type: ignore[union-attr]
    assert completion.usage is not None and completion.usage.prompt_tokens > 0


def test_embeddings_are_deterministic_unit_vectors_in_both_encodings() -> None:
    with FakeOpenAIServer() as llm:
        client = client_for(llm)
        first = client.embeddings.create(model="text-embedding-3-small", input=["opening hours", "return policy"])
        again = client.embeddings.create(model="text-embedding-3-small", input="opening hours",
                                         encoding_format="float")
        short = client.embeddings.create(model="text-embedding-3-small", input="opening hours", dimensions=256)

    hours, returns = (np.array(item.embedding) for item in first.data)
    assert hours.shape == (1536,)
    assert np.isclose(np.linalg.norm(hours), 1.0, atol=1e-5)
    assert np.allclose(hours, np.array(again.data[0].embedding), atol=1e-6)
    assert not np.allclose(hours, returns)
    assert len(short.data[0].embedding) == 256
    assert first.usage.prompt_tokens > 0


def test_embeddings_of_texts_sharing_words_are_closer() -> None:
    with FakeOpenAIServer() as llm:
        vectors = [np.array(item.embedding) for item in client_for(llm).embeddings.create(
            model="text-embedding-3-small",
            input=["what are your opening hours", "our opening hours are 9 to 5", "we ship to Belgium"],
        ).data]

    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_rate_limit_answers_429_with_retry_after_then_recovers() -> None:
    with FakeOpenAIServer() as llm:
        llm.script_reply(status=429, retry_after=2)
        with pytest.raises(openai.RateLimitError) as raised:
            client_for(llm).chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        answer = client_for(llm).chat.completions.create(model="gpt-4o-mini",
                                                         messages=[{"role": "user", "content": "hi"}])

    assert raised.value.status_code == 429
    assert raised.value.response.headers["retry-after"] == "2"
    assert answer.choices[0].message.content == "Hello from the fake model."


def test_server_errors_and_responder_and_default_reply() -> None:
    seen: list[str] = []

    def responder(body: dict[str, object]) -> ScriptedReply:
        messages = body["messages"]
        seen.append(messages[-1]["content"])  # type: ignore[index]
        return ScriptedReply(text=f"echo: {messages[-1]['content']}")  # type: ignore[index]

    with FakeOpenAIServer() as llm:
        llm.script_reply(status=503, times=2)
        client = client_for(llm)
        for _ in range(2):
            with pytest.raises(openai.InternalServerError):
                client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
        llm.default_reply = ScriptedReply(text="changed default")
        default = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
        llm.responder = responder
        echoed = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "ping"}])

    assert default.choices[0].message.content == "changed default"
    assert echoed.choices[0].message.content == "echo: ping"
    assert seen == ["ping"]


def test_hang_lasts_until_the_client_gives_up_and_shutdown_is_clean() -> None:
    threads_before = threading.active_count()
    with FakeOpenAIServer() as llm:
        llm.script_reply(hang=True)
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            client_for(llm, timeout=0.5).chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        assert 0.4 < time.monotonic() - started < 3
    assert threading.active_count() <= threads_before


def test_shutdown_does_not_wait_for_a_hanging_client() -> None:
    llm = FakeOpenAIServer().start()
    llm.script_reply(hang=True)
    caller = threading.Thread(target=lambda: _swallow(lambda: client_for(llm, timeout=30).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])), daemon=True)
    caller.start()
    llm.wait_for_requests(1)
    started = time.monotonic()
    llm.stop()
    assert time.monotonic() - started < 2
    caller.join(timeout=5)
    assert not caller.is_alive()


def test_disconnect_midway_breaks_the_stream_after_some_text() -> None:
    with FakeOpenAIServer() as llm:
        llm.script_reply(text="A fairly long answer that will be cut in the middle.", chunk_size=4,
                         disconnect_midway=True)
        received: list[str] = []
        with pytest.raises(openai.APIConnectionError):
            for chunk in client_for(llm).chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True):
                if chunk.choices and chunk.choices[0].delta.content:
                    received.append(chunk.choices[0].delta.content)

    assert received, "some text arrives before the cut"
    assert "".join(received) != "A fairly long answer that will be cut in the middle."


def test_first_token_delay_holds_the_first_chunk_but_not_the_headers() -> None:
    with FakeOpenAIServer(first_token_delay=0.3) as llm:
        started = time.monotonic()
        stream = client_for(llm).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True)
        headers_after = time.monotonic() - started
        next(iter(stream))
        first_chunk_after = time.monotonic() - started
        stream.close()

    assert headers_after < 0.25
    assert first_chunk_after >= 0.3


def test_timing_log_has_each_streamed_answers_own_first_token_time(tmp_path: Path) -> None:
    log = tmp_path / "timing.jsonl"
    with FakeOpenAIServer(first_token_delay=0.2, timing_log=str(log)) as llm:
        for question in ("When do you open?", "Do you ship to the UK?"):
            list(client_for(llm).chat.completions.create(
                model="gpt-4o-mini", stream=True,
                messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": question}]))
        client_for(llm).chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])

    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [entry["question"] for entry in entries] == ["When do you open?", "Do you ship to the UK?"]
    assert all(0.2 <= entry["first_token"] - entry["received"] < 2 for entry in entries)


def test_wrong_api_key_is_refused_when_the_server_expects_one() -> None:
    with FakeOpenAIServer(api_key="sk-tenant") as llm:
        with pytest.raises(openai.AuthenticationError):
            client_for(llm).chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        ok = openai.OpenAI(api_key="sk-tenant", base_url=llm.base_url, max_retries=0).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert ok.choices[0].message.content


def _swallow(call: object) -> None:
    try:
        call()  # type: ignore[operator]
    except Exception:  # noqa: BLE001 - the caller only needs to end
        return
