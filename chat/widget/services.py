"""The widget channel's rules: its settings, visitor tokens, allowed origins, rate limits, the clock,
and its side of the core path: the handshake, the visitor's history, and receiving a message into
the visitor's conversation (chat.conversations.services.message_receive does the storing)."""

from __future__ import annotations

import logging
import math
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.db import connection
from django.utils import timezone

from chat.conversations.models import Channel, Contact, Conversation, ConversationStatus
from chat.widget.models import WidgetSettings
from config.content_version import ContentCache
from config.db import in_tenant
from config.outside_urls import outside_url_or_empty
from config.redis import RedisScript, redis_client_async, tenant_key

logger = logging.getLogger(__name__)

RATE_WINDOW_SECONDS = 60


def widget_settings_get() -> WidgetSettings:
    widget, _ = WidgetSettings.objects.get_or_create(pk=1)
    return widget


def widget_settings_for_key(public_key: str) -> WidgetSettings | None:
    """This tenant's settings if the key is this tenant's key (the host already chose the tenant)."""
    if not public_key:
        return None
    widget = widget_settings_get()
    return widget if public_key == widget.public_key else None


def tenant_domains() -> set[str]:
    tenant = getattr(connection, "tenant", None)
    if tenant is None:
        return set()
    return {domain.domain for domain in tenant.domains.all()}


def origin_allowed(widget: WidgetSettings, origin: str | None) -> bool:
    """Pages on the business's own domain, and the origins it listed. No Origin (not a browser): allowed,
    since the check exists to stop other sites' pages, which browsers always label."""
    if not origin:
        return True
    origin = origin.rstrip("/").lower()
    if origin in {allowed.rstrip("/").lower() for allowed in widget.allowed_origins}:
        return True
    try:
        host = urlsplit(origin).hostname or ""
    except ValueError:  # "http://[" (an unclosed IPv6 bracket), a full-width "#" (NFKC): no real origin
        return False
    return host in tenant_domains()


def _signer() -> signing.TimestampSigner:
    # The salt carries the schema: a token made for one tenant is worthless on another.
    return signing.TimestampSigner(salt=f"deskpilot.widget.visitor.{connection.schema_name}")


def visitor_token_issue(visitor_id: str) -> str:
    return _signer().sign(visitor_id)


