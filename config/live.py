"""Publishing to channel-layer groups: the layer's own `group_send`, from sync and async code.

Synchronous code (every event sent after a commit) runs in one of three places:
- a database call from async code (config.db): the call's event loop sends the events, in the
  order they were published, and the call returns once they are sent; the thread goes on at once
  rather than waiting for the loop, which in a busy web process is the wait that held every
  database thread (docs/decisions/0402);
- elsewhere inside a `sync_to_async` thread (Django's sync views): asgiref's `async_to_sync` runs
  `group_send` on the server's event loop;
- a Celery task or a command: `async_to_sync` gives the call a loop of its own.

A streamed piece of an answer is also kept in a Redis list that expires (`KeptCopy`): a widget
that reconnects mid-answer asks for the pieces it missed (chat.widget.streaming). The copy is
appended before the event goes out, so whoever reads the list after receiving the event finds it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from config.redis import redis_client_async

logger = logging.getLogger(__name__)


@dataclass
class _LoopSends:
    loop: asyncio.AbstractEventLoop
    sent: list[concurrent.futures.Future[None]] = field(default_factory=list)


_loop_sends: ContextVar[_LoopSends | None] = ContextVar("deskpilot_loop_sends", default=None)


@contextlib.asynccontextmanager
async def sends_on_this_loop() -> AsyncIterator[None]:
    """Within the block, `groups_publish` from code running in the block's context (a
    `sync_to_async` thread copies it) hands its events to this event loop; leaving the block waits
    until they are sent."""
    sends = _LoopSends(asyncio.get_running_loop())
    token = _loop_sends.set(sends)
    try:
        yield
    finally:
        _loop_sends.reset(token)
        if sends.sent:
            await asyncio.gather(*(asyncio.wrap_future(sent) for sent in sends.sent), return_exceptions=True)


def groups_publish(groups: list[str], message: dict[str, Any]) -> None:
    """Send `message` to every consumer in each of `groups`, from synchronous code."""
    layer = get_channel_layer()
    if layer is None:
        return
    sends = _loop_sends.get()
    if sends is not None and sends.loop.is_running():
        # Scheduled in the order published; the layer sends them in that order.
        sent = asyncio.run_coroutine_threadsafe(_groups_send(layer, groups, message), sends.loop)
        sent.add_done_callback(_log_failure)
        sends.sent.append(sent)
        return
    async_to_sync(_groups_send)(layer, groups, message)


async def _groups_send(layer: Any, groups: list[str], message: dict[str, Any]) -> None:
    for group in groups:
        await layer.group_send(group, message)


def _log_failure(sent: concurrent.futures.Future[None]) -> None:
    # As groups_publish's callers do: a lost live update never undoes the write that caused it.
    if not sent.cancelled() and sent.exception() is not None:
        logger.error("could not publish a live event", exc_info=sent.exception())


@dataclass(frozen=True)
class KeptCopy:
    """A copy of what is published, appended to a Redis list (REDIS_URL's) that expires."""

    key: str
    value: str
    ttl_seconds: int


async def group_publish_async(group: str, message: dict[str, Any], *, kept: KeptCopy | None = None) -> None:
    """Send `message` to every consumer in `group`, from async code; with `kept`, append the copy first."""
    if kept is not None:
        async with redis_client_async().pipeline(transaction=False) as pipe:
            pipe.rpush(kept.key, kept.value)
            pipe.expire(kept.key, kept.ttl_seconds)
            await pipe.execute()
    layer = get_channel_layer()
    if layer is not None:
        await layer.group_send(group, message)
