"""Tables of the business dashboard: teammate invitations, profiles and the team's canned responses.

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


class TeamMemberProfile(models.Model):
    """How a teammate appears to customers: a display name and an optional avatar, never their e-mail.

    In the tenant's schema, beside the users themselves (django.contrib.auth is a tenant app here).
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_profile")
    display_name = models.CharField(max_length=80, blank=True)
    # Either an outside http(s) address (config.outside_urls) or an uploaded image, never both.
    avatar_url = models.URLField(max_length=2048, blank=True)
    avatar_image = models.BinaryField(null=True, blank=True)
    avatar_content_type = models.CharField(max_length=40, blank=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "chat_teammemberprofile"

    def __str__(self) -> str:
        return self.display_name or f"Profile of user {self.user_id}"


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
