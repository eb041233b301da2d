"""One Redis client per process for plumbing that talks to Redis directly (not the cache)."""

from __future__ import annotations

import asyncio
import functools
import weakref

import redis
from django.conf import settings
from redis import asyncio as aioredis

_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = weakref.WeakKeyDictionary()


@functools.cache
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5, decode_responses=True)


def redis_client_async() -> aioredis.Redis:
    """The same Redis for async code, without a thread: one client per event loop (an asyncio
    connection belongs to the loop that opened it), with a bounded pool that a burst waits for."""
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        # No wait limit for a free connection: under a burst the wait is a queue, not a failure
        # (each command is short; a dead Redis still fails on the socket timeouts).
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.REDIS_URL, max_connections=int(settings.LIVE_PUBLISH_CONNECTIONS), timeout=None,
            socket_connect_timeout=2, socket_timeout=5, decode_responses=True)
        client = _async_clients[loop] = aioredis.Redis(connection_pool=pool)
    return client


def tenant_key(schema_name: str, *parts: str) -> str:
    """Every tenant-scoped Redis key starts with the schema name."""
    return ":".join(("deskpilot", schema_name, *parts))
