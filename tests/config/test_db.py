"""config.db's contract: ORM work from async code runs inside the tenant's schema it names, on a
pool thread whichever tenant that thread served last, and calls from many sockets run side by side
rather than one after another on a single thread."""

from __future__ import annotations

import asyncio
import threading
import time

from django.db import connection

from config.db import in_schema, in_tenant, in_thread


def current_schema() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        return str(cursor.fetchone()[0])


def test_each_call_runs_in_the_schema_it_names_whatever_the_thread_did_before(tenant_a, tenant_b) -> None:
    schemas = [tenant_a.schema_name, tenant_b.schema_name] * 10

    async def scenario() -> list[str]:
        return list(await asyncio.gather(*(in_schema(schema, current_schema) for schema in schemas)))

    assert asyncio.run(scenario()) == schemas


def test_in_tenant_puts_the_tenant_on_the_connection(tenant_a) -> None:
    async def scenario() -> tuple[str, str]:
        return await in_tenant(tenant_a, lambda: (connection.tenant.schema_name, current_schema()))

    assert asyncio.run(scenario()) == (tenant_a.schema_name, tenant_a.schema_name)


def test_calls_from_many_sockets_wait_side_by_side_not_in_one_line() -> None:
    """Each call waits on PostgreSQL (here: on a barrier) without holding up the others."""
    together = threading.Barrier(4, timeout=10)

    async def scenario() -> float:
        started = time.monotonic()
        await asyncio.gather(*(in_thread(together.wait) for _ in range(4)))
        return time.monotonic() - started

    assert asyncio.run(scenario()) < 5
