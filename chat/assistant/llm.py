"""The LLM provider client: one streaming call, guarded, with its cost.

The assistant engine calls `chat_stream` and falls back to its offline answer on any `LLMError`.
Retries happen only while nothing has reached the caller yet, so streamed text is never repeated.
Always close the stream when stopping early (`contextlib.aclosing`), so the tenant's slot is freed
at once rather than when the generator is garbage-collected.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Coroutine
from contextlib import aclosing
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx2
import openai
from django.conf import settings
from openai.types import CompletionUsage
from opentelemetry.trace import Status, StatusCode

from chat.assistant.http import llm_http_client
from chat.assistant.resilience import (
    CODE_AUTH_FAILED,
    CODE_CONNECTION_FAILED,
    CODE_FIRST_TOKEN_TIMEOUT,
    CODE_PROVIDER_ERROR,
    CODE_RATE_LIMITED,
    CODE_TIMEOUT,
    CircuitPolicy,
    LLMError,
    LLMRequestRejected,
    LLMUnavailable,
    circuit_admit,
    circuit_record_failure,
    circuit_record_success,
    tenant_llm_slot,
)
from config.egress import egress_refusal_in
from config.loops import PerLoop
from config.tracing import TENANT_ATTRIBUTE, tracer

__all__ = [
    "LLMError",
    "LLMRequestRejected",
    "LLMUnavailable",
    "ProviderConfig",
    "StreamFinished",
    "TextDelta",
    "ToolCall",
    "chat_stream",
    "cost_minor_to_text",
    "estimate_cost_minor",
    "provider_config_default",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
CODE_EGRESS_REFUSED = "llm_egress_refused"
CODE_INVALID_BASE_URL = "llm_invalid_base_url"


@dataclass(frozen=True)
class ProviderConfig:
    """Where and as whom to call: the platform's account, or a tenant's own key, endpoint and model.

    `egress_guarded`: the endpoint goes through the egress guard (config.egress), as every endpoint
    a tenant chose must; only the operator's own OPENAI_BASE_URL is trusted without it.
    """

    api_key: str = field(repr=False)
    base_url: str = OPENAI_DEFAULT_BASE_URL
    chat_model: str = "gpt-4o-mini"
    egress_guarded: bool = True


def provider_config_default() -> ProviderConfig | None:
    """The platform's provider from settings, or None when no key is configured (offline mode)."""
    api_key = settings.OPENAI_API_KEY
    if not api_key:
        return None
    # The operator's own choice of endpoint (perhaps a model server on its private network): trusted.
    return ProviderConfig(api_key=api_key, base_url=settings.OPENAI_BASE_URL or OPENAI_DEFAULT_BASE_URL,
                          chat_model=settings.OPENAI_CHAT_MODEL, egress_guarded=False)


# Events yielded by chat_stream, in order: TextDelta*, ToolCall*, then exactly one StreamFinished.

@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ToolCall:
    """A complete tool call. `arguments_error` is set (and `arguments` empty) when the model wrote
    arguments that are not a JSON object; the engine can send that error back to the model."""

    id: str
    name: str
    arguments: dict[str, Any]
    arguments_json: str
    arguments_error: str | None = None


@dataclass(frozen=True)
class StreamFinished:
    model: str
    finish_reason: str | None
    tokens_in: int
    tokens_out: int
    # True when the provider sent no usage and the counts are estimated from text lengths.
    usage_estimated: bool
    cost_minor: int
    first_token_seconds: float | None
    total_seconds: float
    attempts: int


LLMEvent = TextDelta | ToolCall | StreamFinished


@dataclass(frozen=True)
class CallLimits:
    connect_timeout: float
    first_token_timeout: float
    total_timeout: float
    max_retries: int
    retry_base_delay: float
    retry_max_delay: float
    retry_after_max: float
    tenant_max_concurrency: int
    circuit: CircuitPolicy

    @classmethod
    def from_settings(cls) -> CallLimits:
        total = float(settings.LLM_TOTAL_TIMEOUT_SECONDS)
        return cls(
            connect_timeout=float(settings.LLM_CONNECT_TIMEOUT_SECONDS),
            first_token_timeout=float(settings.LLM_FIRST_TOKEN_TIMEOUT_SECONDS),
            total_timeout=total,
            max_retries=int(settings.LLM_MAX_RETRIES),
            retry_base_delay=float(settings.LLM_RETRY_BASE_DELAY_SECONDS),
            retry_max_delay=float(settings.LLM_RETRY_MAX_DELAY_SECONDS),
            retry_after_max=float(settings.LLM_RETRY_AFTER_MAX_SECONDS),
            tenant_max_concurrency=int(settings.LLM_TENANT_MAX_CONCURRENCY),
            circuit=CircuitPolicy(
                failure_threshold=int(settings.LLM_CIRCUIT_FAILURES),
                window_seconds=float(settings.LLM_CIRCUIT_WINDOW_SECONDS),
                cooldown_seconds=float(settings.LLM_CIRCUIT_COOLDOWN_SECONDS),
                probe_seconds=total,
            ),
        )


