"""Database work from async code (WebSocket consumers, the streaming assistant), on a pool of its own.

asgiref runs `sync_to_async(thread_sensitive=False)` work on the event loop's default thread pool,
which Python sizes at the number of cores plus four. Every call here spends most of its time waiting
for PostgreSQL, not on the CPU, so with hundreds of sockets in one web process six threads became a
queue: a burst of widget messages waited seconds for a free thread while the CPU sat idle. This pool
is sized by `DATABASE_ASYNC_THREADS` instead; each thread keeps one database connection open
(`DATABASE_CONN_MAX_AGE`), so a web process holds up to that many connections.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django_tenants.utils import schema_context, tenant_context

T = TypeVar("T")

# The largest value a PostgreSQL bigint holds (ids, counts, amounts in minor units): a number from
# outside bigger than this is refused before it reaches a query or int() of a huge Decimal.
BIGINT_MAX = 2**63 - 1

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def database_executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        with _executor_lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(max_workers=settings.DATABASE_ASYNC_THREADS, thread_name_prefix="db")
    return _executor


async def in_thread(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run blocking work (ORM, Redis) from async code, on the database pool."""

    def _run() -> T:
        # As around a request: a connection past DATABASE_CONN_MAX_AGE (or broken) is replaced
        # before, and closed after, so idle pool threads do not sit on expired connections.
        close_old_connections()
        try:
            return function(*args, **kwargs)
        finally:
            close_old_connections()

    return await sync_to_async(_run, thread_sensitive=False, executor=database_executor())()


async def in_schema(schema_name: str, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run ORM work from async code inside one tenant's schema (a connection's schema is per thread,
    and a pool thread may have served another tenant last)."""

    def _run() -> T:
        with schema_context(schema_name):
            return function(*args, **kwargs)

    return await in_thread(_run)


async def in_tenant(tenant: Any, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """As in_schema, with the tenant's row on the connection (its domains, its time zone)."""

    def _run() -> T:
        with tenant_context(tenant):
            return function(*args, **kwargs)

    return await in_thread(_run)
