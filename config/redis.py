"""The process's Redis clients for plumbing that talks to Redis directly (not the cache): redis-py's
own clients on its own connection pools, one for synchronous code and one per event loop (an
asyncio connection belongs to the loop that opened it; a process runs daphne's loop and one per
`asyncio.run` in commands and tasks)."""

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

_CLIENT_OPTIONS: dict[str, Any] = {"socket_connect_timeout": 2, "socket_timeout": 5, "decode_responses": True}


def _async_client() -> aioredis.Redis:
    # A blocking pool (redis-py's, with its defaults): in a burst, a command waits for a free
    # connection instead of failing with "Too many connections" once the plain pool's are all out.
    return aioredis.Redis(connection_pool=aioredis.BlockingConnectionPool.from_url(settings.REDIS_URL,
                                                                                   **_CLIENT_OPTIONS))


_async_clients: PerLoop[aioredis.Redis] = PerLoop(_async_client)


@functools.cache
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, **_CLIENT_OPTIONS)


def redis_client_async() -> aioredis.Redis:
    """The same Redis for async code: the running event loop's client."""
    return _async_clients.get()


def tenant_key(schema_name: str, *parts: str) -> str:
    """Every tenant-scoped Redis key starts with the schema name."""
    return ":".join(("deskpilot", schema_name, *parts))


class RedisScript:
    """A Lua script sent by its SHA1, and in full only when Redis does not know it yet (first use,
    a restart, SCRIPT FLUSH), usable from sync and async clients alike. redis-py's `register_script`
    binds a script to one client, and the async clients are one per event loop; this is the same
    EVALSHA-then-SCRIPT LOAD protocol through the clients' public commands (docs/decisions/0403).
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
