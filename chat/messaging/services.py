"""Messaging channels' services: connect and disconnect a number or a bot (verified against the
platform first), receive a verified webhook into the conversation core, queue and send replies in
order, record what the platform says became of them.

The core path is the widget's: a customer's message is stored once per platform message id by
`message_receive`, and the assistant answers it with `engine.answer_deliver_later` in a task; the
stored answer comes back through `stored_answer_send` (registered in apps.py), and a team member's
reply through `agent_reply_queue`. Both become an `OutboundMessage` and an outbox row in one
transaction; the send task delivers a conversation's replies one after another, oldest first.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import zlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from chat.conversations.events import ConversationErased
from chat.conversations.models import Contact, Conversation, Message
from chat.conversations.services import (
    contact_get_or_create,
    contact_merge,
    conversation_note_add,
    conversation_start,
    message_receive,
)
from chat.messaging import platforms
from chat.messaging.inbound import InboundItem, Kind, body_json, telegram_items, whatsapp_items
from chat.messaging.models import (
    ChannelContact,
    ChannelEvent,
    Direction,
    MessagingChannel,
    OutboundMessage,
    OutboundState,
    Platform,
    new_telegram_secret,
)
from config.db import in_schema
from config.errors import ApplicationError, NotFound, PermissionDenied, ValidationFailed
from config.outbox.services import outbox_send
from config.redis import redis_client, tenant_key

logger = logging.getLogger(__name__)

WHATSAPP_WINDOW = timedelta(hours=24)
UNSUPPORTED_REPLY = ("Sorry, I can only read text messages here. Please write your question in words, "
                     "and add a description if you sent a photo or a file.")
# Later states win; `failed` may come after `sent` and stays.
_STATUS_RANK = {OutboundState.SENT: 1, OutboundState.DELIVERED: 2, OutboundState.READ: 3, OutboundState.FAILED: 4}


class InvalidSignature(ApplicationError):
    code = "invalid_signature"
    status = 401


# ------------------------------------------------------------------------------------- connecting


def _channel(channel_id: int, platform: str | None = None) -> MessagingChannel:
    channel = MessagingChannel.objects.filter(pk=channel_id).first()
    if channel is None or (platform is not None and channel.platform != platform):
        raise NotFound("No such channel.", code="channel_not_found")
    return channel


def _event(channel: MessagingChannel, direction: str, kind: str, detail: str = "",
           identity_id: int | None = None) -> None:
    """A line of the channel's log; `identity_id`: the ChannelContact it is about, if any."""
    ChannelEvent.objects.create(channel=channel, channel_contact_id=identity_id, direction=direction,
                                kind=kind[:40], detail=detail[:300])


def channel_records_erase(event: ConversationErased) -> None:
    """A customer's erasure (handler of `ConversationErased`, in its transaction): who they are on each
    channel, every reply queued or sent to them and every line of the channels' logs about them, the
    lines of messages refused by the rate limit (which name only their number or chat) too."""
    identities = list(ChannelContact.objects.filter(conversation_id=event.conversation_id)
                      .values_list("pk", "channel_id", "external_id"))
    if not identities:
        return
    refused = Q()
    for _pk, channel_id, external_id in identities:
        refused |= Q(channel_id=channel_id, kind="rate_limited", detail=external_id)
    ChannelEvent.objects.filter(Q(channel_contact_id__in=[pk for pk, _, _ in identities]) | refused).delete()
    # Their queued and sent replies (OutboundMessage) go with them.
    ChannelContact.objects.filter(pk__in=[pk for pk, _, _ in identities]).delete()


def webhook_url(*, base_url: str, platform: str, channel_id: int) -> str:
    return f"{base_url.rstrip('/')}/webhooks/{platform}/{channel_id}/"


