"""Database work from async code (WebSocket consumers, the streaming assistant), on a pool of its own.

asgiref runs `sync_to_async(thread_sensitive=False)` work on the event loop's default thread pool,
which Python sizes at the number of cores plus four. Every call here spends most of its time waiting
for PostgreSQL, not on the CPU, so with hundreds of sockets in one web process six threads became a
queue: a burst of widget messages waited seconds for a free thread while the CPU sat idle. This pool
is sized by `DATABASE_ASYNC_THREADS` instead; each thread keeps one database connection open
(`DATABASE_CONN_MAX_AGE`), so a web process holds up to that many connections.

A few reads are waited for by every answer under way at once (the tenant's plan level when its
cached copy expired): `in_schema_ahead` runs those on a small pool of their own
(`DATABASE_AHEAD_THREADS`), so they never queue behind a burst of ordinary work. In a burst of a
thousand widget messages the plan level, queued behind every message being stored, held every
answer's request to the model for 5 s (bench/widget_load.py).
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from django.conf import settings
from django.db import close_old_connections
from django_tenants.utils import schema_context, tenant_context

from config.live import HeldPublications, groups_publish_queued, publications_held_by

T = TypeVar("T")

# The largest value a PostgreSQL bigint holds (ids, counts, amounts in minor units): a number from
# outside bigger than this is refused before it reaches a query or int() of a huge Decimal.
BIGINT_MAX = 2**63 - 1

_executors: dict[str, ThreadPoolExecutor] = {}
_executor_lock = threading.Lock()


def _executor_named(name: str, threads: int) -> ThreadPoolExecutor:
    executor = _executors.get(name)
    if executor is None:
        with _executor_lock:
            executor = _executors.get(name)
            if executor is None:
                executor = _executors[name] = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)
    return executor


def database_executor() -> ThreadPoolExecutor:
    return _executor_named("db", settings.DATABASE_ASYNC_THREADS)


def database_executor_ahead() -> ThreadPoolExecutor:
    return _executor_named("db-ahead", settings.DATABASE_AHEAD_THREADS)


async def in_thread(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run blocking work (ORM, Redis) from async code, on the database pool."""
    return await _in_pool(database_executor(), function, *args, **kwargs)


async def _in_pool(executor: ThreadPoolExecutor, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    # The live events the work commits are published by this event loop afterwards (config.live).
    held = HeldPublications()

    def _run() -> T:
        # As around a request: a connection past DATABASE_CONN_MAX_AGE (or broken) is replaced
        # before, and closed after, so idle pool threads do not sit on expired connections.
        close_old_connections()
        try:
            with publications_held_by(held):
                return function(*args, **kwargs)
        finally:
            close_old_connections()

    try:
        # Straight to the pool, in a copy of the caller's context (its log fields): what asgiref's
        # sync_to_async did here, without the bookkeeping it adds to every trip on the loop.
        result = await asyncio.get_running_loop().run_in_executor(executor, contextvars.copy_context().run, _run)
    except asyncio.CancelledError:
        groups_publish_queued(held.take())  # sent all the same; nobody waits for this caller any more
        raise
    except BaseException:
        await _published(held)
        raise
    # Waited for (one batch to Redis), so a loop that ends next, as a command's or a task's does,
    # has not dropped them.
    await _published(held)
    return result


async def _published(held: HeldPublications) -> None:
    publishing = groups_publish_queued(held.take())
    if publishing is not None:
        await publishing


async def in_schema(schema_name: str, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run ORM work from async code inside one tenant's schema (a connection's schema is per thread,
    and a pool thread may have served another tenant last)."""
    return await in_thread(_in_schema, schema_name, function, *args, **kwargs)


async def in_schema_ahead(schema_name: str, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """As in_schema, on the small pool kept for short reads that many tasks wait for at once."""
    return await _in_pool(database_executor_ahead(), _in_schema, schema_name, function, *args, **kwargs)


def _in_schema(schema_name: str, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    with schema_context(schema_name):
        return function(*args, **kwargs)


async def in_tenant(tenant: Any, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """As in_schema, with the tenant's row on the connection (its domains, its time zone)."""
    return await in_thread(_in_tenant, tenant, function, *args, **kwargs)


def _in_tenant(tenant: Any, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    with tenant_context(tenant):
        return function(*args, **kwargs)
