"""Outgoing webhook tasks: take ids, call one service."""

from __future__ import annotations

from chat.webhooks import services
from config.celery import Queue, tenant_task


# A failed request is a recorded attempt with its own schedule (services.webhook_delivery_attempt), not
# a task failure: Celery's retries are only for the task's own errors (the database away).
@tenant_task(queue=Queue.HIGH)
def webhook_delivery_send(delivery_id: int, attempt: int) -> None:
    services.webhook_delivery_attempt(delivery_id=delivery_id, attempt=attempt)


@tenant_task(queue=Queue.HIGH)
def webhook_deliveries_overdue() -> int:
    """Beat, every tenant: send again what a lost task left overdue."""
    return services.webhook_deliveries_overdue_send()


@tenant_task(queue=Queue.LOW)
def webhook_history_prune() -> int:
    """Beat, every tenant, daily: forget old events and their attempts."""
    return services.webhook_history_prune()


@tenant_task(queue=Queue.MEDIUM)
def webhook_endpoint_disabled_email(endpoint_id: int) -> int:
    return services.webhook_endpoint_disabled_email(endpoint_id=endpoint_id)
