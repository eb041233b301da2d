"""A tenant task that exists for tests only: where it ran, and switches to hold it or make it fail.

Never registered in the product: the workers tests start import it with Celery's own `--include`
(tests.support.processes.Worker), and the test process registers it by importing this module. It
runs through the product's own tenant task base (config.celery.tenant_task), so the tests of tenant
headers, retries, dead letters, crashes and queue priority exercise exactly what real tasks get.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import connection

from config.celery import Queue, tenant_task
from config.redis import redis_client, tenant_key

logger = logging.getLogger(__name__)

# The longest a held probe waits for its `release` key: a test that forgot to release it does not
# keep a worker's pool process forever.
PROBE_HOLD_LIMIT_SECONDS = 120


@tenant_task(queue=Queue.LOW)
def tenant_worker_probe(marker: str, *, hold: bool = False) -> str:
    """Record where (which schema, as the database itself sees it) the task ran, in Redis.

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
    # A line of the task's own: the worker log shows the request id and tenant it ran with.
    logger.info("probe %s ran in schema %s (settings %s)", marker, database_schema, settings.SETTINGS_MODULE)
    return database_schema
