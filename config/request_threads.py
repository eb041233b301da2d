"""Django's work for HTTP requests on a bounded set of threads, so a web process holds a bounded number
of database connections (docs/decisions/1202-bounded-request-threads.md).

Under ASGI, Django runs each request's synchronous part (sync middleware, views, the ORM) on a thread
of the request's own, and each such thread opens a PostgreSQL connection of its own: with requests
queueing, a web process opened connections until PostgreSQL refused them ("too many clients") and
requests failed with HTTP 500. Here each HTTP request first takes one of WEB_REQUEST_THREADS
single-thread executors and runs inside asgiref's `ThreadSensitiveContext(executor=...)` (its
public way to choose the thread of a block's thread-sensitive calls), so its synchronous work runs
on that thread, whose connection is kept and reused (DATABASE_CONN_MAX_AGE) by the requests after it.
A request that finds none free waits for one; after WEB_REQUEST_WAIT_SECONDS it is answered 503
`overloaded` with Retry-After, in the platform's error shape, before Django reads it.

The events a request publishes after its commits go out from the event loop while its thread goes
on (config.live.sends_on_this_loop), and the request ends once they are sent.

A streamed answer (an async `StreamingHttpResponse`: the API's Server-Sent Events and streamed chat
completions) needs no thread once its head is sent: its events come from the event loop and its
database work goes through config.db's pool. `StreamingThreadRelease` marks such a response, and its
thread goes back to the others when the head is sent, so a thread is held for the request's
synchronous part, not for the whole answer. What such a request still runs on the thread after that
(the response's close, which sends `request_finished`) is queued behind whatever the thread's next
request is doing there: a single-thread executor runs one call at a time, and between two calls a
request holds no transaction open.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import ThreadSensitiveContext
from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse

from config.errors import error_body
from config.live import sends_on_this_loop
from config.logging import new_request_id
from config.middleware import HEALTH_CHECK_PATHS

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

logger = logging.getLogger(__name__)

# The ASGI scope key under which a request carries the thread it holds (ASGI lets servers and
# middleware add namespaced keys).
THREAD_KEY = "deskpilot.request_thread"
# What an overloaded process asks a client to wait before sending again.
RETRY_AFTER_SECONDS = 2


@dataclass
class HeldThread:
    """One request's hold on a thread: given back once, when the request ends or, for a streamed
    answer, when its head is sent."""

    executor: ThreadPoolExecutor
    idle: asyncio.Queue[ThreadPoolExecutor]
    streamed: bool = False
    returned: bool = field(default=False, init=False)

    def give_back(self) -> None:
        if not self.returned:
            self.returned = True
            self.idle.put_nowait(self.executor)


class RequestThreads:
    """ASGI middleware around Django's HTTP application: at most `threads` requests run Django's
    synchronous work at a time, each on a thread (and database connection) of a fixed set."""

    def __init__(self, app: ASGIApp, *, threads: int, wait_seconds: float) -> None:
        if threads < 1:
            raise ValueError("WEB_REQUEST_THREADS must be at least 1")
        self.app = app
        self.threads = threads
        self.wait_seconds = wait_seconds
        self._idle: asyncio.Queue[ThreadPoolExecutor] | None = None

    def _idle_threads(self) -> asyncio.Queue[ThreadPoolExecutor]:
        # Made on first use, on the event loop of the process that serves (never before a fork).
        if self._idle is None:
            self._idle = asyncio.Queue()
            for n in range(self.threads):
                self._idle.put_nowait(ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"request-{n}"))
        return self._idle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Health checks skip the queue: a process whose threads are all busy is slow, not dead, and a
        # load balancer that saw its checks time out would take it out of service, answers in flight
        # and all. They are few (one a balancer node every interval), each on a thread of its own.
        if scope["type"] != "http" or scope.get("path") in HEALTH_CHECK_PATHS:
            await self.app(scope, receive, send)
            return
        idle = self._idle_threads()
        try:
            async with asyncio.timeout(self.wait_seconds):
                executor = await idle.get()
        except TimeoutError:
            await _overloaded(scope, send)
            return
        held = HeldThread(executor=executor, idle=idle)

        async def send_then_give_back(message: Message) -> None:
            if message["type"] == "http.response.start" and held.streamed:
                held.give_back()
            await send(message)

        try:
            # Events a request publishes after its commits go out from this event loop while its
            # thread goes on (config.live), as config.db's threads do: waiting for a busy loop to
            # send them held each request's thread for most of its time.
            async with ThreadSensitiveContext(executor=executor), sends_on_this_loop():
                await self.app({**scope, THREAD_KEY: held}, receive, send_then_give_back)
        finally:
            held.give_back()


class StreamingThreadRelease:
    """Django middleware: marks a request whose response is streamed from the event loop, so
    RequestThreads gives its thread back once the head is sent (every middleware has run by then).
    First in MIDDLEWARE, so the response it looks at is the one sent. Synchronous, as the middleware
    inside it: it runs on the request's thread with them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        # WSGI requests and the test client's have no scope, and no RequestThreads around them.
        held = getattr(request, "scope", {}).get(THREAD_KEY)
        if held is not None and isinstance(response, StreamingHttpResponse) and response.is_async:
            held.streamed = True
        return response


async def _overloaded(scope: Scope, send: Send) -> None:
    request_id = new_request_id()
    logger.warning("no request thread free for %s %s within the wait: answered 503", scope.get("method"),
                   scope.get("path", "")[:200], extra={"request_id": request_id})
    body = json.dumps(error_body(
        "overloaded", "The service is busy just now. Please send the request again in a moment.",
        {"retry_after_seconds": RETRY_AFTER_SECONDS})).encode()
    await send({"type": "http.response.start", "status": 503, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(RETRY_AFTER_SECONDS).encode()), (b"x-request-id", request_id.encode())]})
    await send({"type": "http.response.body", "body": body})