def channel_whatsapp_connect(*, phone_number_id: str, business_account_id: str, access_token: str,
                             app_secret: str, template_name: str = "", template_language: str = "en_US"
                             ) -> MessagingChannel:
    """Check the number and token with the Graph API, then save; the verify token is made here."""
    phone_number_id, business_account_id = phone_number_id.strip(), business_account_id.strip()
    if not phone_number_id.isdigit() or not business_account_id.isdigit():
        raise ValidationFailed("The phone number id and the WhatsApp business account id are numbers "
                               "(WhatsApp Manager, API setup).", code="invalid_ids")
    if not access_token.strip() or not app_secret.strip():
        raise ValidationFailed("The access token and the app secret are both needed.", code="missing_secret")
    if MessagingChannel.objects.filter(platform=Platform.WHATSAPP, phone_number_id=phone_number_id,
                                       connected=True).exists():
        raise ValidationFailed("This phone number is already connected.", code="already_connected")
    number = platforms.whatsapp_number_get(phone_number_id=phone_number_id, access_token=access_token.strip())
    with transaction.atomic():
        channel = MessagingChannel.objects.create(
            platform=Platform.WHATSAPP, name=f"{number.display_phone_number} {number.verified_name}".strip(),
            phone_number_id=phone_number_id, business_account_id=business_account_id,
            access_token=access_token.strip(), app_secret=app_secret.strip(),
            template_name=template_name.strip(), template_language=template_language.strip() or "en_US")
        _event(channel, Direction.OUTBOUND, "connected", channel.name)
    return channel


def channel_telegram_connect(*, bot_token: str, webhook_base_url: str) -> MessagingChannel:
    """Check the token (getMe), then point the bot's webhook here with a secret of its own
    (setWebhook's secret_token: the token itself never appears in a URL)."""
    bot_token = bot_token.strip()
    if not bot_token:
        raise ValidationFailed("The bot token is needed (from @BotFather).", code="missing_secret")
    bot = platforms.telegram_bot_get(token=bot_token)
    if MessagingChannel.objects.filter(platform=Platform.TELEGRAM, bot_user_id=bot.user_id, connected=True).exists():
        raise ValidationFailed(f"@{bot.username} is already connected.", code="already_connected")
    with transaction.atomic():
        channel = MessagingChannel.objects.create(platform=Platform.TELEGRAM, name=f"@{bot.username}",
                                                  bot_token=bot_token, bot_user_id=bot.user_id,
                                                  bot_username=bot.username, webhook_secret=new_telegram_secret())
        # Inside the transaction: if Telegram refuses the webhook, nothing is saved.
        platforms.telegram_webhook_set(token=bot_token, secret_token=channel.webhook_secret,
                                       url=webhook_url(base_url=webhook_base_url, platform=Platform.TELEGRAM,
                                                       channel_id=channel.pk))
        _event(channel, Direction.OUTBOUND, "connected", channel.name)
    return channel


def channel_disconnect(*, channel_id: int) -> MessagingChannel:
    """Stop the channel: Telegram's webhook is removed; the credentials are forgotten. Its
    conversations stay in the inbox."""
    channel = _channel(channel_id)
    if channel.platform == Platform.TELEGRAM and channel.connected and channel.bot_token:
        try:
            platforms.telegram_webhook_delete(token=channel.bot_token)
        except platforms.PlatformRejected as error:  # a revoked token: there is no webhook left to remove
            logger.info("telegram channel %s: deleteWebhook refused: %s", channel.pk, error.message)
    with transaction.atomic():
        channel.connected = False
        channel.access_token = channel.app_secret = channel.bot_token = channel.webhook_secret = ""
        channel.save()
        _event(channel, Direction.OUTBOUND, "disconnected")
    return channel


# -------------------------------------------------------------------------------------- receiving


@dataclass(frozen=True)
class WebhookReceipt:
    stored: int = 0
    duplicates: int = 0
    statuses: int = 0
    ignored: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"stored": self.stored, "duplicates": self.duplicates, "statuses": self.statuses,
                "ignored": self.ignored}


def whatsapp_challenge_answer(*, channel_id: int, mode: str, verify_token: str, challenge: str) -> str:
    """Meta's subscription check: the challenge back when the verify token is this channel's."""
    channel = _channel(channel_id, Platform.WHATSAPP)
    if mode != "subscribe" or not channel.connected or not hmac.compare_digest(
            verify_token.encode(), channel.verify_token.encode()):
        raise PermissionDenied("The verify token does not match.", code="invalid_verify_token")
    return challenge


def _signature_failed(channel: MessagingChannel, what: str) -> InvalidSignature:
    MessagingChannel.objects.filter(pk=channel.pk).update(signature_failures=F("signature_failures") + 1)
    _event(channel, Direction.INBOUND, "signature_failed", what)
    logger.warning("messaging channel %s: %s", channel.pk, what)
    return InvalidSignature(f"{what}.")


