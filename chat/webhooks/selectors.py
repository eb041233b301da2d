"""Reads of outgoing webhooks for the dashboard and the API."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from chat.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

ATTEMPTS_SHOWN = 10


def webhook_endpoint_list() -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.order_by("id")


def webhook_delivery_list(*, endpoint: WebhookEndpoint, limit: int = 50) -> list[WebhookDelivery]:
    """The endpoint's latest deliveries, newest first, each with its latest attempts."""
    attempts = WebhookAttempt.objects.order_by("-attempted_at", "-id")
    return list(WebhookDelivery.objects.filter(endpoint=endpoint).select_related("message")
                .prefetch_related(Prefetch("attempt_log", queryset=attempts))
                .order_by("-created", "-id")[:limit])


def webhook_delivery_get(*, delivery_id: int) -> WebhookDelivery | None:
    return WebhookDelivery.objects.select_related("endpoint", "message").filter(pk=delivery_id).first()
