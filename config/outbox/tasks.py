"""Outbox relay: beat sends it to every active tenant (tenants.tasks.dispatch_to_active_tenants)."""

from __future__ import annotations

from config.celery import Queue, tenant_task
from config.outbox.services import outbox_relay


@tenant_task(queue=Queue.HIGH)
def outbox_relay_tenant() -> int:
    """Send again this tenant's promised tasks that were never queued or did not finish in time."""
    return outbox_relay()
