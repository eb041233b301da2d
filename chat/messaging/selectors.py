"""Reads for the channel pages, the inbox and the `channels` command."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from chat.conversations.models import Contact, Conversation
from chat.messaging import platforms
from chat.messaging.models import ChannelContact, ChannelEvent, MessagingChannel, OutboundMessage, Platform

EVENTS_SHOWN = 30
LINK_CANDIDATES = 50


def channel_list() -> QuerySet[MessagingChannel]:
    return MessagingChannel.objects.order_by("-connected", "id")


def channel_get(*, channel_id: int) -> MessagingChannel | None:
    return MessagingChannel.objects.filter(pk=channel_id).first()


@dataclass(frozen=True)
class ChannelHealth:
    channel: MessagingChannel
    events: list[ChannelEvent]
    failed_replies: int
    queued_replies: int
    # Telegram's own view of the webhook (getWebhookInfo), or why it could not be read.
    pending_update_count: int | None = None
    webhook_url: str = ""
    webhook_last_error: str = ""
    webhook_info_error: str = ""


def channel_health(*, channel: MessagingChannel) -> ChannelHealth:
    outbound = OutboundMessage.objects.filter(channel=channel)
    health = {"channel": channel, "events": list(channel.events.all()[:EVENTS_SHOWN]),
              "failed_replies": outbound.filter(state="failed").count(),
              "queued_replies": outbound.filter(state="queued").count()}
    if channel.platform == Platform.TELEGRAM and channel.connected:
        try:
            info = platforms.telegram_webhook_info(token=channel.bot_token)
        except platforms.PlatformError as error:
            return ChannelHealth(**health, webhook_info_error=error.message)
        return ChannelHealth(**health, pending_update_count=info.pending_update_count, webhook_url=info.url,
                             webhook_last_error=info.last_error_message)
    return ChannelHealth(**health)


@dataclass(frozen=True)
class ConversationChannelState:
    """What the inbox shows beside a messaging conversation."""

    channel_name: str
    platform: str
    address: str
    # WhatsApp only: until when free text may be sent (None: the window is closed).
    window_open_until: datetime | None
    is_whatsapp: bool
    replies: dict[int, OutboundMessage]


def conversation_channel_state(*, conversation: Conversation) -> ConversationChannelState | None:
    identity = (ChannelContact.objects.select_related("channel").filter(conversation=conversation)
                .order_by("-id").first())
    if identity is None:
        return None
    until = None
    if identity.last_inbound_at is not None:
        until = identity.last_inbound_at + timezone.timedelta(hours=24)
        if until <= timezone.now():
            until = None
    replies = {o.message_id: o for o in OutboundMessage.objects.filter(channel_contact=identity,
                                                                       message__isnull=False)}
    return ConversationChannelState(channel_name=identity.channel.name, platform=identity.channel.platform,
                                    address=identity.external_id, window_open_until=until,
                                    is_whatsapp=identity.channel.platform == Platform.WHATSAPP, replies=replies)


def contact_link_candidates(*, conversation: Conversation) -> list[Contact]:
    """Contacts an agent may say are this customer: the most recent ones of other conversations."""
    return list(Contact.objects.exclude(pk=conversation.contact_id).order_by("-id")[:LINK_CANDIDATES])
