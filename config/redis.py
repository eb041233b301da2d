"""One Redis client per process for plumbing that talks to Redis directly (not the cache)."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from typing import Any

import redis
from django.conf import settings
from redis import asyncio as aioredis
from redis.exceptions import NoScriptError

from config.loops import PerLoop

_async_clients: PerLoop[dict[tuple[Any, ...], aioredis.Redis]] = PerLoop(dict)


@functools.cache
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5, decode_responses=True)


def redis_client_async() -> aioredis.Redis:
    """The same Redis for async code, without a thread (see pooled_client_async)."""
    return pooled_client_async(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5, decode_responses=True)


def _pool_options(options: dict[str, Any]) -> dict[str, Any]:
    # A burst waits for one of a few connections rather than opening hundreds: each command is
    # short, so the wait is a queue with no limit of its own (a dead Redis still fails on the
    # socket timeouts).
    return {**options, "max_connections": int(settings.REDIS_POOL_CONNECTIONS), "timeout": None}


@functools.cache
def _pooled_client(address: str, options: tuple[tuple[str, Any], ...]) -> redis.Redis:
    return redis.Redis(connection_pool=redis.BlockingConnectionPool.from_url(address, **_pool_options(dict(options))))


def pooled_client(address: str, **options: Any) -> redis.Redis:
    """A client on a bounded connection pool shared by the process's threads, one per address and options."""
    return _pooled_client(address, tuple(sorted(options.items())))


def pooled_client_async(address: str, **options: Any) -> aioredis.Redis:
    """As pooled_client, for async code: one per event loop (an asyncio connection belongs to the
    loop that opened it)."""
    clients = _async_clients.get()
    key = (address, tuple(sorted(options.items())))
    client = clients.get(key)
    if client is None:
        pool = aioredis.BlockingConnectionPool.from_url(address, **_pool_options(options))
        client = clients[key] = aioredis.Redis(connection_pool=pool)
    return client


def tenant_key(schema_name: str, *parts: str) -> str:
    """Every tenant-scoped Redis key starts with the schema name."""
    return ":".join(("deskpilot", schema_name, *parts))


class RedisScript:
    """A Lua script sent by its SHA1, and in full only when Redis does not know it yet (first use,
    a restart, SCRIPT FLUSH).

    redis-py's own Script object checks on every call whether its client is a pipeline, an
    isinstance test against a typing Protocol that cost 2.5% of the web process's CPU in a burst of
    answers (py-spy, bench/widget_load.py); EVAL with the source sends the whole text every time.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()  # Redis names scripts so

    def __call__(self, client: redis.Redis, *, keys: Sequence[Any], args: Sequence[Any] = ()) -> Any:
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            client.script_load(self.source)
            return client.evalsha(self.sha, len(keys), *keys, *args)

    async def run_async(self, client: aioredis.Redis, *, keys: Sequence[Any], args: Sequence[Any] = ()) -> Any:
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            await client.script_load(self.source)
            return await client.evalsha(self.sha, len(keys), *keys, *args)
