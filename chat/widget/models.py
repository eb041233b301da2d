"""How a business's chat widget looks and who may embed it. One row per tenant schema.

Tables keep the chat_* names they had before this app had a label of its own (docs/decisions/0101).
"""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q


def new_public_key() -> str:
    return f"pk_{secrets.token_urlsafe(18)}"


class WidgetSettings(models.Model):
    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    # Public: it is pasted into the business's pages. It names the tenant together with the host.
    public_key = models.CharField(max_length=64, unique=True, default=new_public_key)
    allowed_origins = models.JSONField(default=list, blank=True,
                                       help_text="Origins (https://shop.example) whose pages may embed the widget.")
    display_name = models.CharField(max_length=100, blank=True)
    greeting = models.CharField(max_length=300, default="Hi! How can we help you today?")
    primary_color = models.CharField(max_length=7, default="#1f6feb")
    text_color = models.CharField(max_length=7, default="#ffffff")
    avatar_url = models.URLField(blank=True)
    position = models.CharField(max_length=5, choices=[("right", "Right"), ("left", "Left")], default="right")
    language = models.CharField(max_length=8, default="en")
    prechat_enabled = models.BooleanField(default=False)
    prechat_require_email = models.BooleanField(default=False)
    messages_per_minute_per_ip = models.PositiveIntegerField(default=100)
    messages_per_minute_per_visitor = models.PositiveIntegerField(default=30)
    demo_page = models.CharField(
        max_length=10, choices=[("shop", "An online shop"), ("cafe", "A café or restaurant")], default="shop",
        help_text="What the demo page (/demo/) looks like: a sample website of this kind of business.")
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "chat_widgetsettings"
        verbose_name_plural = "widget settings"
        constraints = [models.CheckConstraint(condition=Q(id=1), name="widget_settings_singleton")]

    def __str__(self) -> str:
        return f"Widget {self.public_key}"
