"""Publishing to channel-layer groups with plain Redis clients kept open per process.

channels-redis's pub/sub layer reaches Redis through one connection per event loop, behind a lock,
so a process publishes one event per round trip. From synchronous code (every event sent after a
commit) `async_to_sync(layer.group_send)` is worse: it starts a thread and an event loop, and the
layer a new connection, for each event. In a burst of answers that was a sixth of the web process's
CPU. Here the event is serialized by the layer itself and PUBLISHed on the channel the layer's
subscribers listen to (channels-redis names it "<prefix>__group__<group>" and picks the host by
the same hash), through a pooled client (config.redis): no new loop, no lock, no connection per
event. The
widget and inbox tests receive these events on real sockets, so a change of that naming in a new
channels-redis version fails them.

Any other channel layer (the in-memory one, say) is sent to through its own `group_send`.

Async code that makes a database trip (config.db) gets the events the trip committed back, and
its event loop publishes them through the loop's pipelined client (`groups_publish_queued`), in
the order they were sent, instead of the thread doing a round trip of its own per commit, which
holds a database thread and the GIL for each event of each message in a burst.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from channels_redis.utils import _consistent_hash, decode_hosts
from django.conf import settings

from config.redis import AutoPipelinedRedis, pooled_client, pooled_client_async, redis_client_async

logger = logging.getLogger(__name__)

Publication = tuple[list[str], dict[str, Any]]


def _layer_config() -> dict[str, Any]:
    return dict(settings.CHANNEL_LAYERS["default"].get("CONFIG", {}))


def _hosts() -> list[dict[str, Any]]:
    return [dict(host) for host in decode_hosts(_layer_config().get("hosts"))]


def _target(layer: RedisPubSubChannelLayer, group: str, message: dict[str, Any]) -> tuple[int, str, bytes]:
    channel = f"{_layer_config().get('prefix', 'asgi')}__group__{group}"
    return _consistent_hash(channel, len(_hosts())), channel, layer.serialize(message)


def _client_arguments(index: int) -> tuple[str, dict[str, Any]]:
    host = _hosts()[index]
    address = host.pop("address", None)
    if address is None:
        raise ValueError("The channel layer's Redis hosts need an 'address' (a redis:// URL).")
    return address, host


class HeldPublications:
    """What a database trip made for async code publishes, kept for its event loop to send."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._publications: list[Publication] = []
        self._open = True

    def hold(self, publication: Publication) -> bool:
        """Keep it (True), unless the loop has taken the publications already (a caller that was
        cancelled while the thread kept working): then the thread publishes it itself."""
        with self._lock:
            if self._open:
                self._publications.append(publication)
            return self._open

    def take(self) -> list[Publication]:
        with self._lock:
            self._open = False
            publications, self._publications = self._publications, []
            return publications


_held = threading.local()


@contextlib.contextmanager
def publications_held_by(held: HeldPublications) -> Iterator[None]:
    """In this thread, within the block, `groups_publish` keeps its events in `held`."""
    outer = getattr(_held, "current", None)
    _held.current = held
    try:
        yield
    finally:
        _held.current = outer


def groups_publish(groups: list[str], message: dict[str, Any]) -> None:
    """Send `message` to every consumer in each of `groups`, from synchronous code: one round trip
    per Redis host of the layer (or held for the event loop: `publications_held_by`)."""
    held: HeldPublications | None = getattr(_held, "current", None)
    if held is not None and held.hold((groups, message)):
        return
    layer = get_channel_layer()
    if layer is None:
        return
    if not isinstance(layer, RedisPubSubChannelLayer):
        for group in groups:
            async_to_sync(layer.group_send)(group, message)
        return
    by_host: dict[int, list[tuple[str, bytes]]] = {}
    for group in groups:
        index, channel, payload = _target(layer, group, message)
        by_host.setdefault(index, []).append((channel, payload))
    for index, publications in by_host.items():
        address, options = _client_arguments(index)
        with pooled_client(address, **options).pipeline(transaction=False) as pipe:
            for channel, payload in publications:
                pipe.publish(channel, payload)
            pipe.execute()


def groups_publish_queued(publications: list[Publication]) -> asyncio.Future[Any] | None:
    """Publish, from the event loop, what a database trip held: queued now, in order, on the loop's
    pipelined clients. Returns what to await until Redis has them all (None when there was
    nothing); a failure is logged, as `groups_publish`'s callers do: a lost live update never
    undoes the write that caused it."""
    layer = get_channel_layer()
    if not publications or layer is None:
        return None
    sent: list[asyncio.Future[Any]] = []
    for groups, message in publications:
        for group in groups:
            try:
                if isinstance(layer, RedisPubSubChannelLayer):
                    index, channel, payload = _target(layer, group, message)
                    address, options = _client_arguments(index)
                    one = pooled_client_async(address, **options).queue_command("PUBLISH", channel, payload)
                else:
                    one = asyncio.ensure_future(layer.group_send(group, message))
            except Exception:
                logger.exception("could not publish a live event to %s", group)
                continue
            one.add_done_callback(_log_failure)
            sent.append(one)
    return asyncio.gather(*sent, return_exceptions=True) if sent else None


def _log_failure(sent: asyncio.Future[Any]) -> None:
    if not sent.cancelled() and sent.exception() is not None:
        logger.error("could not publish a live event", exc_info=sent.exception())


@dataclass(frozen=True)
class KeptCopy:
    """A copy of what is published, appended to a Redis list (REDIS_URL's) that expires."""

    key: str
    value: str
    ttl_seconds: int


async def group_publish_async(group: str, message: dict[str, Any], *, kept: KeptCopy | None = None) -> None:
    """Send `message` to every consumer in `group`, from async code; with `kept`, append the copy
    first, so whoever reads the list after the event went out finds it there.

    When the layer's Redis is REDIS_URL's (one host, the same address), both take one round trip:
    a streamed answer publishes every piece this way.
    """
    layer = get_channel_layer()
    if layer is None or not isinstance(layer, RedisPubSubChannelLayer):
        if kept is not None:
            await _keep(redis_client_async(), kept)
        if layer is not None:
            await layer.group_send(group, message)
        return
    index, channel, payload = _target(layer, group, message)
    address, options = _client_arguments(index)
    client = pooled_client_async(address, **options)
    if kept is None:
        await client.publish(channel, payload)
    elif len(_hosts()) == 1 and address == settings.REDIS_URL:
        await client.execute_together(*_keep_commands(kept), ("PUBLISH", channel, payload))
    else:
        await _keep(redis_client_async(), kept)
        await client.publish(channel, payload)


async def _keep(client: AutoPipelinedRedis, kept: KeptCopy) -> None:
    await client.execute_together(*_keep_commands(kept))


def _keep_commands(kept: KeptCopy) -> tuple[tuple[Any, ...], ...]:
    return ("RPUSH", kept.key, kept.value), ("EXPIRE", kept.key, kept.ttl_seconds)
