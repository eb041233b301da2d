"""A local server that speaks the OpenAI HTTP protocol, so the real `openai` client runs in tests.

Each test scripts what the "model" answers next (text, tool calls, errors, stalls, broken streams);
benchmarks give it a fixed first-token delay. It can also run on its own for a benchmark that needs
it in another process:

    python -m tests.support.fake_openai --port 8100 --first-token-delay 0.4 [--timing-log PATH]

With a timing log, each streamed chat answer appends one JSON line: the request's last user message,
when the request arrived and when its first token was written (seconds since the epoch), so a
benchmark can take the model's own first-token time out of what a customer waited.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import hashlib
import json
import math
import os
import re
import select
import socket
import ssl
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import numpy as np

DEFAULT_EMBEDDING_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
FALLBACK_EMBEDDING_DIMENSIONS = 1536
# How often a waiting handler looks at whether the client left or the server is stopping.
POLL_INTERVAL_SECONDS = 0.02

Endpoint = Literal["chat", "embeddings"]
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    429: "rate_limit_exceeded",
}


@dataclass(frozen=True)
class ScriptedReply:
    """What the fake model does with one request.

    `text` and `tool_calls` (each `{"name": ..., "arguments": {...} or "json text", "id": optional}`)
    make the answer; streamed, both are cut into pieces of `chunk_size` characters. `status` other
    than 200 answers with an OpenAI error body (and `Retry-After` when `retry_after` is set). `hang`
    never answers until the client gives up; `disconnect_midway` drops the connection after about
    half of the answer; `error_midway` sends an error event there instead (as the API does when a
    streamed answer fails on its side) and ends the stream; `pause_midway` falls silent there for that
