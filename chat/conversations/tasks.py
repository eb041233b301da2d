"""Conversation tasks: the nightly retention clean-up (`low`). They call a service and may run twice."""

from __future__ import annotations

from chat.conversations import customer_data
from config.celery import Queue, tenant_task

__all__ = ["conversations_retention_apply"]


@tenant_task(queue=Queue.LOW)
def conversations_retention_apply() -> int:
    """Delete this tenant's conversations past its retention period (beat sends it to every tenant)."""
    return customer_data.conversations_retention_apply()
