"""Messaging channels (WhatsApp Cloud API, Telegram Bot API): a tenant's connected numbers and bots,
the people who write on them, every reply sent to them, and a log of what came in and went out.

Credentials are columns of `EncryptedTextField` (config.secrets_at_rest): the database and its
backups hold only Fernet tokens. The platform of a conversation is its `Conversation.channel`
(`whatsapp` or `telegram`); the channel row it came through is its `ChannelContact`'s.
"""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q

from config.secrets_at_rest import EncryptedTextField


class Platform(models.TextChoices):
    WHATSAPP = "whatsapp", "WhatsApp"
    TELEGRAM = "telegram", "Telegram"


def new_verify_token() -> str:
    return secrets.token_urlsafe(24)


def new_telegram_secret() -> str:
    # The Bot API allows 1-256 characters of A-Z, a-z, 0-9, _ and -: token_urlsafe's alphabet.
    return secrets.token_urlsafe(48)


class MessagingChannel(models.Model):
    """One WhatsApp phone number or one Telegram bot of the tenant's. Its id is in the webhook URL
    (`/webhooks/<platform>/<id>/`); nothing secret ever is."""

    platform = models.CharField(max_length=20, choices=Platform.choices)
    name = models.CharField(max_length=200, help_text="What the dashboard calls it (the number, the bot's @name).")
    connected = models.BooleanField(default=True)
    # WhatsApp Cloud API
    phone_number_id = models.CharField(max_length=64, blank=True)
    business_account_id = models.CharField(max_length=64, blank=True)
    access_token = EncryptedTextField(blank=True)
    app_secret = EncryptedTextField(blank=True)
    verify_token = models.CharField(max_length=100, default=new_verify_token)
    # Sent instead of free text outside the 24-hour customer-service window; empty: the agent is told.
    template_name = models.CharField(max_length=200, blank=True)
    template_language = models.CharField(max_length=20, default="en_US")
    # Telegram Bot API
    bot_token = EncryptedTextField(blank=True)
    bot_user_id = models.BigIntegerField(null=True, blank=True)
    bot_username = models.CharField(max_length=100, blank=True)
    webhook_secret = EncryptedTextField(blank=True)
    # Health, as the dashboard shows it
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    last_outbound_at = models.DateTimeField(null=True, blank=True)
    signature_failures = models.PositiveIntegerField(default=0)
    delivery_failures = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            # A number or a bot is connected once per tenant: two rows would split its customers.
            models.UniqueConstraint(fields=["phone_number_id"], condition=Q(platform="whatsapp", connected=True),
                                    name="messaging_whatsapp_number_once"),
            models.UniqueConstraint(fields=["bot_user_id"], condition=Q(platform="telegram", connected=True),
                                    name="messaging_telegram_bot_once"),
        ]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} {self.name}"


class ChannelContact(models.Model):
    """Someone who wrote on a channel (a WhatsApp number, a Telegram chat) and their conversation."""

    channel = models.ForeignKey(MessagingChannel, on_delete=models.CASCADE, related_name="contacts")
    # The platform's address: WhatsApp's wa_id, Telegram's chat id (a group's, for a group).
    external_id = models.CharField(max_length=64)
    contact = models.ForeignKey("chat.Contact", on_delete=models.CASCADE, related_name="channel_identities")
    conversation = models.ForeignKey("chat.Conversation", on_delete=models.CASCADE, related_name="+")
    display_name = models.CharField(max_length=200, blank=True)
    # The customer's last message: WhatsApp's 24-hour customer-service window runs from it.
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "external_id"], name="messaging_contact_once")]

    def __str__(self) -> str:
        return f"{self.external_id} on {self.channel_id}"


class OutboundState(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    READ = "read", "Read"
    FAILED = "failed", "Failed"
    WINDOW_CLOSED = "window_closed", "Not sent: outside the 24-hour window"


class OutboundMessage(models.Model):
    """One message to a customer on a platform: an assistant's answer, an agent's reply, a notice."""

    channel = models.ForeignKey(MessagingChannel, on_delete=models.CASCADE, related_name="outbound")
    channel_contact = models.ForeignKey(ChannelContact, on_delete=models.CASCADE, related_name="outbound")
    # The conversation message it carries; empty for a notice that is not one ("I can only read text").
    message = models.OneToOneField("chat.Message", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="outbound")
    text = models.TextField()
    quick_replies = models.JSONField(default=list, blank=True)
    state = models.CharField(max_length=20, choices=OutboundState.choices, default=OutboundState.QUEUED)
    provider_message_id = models.CharField(max_length=128, blank=True, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    as_template = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["channel_contact", "state", "id"])]

    def __str__(self) -> str:
        return f"outbound {self.pk} ({self.state})"


class Direction(models.TextChoices):
    INBOUND = "in", "Inbound"
    OUTBOUND = "out", "Outbound"


class ChannelEvent(models.Model):
    """What came in and went out on a channel, one line each: the channel's log for the health page."""

    channel = models.ForeignKey(MessagingChannel, on_delete=models.CASCADE, related_name="events")
    # The customer a line is about, when it is about one: their lines go with them when they are erased.
    channel_contact = models.ForeignKey(ChannelContact, null=True, blank=True, on_delete=models.CASCADE,
                                        related_name="+")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    kind = models.CharField(max_length=40)
    detail = models.CharField(max_length=300, blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.direction} {self.kind}"
