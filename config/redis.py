"""One Redis client per process for plumbing that talks to Redis directly (not the cache)."""

from __future__ import annotations

import asyncio
import functools
import hashlib
from collections.abc import Sequence
from typing import Any

import redis
from django.conf import settings
from redis import asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError

from config.loops import PerLoop

_async_clients: PerLoop[dict[tuple[Any, ...], AutoPipelinedRedis]] = PerLoop(dict)


@functools.cache
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5, decode_responses=True)


def redis_client_async() -> AutoPipelinedRedis:
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


def pooled_client_async(address: str, **options: Any) -> AutoPipelinedRedis:
    """As pooled_client, for async code: one per event loop (an asyncio connection belongs to the
    loop that opened it), its commands pipelined (AutoPipelinedRedis)."""
    clients = _async_clients.get()
    key = (address, tuple(sorted(options.items())))
    client = clients.get(key)
    if client is None:
        pool = aioredis.BlockingConnectionPool.from_url(address, **_pool_options(options))
        client = clients[key] = AutoPipelinedRedis(connection_pool=pool)
    return client


_Queued = tuple[tuple[Any, ...], dict[str, Any], "asyncio.Future[Any]"]


class AutoPipelinedRedis(aioredis.Redis):
    """An asyncio Redis client whose commands, from every task of the event loop, are sent together:
    what is asked while a batch is on its way goes out as one pipeline after it, in the order asked.

    A plain client sends each command on a connection of its own from the pool and holds it until
    the reply has been read, which on a busy loop is one pass later. In a burst of a thousand
    answers the loop passes took tens of milliseconds, so the pool's 16 connections carried at most
    16 commands per pass: an answer's budget check waited 4 s (median) in that queue, its start
    event 1 s (bench/widget_load.py). Pipelined, a command waits for the batch before it at most,
    and in a burst costs a quarter of the CPU (redis-py's connection checkout, socket write and read
    once per batch rather than per command; bench/redis_commands.py: 24-40 against 94-144 µs). A
    command alone costs a third more than through redis-py's client: a pipeline of one, at a quiet
    moment.

    Each caller still gets its own reply or error (a script Redis forgot is a NoScriptError for its
    caller only). One batch is in flight at a time, so Redis runs the commands in the order they
    were asked, whichever task asked them: an event queued before another is published before it.
    `pipeline()` and `pubsub()` are redis-py's own.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queued: list[_Queued] = []
        self._sender: asyncio.Task[None] | None = None

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        return await self.queue_command(*args, **options)

    def queue_command(self, *args: Any, **options: Any) -> asyncio.Future[Any]:
        """Queue a command now, without waiting for it: the future gets its reply or error. Commands
        queued one after another run in that order."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queued.append((args, options, future))
        if self._sender is None:
            # Its first step runs on the loop's next pass: everything asked until then joins the batch.
            self._sender = loop.create_task(self._send_batches())
        return future

    async def execute_together(self, *commands: tuple[Any, ...]) -> list[Any]:
        """Run `commands` one after another (RPUSH then PUBLISH, say: whoever receives the message
        finds the list appended); the first error is raised after all ran."""
        replies = await asyncio.gather(*(self.queue_command(*command) for command in commands), return_exceptions=True)
        for reply in replies:
            if isinstance(reply, BaseException):
                raise reply
        return replies

    async def _send_batches(self) -> None:
        try:
            while self._queued:
                batch, self._queued = self._queued, []
                await self._send(batch)
        finally:
            self._sender = None
            if self._queued:  # cancelled (the loop is closing): nobody will send these
                batch, self._queued = self._queued, []
                _fail(batch, _closed())

    async def _send(self, batch: list[_Queued]) -> None:
        try:
            async with self.pipeline(transaction=False) as pipe:
                for args, options, _future in batch:
                    pipe.execute_command(*args, **options)
                replies = await pipe.execute(raise_on_error=False)
        except Exception as error:
            _fail(batch, error)
            return
        except BaseException:
            # Cancelled with the loop: its callers are told what anyone else in the batch is.
            _fail(batch, _closed())
            raise
        for (_args, _options, future), reply in zip(batch, replies, strict=True):
            if future.done():  # its caller was cancelled meanwhile
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)


def _closed() -> RedisConnectionError:
    return RedisConnectionError("The Redis client was closed before the command was answered.")


def _fail(batch: list[_Queued], error: BaseException) -> None:
    for _args, _options, future in batch:
        if not future.done():
            future.set_exception(error)


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
