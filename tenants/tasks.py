"""Platform tasks: the per-tenant dispatcher for beat, and a probe ops use to check the workers."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context

from config.celery import Queue, platform_task, tenant_task
from config.redis import redis_client, tenant_key

logger = logging.getLogger(__name__)

PROBE_HOLD_LIMIT_SECONDS = 120


@platform_task(queue=Queue.LOW)
def dispatch_to_active_tenants(task_name: str) -> int:
    """Send one tenant task to every active tenant, each stamped with its own schema (beat uses this)."""
    from config.celery import app
    from tenants.selectors import active_tenant_schemas

    task = app.tasks[task_name]
    schemas = active_tenant_schemas()
    for schema in schemas:
        with schema_context(schema):
            task.apply_async()
    return len(schemas)


@tenant_task(queue=Queue.LOW)
def tenant_worker_probe(marker: str, *, hold: bool = False) -> str:
    """Record where (which schema, as the database itself sees it) a tenant task ran.

    Ops: send it to a tenant and read the result key to check that tenant's work is being served.
    `hold` keeps it running until the `release` key is set, so tests can stop a worker mid-task.
    Raises while the `broken` key is set, to exercise retries and the dead-letter store.
    """
    client = redis_client()
    schema = connection.schema_name
    base = tenant_key(schema, "probe", marker)
    client.rpush(f"{base}:attempts", time.time())
    client.rpush("deskpilot:probe:order", marker)
    if hold:
        deadline = time.monotonic() + PROBE_HOLD_LIMIT_SECONDS
        while not client.exists(f"{base}:release") and time.monotonic() < deadline:
            client.blpop([f"{base}:wake"], timeout=1)
    if client.exists(f"deskpilot:probe:{marker}:broken"):
        raise RuntimeError(f"probe {marker} is set to fail")
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        database_schema = cursor.fetchone()[0]
    client.set(f"deskpilot:probe:{marker}:ran_in", database_schema, ex=3600)
    logger.info("probe %s ran in schema %s (settings %s)", marker, database_schema, settings.SETTINGS_MODULE)
    return database_schema


@platform_task(queue=Queue.LOW)
def deadletter_prune(days: int = 30) -> int:
    """Forget dead letters that were replayed more than `days` ago."""
    from datetime import timedelta

    from django.utils import timezone

    from tenants.models import DeadLetter

    deleted, _ = DeadLetter.objects.filter(replayed_at__lt=timezone.now() - timedelta(days=days)).delete()
    return int(deleted)
