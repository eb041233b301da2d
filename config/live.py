"""Publishing to channel-layer groups with plain Redis clients kept open per process.

channels-redis's pub/sub layer reaches Redis through one connection per event loop, behind a lock,
so a process publishes one event per round trip. From synchronous code (every event sent after a
commit) `async_to_sync(layer.group_send)` is worse: it starts a thread and an event loop, and the
layer a new connection, for each event. In a burst of answers that was a sixth of the web process's
CPU. Here the event is serialized by the layer itself and PUBLISHed on the channel the layer's
subscribers listen to (channels-redis names it "<prefix>__group__<group>" and picks the host by
the same hash), through a connection pool: no new loop, no lock, no connection per event. The
widget and inbox tests receive these events on real sockets, so a change of that naming in a new
channels-redis version fails them.

Any other channel layer (the in-memory one, say) is sent to through its own `group_send`.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from typing import Any

import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from channels_redis.utils import _consistent_hash, decode_hosts
from django.conf import settings
from redis import asyncio as aioredis

_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[aioredis.Redis]] = weakref.WeakKeyDictionary()


def _layer_config() -> dict[str, Any]:
    return dict(settings.CHANNEL_LAYERS["default"].get("CONFIG", {}))


def _hosts() -> list[dict[str, Any]]:
    return [dict(host) for host in decode_hosts(_layer_config().get("hosts"))]


def _target(layer: RedisPubSubChannelLayer, group: str, message: dict[str, Any]) -> tuple[int, str, bytes]:
    channel = f"{_layer_config().get('prefix', 'asgi')}__group__{group}"
    return _consistent_hash(channel, len(_hosts())), channel, layer.serialize(message)


def _pool_arguments(host: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    host = dict(host)
    address = host.pop("address", None)
    if address is None:
        raise ValueError("The channel layer's Redis hosts need an 'address' (a redis:// URL).")
    # A burst waits for one of a few connections rather than opening hundreds: a PUBLISH is short,
    # so the wait is a queue with no limit of its own (a dead Redis still fails on socket timeouts).
    host["max_connections"] = int(settings.LIVE_PUBLISH_CONNECTIONS)
    host["timeout"] = None
    return address, host


@functools.cache
def _sync_client(index: int) -> redis.Redis:
    address, options = _pool_arguments(_hosts()[index])
    return redis.Redis(connection_pool=redis.BlockingConnectionPool.from_url(address, **options))


def _async_client(index: int) -> aioredis.Redis:
    # A redis.asyncio connection belongs to the loop it was opened on.
    loop = asyncio.get_running_loop()
    clients = _async_clients.get(loop)
    if clients is None:
        clients = []
        for host in _hosts():
            address, options = _pool_arguments(host)
            clients.append(aioredis.Redis(connection_pool=aioredis.BlockingConnectionPool.from_url(address, **options)))
        _async_clients[loop] = clients
    return clients[index]


def group_publish(group: str, message: dict[str, Any]) -> None:
    """Send `message` to every consumer in `group`, from synchronous code."""
    layer = get_channel_layer()
    if layer is None:
        return
    if not isinstance(layer, RedisPubSubChannelLayer):
        async_to_sync(layer.group_send)(group, message)
        return
    index, channel, payload = _target(layer, group, message)
    _sync_client(index).publish(channel, payload)


async def group_publish_async(group: str, message: dict[str, Any]) -> None:
    """Send `message` to every consumer in `group`, from async code."""
    layer = get_channel_layer()
    if layer is None:
        return
    if not isinstance(layer, RedisPubSubChannelLayer):
        await layer.group_send(group, message)
        return
    index, channel, payload = _target(layer, group, message)
    await _async_client(index).publish(channel, payload)
