"""API keys: one row per key, in the tenant's schema, so a key only ever exists on its own tenant.

The key itself is shown once; the row keeps its public id (for lookup, lists and revoking) and a
hash of the whole key.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models


class Scope(models.TextChoices):
    # What a request does (reads: GET; writes: POST, PATCH, PUT, DELETE) ...
    READ = "read", "Read"
    WRITE = "write", "Write"
    # ... and what it touches. A request needs both (docs/api.md, "Scopes").
    CONVERSATIONS = "conversations", "Conversations and contacts"
    KNOWLEDGE = "knowledge", "Knowledge"
    CATALOG = "catalog", "Catalog, stock, orders and opening hours"
    WEBHOOKS = "webhooks", "Webhooks"


class ApiKey(models.Model):
    key_id = models.CharField(max_length=32, unique=True)
    key_hash = models.CharField(max_length=64)
    name = models.CharField(max_length=100)
    scopes = ArrayField(models.CharField(max_length=20, choices=Scope.choices))
    created_at = models.DateTimeField(auto_now_add=True)
    # The owner's user id in this schema; kept when the user is removed.
    created_by_id = models.IntegerField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_id})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class IdempotencyRecord(models.Model):
    """The first answer to a POST sent with an `Idempotency-Key`, replayed for the same key and body.

    Kept per API key: two keys (two integrations) never share records. A row without a status is a
    request still being answered.
    """

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="idempotency_records")
    key = models.CharField(max_length=255)
    # What the request was: its method, path, query and body, hashed.
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    body = models.BinaryField(default=bytes)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_key_once_per_api_key")]
        indexes = [models.Index(fields=["api_key", "created_at"])]

    def __str__(self) -> str:
        return f"{self.key} ({self.status_code or 'in progress'})"