many seconds, then goes on. Delays are in seconds; `first_token_delay=None` uses the server's setting.
    `odd_frames` are sent as they are (any JSON value each) before the answer's first chunk, as a
    provider with its own ideas of a chunk might.
    """

    text: str = ""
    tool_calls: tuple[dict[str, Any], ...] = ()
    chunk_size: int = 8
    first_token_delay: float | None = None
    chunk_delay: float | None = None
    status: int = 200
    retry_after: float | None = None
    error_message: str | None = None
    hang: bool = False
    disconnect_midway: bool = False
    error_midway: bool = False
    pause_midway: float = 0.0
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    model: str | None = None
    odd_frames: tuple[Any, ...] = ()
    # Sent as they are, not as JSON, before the answer's first chunk (a proxy's error page in the stream).
    raw_data_lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    json: dict[str, Any]
    received_at: float = field(default_factory=time.monotonic)


ReplyLike = ScriptedReply | dict[str, Any]
Responder = Callable[[dict[str, Any]], ReplyLike | None]


def as_reply(reply: ReplyLike) -> ScriptedReply:
    if isinstance(reply, ScriptedReply):
        return reply
    values = dict(reply)
    if "tool_calls" in values:
        values["tool_calls"] = tuple(values["tool_calls"] or ())
    return ScriptedReply(**values)


class FakeOpenAIServer:
    """`with FakeOpenAIServer() as llm:` starts it on a free port of 127.0.0.1; leaving stops it."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, first_token_delay: float = 0.0,
                 chunk_delay: float = 0.0, default_reply: ReplyLike | None = None,
                 responder: Responder | None = None, api_key: str | None = None,
                 tls: ssl.SSLContext | None = None, embeddings_status: int | None = None,
                 tools_status: int | None = None, timing_log: str | None = None) -> None:
        self.host = host
        # When set, the server speaks HTTPS with this context's certificate.
        self.tls = tls
        self.requested_port = port
        self.first_token_delay = first_token_delay
        self.chunk_delay = chunk_delay
        self.default_reply: ReplyLike = default_reply or ScriptedReply(text="Hello from the fake model.")
        self.responder = responder
        # When set, any other bearer token is refused with a 401, as the real API would.
        self.api_key = api_key
        # A chat-only server (llama.cpp without --embeddings, many self-hosted ones): /v1/embeddings
        # answers with this status (404 or 500) whatever is scripted.
        self.embeddings_status = embeddings_status
        # A server whose model cannot call tools: a chat request that offers tools answers with this
        # status (llama.cpp without --jinja says 400 or 500).
        self.tools_status = tools_status
        self.timing_log = timing_log
        self._lock = threading.Lock()
        self._scripts: dict[Endpoint, deque[ScriptedReply]] = {"chat": deque(), "embeddings": deque()}
        self._requests: list[ReceivedRequest] = []
        self._stopping = threading.Event()
        # Written to once on stop: every handler thread waits on it with its socket, so an idle
        # keep-alive connection or a first-token delay costs no wake-ups until something happens.
        self._stop_signal: tuple[int, int] | None = None
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle

    def start(self) -> FakeOpenAIServer:
        handler = functools.partial(_Handler, fake=self)
        httpd = ThreadingHTTPServer((self.host, self.requested_port), handler)
        if self.tls is not None:
            # A client that refuses the certificate fails the handshake inside accept(): an OSError
            # the server swallows, so it goes on serving.
            httpd.socket = self.tls.wrap_socket(httpd.socket, server_side=True)
        # Handler threads are joined on close (they watch `_stopping`), so none outlives the server.
        httpd.daemon_threads = False
        httpd.block_on_close = True
        self._httpd = httpd
        self._stopping.clear()
        self._stop_signal = os.pipe()
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()
        if self._stop_signal is not None:
            os.write(self._stop_signal[1], b"x")
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._stop_signal is not None:
            for descriptor in self._stop_signal:
                os.close(descriptor)
            self._stop_signal = None
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the fake OpenAI server is not running")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls is not None else 'http'}://{self.host}:{self.port}/v1"

    # Scripting

    def script_reply(self, reply: ReplyLike | None = None, *, times: int = 1, endpoint: Endpoint = "chat",
                     **fields: Any) -> None:
        """Queue the answer to the next request(s) on `endpoint`: a ScriptedReply or its fields."""
        scripted = as_reply(reply) if reply is not None else as_reply(fields)
        with self._lock:
            self._scripts[endpoint].extend([scripted] * times)

    def discard_scripts(self, endpoint: Endpoint = "chat") -> int:
        """Forget the replies queued and not asked for (a turn that needed fewer); how many there were."""
        with self._lock:
            left = len(self._scripts[endpoint])
            self._scripts[endpoint].clear()
            return left

    def pending_scripts(self, endpoint: Endpoint = "chat") -> int:
        with self._lock:
            return len(self._scripts[endpoint])

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[ReceivedRequest]:
        return [request for request in self.requests if request.path.endswith("/chat/completions")]

    def wait_for_requests(self, count: int, *, timeout: float = 10.0) -> list[ReceivedRequest]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} requests, got {len(self.requests)} within {timeout}s")
            time.sleep(POLL_INTERVAL_SECONDS)
        return self.requests

    # Used by the handler

    def _record(self, request: ReceivedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _log_first_token(self, body: dict[str, Any], *, received: float, first_token: float) -> None:
        if self.timing_log is None:
            return
        questions = [message.get("content") for message in body.get("messages") or []
                     if isinstance(message, dict) and message.get("role") == "user"]
        line = json.dumps({"question": questions[-1] if questions else None, "received": received,
                           "first_token": first_token}, ensure_ascii=False)
        with self._lock, open(self.timing_log, "a", encoding="utf-8") as log:
            log.write(line + "\n")

    def _next_reply(self, endpoint: Endpoint, body: dict[str, Any]) -> ScriptedReply:
        with self._lock:
            if self._scripts[endpoint]:
                return self._scripts[endpoint].popleft()
        if endpoint == "chat" and self.responder is not None:
            answered = self.responder(body)
            if answered is not None:
                return as_reply(answered)
        if endpoint == "embeddings":
            return ScriptedReply()
        return as_reply(self.default_reply)


class _ClientGone(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeOpenAI/1.0"

    def __init__(self, *args: Any, fake: FakeOpenAIServer, **kwargs: Any) -> None:
        self.fake = fake
        super().__init__(*args, **kwargs)

    def log_message(self, format: str, *args: Any) -> None:
        return

    # Keep-alive connections wait here rather than in a blocking read, so stopping the server
    # never waits on a client that keeps its connection open.
    def handle(self) -> None:
        self.close_connection = True
        with contextlib.suppress(_ClientGone, ConnectionError, TimeoutError):
            self.handle_one_request()
            while not self.close_connection and self._wait_for_next_request():
                self.handle_one_request()

    def _wait(self, timeout_seconds: float) -> str:
        """Wait until the client sends something or hangs up ("client"), the server stops ("stop"),
        or the time is up ("timeout"). poll, not select: select() cannot watch a descriptor
        numbered 1024 or more, which a benchmark with a thousand streams open reaches."""
        stop_signal = self.fake._stop_signal
        if self.fake._stopping.is_set() or stop_signal is None:
            return "stop"
        poller = select.poll()
        poller.register(self.connection, select.POLLIN)
        poller.register(stop_signal[0], select.POLLIN)
        ready = poller.poll(None if math.isinf(timeout_seconds) else max(0, int(timeout_seconds * 1000)))
        if any(descriptor == stop_signal[0] for descriptor, _ in ready):
            return "stop"
        return "client" if ready else "timeout"

    def _wait_for_next_request(self) -> bool:
        return self._wait(math.inf) == "client"

    def _client_gone(self) -> bool:
        try:
            return self.connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    def _pause(self, seconds: float) -> None:
        """Wait, but stop at once if the client gave up or the server is stopping."""
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            woken = self._wait(remaining)
            if woken == "stop" or (woken == "client" and self._client_gone()):
                raise _ClientGone
            if woken == "client":
                # The client sent more while it waits (it has not gone): check again in a moment.
                time.sleep(min(POLL_INTERVAL_SECONDS, remaining))

    def _hang(self) -> None:
        self._pause(float("inf"))

    # Routing

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/v1/models"):
            self._send_json(200, {"object": "list", "data": [
                {"id": model, "object": "model", "created": 0, "owned_by": "fake"}
                for model in ("gpt-4o-mini", *DEFAULT_EMBEDDING_DIMENSIONS)
            ]})
            return
        self._send_error(404, "Unknown path.")

    def do_POST(self) -> None:
        self.received_epoch = time.time()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._send_error(400, "The body is not valid JSON.")
            return
        path = self.path.split("?", 1)[0]
        self.fake._record(ReceivedRequest(path=path, headers={k.lower(): v for k, v in self.headers.items()},
                                          json=body))
        if self.fake.api_key is not None and self.headers.get("Authorization") != f"Bearer {self.fake.api_key}":
            self._send_error(401, "Incorrect API key provided.", code="invalid_api_key")
            return
        if path.endswith("/chat/completions") and self.fake.tools_status is not None and body.get("tools"):
            self._send_error(self.fake.tools_status, "tools param requires --jinja flag")
        elif path.endswith("/chat/completions"):
            self._chat(body, self.fake._next_reply("chat", body))
        elif path.endswith("/embeddings") and self.fake.embeddings_status is not None:
            self._send_error(self.fake.embeddings_status, "This server does not support embeddings. "
                             "Start it with --embeddings")
        elif path.endswith("/embeddings"):
            self._embeddings(body, self.fake._next_reply("embeddings", body))
        else:
            self._send_error(404, f"Unknown path {path}.")

    # Shared answer paths

    def _before_answer(self, reply: ScriptedReply) -> bool:
        """Errors and stalls common to every endpoint; True when the request was answered here."""
        if reply.hang:
            self._hang()
        if reply.status != 200:
            headers = {"Retry-After": _seconds_header(reply.retry_after)} if reply.retry_after is not None else {}
            self._send_error(reply.status, reply.error_message or _default_error_message(reply.status),
                             headers=headers)
            return True
        return False

    def _send_json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", f"req_{uuid.uuid4().hex[:16]}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, status: int, message: str, *, code: str | None = None,
                    headers: dict[str, str] | None = None) -> None:
        self._send_json(status, {"error": {
            "message": message,
            "type": ERROR_TYPES.get(status, "server_error"),
            "param": None,
            "code": code or ERROR_TYPES.get(status, "server_error"),
        }}, headers)

    def _drop_connection(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        raise _ClientGone

    # Chat completions

    def _chat(self, body: dict[str, Any], reply: ScriptedReply) -> None:
        if self._before_answer(reply):
            return
        model = reply.model or str(body.get("model") or "gpt-4o-mini")
        tool_calls = [_normalise_tool_call(call, position) for position, call in enumerate(reply.tool_calls)]
        usage = _usage(body, reply, tool_calls)
        finish_reason = reply.finish_reason or ("tool_calls" if tool_calls else "stop")
        first_token_delay = self.fake.first_token_delay if reply.first_token_delay is None else reply.first_token_delay
        chunk_delay = self.fake.chunk_delay if reply.chunk_delay is None else reply.chunk_delay
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            self._stream_chat(completion_id=completion_id, model=model, reply=reply, tool_calls=tool_calls,
                              usage=usage, finish_reason=finish_reason, include_usage=include_usage,
                              first_token_delay=first_token_delay, chunk_delay=chunk_delay, body=body)
            return
        self._pause(first_token_delay)
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None, "refusal": None}
        if tool_calls:
            message["tool_calls"] = tool_calls
        payload = {
            "id": completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}],
            "usage": usage,
        }
        if reply.disconnect_midway:
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self._drop_connection()
        self._send_json(200, payload)

    def _stream_chat(self, *, completion_id: str, model: str, reply: ScriptedReply,
                     tool_calls: list[dict[str, Any]], usage: dict[str, int], finish_reason: str,
                     include_usage: bool, first_token_delay: float, chunk_delay: float,
                     body: dict[str, Any]) -> None:
        created = int(time.time())

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            frame: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            }
            if include_usage:
                frame["usage"] = None
            return frame

        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
        deltas += [{"content": piece} for piece in _pieces(reply.text, reply.chunk_size)]
        for call in tool_calls:
            deltas.append({"tool_calls": [{
                "index": call["index"], "id": call["id"], "type": "function",
                "function": {"name": call["function"]["name"], "arguments": ""},
            }]})
            deltas += [{"tool_calls": [{"index": call["index"], "function": {"arguments": piece}}]}
                       for piece in _pieces(call["function"]["arguments"], reply.chunk_size)]
        frames = [chunk(delta) for delta in deltas] + [chunk({}, finish_reason)]
        if include_usage:
            frames.append({"id": completion_id, "object": "chat.completion.chunk", "created": created,
                           "model": model, "choices": [], "usage": usage})
        midway = max(2, len(frames) // 2)
        cut_after = midway if reply.disconnect_midway or reply.error_midway else None

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        # Headers go out at once, as the real API does; the wait is for the first token.
        self._pause(first_token_delay)
        for odd in reply.odd_frames:
            self._write_chunk(f"data: {json.dumps(odd)}\n\n".encode())
        for line in reply.raw_data_lines:
            self._write_chunk(f"data: {line}\n\n".encode())
        first_token_at: float | None = None
        for position, frame in enumerate(frames):
            if cut_after is not None and position == cut_after:
                if reply.error_midway:
                    error = {"error": {"message": "The server had an error while processing your request.",
                                       "type": "server_error", "code": None}}
                    self._write_chunk(f"data: {json.dumps(error)}\n\n".encode())
                    break
                self._drop_connection()
            if position > 0 and chunk_delay:
                self._pause(chunk_delay)
            if position == midway and reply.pause_midway:
                self._pause(reply.pause_midway)
            self._write_chunk(f"data: {json.dumps(frame)}\n\n".encode())
            if first_token_at is None and any(choice["delta"].get("content") or choice["delta"].get("tool_calls")
                                              for choice in frame["choices"]):
                first_token_at = time.time()
                self.fake._log_first_token(body, received=self.received_epoch, first_token=first_token_at)
        self._write_chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")

    def _write_chunk(self, data: bytes) -> None:
        try:
            self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
        except OSError as error:
            raise _ClientGone from error

    # Embeddings

    def _embeddings(self, body: dict[str, Any], reply: ScriptedReply) -> None:
        if self._before_answer(reply):
            return
        self._pause(reply.first_token_delay or 0.0)
        model = str(body.get("model") or "text-embedding-3-small")
        dimensions = int(body.get("dimensions") or DEFAULT_EMBEDDING_DIMENSIONS.get(model,
                                                                                     FALLBACK_EMBEDDING_DIMENSIONS))
        raw_input = body.get("input")
        texts = raw_input if isinstance(raw_input, list) else [raw_input]
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for position, text in enumerate(texts):
            vector = embedding_vector(_as_text(text), dimensions)
            encoded: Any = (base64.b64encode(vector.astype("<f4").tobytes()).decode() if as_base64
                            else [float(value) for value in vector])
            data.append({"object": "embedding", "index": position, "embedding": encoded})
        tokens = sum(max(1, len(_WORD.findall(_as_text(text)))) for text in texts)
        self._send_json(200, {"object": "list", "data": data, "model": model,
                              "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})


_WORD = re.compile(r"\w+", re.UNICODE)


def embedding_vector(text: str, dimensions: int) -> np.ndarray:
    """A unit vector for `text`, the same every time.

    It is the normalised sum of one seeded random vector per word, so texts sharing words point
    in similar directions and knowledge-search tests rank results the way a reader would expect.
    """
    words = _WORD.findall(text.lower()) or [text]
    total = np.zeros(dimensions, dtype=np.float64)
    for word in words:
        total += _word_vector(word, dimensions)
    norm = float(np.linalg.norm(total))
    return total / norm if norm else total


@functools.lru_cache(maxsize=50_000)
def _word_vector(word: str, dimensions: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "big")
    return np.random.default_rng(seed).standard_normal(dimensions)


def _as_text(value: Any) -> str:
    # Token-id inputs (lists of ints) are allowed by the API; hash their text form.
    return value if isinstance(value, str) else json.dumps(value)


def _pieces(text: str, size: int) -> Iterator[str]:
    size = max(1, size)
    for start in range(0, len(text), size):
        yield text[start:start + size]


def _normalise_tool_call(call: dict[str, Any], position: int) -> dict[str, Any]:
    arguments = call.get("arguments", {})
    return {
        "index": position,
        "id": call.get("id") or f"call_{uuid.uuid4().hex[:24]}",
        "type": "function",
        "function": {"name": call["name"],
                     "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments)},
    }


def _usage(body: dict[str, Any], reply: ScriptedReply, tool_calls: list[dict[str, Any]]) -> dict[str, int]:
    # Roughly four characters a token, as OpenAI's own rule of thumb; tests that need exact
    # figures script them.
    prompt = reply.prompt_tokens
    if prompt is None:
        prompt = max(1, len(json.dumps(body.get("messages") or [])) // 4)
    completion = reply.completion_tokens
    if completion is None:
        produced = len(reply.text) + sum(len(call["function"]["arguments"]) + len(call["function"]["name"])
                                         for call in tool_calls)
        completion = max(1, produced // 4)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _seconds_header(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def _default_error_message(status: int) -> str:
    if status == 429:
        return "Rate limit reached. Please try again later."
    if status >= 500:
        return "The server had an error while processing your request."
    return "The request was refused."


# ============================================================================ the careless model

# How a small self-hosted model got ordinary questions wrong (issue #26), and how a big one does now
# and then (issue #18): each case is the answer such a model gives, built from the question and, for
# the mutations, from a correct answer. `careless_replies` scripts a whole turn with one.
INVENTED_PHONES = ("302-645-2109", "855-555-0123")
INVENTED_EMAIL = "hello@l-store.com"
INVENTED_URL = "https://www.l-store.com/support"
INVENTED_ADDRESS = "742 Evergreen Terrace"
CARELESS_TEXTS: dict[str, str] = {
    "echo": "{question} {question}",
    "invented_phone": "Thanks for asking! You can reach us at " + INVENTED_PHONES[0] + " or "
                      + INVENTED_PHONES[1] + " about that.",
    "invented_email": "Please contact us at: 1. email us at: " + INVENTED_EMAIL + " 2. call us on "
                      + INVENTED_PHONES[0] + " 3. visit us at " + INVENTED_ADDRESS + ".",
    "invented_url": "Everything about that is on " + INVENTED_URL + " for you.",
    "invented_address": "Come and see us at " + INVENTED_ADDRESS + ", we'd love to help.",
    "other_script": "ご質問ありがとうございます。詳しくはお問い合わせください。 شكرا لسؤالك",
    "off_topic": "In the 2014 season, the boxing world saw several champions defend their titles in "
                 "memorable fights across stadiums worldwide.",
    "measurement": 'It is 12-26" in height, please consult with your doctor before wearing.',
    "not_offered": "You can buy or rent bicycles at our shop as well.",
    "degenerate": "Sure sure sure sure sure <|im_end|> <|im_start|>assistant",
    "silence": "",
}
# What each of those says wrong, to look for in what a customer was shown.
CARELESS_WRONG = {"invented_phone": INVENTED_PHONES[0], "invented_email": INVENTED_EMAIL, "invented_url": "l-store.com",
                  "invented_address": INVENTED_ADDRESS, "other_script": "ご質問", "off_topic": "2014 season",
                  "measurement": '12-26"', "not_offered": "bicycles", "degenerate": "<|im_end|>", "silence": ""}
# Cases that change a correct answer: the fact they make wrong.
MUTATIONS = ("changed_figure", "wrong_currency", "wrong_variant", "stock_flipped", "invented_extra", "dropped_part",
             "merged_parts")
CARELESS_CASES = (*CARELESS_TEXTS, *MUTATIONS, "stall")
STALL_SECONDS = 60.0


@dataclass(frozen=True)
class CarelessAnswer:
    """A careless answer and the wrong piece it states (what must never reach a customer)."""

    text: str
    wrong: str


_FIGURE = re.compile(r"(?<![\w.])(\d+)(?:[.,:](\d{2}))?")
_CURRENCY_SWAP = {"€": "$", "£": "$", "$": "€", "EUR": "USD", "GBP": "USD"}
_COLOUR_SWAP = {"Navy": "Black", "Black": "Navy", "White": "Sand", "Sand": "White", "Oat": "Grey Melange",
                "Blue": "Black", "Large": "Regular", "Regular": "Large"}


def careless_answer(case: str, *, question: str, correct: str = "") -> CarelessAnswer | None:
    """The careless answer of `case` to `question`; a mutation of `correct` for MUTATIONS (None when
    the correct answer has nothing that mutation could change)."""
    if case in CARELESS_TEXTS:
        text = CARELESS_TEXTS[case].format(question=question)
        return CarelessAnswer(text=text, wrong=question if case == "echo" else CARELESS_WRONG[case])
    sentences = [part for part in re.split(r"(?<=[.!?])\s+", correct.strip()) if part]
    if case == "changed_figure":
        match = next((found for found in _FIGURE.finditer(correct) if found.group(2) or int(found.group(1)) > 1), None)
        if match is None:
            return None
        changed = str(int(match.group(1)) + 1) + (correct[match.end(1):match.end()] if match.group(2) else "")
        wrong_text = correct[:match.start()] + changed + correct[match.end():]
        return CarelessAnswer(text=wrong_text, wrong=_around(wrong_text, match.start(), len(changed)))
    if case == "wrong_currency":
        for symbol, other in _CURRENCY_SWAP.items():
            match = re.search(rf"{re.escape(symbol)}\s?\d", correct)
            if match:
                wrong_text = correct[:match.start()] + other + correct[match.start() + len(symbol):]
                return CarelessAnswer(text=wrong_text, wrong=_around(wrong_text, match.start(), len(other) + 4))
        return None
    if case == "wrong_variant":
        for word, other in _COLOUR_SWAP.items():
            match = re.search(rf"\b{word}\b", correct)
            # Only a variant the answer does not name already: "Regular, Large" -> "Regular, Regular" says
            # nothing wrong.
            if match and not re.search(rf"\b{other}\b", correct) and re.search(
                    r"(?i)in stock|sold out|left|available|£|€|×", correct):
                wrong_text = correct[:match.start()] + other + correct[match.end():]
                return CarelessAnswer(text=wrong_text, wrong=_around(wrong_text, match.start(), len(other)))
        return None
    if case == "stock_flipped":
        for phrase, other in (("sold out", "in stock"), ("out of stock", "in stock"), ("in stock", "sold out")):
            position = correct.lower().find(phrase)
            if position >= 0 and not re.search(r"(?i)\b(?:if|once|when|whether)\b", correct[:position]):
                wrong_text = correct[:position] + other + correct[position + len(phrase):]
                return CarelessAnswer(text=wrong_text, wrong=_around(wrong_text, position, len(other)))
        return None
    if case == "invented_extra":
        text = (correct + " " if correct else "") + f"For anything else call us on {INVENTED_PHONES[1]}."
        return CarelessAnswer(text=text, wrong=INVENTED_PHONES[1])
    if case == "dropped_part":
        if len(sentences) < 2:
            return None
        # Only the first part's first sentence: what a model does that answers one part of several.
        return CarelessAnswer(text=sentences[0], wrong="")
    if case == "merged_parts":
        figures = [found for found in _FIGURE.finditer(correct) if found.group(2)]
        if len(figures) < 2 or figures[0].group(0) == figures[-1].group(0):
            return None
        first, last = figures[0], figures[-1]
        wrong_text = correct[:first.start()] + last.group(0) + correct[first.end():]
        return CarelessAnswer(text=wrong_text, wrong=_around(wrong_text, first.start(), len(last.group(0))))
    raise ValueError(f"No careless case {case!r}.")


def _around(text: str, start: int, length: int) -> str:
    """The wrong piece with a word on each side, so finding it in a reply finds this mistake."""
    left = start
    for skip_space in (False, True, False):  # to the start of its word, then over the word before it
        while left > 0 and text[left - 1].isspace() == skip_space:
            left -= 1
    right = start + length
    while right < len(text) and not text[right].isspace():
        right += 1
    return " ".join(text[left:right].split()).strip(" .,!?")


def careless_replies(case: str, *, question: str, correct: str = "",
                     tool_calls: tuple[dict[str, Any], ...] = ()) -> tuple[list[ScriptedReply], str]:
    """A whole careless turn: the tool calls a model would make first (if any), then the careless
    answer, then the same mistake again when asked to correct it. Returns the replies to script and
    the wrong piece the customer must never see ('' when the mistake is a silence or an omission)."""
    replies = [ScriptedReply(tool_calls=tool_calls)] if tool_calls else []
    if case == "stall":
        return [*replies, ScriptedReply(text=correct or "Sorry for the wait.", first_token_delay=STALL_SECONDS)], ""
    answer = careless_answer(case, question=question, correct=correct)
    if answer is None:
        raise ValueError(f"The careless case {case!r} cannot change {correct!r}.")
    return [*replies, ScriptedReply(text=answer.text, chunk_size=16), ScriptedReply(text=answer.text)], answer.wrong


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the fake OpenAI server until interrupted.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--first-token-delay", type=float, default=0.0)
    parser.add_argument("--chunk-delay", type=float, default=0.0)
    parser.add_argument("--text", default="Thanks for asking! Here is what I found.")
    parser.add_argument("--timing-log", help="append each streamed answer's arrival and first-token times here")
    arguments = parser.parse_args()
    server = FakeOpenAIServer(host=arguments.host, port=arguments.port,
                              first_token_delay=arguments.first_token_delay, chunk_delay=arguments.chunk_delay,
                              default_reply=ScriptedReply(text=arguments.text), timing_log=arguments.timing_log)
    with server:
        print(f"fake OpenAI server on {server.base_url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
