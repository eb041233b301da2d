"""Dashboard tasks: the analytics roll-up (`low`). They take ids, call a service, and may run twice."""

from __future__ import annotations

from chat.dashboard import rollup
from config.celery import Queue, tenant_task

__all__ = ["analytics_roll_up"]


@tenant_task(queue=Queue.LOW)
def analytics_roll_up() -> int:
    """Store this tenant's finished days that are missing or stale (beat sends it to every tenant
    hourly, so each tenant's yesterday is stored soon after its own midnight, whatever its zone)."""
    return rollup.analytics_days_roll_up_finished()
