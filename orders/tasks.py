"""Commerce tasks: take ids, call a service."""

from __future__ import annotations

from config.celery import Queue, tenant_task
from orders.services.webhooks import webhook_delivery_apply


@tenant_task(queue=Queue.HIGH)
def webhook_delivery_process(delivery_id: int) -> str | None:
    """Apply a stored shop webhook delivery (idempotent: a processed delivery is skipped)."""
    return webhook_delivery_apply(delivery_id=delivery_id)