async def chat_stream(*, config: ProviderConfig, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None,
                      tenant_schema: str, temperature: float | None = None,
                      max_output_tokens: int | None = None, deadline: float | None = None,
                      first_token_deadline: float | None = None) -> AsyncGenerator[LLMEvent, None]:
    """Stream one chat completion as events; raise an LLMError when no usable answer can be had.

    `tools` are in the Chat Completions format (`{"type": "function", "function": {...}}`).
    An LLMUnavailable raised after some TextDelta was yielded has `after_output=True`.
    `deadline` and `first_token_deadline` (time.monotonic()) are the caller's own, when sooner than the
    call's timeouts: a provider that misses them fails as one that misses its timeouts does (and
    counts against its circuit).
    """
    limits = CallLimits.from_settings()
    started = time.monotonic()
    deadline = min(started + limits.total_timeout, deadline if deadline is not None else float("inf"))
    # The arguments of `chat.completions.create`.
    request: dict[str, Any] = {
        "model": config.chat_model,
        "messages": messages,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if tools:
        request["tools"] = tools
    if temperature is not None:
        request["temperature"] = temperature
    if max_output_tokens is not None:
        request["max_completion_tokens"] = max_output_tokens
    provider = _provider_label(config.base_url)
    # The model call's own span (the SDK's create is wrapped by no tracer here): started, not made
    # current, since a generator's context is its caller's between yields; ended however it ends.
    call_span = tracer.start_span("llm.chat", attributes={
        "gen_ai.system": "openai", "gen_ai.request.model": config.chat_model, "server.address": provider,
        TENANT_ATTRIBUTE: tenant_schema})
    try:
        async with aclosing(_chat_stream_attempts(
                config=config, request=request, limits=limits, started=started, deadline=deadline,
                first_token_deadline=first_token_deadline, tenant_schema=tenant_schema, provider=provider)) as events:
            async for event in events:
                if isinstance(event, StreamFinished):
                    call_span.set_attributes({"gen_ai.response.model": event.model,
                                              "gen_ai.usage.input_tokens": event.tokens_in,
                                              "gen_ai.usage.output_tokens": event.tokens_out,
                                              "deskpilot.llm.attempts": event.attempts})
                yield event
    except LLMError as error:
        call_span.set_status(Status(StatusCode.ERROR, error.code))
        raise
    finally:
        call_span.end()


async def _chat_stream_attempts(*, config: ProviderConfig, request: dict[str, Any], limits: CallLimits,
                                started: float, deadline: float, first_token_deadline: float | None,
                                tenant_schema: str, provider: str) -> AsyncGenerator[LLMEvent, None]:
    # The lease outlives the call's own deadline by a margin for the caller's work between events;
    # it only matters when a process dies holding it.
    async with tenant_llm_slot(tenant_schema=tenant_schema, limit=limits.tenant_max_concurrency,
                               lease_seconds=limits.total_timeout + limits.connect_timeout + 30):
        attempt = 0
        while True:
            attempt += 1
            is_trial = await circuit_admit(base_url=config.base_url, policy=limits.circuit)
            progress = _AttemptProgress()
            try:
                # aclosing: a caller that stops reading closes the HTTP stream now, not at garbage collection.
                async with aclosing(_attempt(config=config, request=request, limits=limits, deadline=deadline,
                                             progress=progress, is_trial=is_trial,
                                             first_token_deadline=first_token_deadline)) as events:
                    async for event in events:
                        yield event
                finished = progress.finished(config=config, request=request, started=started, attempt=attempt)
                yield finished
                return
            except _AttemptFailed as failure:
                if failure.counts_against_provider:
                    await circuit_record_failure(base_url=config.base_url, policy=limits.circuit)
                delay = _retry_delay(failure=failure, attempt=attempt, limits=limits)
                retry = (not progress.yielded and delay is not None and attempt <= limits.max_retries
                         and time.monotonic() + delay < deadline)
                logger.warning("LLM attempt %s failed (%s, provider %s, tenant %s)%s", attempt, failure.code,
                               provider, tenant_schema, f"; retrying in {delay:.2f}s" if retry else "")
                if not retry:
                    raise failure.as_error(after_output=progress.yielded, attempts=attempt) from failure.__cause__
                await asyncio.sleep(delay or 0)


@dataclass
class _AttemptProgress:
    yielded: bool = False
    first_token_at: float | None = None
    model: str | None = None
    finish_reason: str | None = None
    text_chars: int = 0
    tokens_in: int | None = None
    tokens_out: int | None = None

    def finished(self, *, config: ProviderConfig, request: dict[str, Any], started: float,
                 attempt: int) -> StreamFinished:
        model = self.model or config.chat_model
        estimated = self.tokens_in is None or self.tokens_out is None
        # About four characters a token: only used when an OpenAI-compatible endpoint sends no usage.
        tokens_in = self.tokens_in if self.tokens_in is not None else len(json.dumps(request["messages"])) // 4
        tokens_out = self.tokens_out if self.tokens_out is not None else self.text_chars // 4
        return StreamFinished(
            model=model,
            finish_reason=self.finish_reason,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            usage_estimated=estimated,
            cost_minor=estimate_cost_minor(model=model, tokens_in=tokens_in, tokens_out=tokens_out),
            first_token_seconds=None if self.first_token_at is None else round(self.first_token_at - started, 4),
            total_seconds=round(time.monotonic() - started, 4),
            attempts=attempt,
        )


class _AttemptFailed(Exception):
    def __init__(self, *, code: str, message: str, retryable: bool, counts_against_provider: bool,
                 retry_after: float | None = None, rejected: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.counts_against_provider = counts_against_provider
        self.retry_after = retry_after
        self.rejected = rejected

    def as_error(self, *, after_output: bool, attempts: int) -> LLMError:
        details = {"attempts": attempts}
        if self.rejected:
            return LLMRequestRejected(self.message, code=self.code, details=details)
        return LLMUnavailable(self.message, code=self.code, details=details, after_output=after_output)


async def _attempt(*, config: ProviderConfig, request: dict[str, Any], limits: CallLimits, deadline: float,
                   progress: _AttemptProgress, is_trial: bool,
                   first_token_deadline: float | None = None) -> AsyncGenerator[TextDelta | ToolCall, None]:
    try:
        client = _client_for(config=config, limits=limits)
    except httpx2.InvalidURL as error:
        # A tenant's stored base URL the HTTP client cannot even parse: the offline answer, not a crash.
        raise _AttemptFailed(code=CODE_INVALID_BASE_URL, retryable=False, counts_against_provider=False,
                             rejected=True, message="The language model endpoint's address is not valid.") from error
    read_timeout = _read_timeout(limits)
    first_token_budget = min(limits.first_token_timeout, min(deadline, first_token_deadline or deadline)
                             - time.monotonic())
    opened: Any = None
    try:
        try:
            # Connecting, the response headers and the first meaningful chunk all share one budget:
            # a provider that accepts the request and then says nothing is as useless as a dead one.
            async with asyncio.timeout(max(first_token_budget, 0.001)):
                opened, chunks, first = await _open_until_first_token(client, request)
        except TimeoutError as error:
            raise _AttemptFailed(code=CODE_FIRST_TOKEN_TIMEOUT, retryable=False, counts_against_provider=True,
                                 message="The language model did not start answering in time.") from error
        progress.first_token_at = time.monotonic()
        if is_trial:
            # A provider that starts answering is healthy: close the half-open circuit now, not at
            # the end of a long answer, so other conversations stop falling back.
            await circuit_record_success(base_url=config.base_url)

        tool_parts: dict[int, dict[str, Any]] = {}
        pending = first
        while True:
            for chunk in pending:
                for event in _absorb(chunk, progress=progress, tool_parts=tool_parts):
                    progress.yielded = True
                    yield event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _AttemptFailed(code=CODE_TIMEOUT, retryable=False, counts_against_provider=True,
                                     message="The language model took too long to finish its answer.")
            try:
                if remaining < read_timeout:
                    # Scoped to one read, never across a yield: a timeout scope must not wrap the caller's code.
                    async with asyncio.timeout(remaining):
                        pending = [await anext(chunks)]
                else:
                    # The client's own read timeout comes first: no timer for every chunk of every answer.
                    pending = [await anext(chunks)]
            except StopAsyncIteration:
                break
            except TimeoutError as error:
                raise _AttemptFailed(code=CODE_TIMEOUT, retryable=False, counts_against_provider=True,
                                     message="The language model took too long to finish its answer.") from error
        for call in _completed_tool_calls(tool_parts):
            progress.yielded = True
            yield call
    except openai.APIError as error:
        raise _classify(error) from error
    except json.JSONDecodeError as error:
        # A data line that is not JSON: this endpoint does not speak the protocol (a proxy's error
        # page, a truncated line). The customer gets the offline answer instead of nothing.
        raise _AttemptFailed(code=CODE_PROVIDER_ERROR, retryable=True, counts_against_provider=True,
                             message="The language model provider sent a stream that is not JSON.") from error
    finally:
        if opened is not None:
            await asyncio.shield(opened.close())


async def _open_until_first_token(client: openai.AsyncOpenAI,
                                  request: dict[str, Any]) -> tuple[Any, AsyncIterator[object], list[object]]:
    """Open the stream and read up to the first chunk carrying text, a tool call or an ending."""
    # The SDK's public call, so that instrumentation wrapping `chat.completions.create` (OpenTelemetry,
    # Langfuse and the like) sees every call; what it costs in CPU: docs/decisions/0901.
    stream = await client.chat.completions.create(**request)
    chunks = aiter(stream)
    seen: list[object] = []
    try:
        async for chunk in chunks:
            seen.append(chunk)
            if _is_meaningful(chunk):
                break
    except BaseException:
        await asyncio.shield(stream.close())
        raise
    return stream, chunks, seen


# A chunk is a `ChatCompletionChunk` as the SDK builds it without validation (its default): any field,
# nested ones too, may hold whatever the provider sent, and the chunk itself may be any JSON value.
# Fields are read with getattr and a type check, so a provider's oddity is skipped, not a crash.

def _first_choice(chunk: object) -> object | None:
    choices = getattr(chunk, "choices", None)
    return choices[0] if isinstance(choices, list) and choices else None


def _is_meaningful(chunk: object) -> bool:
    choice = _first_choice(chunk)
    if choice is None:
        return getattr(chunk, "usage", None) is not None
    delta = getattr(choice, "delta", None)
    return (bool(getattr(delta, "content", None) or getattr(delta, "tool_calls", None))
            or getattr(choice, "finish_reason", None) is not None)


def _absorb(chunk: object, *, progress: _AttemptProgress, tool_parts: dict[int, dict[str, Any]]) -> list[TextDelta]:
    """Fold one chunk into the attempt's progress; return the text it carries."""
    model = getattr(chunk, "model", None)
    if isinstance(model, str) and model:
        progress.model = model
    usage = getattr(chunk, "usage", None)
    if isinstance(usage, CompletionUsage):
        progress.tokens_in = _count(getattr(usage, "prompt_tokens", None))
        progress.tokens_out = _count(getattr(usage, "completion_tokens", None))
    events: list[TextDelta] = []
    choices = getattr(chunk, "choices", None)
    for choice in choices if isinstance(choices, list) else []:
        # A missing index reads as None: the only choice there is.
        if getattr(choice, "index", None) not in (0, None):
            continue
        finish_reason = getattr(choice, "finish_reason", None)
        if finish_reason is not None:
            progress.finish_reason = str(finish_reason)
        delta = getattr(choice, "delta", None)
        content = getattr(delta, "content", None)
        if isinstance(content, str) and content:
            progress.text_chars += len(content)
            events.append(TextDelta(text=content))
        parts = getattr(delta, "tool_calls", None)
        for part in parts if isinstance(parts, list) else []:
            index = getattr(part, "index", None)
            if not isinstance(index, int):
                continue
            collected = tool_parts.setdefault(index, {"id": "", "name": "", "arguments": []})
            part_id = getattr(part, "id", None)
            if part_id:
                collected["id"] = str(part_id)
            function = getattr(part, "function", None)
            name = getattr(function, "name", None)
            if isinstance(name, str):
                collected["name"] += name
            arguments = getattr(function, "arguments", None)
            if isinstance(arguments, str):
                collected["arguments"].append(arguments)
    return events


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and value >= 0 else None


def _completed_tool_calls(tool_parts: dict[int, dict[str, Any]]) -> list[ToolCall]:
    calls = []
    for index in sorted(tool_parts):
        collected = tool_parts[index]
        arguments_json = "".join(collected["arguments"])
        arguments: dict[str, Any] = {}
        error = None
        try:
            parsed = json.loads(arguments_json or "{}")
            if isinstance(parsed, dict):
                arguments = parsed
            else:
                error = "The arguments must be a JSON object."
        except json.JSONDecodeError as exc:
            error = f"The arguments are not valid JSON: {exc.msg}."
        calls.append(ToolCall(id=collected["id"] or f"call_{index}", name=collected["name"], arguments=arguments,
                              arguments_json=arguments_json, arguments_error=error))
    return calls


def _classify(error: openai.APIError) -> _AttemptFailed:
    refused = egress_refusal_in(error)
    if refused is not None and refused.code == "egress_dns":
        return _AttemptFailed(code=CODE_CONNECTION_FAILED, retryable=True, counts_against_provider=True,
                              message="Could not find the language model provider's host.")
    if refused is not None:
        # The tenant's endpoint is on an address we never call: nothing was sent, and trying again
        # would not change that. Not the provider's failure either.
        return _AttemptFailed(code=CODE_EGRESS_REFUSED, retryable=False, counts_against_provider=False,
                              rejected=True, message=f"The language model endpoint was refused: {refused.message}")
    if isinstance(error, openai.APITimeoutError):
        # A read or connect timeout already cost the full budget; trying again rarely beats the
        # offline answer the customer could have now.
        return _AttemptFailed(code=CODE_TIMEOUT, retryable=False, counts_against_provider=True,
                              message="The language model provider timed out.")
    if isinstance(error, openai.APIConnectionError):
        return _AttemptFailed(code=CODE_CONNECTION_FAILED, retryable=True, counts_against_provider=True,
                              message="Could not reach the language model provider.")
    if isinstance(error, openai.APIStatusError):
        status = error.status_code
        if status == 429:
            # A rate limit belongs to an account (perhaps a tenant's own key), not to the endpoint
            # shared by everyone: it must not open the circuit for every other tenant. An exhausted
            # quota will not recover by waiting.
            quota_gone = getattr(error, "code", None) == "insufficient_quota"
            return _AttemptFailed(code=CODE_RATE_LIMITED, retryable=not quota_gone, counts_against_provider=False,
                                  retry_after=_retry_after_seconds(error.response),
                                  message="The language model provider is rate limiting us.")
        if status >= 500 or status == 408:
            return _AttemptFailed(code=CODE_PROVIDER_ERROR, retryable=True, counts_against_provider=True,
                                  retry_after=_retry_after_seconds(error.response),
                                  message=f"The language model provider failed (HTTP {status}).")
        if status in (401, 403):
            return _AttemptFailed(code=CODE_AUTH_FAILED, retryable=False, counts_against_provider=False,
                                  rejected=True, message="The language model provider refused the API key.")
        return _AttemptFailed(code="llm_request_rejected", retryable=False, counts_against_provider=False,
                              rejected=True, message=f"The language model provider refused the request (HTTP {status}).")
    return _AttemptFailed(code=CODE_PROVIDER_ERROR, retryable=True, counts_against_provider=True,
                          message="The language model provider sent an answer we could not read.")


def _retry_after_seconds(response: Any) -> float | None:
    headers = getattr(response, "headers", None) or {}
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return float(value) / divisor
        except ValueError:
            # An HTTP date: no need to parse it, a far-off retry is treated as "not small" below.
            return float("inf")
    return None


def _retry_delay(*, failure: _AttemptFailed, attempt: int, limits: CallLimits) -> float | None:
    """Seconds to wait before the next attempt, or None when this failure must not be retried."""
    if not failure.retryable:
        return None
    if failure.retry_after is not None and failure.retry_after > limits.retry_after_max:
        # The provider asks for a long pause: the customer should not wait through it.
        return None
    backoff = min(limits.retry_max_delay, limits.retry_base_delay * 2 ** (attempt - 1))
    # Jitter spreads out the processes that all failed at the same moment.
    delay = backoff * random.uniform(0.5, 1.0)
    return max(delay, failure.retry_after or 0.0)


def _provider_label(base_url: str) -> str:
    """The endpoint's host for logs: never the key, and no path or query that could carry one."""
    return urlsplit(base_url).hostname or "unknown"


def _read_timeout(limits: CallLimits) -> float:
    """The longest the client waits for bytes on a streaming response."""
    return limits.first_token_timeout + 1


# Clients are reused so calls share warm connections (a TLS handshake costs first-token time).
# An httpx client belongs to the event loop it was first used on, hence one cache per loop.
_MAX_CLIENTS_PER_LOOP = 64
_clients: PerLoop[dict[tuple[Any, ...], openai.AsyncOpenAI]] = PerLoop(dict)
_closing_tasks: set[asyncio.Task[None]] = set()


def _client_for(*, config: ProviderConfig, limits: CallLimits) -> openai.AsyncOpenAI:
    per_loop = _clients.get()
    key_fingerprint = hashlib.sha256(config.api_key.encode()).hexdigest()
    cache_key = (config.base_url, key_fingerprint, config.egress_guarded, limits.connect_timeout,
                 limits.first_token_timeout, limits.total_timeout)
    client = per_loop.get(cache_key)
    if client is None:
        if len(per_loop) >= _MAX_CLIENTS_PER_LOOP:
            oldest = per_loop.pop(next(iter(per_loop)))
            closing = asyncio.get_running_loop().create_task(oldest.close())
            _closing_tasks.add(closing)
            closing.add_done_callback(_closing_tasks.discard)
        client = per_loop[cache_key] = openai.AsyncOpenAI(
            api_key=config.api_key,
            base_url=config.base_url,
            # Retries are ours: only before the first token, and seen by the circuit breaker.
            max_retries=0,
            timeout=openai.Timeout(limits.total_timeout, connect=limits.connect_timeout,
                                   read=_read_timeout(limits), pool=limits.connect_timeout),
            http_client=llm_http_client(egress_guarded=config.egress_guarded),
        )
    return client


async def llm_clients_close() -> None:
    """Close the running loop's clients and their connections.

    A loop that ends (`asyncio.run` in a command or a worker task) must call this first: a
    client's keep-alive connections left open when its loop closes keep their sockets until
    garbage collection.
    """
    per_loop = _clients.get()
    clients = list(per_loop.values())
    per_loop.clear()
    await asyncio.gather(*(client.close() for client in clients))


def run_then_close_llm_clients(coroutine: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` for code that may call the model: the loop's clients are closed before it ends."""
    async def run() -> T:
        try:
            return await coroutine
        finally:
            await llm_clients_close()

    return asyncio.run(run())


# Prices in USD per million tokens (input, output): list prices when this was written. Override
# with LLM_PRICES in settings; a model not listed is charged at the "*" row, kept high on purpose so
# an unknown model is never counted as free.
DEFAULT_PRICES_PER_MILLION_TOKENS: dict[str, tuple[str, str]] = {
    "gpt-4o-mini": ("0.15", "0.60"),
    "gpt-4o": ("2.50", "10.00"),
    "gpt-4.1-nano": ("0.10", "0.40"),
    "gpt-4.1-mini": ("0.40", "1.60"),
    "gpt-4.1": ("2.00", "8.00"),
    "text-embedding-3-small": ("0.02", "0"),
    "text-embedding-3-large": ("0.13", "0"),
    "*": ("2.50", "10.00"),
}


def estimate_cost_minor(*, model: str, tokens_in: int, tokens_out: int) -> int:
    """Estimated cost of a call in minor units of USD, rounded half up.

    The minor unit is set by LLM_COST_MINOR_UNITS_PER_USD, by default 1,000,000 (micro-dollars),
    because one call usually costs a small fraction of a cent and cents would round it to nothing.
    """
    price_in, price_out = _price_for(model)
    per_usd = Decimal(settings.LLM_COST_MINOR_UNITS_PER_USD)
    usd = (Decimal(tokens_in) * price_in + Decimal(tokens_out) * price_out) / Decimal(1_000_000)
    return int((usd * per_usd).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def cost_minor_to_text(cost_minor: int) -> str:
    """A cost in LLM_COST_MINOR_UNITS_PER_USD minor units as dollars for people: '$1.23', 'less than $0.01'."""
    usd = Decimal(cost_minor) / Decimal(settings.LLM_COST_MINOR_UNITS_PER_USD)
    if 0 < usd < Decimal("0.01"):
        return "less than $0.01"
    return f"${usd.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"


def _price_for(model: str) -> tuple[Decimal, Decimal]:
    prices = {**DEFAULT_PRICES_PER_MILLION_TOKENS, **(settings.LLM_PRICES or {})}
    # Dated snapshots ("gpt-4o-mini-2024-07-18") use their family's price: the longest matching prefix.
    matches = [name for name in prices if name != "*" and model.startswith(name)]
    name = max(matches, key=len) if matches else "*"
    price_in, price_out = prices[name]
    return Decimal(str(price_in)), Decimal(str(price_out))