def visitor_token_read(token: str | None) -> str | None:
    if not token:
        return None
    try:
        return _signer().unsign(token, max_age=settings.WIDGET_VISITOR_TOKEN_MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None


def visitor_contact(visitor_id: str) -> Contact | None:
    """The visitor's contact, if they ever sent something: a handshake alone stores nothing."""
    return Contact.objects.filter(visitor_id=visitor_id[:64]).first()


def visitor_prechat_save(*, visitor_id: str, name: str, email: str) -> int:
    """The pre-chat form's name and e-mail on the visitor's contact (made now if it is their first
    word); returns the contact's id."""
    from chat.conversations.services import contact_prechat_save
    from config.errors import ApplicationError

    name, email = name[:200].strip(), email[:254].strip()
    if email and "@" not in email:
        raise ApplicationError("That e-mail address does not look right.", code="invalid")
    return contact_prechat_save(visitor_id=visitor_id, name=name, email=email).pk


@dataclass(frozen=True)
class WidgetSession:
    """What a widget socket keeps from its handshake, and the `welcome` frame it sends first."""

    visitor_id: str
    contact_id: int | None
    conversation_id: int | None
    # Messages per minute: per IP, per visitor.
    limits: tuple[int, int]
    welcome: dict[str, Any]
    # A question of this conversation is still waiting for its answer.
    awaiting_answer: bool


def widget_session_open(*, public_key: str, origin: str | None, token: str | None) -> WidgetSession | None:
    """A widget's handshake: None unless the key is this tenant's and the page's origin is allowed;
    otherwise the visitor (from their token, or a new one), their conversation if they have one,
    and its history as the customer sees it."""
    from chat.conversations.events import message_wire
    from chat.conversations.models import AnswerState

    widget = widget_settings_for_key(public_key)
    if widget is None or not origin_allowed(widget, origin):
        return None
    known_visitor = visitor_token_read(token)
    visitor_id = known_visitor or f"w-{uuid.uuid4().hex}"
    # A visitor new to this handshake has no contact yet: nothing to look up.
    contact = visitor_contact(visitor_id) if known_visitor else None
    conversation = visitor_conversation(contact) if contact is not None else None
    rows = []
    if conversation is not None:
        rows = list(conversation.messages.filter(internal=False).select_related("agent__team_profile")
                    .order_by("created", "id"))
    return WidgetSession(
        visitor_id=visitor_id,
        contact_id=contact.pk if contact else None,
        conversation_id=conversation.pk if conversation else None,
        limits=(widget.messages_per_minute_per_ip, widget.messages_per_minute_per_visitor),
        awaiting_answer=any(message.answer_state == AnswerState.PENDING for message in rows),
        welcome={
            "type": "welcome",
            "visitor_token": visitor_token_issue(visitor_id),
            "conversation_id": conversation.pk if conversation else None,
            "status": conversation.status if conversation else "bot",
            "history": [message_wire(message) for message in rows],
            "away": away_state(widget.language),
            "person": widget_person(conversation=conversation, status=conversation.status) if conversation else None,
            "prechat_done": bool(contact and (contact.email or contact.name)),
        })


def widget_messages_after(*, conversation_id: int, last_id: int) -> list[dict[str, Any]]:
    """The conversation's messages a customer sees, after `last_id`, each with the id of the
    question it answers (`_reply_to`, for the widget's `answer.end`)."""
    from chat.conversations.events import message_wire
    from chat.conversations.models import Message

    rows = (Message.objects.filter(conversation_id=conversation_id, internal=False, pk__gt=last_id)
            .select_related("agent__team_profile").order_by("created", "id"))
    return [{**message_wire(row), "_reply_to": row.in_reply_to_id} for row in rows]


def widget_handoff_request(*, conversation_id: int) -> None:
    """The customer pressed "talk to a person": asked for, unless a person has it or was asked already."""
    from chat.conversations.services import conversation_request_human

    conversation = Conversation.objects.get(pk=conversation_id)
    if conversation.status in (ConversationStatus.BOT, ConversationStatus.RESOLVED):
        conversation_request_human(conversation=conversation, actor="customer",
                                   reason="The customer pressed 'talk to a person'.")


def widget_conversation_rate(*, conversation_id: int, score: int) -> None:
    from chat.conversations.services import conversation_rate

    conversation_rate(conversation=Conversation.objects.get(pk=conversation_id), score=score)


def visitor_conversation(contact: Contact) -> Conversation | None:
    return (Conversation.objects.filter(contact=contact, channel=Channel.WIDGET)
            .order_by("-created", "-id").first())


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after: int = 0


# Per bucket, in order: count one hit in a fixed window (the first hit opens it), and stop at the
# first bucket past its limit, so a refused message is not counted against the buckets after it.
# KEYS: the buckets. ARGV: window seconds, then each bucket's limit. Returns 0 when allowed, else the
# seconds until the full bucket's window ends.
_RATE_SCRIPT = RedisScript("""
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  local ttl = redis.call('TTL', key)
  if ttl < 0 then
    redis.call('EXPIRE', key, ARGV[1])
    ttl = tonumber(ARGV[1])
  end
  if count > tonumber(ARGV[i + 1]) then
    return math.max(1, ttl)
  end
end
return 0
""")


async def handshake_rate_limit_hit(*, schema_name: str, ip: str) -> RateDecision:
    """Count one widget handshake from `ip` against the tenant's per-IP limit
    (WIDGET_HANDSHAKES_PER_MINUTE_PER_IP; 0: no limit)."""
    limit = settings.WIDGET_HANDSHAKES_PER_MINUTE_PER_IP
    if limit <= 0:
        return RateDecision(True)
    return await rate_limits_hit(schema_name=schema_name, limits=[(f"handshake:ip:{ip}", limit)])


async def rate_limits_hit(*, schema_name: str, limits: list[tuple[str, int]]) -> RateDecision:
    """Count one message against each (bucket, limit per minute) of the tenant, in one script on the
    event loop's pipelined Redis; refuse at the first bucket past its limit, saying when to retry."""
    keys = [tenant_key(schema_name, "rate", bucket) for bucket, _ in limits]
    retry_after = int(await _RATE_SCRIPT.run_async(redis_client_async(), keys=keys,
                                                   args=[RATE_WINDOW_SECONDS, *(limit for _, limit in limits)]))
    return RateDecision(False, retry_after) if retry_after else RateDecision(True)


@dataclass(frozen=True)
class WidgetMessage:
    message_id: int
    contact_id: int
    conversation_id: int
    created: bool
    needs_answer: bool


async def widget_message_receive(*, tenant: Any, visitor_id: str, contact_id: int | None,
                                 conversation_id: int | None, ip: str, limits: tuple[int, int], text: str,
                                 client_id: str | None) -> WidgetMessage:
    """The widget's side of receiving a visitor's message: checked and rate-limited per IP and per
    visitor on the event loop (its pipelined Redis), then the visitor's contact and conversation
    found or started (on their first message) and the message stored once per `client_id` by the
    core (`message_receive`), in one trip to a database thread."""
    from chat.conversations.services import message_text_clean
    from config.errors import ApplicationError

    text = message_text_clean(text)
    ip_limit, visitor_limit = limits
    decision = await rate_limits_hit(schema_name=tenant.schema_name,
                                     limits=[(f"ip:{ip}", ip_limit), (f"visitor:{visitor_id}", visitor_limit)])
    if not decision.allowed:
        raise ApplicationError("You're sending messages too quickly. Please wait a moment.",
                               code="rate_limited", status=429, details={"retry_after": decision.retry_after})
    return await in_tenant(tenant, _message_store, visitor_id=visitor_id, contact_id=contact_id,
                           conversation_id=conversation_id, text=text, client_id=client_id)


def _message_store(*, visitor_id: str, contact_id: int | None, conversation_id: int | None, text: str,
                   client_id: str | None) -> WidgetMessage:
    from chat.conversations.services import contact_find_or_add, conversation_start, message_receive

    contact = None
    conversation = None
    if contact_id is None:  # the visitor's first word on this socket: their contact is made now
        found = contact_find_or_add(visitor_id=visitor_id)
        contact = found.contact
        if not found.created and conversation_id is None:
            # Another tab of the same visitor may have started their conversation meanwhile.
            conversation = visitor_conversation(contact)
    if conversation_id is not None:
        conversation = Conversation.objects.get(pk=conversation_id)
    elif conversation is None:
        conversation = conversation_start(contact=contact or Contact.objects.get(pk=contact_id),
                                          channel=Channel.WIDGET)
    received = message_receive(conversation=conversation, text=text, channel_message_id=client_id)
    return WidgetMessage(message_id=received.message.pk, contact_id=conversation.contact_id,
                         conversation_id=conversation.pk, created=received.created,
                         needs_answer=received.needs_answer)


# language -> (monotonic time it holds until, state), per tenant. Every widget connection
# shows the banner, and working it out from the opening hours costs a few queries and milliseconds of
# CPU: a process reuses it until the business opens or closes, or its content changes (new hours).
_away_states: ContentCache[tuple[float, dict[str, Any]]] = ContentCache(entries=256)


def away_state(language: str = "en") -> dict[str, Any]:
    """Whether people are around now, and an honest message when they are not."""
    from chat.assistant.offline import away_message_until

    def build() -> tuple[float, dict[str, Any]]:
        now = timezone.now()
        message, changes_at = away_message_until(language=language, now=now)
        until = math.inf if changes_at is None else time.monotonic() + (changes_at - now).total_seconds()
        return until, {"open": not message, "message": message}

    return _away_states.get(build, key=language, usable=lambda held: held[0] > time.monotonic())[1]


def agent_avatar_get(*, user_id: int) -> tuple[bytes, str] | None:
    """An uploaded avatar's bytes and image type."""
    from chat.conversations.models import TeamMemberProfile

    row = (TeamMemberProfile.objects.filter(user_id=user_id, avatar_image__isnull=False)
           .exclude(avatar_content_type="").values_list("avatar_image", "avatar_content_type").first())
    return (bytes(row[0]), row[1]) if row else None


def widget_person(*, conversation: Conversation, status: str) -> dict[str, Any] | None:
    """The team member a customer is talking to while a person has the conversation: their display
    name and avatar, for the widget's banner. None while the assistant (or nobody yet) has it."""
    from chat.conversations.selectors import agent_identity

    if status != ConversationStatus.HUMAN or conversation.assignee is None:
        return None
    return agent_identity(user=conversation.assignee).as_dict()


def widget_status_frame(*, conversation_id: int, status: str) -> dict[str, Any]:
    """The widget's `status` frame after the conversation changed hands: who is here, or the away message."""
    conversation = (Conversation.objects.select_related("assignee__team_profile")
                    .filter(pk=conversation_id).first())
    person = widget_person(conversation=conversation, status=status) if conversation is not None else None
    return {"type": "status", "status": status, "away": away_state(), "person": person}


def widget_config(widget: WidgetSettings, *, socket_url: str) -> dict[str, Any]:
    from chat.conversations.services import business_profile_get

    profile = business_profile_get()
    return {
        "name": widget.display_name or profile.name,
        # For "Sam from Sunrise Café is here" while a person has the conversation.
        "business_name": profile.name,
        "greeting": widget.greeting,
        "language": widget.language,
        "colors": {"primary": widget.primary_color, "text": widget.text_color},
        # Saved before addresses were checked, or written past the form: only ever an http(s) address.
        "avatar_url": outside_url_or_empty(widget.avatar_url),
        "position": widget.position,
        "prechat": {"enabled": widget.prechat_enabled, "require_email": widget.prechat_require_email},
        "away": away_state(widget.language),
        "socket_url": socket_url,
    }
