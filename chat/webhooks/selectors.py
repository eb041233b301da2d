"""Reads of outgoing webhooks for the dashboard and the API."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from chat.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


def webhook_endpoint_list() -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.order_by("id")


def webhook_delivery_list(*, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    """The endpoint's deliveries, newest first, each with its attempts (newest first)."""
    attempts = WebhookAttempt.objects.order_by("-attempted_at", "-id")
    return (WebhookDelivery.objects.filter(endpoint=endpoint).select_related("message")
            .prefetch_related(Prefetch("attempt_log", queryset=attempts)).order_by("-id"))


def webhook_delivery_get(*, delivery_id: int) -> WebhookDelivery | None:
    return WebhookDelivery.objects.select_related("endpoint", "message").filter(pk=delivery_id).first()
