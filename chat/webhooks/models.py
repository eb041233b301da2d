"""Outgoing webhooks (Standard Webhooks): endpoints, the events sent, deliveries and their attempts.

One `WebhookMessage` per event (its `msg_id` is the `webhook-id` header, the same on every retry, so
a receiver can drop duplicates); one `WebhookDelivery` per endpoint that subscribed to it, whose
`next_attempt_at` is the schedule; one `WebhookAttempt` per request made, shown in the dashboard.
"""

from __future__ import annotations

import enum

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from config.secrets_at_rest import EncryptedTextField


class EventType(enum.StrEnum):
    CONVERSATION_CREATED = "conversation.created"
    CONVERSATION_STATUS_CHANGED = "conversation.status_changed"
    CONVERSATION_ASSIGNED = "conversation.assigned"
    MESSAGE_CREATED = "message.created"
    CONTACT_CREATED = "contact.created"
    CONTACT_UPDATED = "contact.updated"
    HANDOFF_REQUESTED = "handoff.requested"
    RATING_CREATED = "rating.created"
    ORDER_UPDATED = "order.updated"
    # Sent only by the dashboard's "send a test event", to that one endpoint.
    TEST = "webhook.test"


EVENT_LABELS = {
    EventType.CONVERSATION_CREATED: "A conversation started",
    EventType.CONVERSATION_STATUS_CHANGED: "A conversation changed status",
    EventType.CONVERSATION_ASSIGNED: "A conversation was assigned",
    EventType.MESSAGE_CREATED: "A message was stored",
    EventType.CONTACT_CREATED: "A contact was created",
    EventType.CONTACT_UPDATED: "A contact changed",
    EventType.HANDOFF_REQUESTED: "A person was asked for",
    EventType.RATING_CREATED: "A customer rated a conversation",
    EventType.ORDER_UPDATED: "An order was created or changed",
    EventType.TEST: "Test event",
}
EVENT_CHOICES = [(str(event), label) for event, label in EVENT_LABELS.items()]
SUBSCRIBABLE = [str(event) for event in EventType if event != EventType.TEST]


class WebhookEndpoint(models.Model):
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    events = ArrayField(models.CharField(max_length=40, choices=EVENT_CHOICES))
    # `whsec_` and the base64 of the key, encrypted at rest; shown to the owner once.
    secret = EncryptedTextField()
    # During a rotation the previous secret still signs (a second signature) until this time.
    previous_secret = EncryptedTextField(blank=True, default="")
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    # The first failed attempt since the last success: failing for WEBHOOK_DISABLE_AFTER disables it.
    failing_since = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["enabled"], name="webhooks_endpoint_enabled")]

    def __str__(self) -> str:
        return self.url


class WebhookMessage(models.Model):
    msg_id = models.CharField(max_length=40, unique=True)
    type = models.CharField(max_length=40, choices=EVENT_CHOICES)
    # The exact body sent: {"type", "timestamp", "data"}.
    payload = models.JSONField()
    created = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.type} {self.msg_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    message = models.ForeignKey(WebhookMessage, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # When the next attempt is due (pending only): the schedule itself, so a lost task is found again.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [models.UniqueConstraint(fields=["endpoint", "message"], name="webhooks_delivery_once")]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhooks_delivery_due")]

    def __str__(self) -> str:
        return f"{self.message} to {self.endpoint} ({self.status})"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField(default=timezone.now)
    # None when no answer came (refused by the egress guard, connection error, timeout).
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    # The first WEBHOOK_RESPONSE_KEPT_BYTES of the answer, decoded leniently.
    response_body = models.TextField(blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-attempted_at", "-id"]

    def __str__(self) -> str:
        return f"attempt of {self.delivery_id}: {self.status_code or self.error}"
