"""The widget's rules: its settings, visitor tokens, allowed origins, rate limits and the clock."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.db import connection
from django.utils import timezone

from chat.conversations.models import Channel, Contact, Conversation, ConversationStatus
from chat.widget.models import WidgetSettings
from config.db import in_tenant
from config.outside_urls import outside_url_or_empty
from config.redis import RedisScript, redis_client_async, tenant_key

if TYPE_CHECKING:
    from chat.assistant.engine import Turn

logger = logging.getLogger(__name__)

RATE_WINDOW_SECONDS = 60


def current_time() -> datetime:
    """Now, unless DESKPILOT_FROZEN_NOW pins it (tests of the away message at a closed time)."""
    frozen = getattr(settings, "DESKPILOT_FROZEN_NOW", "")
    return datetime.fromisoformat(frozen) if frozen else timezone.now()


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

    return contact_prechat_save(visitor_id=visitor_id, name=name, email=email).pk


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
                                 client_id: str | None) -> tuple[WidgetMessage, Turn | None]:
    """A visitor's message: checked, rate-limited per IP and per visitor, then stored (making the
    visitor's contact and starting their conversation on the first one); and when it is to be
    answered, the assistant's turn.

    The text is checked and the limits counted on the event loop (its pipelined Redis), then the
    message is stored and the turn read in one trip to a database thread (each trip costs the web
    process's event loop a hand-over, and a burst of first messages is one trip each). The message
    is stored and acknowledged even if reading the turn fails: the answer then reads it itself."""
    from chat.conversations.services import message_text_clean
    from config.errors import ApplicationError

    text = message_text_clean(text)
    ip_limit, visitor_limit = limits
    decision = await rate_limits_hit(schema_name=tenant.schema_name,
                                     limits=[(f"ip:{ip}", ip_limit), (f"visitor:{visitor_id}", visitor_limit)])
    if not decision.allowed:
        raise ApplicationError("You're sending messages too quickly. Please wait a moment.",
                               code="rate_limited", status=429, details={"retry_after": decision.retry_after})
    return await in_tenant(tenant, _message_store_with_turn, visitor_id=visitor_id, contact_id=contact_id,
                           conversation_id=conversation_id, text=text, client_id=client_id)


def _message_store_with_turn(*, visitor_id: str, contact_id: int | None, conversation_id: int | None, text: str,
                             client_id: str | None) -> tuple[WidgetMessage, Turn | None]:
    from chat.assistant.engine import turn_load
    from chat.conversations.services import conversation_message_receive, conversation_start_with_message

    if contact_id is None:  # the visitor's first word on this socket: their contact is made now
        contact, created = Contact.objects.get_or_create(visitor_id=visitor_id[:64])
        contact_id = contact.pk
        if not created and conversation_id is None:
            # Another tab of the same visitor may have started their conversation meanwhile.
            started = visitor_conversation(contact)
            conversation_id = started.pk if started is not None else None
    if conversation_id is None:
        conversation, received = conversation_start_with_message(contact_id=contact_id, text=text,
                                                                 client_id=client_id)
        conversation_id = conversation.pk
    else:
        received = conversation_message_receive(conversation_id=conversation_id, text=text, client_id=client_id)
    stored = WidgetMessage(message_id=received.message.pk, contact_id=contact_id, conversation_id=conversation_id,
                           created=received.created, needs_answer=received.needs_answer)
    if not (stored.needs_answer and stored.created):
        return stored, None
    try:
        return stored, turn_load(connection.schema_name, stored.message_id)
    except Exception:
        logger.warning("could not read the turn of message %s with it; the answer reads it", stored.message_id,
                       exc_info=True)
        return stored, None


# (schema, language, frozen clock) -> (monotonic expiry, state). Every widget connection shows the
# banner, and working it out from the opening hours costs a few queries and milliseconds of CPU: a
# web process reuses it until the business opens or closes, or for AWAY_STATE_CACHE_SECONDS at most,
# so a change to the hours shows in new widgets after that long.
_away_states: dict[tuple[str, str, str], tuple[float, dict[str, Any]]] = {}


def away_state(language: str = "en") -> dict[str, Any]:
    """Whether people are around now, and an honest message when they are not."""
    from chat.assistant.offline import away_message_until

    key = (connection.schema_name, language, str(getattr(settings, "DESKPILOT_FROZEN_NOW", "")))
    cached = _away_states.get(key)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    now = current_time()
    message, changes_at = away_message_until(language=language, now=now)
    state = {"open": not message, "message": message}
    lifetime = float(settings.AWAY_STATE_CACHE_SECONDS)
    if changes_at is not None:
        lifetime = min(lifetime, (changes_at - now).total_seconds())
    if lifetime > 0:
        _away_states[key] = (time.monotonic() + lifetime, state)
    return state


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
