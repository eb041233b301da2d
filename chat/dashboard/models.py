"""Tables of the business dashboard: teammate invitations and the team's canned responses.

Tables keep the chat_* names they had before this app had a label of its own (docs/decisions/0101).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Invitation(models.Model):
    """A teammate invited by e-mail. The link carries a signed token naming this row and its nonce;
    accepting sets `accepted_at`, so a link works once, and not after `expires_at`."""

    email = models.EmailField()
    role = models.CharField(max_length=20)
    nonce = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "chat_invitation"
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"Invitation for {self.email} ({self.role})"


class CannedResponse(models.Model):
    """A saved reply that agents insert into the reply box and edit before sending."""

    title = models.CharField(max_length=100, unique=True)
    text = models.TextField()
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "chat_cannedresponse"
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title
