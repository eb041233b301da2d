"""The provider client against a real local OpenAI-protocol server, with the real `openai` client and Redis."""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import ssl
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import openai
import pytest
from openai.resources.chat.completions import AsyncCompletions

from chat.assistant.http import llm_http_client
from chat.assistant.llm import (
    LLMRequestRejected,
    LLMUnavailable,
    ProviderConfig,
    StreamFinished,
    TextDelta,
    ToolCall,
    chat_stream,
    estimate_cost_minor,
    provider_config_default,
    run_then_close_llm_clients,
)
from chat.assistant.resilience import CODE_PROVIDER_ERROR, LLMError, circuit_reset, tenant_llm_inflight
from tests.support.fake_openai import FakeOpenAIServer
from tests.support.tls import local_tls

API_KEY = "sk-test-secret-0123456789"
QUESTION = [{"role": "user", "content": "How much is the Harbour Hoodie?"}]
LOOKUP_TOOL = {"type": "function", "function": {
    "name": "product_lookup", "description": "Find a product", "parameters": {
        "type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}}


def provider(server: FakeOpenAIServer) -> ProviderConfig:
    # The platform's endpoint, as the operator configures it: trusted, not behind the egress guard.
    return ProviderConfig(api_key=API_KEY, base_url=server.base_url, chat_model="gpt-4o-mini", egress_guarded=False)


def tenant() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


async def collect(server: FakeOpenAIServer, *, tenant_schema: str | None = None,
                  tools: list[dict[str, Any]] | None = None) -> list[Any]:
    events = []
    async with aclosing(chat_stream(config=provider(server), messages=QUESTION, tools=tools,
                                    tenant_schema=tenant_schema or tenant())) as stream:
        async for event in stream:
            events.append(event)
    return events


def text_until_failure(server: FakeOpenAIServer) -> tuple[list[str], LLMUnavailable]:
    """The text pieces a caller received before the stream failed, and the failure."""
    received: list[str] = []

    async def consume() -> None:
        async with aclosing(chat_stream(config=provider(server), messages=QUESTION, tools=None,
                                        tenant_schema=tenant())) as stream:
            async for event in stream:
                if isinstance(event, TextDelta):
                    received.append(event.text)

    with pytest.raises(LLMUnavailable) as raised:
        run_then_close_llm_clients(consume())
    return received, raised.value


def failure_of(server: FakeOpenAIServer, **kwargs: Any) -> LLMUnavailable:
    with pytest.raises(LLMUnavailable) as raised:
        run_then_close_llm_clients(collect(server, **kwargs))
    return raised.value


def test_streamed_text_arrives_as_deltas_and_ends_with_usage_and_cost(llm: FakeOpenAIServer) -> None:
    llm.script_reply(text="The Harbour Hoodie costs €59.95.", chunk_size=4, prompt_tokens=1000,
                     completion_tokens=200)

    events = run_then_close_llm_clients(collect(llm, tools=[LOOKUP_TOOL]))

    deltas = [event.text for event in events if isinstance(event, TextDelta)]
    assert "".join(deltas) == "The Harbour Hoodie costs €59.95."
    assert len(deltas) == 8
    finished = events[-1]
    assert isinstance(finished, StreamFinished)
    assert (finished.tokens_in, finished.tokens_out, finished.usage_estimated) == (1000, 200, False)
    assert finished.cost_minor == estimate_cost_minor(model="gpt-4o-mini", tokens_in=1000, tokens_out=200) == 270
    assert finished.model == "gpt-4o-mini" and finished.finish_reason == "stop" and finished.attempts == 1
    assert finished.first_token_seconds is not None and finished.first_token_seconds <= finished.total_seconds
    sent = llm.chat_requests[0]
    assert sent.json["stream"] is True and sent.json["stream_options"] == {"include_usage": True}
    assert sent.json["tools"] == [LOOKUP_TOOL]
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"


def test_tool_call_is_assembled_from_its_deltas(llm: FakeOpenAIServer) -> None:
    llm.script_reply(tool_calls=[
        {"id": "call_lookup", "name": "product_lookup", "arguments": {"query": "Harbour Hoodie", "size": "M"}},
        {"name": "opening_hours", "arguments": "{}"},
    ], chunk_size=3)

    events = run_then_close_llm_clients(collect(llm, tools=[LOOKUP_TOOL]))

    calls = [event for event in events if isinstance(event, ToolCall)]
    assert [call.name for call in calls] == ["product_lookup", "opening_hours"]
    assert calls[0].id == "call_lookup"
    assert calls[0].arguments == {"query": "Harbour Hoodie", "size": "M"}
    assert calls[1].arguments == {} and calls[1].arguments_error is None
    assert isinstance(events[-1], StreamFinished) and events[-1].finish_reason == "tool_calls"


def test_tool_call_with_broken_json_arguments_says_so(llm: FakeOpenAIServer) -> None:
    llm.script_reply(tool_calls=[{"name": "product_lookup", "arguments": '{"query": "Hood'}])

    call = next(event for event in run_then_close_llm_clients(collect(llm)) if isinstance(event, ToolCall))

    assert call.arguments == {}
    assert call.arguments_error and "not valid JSON" in call.arguments_error
    assert call.arguments_json == '{"query": "Hood'


@pytest.mark.parametrize("stall", [{"hang": True}, {"first_token_delay": 30}], ids=["no-answer", "headers-only"])
def test_provider_that_stays_silent_fails_within_the_first_token_timeout(
        llm: FakeOpenAIServer, fast_limits: Any, stall: dict[str, Any]) -> None:
    fast_limits.LLM_FIRST_TOKEN_TIMEOUT_SECONDS = 0.5
    llm.script_reply(**stall)

    started = time.monotonic()
    error = failure_of(llm)
    elapsed = time.monotonic() - started

    assert error.code == "llm_first_token_timeout"
    assert 0.45 <= elapsed < 1.5
    assert len(llm.chat_requests) == 1, "a stalled provider is not asked again"


def test_rate_limit_storm_is_retried_a_bounded_number_of_times(llm: FakeOpenAIServer) -> None:
    llm.script_reply(status=429, retry_after=0.05, times=10)

    started = time.monotonic()
    error = failure_of(llm)

    assert error.code == "llm_rate_limited"
    assert error.details == {"attempts": 3}
    assert len(llm.chat_requests) == 3
    request_times = [request.received_at for request in llm.chat_requests]
    assert all(later - earlier >= 0.05 for earlier, later in zip(request_times, request_times[1:], strict=False)), \
        "Retry-After is honoured"
    assert time.monotonic() - started < 2


def test_long_retry_after_is_not_waited_for(llm: FakeOpenAIServer) -> None:
    llm.script_reply(status=429, retry_after=120, times=3)

    started = time.monotonic()
    error = failure_of(llm)

    assert error.code == "llm_rate_limited"
    assert len(llm.chat_requests) == 1
    assert time.monotonic() - started < 1


def test_server_errors_then_success_answers_normally(llm: FakeOpenAIServer) -> None:
    llm.script_reply(status=503, times=2)
    llm.script_reply(text="We open at 9am.")

    events = run_then_close_llm_clients(collect(llm))

    assert "".join(event.text for event in events if isinstance(event, TextDelta)) == "We open at 9am."
    assert isinstance(events[-1], StreamFinished) and events[-1].attempts == 3
    assert len(llm.chat_requests) == 3


def test_broken_stream_before_any_output_is_retried(llm: FakeOpenAIServer) -> None:
    llm.script_reply(tool_calls=[{"name": "product_lookup", "arguments": {"query": "hoodie"}}], chunk_size=2,
                     disconnect_midway=True)
    llm.script_reply(tool_calls=[{"name": "product_lookup", "arguments": {"query": "hoodie"}}])

    events = run_then_close_llm_clients(collect(llm))

    calls = [event for event in events if isinstance(event, ToolCall)]
    assert len(calls) == 1 and calls[0].arguments == {"query": "hoodie"}
    assert len(llm.chat_requests) == 2


def test_error_event_inside_the_stream_before_any_output_is_retried(llm: FakeOpenAIServer) -> None:
    llm.script_reply(tool_calls=[{"name": "product_lookup", "arguments": {"query": "hoodie"}}], chunk_size=2,
                     error_midway=True)
    llm.script_reply(text="We open at 9am.")

    events = run_then_close_llm_clients(collect(llm))

    assert "".join(event.text for event in events if isinstance(event, TextDelta)) == "We open at 9am."
    assert not [event for event in events if isinstance(event, ToolCall)]
    assert len(llm.chat_requests) == 2


@pytest.mark.parametrize("failure", [{"disconnect_midway": True}, {"error_midway": True}],
                         ids=["connection dropped", "error event"])
def test_a_stream_failing_after_text_is_not_retried_and_says_output_was_partial(
        llm: FakeOpenAIServer, failure: dict[str, bool]) -> None:
    llm.script_reply(text="The Harbour Hoodie is in stock in sizes S, M and L, and it ships today.", chunk_size=4,
                     **failure)
    llm.script_reply(text="This must never be streamed after the first attempt's text.")
    received, failure = text_until_failure(llm)

    assert failure.after_output is True
    assert received and "never" not in "".join(received) and "ships today" not in "".join(received)
    assert len(llm.chat_requests) == 1


def test_circuit_opens_after_failures_fails_fast_and_half_opens_after_cooldown(
        llm: FakeOpenAIServer, fast_limits: Any) -> None:
    fast_limits.LLM_CIRCUIT_FAILURES = 3
    fast_limits.LLM_MAX_RETRIES = 0
    fast_limits.LLM_CIRCUIT_COOLDOWN_SECONDS = 0.5
    llm.script_reply(status=500, times=3)

    codes = [failure_of(llm).code for _ in range(3)]
    assert codes == ["llm_provider_error"] * 3

    started = time.monotonic()
    blocked = failure_of(llm)
    assert blocked.code == "llm_circuit_open"
    assert time.monotonic() - started < 0.2
    assert len(llm.chat_requests) == 3, "no request reaches the provider while the circuit is open"

    # After the cooldown one trial call goes through; its success closes the circuit.
    deadline = time.monotonic() + 5
    while True:
        try:
            events = run_then_close_llm_clients(collect(llm))
            break
        except LLMUnavailable as error:
            assert error.code == "llm_circuit_open"
            assert time.monotonic() < deadline, "the circuit never half-opened"
            time.sleep(0.05)
    assert isinstance(events[-1], StreamFinished)
    assert time.monotonic() - started >= 0.4
    assert isinstance(run_then_close_llm_clients(collect(llm))[-1], StreamFinished)
    assert len(llm.chat_requests) == 5


def test_failed_trial_call_reopens_the_circuit(llm: FakeOpenAIServer, fast_limits: Any) -> None:
    fast_limits.LLM_CIRCUIT_FAILURES = 2
    fast_limits.LLM_MAX_RETRIES = 0
    fast_limits.LLM_CIRCUIT_COOLDOWN_SECONDS = 0.3
    llm.script_reply(status=502, times=3)
    for _ in range(2):
        failure_of(llm)

    deadline = time.monotonic() + 5
    while len(llm.chat_requests) < 3:
        assert failure_of(llm).code in {"llm_circuit_open", "llm_provider_error"}
        assert time.monotonic() < deadline, "the circuit never half-opened"
        time.sleep(0.02)

    assert failure_of(llm).code == "llm_circuit_open"
    assert len(llm.chat_requests) == 3


def test_rate_limits_do_not_open_the_shared_circuit(llm: FakeOpenAIServer, fast_limits: Any) -> None:
    fast_limits.LLM_CIRCUIT_FAILURES = 2
    fast_limits.LLM_MAX_RETRIES = 0
    llm.script_reply(status=429, times=3)
    for _ in range(3):
        assert failure_of(llm).code == "llm_rate_limited"

    assert isinstance(run_then_close_llm_clients(collect(llm))[-1], StreamFinished)


def test_tenant_concurrency_cap_refuses_extra_calls_without_touching_the_provider(
        llm: FakeOpenAIServer, fast_limits: Any) -> None:
    fast_limits.LLM_TENANT_MAX_CONCURRENCY = 2
    busy_tenant = tenant()
    llm.script_reply(text="slow answer", first_token_delay=1.0, times=2)

    async def scenario() -> tuple[list[Any], LLMUnavailable | None, list[Any]]:
        slow = [asyncio.create_task(collect(llm, tenant_schema=busy_tenant)) for _ in range(2)]
        while len(llm.chat_requests) < 2:
            await asyncio.sleep(0.01)
        refused = None
        try:
            await collect(llm, tenant_schema=busy_tenant)
        except LLMUnavailable as error:
            refused = error
        other_tenant = await collect(llm)
        return await asyncio.gather(*slow), refused, other_tenant

    slow_results, refused, other_tenant = run_then_close_llm_clients(scenario())

    assert refused is not None and refused.code == "llm_tenant_busy"
    assert len(llm.chat_requests) == 3, "the refused call never reached the provider; the other tenant's did"
    assert isinstance(other_tenant[-1], StreamFinished)
    assert all(isinstance(result[-1], StreamFinished) for result in slow_results)
    assert run_then_close_llm_clients(tenant_llm_inflight(tenant_schema=busy_tenant)) == 0
    assert isinstance(run_then_close_llm_clients(collect(llm, tenant_schema=busy_tenant))[-1], StreamFinished)


def test_stopping_early_frees_the_tenant_slot(llm: FakeOpenAIServer) -> None:
    schema = tenant()
    llm.script_reply(text="A long answer the caller stops reading halfway through.", chunk_size=2, chunk_delay=0.05)

    async def read_one_delta() -> int:
        async with aclosing(chat_stream(config=provider(llm), messages=QUESTION, tools=None,
                                        tenant_schema=schema)) as stream:
            async for _event in stream:
                break
        return await tenant_llm_inflight(tenant_schema=schema)

    assert run_then_close_llm_clients(read_one_delta()) == 0


def test_refused_api_key_is_not_retried_and_never_logged(llm: FakeOpenAIServer, fast_limits: Any,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    llm.api_key = "sk-the-right-one"
    caplog.set_level(logging.DEBUG)

    with pytest.raises(LLMRequestRejected) as raised:
        run_then_close_llm_clients(collect(llm))
    llm.api_key = None
    llm.script_reply(status=503, times=3)
    failure_of(llm)

    assert raised.value.code == "llm_auth_failed"
    assert len(llm.chat_requests) == 4
    assert API_KEY not in caplog.text
    assert API_KEY not in repr(provider(llm))


def test_default_provider_comes_from_settings_and_is_off_without_a_key(settings: Any) -> None:
    settings.OPENAI_API_KEY = ""
    assert provider_config_default() is None

    settings.OPENAI_API_KEY = "sk-platform"
    settings.OPENAI_BASE_URL = ""
    settings.OPENAI_CHAT_MODEL = "gpt-4.1-mini"
    config = provider_config_default()
    assert config == ProviderConfig(api_key="sk-platform", base_url="https://api.openai.com/v1",
                                    chat_model="gpt-4.1-mini", egress_guarded=False)


def test_cost_estimate_uses_the_price_table(settings: Any) -> None:
    assert estimate_cost_minor(model="gpt-4o-mini", tokens_in=1_000_000, tokens_out=1_000_000) == 750_000
    assert estimate_cost_minor(model="gpt-4o-mini-2024-07-18", tokens_in=1000, tokens_out=0) == 150
    assert estimate_cost_minor(model="gpt-4o", tokens_in=1000, tokens_out=1000) == 12_500
    assert estimate_cost_minor(model="some-tenant-model", tokens_in=1000, tokens_out=0) == 2_500

    settings.LLM_PRICES = {"some-tenant-model": ["1", "2"]}
    settings.LLM_COST_MINOR_UNITS_PER_USD = 100
    assert estimate_cost_minor(model="some-tenant-model", tokens_in=1_000_000, tokens_out=1_000_000) == 300
    assert estimate_cost_minor(model="gpt-4o-mini", tokens_in=1000, tokens_out=1000) == 0



@pytest.mark.parametrize(("reply", "what"), [
    ({"chunk_delay": 1.0}, "drips past the total budget"),
    ({"pause_midway": 4.0}, "falls silent for longer than a read may wait"),
])
def test_a_stream_that_stops_flowing_mid_answer_fails_as_a_timeout_after_output(
        llm: FakeOpenAIServer, fast_limits: Any, reply: dict[str, float], what: str) -> None:
    fast_limits.LLM_FIRST_TOKEN_TIMEOUT_SECONDS = 2  # a read may wait 3 s
    fast_limits.LLM_TOTAL_TIMEOUT_SECONDS = 4
    llm.script_reply(text="One moment. Two moments. Three moments. Four moments. Five moments.", chunk_size=12,
                     **reply)
    received, failure = text_until_failure(llm)

    assert failure.code == "llm_timeout", what
    assert failure.after_output is True and received and "Five" not in "".join(received)
    assert len(llm.chat_requests) == 1


def test_the_request_reaches_the_provider_as_the_sdk_built_it(llm: FakeOpenAIServer) -> None:
    llm.script_reply(text="We open at 9am.")

    run_then_close_llm_clients(collect(llm))

    (request,) = llm.chat_requests
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("AsyncOpenAI/Python")
    assert request.json["messages"] == QUESTION and request.json["stream"] is True


class TracedStream:
    """What an instrumentation library returns in place of the SDK's stream: it passes every chunk
    on, records the answer's text for its span, and closes the stream it wraps."""

    def __init__(self, stream: Any, span: dict[str, Any]) -> None:
        self.stream = stream
        self.span = span

    async def __aiter__(self) -> AsyncIterator[Any]:
        async for chunk in self.stream:
            self.span["text"] += "".join(choice.delta.content or "" for choice in chunk.choices)
            yield chunk
        self.span["ended"] = True

    async def close(self) -> None:
        await self.stream.close()


def test_each_call_goes_through_the_sdks_public_create_where_instrumentation_hooks_in(
        llm: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenTelemetry's and Langfuse's OpenAI instrumentation wrap `AsyncCompletions.create` and the
    stream it returns: a call that bypasses it is invisible to them."""
    llm.script_reply(text="We open at 9am.", chunk_size=4, prompt_tokens=40, completion_tokens=5)
    spans: list[dict[str, Any]] = []
    create = AsyncCompletions.create

    @functools.wraps(create)
    async def traced_create(self: AsyncCompletions, *args: Any, **kwargs: Any) -> Any:
        span = {"model": kwargs.get("model"), "stream": kwargs.get("stream"), "text": "", "ended": False}
        spans.append(span)
        return TracedStream(await create(self, *args, **kwargs), span)

    monkeypatch.setattr(AsyncCompletions, "create", traced_create)

    events = run_then_close_llm_clients(collect(llm))

    assert "".join(event.text for event in events if isinstance(event, TextDelta)) == "We open at 9am."
    assert spans == [{"model": "gpt-4o-mini", "stream": True, "text": "We open at 9am.", "ended": True}]
    finished = events[-1]
    assert isinstance(finished, StreamFinished) and (finished.tokens_in, finished.tokens_out) == (40, 5)


def test_a_providers_odd_chunks_and_extra_fields_are_skipped(llm: FakeOpenAIServer) -> None:
    """An OpenAI-compatible endpoint may send chunks of its own shape and fields of its own: the
    answer still streams, with its tool-less ending and its usage."""
    llm.script_reply(text="We open at 9am.", chunk_size=4, prompt_tokens=40, completion_tokens=5, odd_frames=(
        None, [1, 2], "keep-alive", 7, {"choices": "none", "model": 7}, {"choices": [None, "x"]},
        {"choices": [{"index": 0, "delta": "s", "finish_reason": None}], "usage": "n/a"},
        {"id": "c1", "choices": [{"index": 0, "delta": {
            "content": "", "reasoning_content": "The hours are in the FAQ.",
            "tool_calls": [{"index": "0", "function": {"name": 1}}, 3]}}], "x_provider": {"region": "eu"}},
        {"choices": [{"index": 1, "delta": {"content": "Another choice's words."}}]},
    ))

    events = run_then_close_llm_clients(collect(llm))

    assert "".join(event.text for event in events if isinstance(event, TextDelta)) == "We open at 9am."
    assert not [event for event in events if isinstance(event, ToolCall)]
    finished = events[-1]
    assert isinstance(finished, StreamFinished) and finished.finish_reason == "stop"
    assert (finished.tokens_in, finished.tokens_out, finished.usage_estimated) == (40, 5, False)
    assert finished.model == "gpt-4o-mini" and finished.attempts == 1


def test_a_stream_line_that_is_not_json_is_a_provider_error_not_a_crash(llm: FakeOpenAIServer,
                                                                         fast_limits: Any) -> None:
    """An endpoint behind a proxy that pastes its own text into the stream: the caller gets an
    LLMError (so the customer gets the offline answer), never a JSON decoding exception."""
    fast_limits.LLM_MAX_RETRIES = 0
    llm.script_reply(text="We open at 9am.", raw_data_lines=("<html>502 Bad Gateway</html>",))

    with pytest.raises(LLMError) as raised:
        run_then_close_llm_clients(collect(llm))

    assert raised.value.code == CODE_PROVIDER_ERROR


def test_a_provider_that_refuses_connections_is_a_connection_failure_retried_then_given_up(
        fast_limits: Any) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = ProviderConfig(api_key=API_KEY, base_url=f"http://127.0.0.1:{port}/v1", chat_model="gpt-4o-mini",
                            egress_guarded=False)

    async def call() -> None:
        async with aclosing(chat_stream(config=config, messages=QUESTION, tools=None,
                                        tenant_schema=tenant())) as stream:
            async for _event in stream:
                pass

    with pytest.raises(LLMUnavailable) as raised:
        run_then_close_llm_clients(call())

    assert raised.value.code == "llm_connection_failed"
    assert raised.value.details["attempts"] == 3 and raised.value.after_output is False
    asyncio.run(circuit_reset(base_url=config.base_url))


def connections_to(port: int) -> int:
    """Established TCP connections from a client socket to `port` on this machine (from /proc)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[2].split(":")[1], 16) == port and fields[3] == "01":
            count += 1
    return count


def test_a_loop_that_ends_closes_its_connections_to_the_provider(llm: FakeOpenAIServer) -> None:
    """A worker task answers in a loop of its own: its keep-alive connections must not outlive it."""
    llm.script_reply(text="We open at 9am.")

    events = run_then_close_llm_clients(collect(llm))

    assert "".join(event.text for event in events if isinstance(event, TextDelta)) == "We open at 9am."
    assert connections_to(llm.port) == 0


def test_new_clients_do_not_load_the_certificate_bundle_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every tenant key and every event loop gets a client of its own: none of them may spend the
    CPU of reading the CA bundle on the event loop once the process has read it."""
    llm_http_client(), llm_http_client(egress_guarded=False)  # the process's first clients
    loaded: list[object] = []
    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations",
                        lambda *args, **kwargs: loaded.append(args))  # type: ignore[method-assign]

    for guarded in (True, False):
        asyncio.run(llm_http_client(egress_guarded=guarded).aclose())

    assert loaded == []


def test_a_streamed_answer_over_https_from_a_provider_whose_certificate_is_trusted() -> None:
    tls = local_tls()
    with FakeOpenAIServer(tls=tls.server, default_reply={"text": "We open at 9am."}) as server:
        async def stream_text() -> str:
            http_client = llm_http_client(egress_guarded=False, ssl_context=tls.client)
            client = openai.AsyncOpenAI(api_key=API_KEY, base_url=server.base_url, max_retries=0,
                                        http_client=http_client)
            try:
                stream = await client.post("/chat/completions", cast_to=object, stream=True,
                                           stream_cls=openai.AsyncStream[object],
                                           body={"model": "gpt-4o-mini", "stream": True, "messages": QUESTION})
                return "".join([chunk["choices"][0]["delta"].get("content") or ""
                                async for chunk in stream if chunk.get("choices")])
            finally:
                await client.close()

        assert server.base_url.startswith("https://")
        assert asyncio.run(stream_text()) == "We open at 9am."


def test_a_provider_whose_certificate_nobody_vouches_for_is_never_sent_the_question(fast_limits: Any) -> None:
    with FakeOpenAIServer(tls=local_tls().server) as server:
        failure = failure_of(server)
        asyncio.run(circuit_reset(base_url=server.base_url))

    assert failure.code == "llm_connection_failed"
    assert server.chat_requests == []


def test_calls_go_through_the_proxy_the_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """The model's host does not resolve here: only a proxy can reach it. (The fake server forwards
    nothing; it answers the proxied request itself, which is all a proxy test needs.)"""
    with FakeOpenAIServer(default_reply={"text": "We open at 9am."}) as proxy:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
        monkeypatch.setenv("NO_PROXY", "localhost")
        config = ProviderConfig(api_key=API_KEY, base_url="http://llm.invalid/v1", chat_model="gpt-4o-mini",
                                egress_guarded=False)

        async def text() -> str:
            async with aclosing(chat_stream(config=config, messages=QUESTION, tools=None,
                                            tenant_schema=tenant())) as stream:
                return "".join([event.text async for event in stream if isinstance(event, TextDelta)])

        assert run_then_close_llm_clients(text()) == "We open at 9am."
        assert [request.path for request in proxy.chat_requests] == ["http://llm.invalid/v1/chat/completions"]