def whatsapp_webhook_receive(*, channel_id: int, body: bytes, signature: str | None) -> WebhookReceipt:
    """Accept a Cloud API notification only with X-Hub-Signature-256 = sha256 HMAC of the raw body
    under the app secret; then store what it says."""
    channel = _channel(channel_id, Platform.WHATSAPP)
    if not channel.connected or not channel.app_secret:
        raise NotFound("This channel is not connected.", code="channel_not_connected")
    expected = "sha256=" + hmac.new(channel.app_secret.encode(), body, hashlib.sha256).hexdigest()
    if not signature or not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise _signature_failed(channel, "X-Hub-Signature-256 missing or wrong")
    items = whatsapp_items(body_json(body), phone_number_id=channel.phone_number_id)
    return _items_apply(channel, items)


def telegram_webhook_receive(*, channel_id: int, body: bytes, secret_token: str | None) -> WebhookReceipt:
    """Accept an update only with the X-Telegram-Bot-Api-Secret-Token set by setWebhook."""
    channel = _channel(channel_id, Platform.TELEGRAM)
    if not channel.connected or not channel.webhook_secret:
        raise NotFound("This channel is not connected.", code="channel_not_connected")
    if not secret_token or not hmac.compare_digest(secret_token.encode(), channel.webhook_secret.encode()):
        raise _signature_failed(channel, "X-Telegram-Bot-Api-Secret-Token missing or wrong")
    items = telegram_items(body_json(body), bot_user_id=channel.bot_user_id, bot_username=channel.bot_username)
    return _items_apply(channel, items)


def _items_apply(channel: MessagingChannel, items: list[InboundItem]) -> WebhookReceipt:
    counts = {"stored": 0, "duplicates": 0, "statuses": 0, "ignored": 0}
    for item in items:
        if item.kind == Kind.STATUS:
            counts["statuses"] += _status_record(channel, item)
        elif item.kind == Kind.IGNORED:
            counts["ignored"] += 1
            _event(channel, Direction.INBOUND, "ignored", item.why)
        elif not _within_rate_limits(channel, item.address):
            counts["ignored"] += 1
            _event(channel, Direction.INBOUND, "rate_limited", item.address)
        elif _message_store(channel, item):
            counts["stored"] += 1
        else:
            counts["duplicates"] += 1
    if counts["stored"]:
        _channel_touch(channel.pk, "last_inbound_at")
    return WebhookReceipt(**counts)


