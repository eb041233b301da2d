"""Publishing to channel-layer groups: the layer's own `group_send`, from sync and async code.

Synchronous code (every event sent after a commit) calls it through asgiref's `async_to_sync`.
Inside a web process that code runs in a `sync_to_async` thread (config.db, Django's sync views),
and asgiref then runs `group_send` on the server's own event loop, with the layer's connection of
that loop; elsewhere (a Celery task, a command) it gets a loop of its own for the call.

A streamed piece of an answer is also kept in a Redis list that expires (`KeptCopy`): a widget
that reconnects mid-answer asks for the pieces it missed (chat.widget.streaming). The copy is
appended before the event goes out, so whoever reads the list after receiving the event finds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from config.redis import redis_client_async


def groups_publish(groups: list[str], message: dict[str, Any]) -> None:
    """Send `message` to every consumer in each of `groups`, from synchronous code."""
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(_groups_send)(layer, groups, message)


async def _groups_send(layer: Any, groups: list[str], message: dict[str, Any]) -> None:
    # One hop to the event loop for all the groups, in order.
    for group in groups:
        await layer.group_send(group, message)


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
