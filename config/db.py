"""Database work from async code (WebSocket consumers, the streaming assistant): channels'
`database_sync_to_async`, inside the tenant's schema.

Not thread-sensitive: channels runs thread-sensitive work of every socket of a process on one
thread. These calls spend their time waiting for PostgreSQL, so they run on a pool of
DATABASE_ASYNC_THREADS threads (asgiref's `executor` argument), each with its own connection,
closed when past DATABASE_CONN_MAX_AGE; the event loop's default pool (cores + 4 threads) made a
queue of them at a steady rate of customers (docs/decisions/0404). Events the work publishes after
its commits are sent by the caller's event loop before the call returns (config.live).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from channels.db import database_sync_to_async
from django.conf import settings
from django_tenants.utils import schema_context, tenant_context

from config.live import sends_on_this_loop

T = TypeVar("T")

# The largest value a PostgreSQL bigint holds (ids, counts, amounts in minor units): a number from
# outside bigger than this is refused before it reaches a query or int() of a huge Decimal.
BIGINT_MAX = 2**63 - 1


@functools.cache
def _database_threads() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=settings.DATABASE_ASYNC_THREADS, thread_name_prefix="db")


async def in_thread(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run blocking work (ORM on the public schema, Redis) from async code."""
    async with sends_on_this_loop():
        return await database_sync_to_async(function, thread_sensitive=False,
                                            executor=_database_threads())(*args, **kwargs)


async def in_schema(schema_name: str, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run ORM work from async code inside one tenant's schema (a connection's schema is per thread,
    and a pool thread may have served another tenant last)."""
    return await in_thread(_in_schema, schema_name, function, *args, **kwargs)


def _in_schema(schema_name: str, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    with schema_context(schema_name):
        return function(*args, **kwargs)


async def in_tenant(tenant: Any, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """As in_schema, with the tenant's row on the connection (its domains, its time zone)."""
    return await in_thread(_in_tenant, tenant, function, *args, **kwargs)


def _in_tenant(tenant: Any, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    with tenant_context(tenant):
        return function(*args, **kwargs)