def _channel_touch(channel_id: int, field: str) -> None:
    """When the channel last took a message in or sent one out: at most one write a second, each its
    own statement outside any longer transaction. Every webhook and every send of a busy number
    would otherwise queue on this one row's lock, a webhook's answer behind a send's HTTP call."""
    now = timezone.now()
    (MessagingChannel.objects.filter(pk=channel_id)
     .filter(Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lt": now - timedelta(seconds=1)}))
     .update(**{field: now}))


def _within_rate_limits(channel: MessagingChannel, address: str) -> bool:
    minute = str(int(timezone.now().timestamp() // 60))
    schema = connection.schema_name
    keys = [(tenant_key(schema, "messaging", "rate", str(channel.pk), minute),
             settings.MESSAGING_MESSAGES_PER_MINUTE_PER_CHANNEL),
            (tenant_key(schema, "messaging", "rate", str(channel.pk), address, minute),
             settings.MESSAGING_MESSAGES_PER_MINUTE_PER_CONVERSATION)]
    pipe = redis_client().pipeline()
    for key, _limit in keys:
        pipe.incr(key)
        pipe.expire(key, 120)
    counts = pipe.execute()[::2]
    return all(count <= limit for count, (_key, limit) in zip(counts, keys, strict=True))


def _channel_contact(channel: MessagingChannel, item: InboundItem) -> tuple[ChannelContact, bool]:
    """The sender's identity and conversation on this channel, made on their first message (True).
    The caller holds the sender's lock, so two copies of a first message make one conversation."""
    found = ChannelContact.objects.select_related("conversation").filter(channel=channel,
                                                                         external_id=item.address).first()
    if found is not None:
        return found, False
    contact = contact_get_or_create(visitor_id=f"{channel.platform[:2]}:{channel.pk}:{item.address}",
                                    name=item.name,
                                    phone=f"+{item.address}" if channel.platform == Platform.WHATSAPP else "")
    conversation = conversation_start(contact=contact, channel=channel.platform)
    return ChannelContact.objects.create(channel=channel, external_id=item.address, contact=contact,
                                         conversation=conversation, display_name=item.name[:200],
                                         last_inbound_at=timezone.now()), True


def _sender_lock(channel: MessagingChannel, address: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)",
                       [channel.pk, zlib.crc32(address.encode()) - 2**31])


def _message_store(channel: MessagingChannel, item: InboundItem) -> bool:
    """Store a customer's message once per platform message id; queue its answer after commit.
    False for a copy already stored."""
    from chat.messaging.tasks import message_answer

    with transaction.atomic():
        _sender_lock(channel, item.address)
        identity, first_message = _channel_contact(channel, item)
        if item.kind == Kind.UNSUPPORTED:
            return _unsupported_reply_queue(channel, identity, item)
        received = message_receive(conversation=identity.conversation, text=item.text,
                                   channel_message_id=item.message_id)
        if not received.created:
            return False
        if not first_message:  # a first message's arrival was written with the identity
            ChannelContact.objects.filter(pk=identity.pk).update(last_inbound_at=received.message.created)
        _event(channel, Direction.INBOUND, "message", item.message_id, identity.pk)
        if received.needs_answer:
            outbox_send(task=message_answer, args=[received.message.pk, identity.conversation_id],
                        key=f"messaging:answer:{received.message.pk}")
    return True


def _unsupported_reply_queue(channel: MessagingChannel, identity: ChannelContact, item: InboundItem) -> bool:
    """A message with nothing to read gets one clear reply, once per platform message id."""
    try:
        with transaction.atomic():
            ChannelContact.objects.filter(pk=identity.pk).update(last_inbound_at=timezone.now())
            identity.refresh_from_db(fields=["last_inbound_at"])
            _event(channel, Direction.INBOUND, "unsupported", f"{item.why} {item.message_id}", identity.pk)
            _outbound_queue(identity, text=UNSUPPORTED_REPLY, key=f"messaging:notice:{item.message_id}")
    except IntegrityError:
        return False
    return True


def _status_record(channel: MessagingChannel, item: InboundItem) -> int:
    """A sent message's fate (sent, delivered, read, failed): kept on the message, a failure told."""
    try:
        state = OutboundState(item.status)
    except ValueError:
        _event(channel, Direction.INBOUND, "status_unknown", item.status)
        return 0
    with transaction.atomic():
        outbound = (OutboundMessage.objects.select_for_update().select_related("channel_contact")
                    .filter(channel=channel, provider_message_id=item.message_id).first())
        if outbound is None or outbound.state == state:
            return 0
        if _STATUS_RANK.get(state, 0) <= _STATUS_RANK.get(OutboundState(outbound.state), 0):
            return 0  # statuses may arrive out of order: "read" is never followed by "delivered"
        outbound.state = state
        outbound.error = item.error
        outbound.save(update_fields=["state", "error", "updated"])
        _event(channel, Direction.INBOUND, f"status_{state}", item.message_id, outbound.channel_contact_id)
        if state == OutboundState.FAILED:
            MessagingChannel.objects.filter(pk=channel.pk).update(delivery_failures=F("delivery_failures") + 1)
            conversation_note_add(conversation=outbound.channel_contact.conversation,
                                  text=f"WhatsApp could not deliver a reply: {item.error or 'no reason given'}. "
                                       f"The customer did not get: “{outbound.text[:200]}”")
    return 1


# ------------------------------------------------------------------------------------- replying


def _outbound_queue(identity: ChannelContact, *, text: str, message: Message | None = None,
                    quick_replies: list[str] | None = None, key: str) -> OutboundMessage:
    """Inside the caller's transaction: the reply and the promise that its send task runs."""
    from chat.messaging.tasks import outbound_send

    outbound = OutboundMessage.objects.create(channel_id=identity.channel_id, channel_contact=identity,
                                              message=message, text=text, quick_replies=quick_replies or [])
    outbox_send(task=outbound_send, args=[outbound.pk], key=key)
    return outbound


def _message_queue(message: Message) -> None:
    identity = ChannelContact.objects.filter(conversation_id=message.conversation_id).order_by("-id").first()
    if identity is None:
        logger.warning("conversation %s has no messaging identity: reply %s not sent", message.conversation_id,
                       message.pk)
        return
    try:
        with transaction.atomic():
            _outbound_queue(identity, text=message.text, message=message, quick_replies=list(message.quick_replies),
                            key=f"messaging:reply:{message.pk}")
    except IntegrityError:  # queued already (the sweeper and a task both answered): sent once
        logger.info("reply %s already queued", message.pk)


def agent_reply_queue(*, message: Message) -> None:
    """The core's hook for a team member's reply on a messaging conversation (in its transaction)."""
    _message_queue(message)


def _answer_queue(*, message_id: int) -> None:
    message = Message.objects.filter(pk=message_id).first()
    if message is not None:
        _message_queue(message)


async def stored_answer_send(*, schema_name: str, conversation_id: int, customer_message_id: int,
                             stored_message: dict[str, Any] | None) -> None:
    """The core's hook once an answer is stored: queue it for the platform (nothing when none was)."""
    if stored_message is None:
        return
    await in_schema(schema_name, _answer_queue, message_id=int(stored_message["id"]))


def typing_show(*, conversation_id: int) -> None:
    """Telegram's "typing…" while the assistant drafts; a failure changes nothing for the answer."""
    identity = ChannelContact.objects.select_related("channel").filter(conversation_id=conversation_id).first()
    if identity is None or identity.channel.platform != Platform.TELEGRAM or not identity.channel.connected:
        return
    try:
        platforms.telegram_typing_send(token=identity.channel.bot_token, chat_id=identity.external_id)
    except platforms.PlatformError as error:
        logger.info("typing not shown in conversation %s: %s", conversation_id, error.message)


def _whatsapp_window_open(identity: ChannelContact) -> bool:
    last = identity.last_inbound_at
    return last is not None and timezone.now() - last < WHATSAPP_WINDOW


def _platform_send(outbound: OutboundMessage) -> str:
    """Send one reply; returns the platform's id for it. Outside WhatsApp's window, the configured
    template goes instead of the text (the caller handles the case of none)."""
    channel, identity = outbound.channel, outbound.channel_contact
    if channel.platform == Platform.WHATSAPP:
        template = None
        if not _whatsapp_window_open(identity):
            template = (channel.template_name, channel.template_language)
        body = platforms.whatsapp_message_body(to=identity.external_id, text=outbound.text,
                                               quick_replies=list(outbound.quick_replies), template=template)
        return platforms.whatsapp_message_send(phone_number_id=channel.phone_number_id,
                                               access_token=channel.access_token, body=body)
    payload = platforms.telegram_message_payload(chat_id=identity.external_id, text=outbound.text,
                                                 quick_replies=list(outbound.quick_replies))
    return platforms.telegram_message_send(token=channel.bot_token, payload=payload)


def _tell_agents(outbound: OutboundMessage, why: str) -> None:
    platform = outbound.channel.get_platform_display()
    conversation_note_add(conversation=outbound.channel_contact.conversation,
                          text=f"Not sent on {platform}: {why} The customer did not get: “{outbound.text[:200]}”")


def outbound_deliver(*, outbound_id: int, last_attempt: bool) -> None:
    """Send a conversation's queued replies up to this one, oldest first, each once.

    The sender's identity row is locked meanwhile, so two tasks never interleave one conversation's
    replies. A reply the platform cannot take now raises `PlatformUnavailable` (the task retries);
    on the task's last attempt, or when the platform refuses it outright, the reply is marked
    failed, the team is told in the conversation, and later replies go on.
    """
    target = OutboundMessage.objects.filter(pk=outbound_id).first()
    if target is None:
        return
    failure: platforms.PlatformUnavailable | None = None
    gave_up: list[str] = []
    sent_any = False
    with transaction.atomic():
        ChannelContact.objects.select_for_update().filter(pk=target.channel_contact_id).first()
        due = list(OutboundMessage.objects.select_related("channel", "channel_contact__conversation")
                   .filter(channel_contact_id=target.channel_contact_id, state=OutboundState.QUEUED, id__lte=target.pk)
                   .order_by("id"))
        for outbound in due:
            channel = outbound.channel
            window_open = channel.platform != Platform.WHATSAPP or _whatsapp_window_open(outbound.channel_contact)
            if not channel.connected:
                _outbound_fail(outbound, "the channel was disconnected.")
                continue
            if not window_open and not channel.template_name:
                outbound.state = OutboundState.WINDOW_CLOSED
                outbound.save(update_fields=["state", "updated"])
                _event(channel, Direction.OUTBOUND, "window_closed", str(outbound.pk), outbound.channel_contact_id)
                _tell_agents(outbound, "the customer last wrote more than 24 hours ago, and WhatsApp then takes "
                                       "only a template (none is configured for this number).")
                continue
            outbound.attempts += 1
            try:
                provider_id = _platform_send(outbound)
            except platforms.PlatformRejected as error:
                _outbound_fail(outbound, error.message)
                continue
            except platforms.PlatformUnavailable as error:
                if last_attempt:
                    _outbound_fail(outbound, f"{error.message} (gave up after {outbound.attempts} attempts)")
                    gave_up.append(error.message)
                    continue
                outbound.error = error.message[:500]
                outbound.save(update_fields=["attempts", "error", "updated"])
                failure = error
                break
            outbound.state = OutboundState.SENT
            outbound.provider_message_id = provider_id[:128]
            outbound.as_template = not window_open
            outbound.error = ""
            outbound.save(update_fields=["state", "provider_message_id", "attempts", "error", "as_template",
                                         "updated"])
            sent_any = True
            _event(channel, Direction.OUTBOUND, "sent", provider_id, outbound.channel_contact_id)
    if sent_any:  # the replies due are one customer's, so all on the target's channel
        _channel_touch(target.channel_id, "last_outbound_at")
    # Raised after the commit: the replies sent before it stay marked sent and are never sent again.
    if failure is not None:
        raise failure
    if gave_up:
        # The team has been told; the task fails for good so its dead letter keeps the error.
        raise platforms.PlatformUnavailable(f"reply {outbound_id}: gave up: {gave_up[0]}")


def _outbound_fail(outbound: OutboundMessage, why: str) -> None:
    outbound.state = OutboundState.FAILED
    outbound.error = why[:500]
    outbound.save(update_fields=["state", "error", "attempts", "updated"])
    MessagingChannel.objects.filter(pk=outbound.channel_id).update(delivery_failures=F("delivery_failures") + 1)
    _event(outbound.channel, Direction.OUTBOUND, "failed", why, outbound.channel_contact_id)
    _tell_agents(outbound, why)


def channel_test_message_send(*, channel_id: int, to: str) -> str:
    """The health page's button: one message sent now to an address the owner typed; the platform's
    answer (its message id, or why not) is what they see."""
    channel = _channel(channel_id)
    to = to.strip().lstrip("+")
    if not channel.connected:
        raise ValidationFailed("This channel is not connected.", code="channel_not_connected")
    if not to or not to.lstrip("-").isdigit():
        raise ValidationFailed("Give a phone number in international form (WhatsApp) or a chat id (Telegram).",
                               code="invalid_recipient", details={"field": "to"})
    text = "A test message from Deskpilot: this channel can send."
    try:
        if channel.platform == Platform.WHATSAPP:
            template = (channel.template_name, channel.template_language) if channel.template_name else None
            provider_id = platforms.whatsapp_message_send(
                phone_number_id=channel.phone_number_id, access_token=channel.access_token,
                body=platforms.whatsapp_message_body(to=to, text=text, quick_replies=[], template=template))
        else:
            provider_id = platforms.telegram_message_send(
                token=channel.bot_token, payload=platforms.telegram_message_payload(chat_id=to, text=text,
                                                                                    quick_replies=[]))
    except platforms.PlatformError as error:
        _event(channel, Direction.OUTBOUND, "test_failed", error.message)
        raise
    _channel_touch(channel.pk, "last_outbound_at")
    _event(channel, Direction.OUTBOUND, "test_sent", provider_id)
    return provider_id


def contact_link(*, conversation: Conversation, other_contact_id: int) -> Contact:
    """An agent's word that this conversation's customer is also another contact (who wrote on
    another channel): one contact with every channel's conversations."""
    other = Contact.objects.filter(pk=other_contact_id).first()
    if other is None:
        raise NotFound("No such contact.", code="contact_not_found")
    keep = conversation.contact
    with transaction.atomic():
        ChannelContact.objects.filter(contact=other).update(contact=keep)
        return contact_merge(keep=keep, other=other)
