"""Dashboard reads: the team, open invitations, seats, canned responses, the inbox."""

from __future__ import annotations

import time
from dataclasses import dataclass
from importlib import import_module
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import User
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Case, Exists, F, OuterRef, Q, QuerySet, Subquery, Value, When
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django_tenants.utils import remove_www

from chat.conversations.models import (
    Channel,
    Conversation,
    ConversationStatus,
    Message,
    TeamMemberProfile,
)
from chat.dashboard.models import CannedResponse, Invitation
from chat.widget.services import tenant_domains
from config.errors import ApplicationError, NotFound
from config.redis import redis_client, tenant_key
from tenants.services import ROLE_OWNER

INVITATION_SALT = "deskpilot.dashboard.invitation"


class InvitationInvalid(ApplicationError):
    code = "invitation_invalid"
    status = 404


def invitation_signer() -> signing.TimestampSigner:
    # The schema is part of the salt: a link made for one business means nothing on another's domain.
    return signing.TimestampSigner(salt=f"{INVITATION_SALT}.{connection.schema_name}")


@dataclass(frozen=True)
class TeamMember:
    id: int
    name: str
    email: str
    role: str
    last_login: Any


def team_member_list() -> list[TeamMember]:
    users = User.objects.filter(is_active=True).prefetch_related("groups").order_by("first_name", "username")
    members = []
    for user in users:
        roles = {group.name for group in user.groups.all()}
        members.append(TeamMember(id=user.pk, name=user.get_full_name(), email=user.email or user.username,
                                  role=ROLE_OWNER if ROLE_OWNER in roles else "agent", last_login=user.last_login))
    return members


def team_member_profile_get(*, user: Any) -> TeamMemberProfile | None:
    return TeamMemberProfile.objects.filter(user=user).first()


def invitation_list_open() -> list[Invitation]:
    return list(Invitation.objects.filter(accepted_at__isnull=True, revoked_at__isnull=True,
                                          expires_at__gt=timezone.now()))


@dataclass(frozen=True)
class SeatUsage:
    used: int
    limit: int | None

    @property
    def full(self) -> bool:
        return self.limit is not None and self.used >= self.limit


def seat_usage(*, tenant: Any) -> SeatUsage:
    """Active users plus invitations still open: an invitation holds its seat until it lapses."""
    used = User.objects.filter(is_active=True).count() + len(invitation_list_open())
    plan = getattr(tenant, "plan", None)
    return SeatUsage(used=used, limit=plan.agent_seats if plan is not None else None)


def invitation_get_open(*, token: str) -> Invitation:
    max_age = settings.DASHBOARD_INVITATION_MAX_AGE_SECONDS
    try:
        value = invitation_signer().unsign(token, max_age=max_age)
        invitation_id, nonce = value.split(":", 1)
    except (signing.BadSignature, ValueError) as error:
        raise InvitationInvalid("This invitation link is not valid or has expired.") from error
    invitation = Invitation.objects.filter(pk=int(invitation_id), nonce=nonce).first()
    if invitation is None or invitation.revoked_at is not None:
        raise InvitationInvalid("This invitation was withdrawn. Ask the owner for a new one.")
    if invitation.accepted_at is not None:
        raise InvitationInvalid("This invitation was already used. Log in instead.")
    if invitation.expires_at <= timezone.now():
        raise InvitationInvalid("This invitation has expired. Ask the owner for a new one.")
    return invitation


def canned_response_list() -> list[CannedResponse]:
    return list(CannedResponse.objects.all())


# ----------------------------------------------------------------------------- inbox

INBOX_STATUS_FILTERS = {
    "open": [ConversationStatus.NEEDS_HUMAN, ConversationStatus.BOT, ConversationStatus.HUMAN],
    ConversationStatus.NEEDS_HUMAN: [ConversationStatus.NEEDS_HUMAN],
    ConversationStatus.BOT: [ConversationStatus.BOT],
    ConversationStatus.HUMAN: [ConversationStatus.HUMAN],
    ConversationStatus.RESOLVED: [ConversationStatus.RESOLVED],
    "all": [],
}
ASSIGNEE_FILTERS = ("anyone", "me", "unassigned")
# Those waiting for a person come first, then the assistant's, then people's, then the closed ones.
STATUS_PRIORITY = [ConversationStatus.NEEDS_HUMAN, ConversationStatus.BOT, ConversationStatus.HUMAN,
                   ConversationStatus.RESOLVED]


@dataclass(frozen=True)
class InboxFilters:
    status: str = "open"
    assignee: str = "anyone"
    channel: str = ""
    query: str = ""

    @classmethod
    def from_params(cls, params: Any) -> InboxFilters:
        status = params.get("status", "open")
        assignee = params.get("assignee", "anyone")
        channel = params.get("channel", "")
        return cls(
            status=status if status in INBOX_STATUS_FILTERS else "open",
            assignee=assignee if assignee in ASSIGNEE_FILTERS else "anyone",
            channel=channel if channel in Channel.values else "",
            query=params.get("q", "").strip()[:200],
        )


def conversation_list_for_inbox(*, filters: InboxFilters, user: Any) -> QuerySet[Conversation]:
    """The inbox's rows: a fixed number of queries whatever their number (contact and assignee joined,
    the last visible message's text and the waiting-for-a-person order computed in SQL)."""
    last_visible = Message.objects.filter(conversation=OuterRef("pk"), internal=False).order_by("-created", "-id")
    conversations = Conversation.objects.select_related("contact", "assignee").annotate(
        last_message_text=Subquery(last_visible.values("text")[:1]),
        last_message_author=Subquery(last_visible.values("author")[:1]),
        status_rank=Case(*[When(status=status, then=Value(rank)) for rank, status in enumerate(STATUS_PRIORITY)],
                         default=Value(len(STATUS_PRIORITY))),
    )
    statuses = INBOX_STATUS_FILTERS[filters.status]
    if statuses:
        conversations = conversations.filter(status__in=statuses)
    if filters.assignee == "me":
        conversations = conversations.filter(assignee=user)
    elif filters.assignee == "unassigned":
        conversations = conversations.filter(assignee__isnull=True)
    if filters.channel:
        conversations = conversations.filter(channel=filters.channel)
    if filters.query:
        matching_message = Message.objects.filter(conversation=OuterRef("pk"), text__icontains=filters.query)
        conversations = conversations.filter(
            Q(contact__name__icontains=filters.query) | Q(contact__email__icontains=filters.query)
            | Exists(matching_message))
    return conversations.order_by("status_rank", F("last_message_at").desc(nulls_last=True), "-id")


def conversation_get_for_agent(*, conversation_id: int) -> Conversation:
    """A conversation of this tenant; another tenant's ids do not exist in this schema, hence 404."""
    conversation = Conversation.objects.select_related("contact", "assignee").filter(pk=conversation_id).first()
    if conversation is None:
        raise NotFound("There is no such conversation.")
    return conversation


def conversation_transcript(*, conversation: Conversation) -> list[Message]:
    return list(conversation.messages.select_related("agent").order_by("created", "id"))


def team_member_choices() -> list[User]:
    return list(User.objects.filter(is_active=True).order_by("first_name", "username"))


def presence_key(*, conversation_id: int) -> str:
    return tenant_key(connection.schema_name, "presence", "conversation", str(conversation_id))


def presence_viewers(*, conversation_id: int, exclude_user: Any) -> list[str]:
    """The names of the other agents whose page on this conversation is open right now."""
    since = time.time() - settings.DASHBOARD_PRESENCE_TTL_SECONDS
    user_ids = [int(str(member)) for member in redis_client().zrangebyscore(
        presence_key(conversation_id=conversation_id), since, "+inf") if member != str(exclude_user.pk)]
    if not user_ids:
        return []
    users = User.objects.filter(pk__in=user_ids, is_active=True).order_by("first_name", "username")
    return [user.get_full_name() or user.get_username() for user in users]


# ----------------------------------------------------------------------------- the agents' live socket

def agent_session_user(*, session_key: str | None) -> User | None:
    """The user this dashboard session still logs in, checked as Django's own auth checks each request:
    the session exists and has not expired (a logout deletes it), it names an active user of this
    tenant (removing a teammate deactivates them), through a configured backend, and it was made with
    the user's current password (a password change or reset ends every session made before it).
    None otherwise. The agents' socket asks again before every action, not only at its handshake."""
    if not session_key:
        return None
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)
    user_id, session_hash = session.get(SESSION_KEY), session.get(HASH_SESSION_KEY)
    if user_id is None or not session_hash or session.get(BACKEND_SESSION_KEY) not in settings.AUTHENTICATION_BACKENDS:
        return None
    try:
        user = User.objects.filter(pk=User._meta.pk.to_python(user_id), is_active=True).first()
    except ValidationError:
        return None
    if user is None:
        return None
    # Sessions signed under a SECRET_KEY_FALLBACKS key stay valid, as they do for Django's own auth.
    hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    return user if any(constant_time_compare(session_hash, known) for known in hashes) else None


def agent_socket_user(*, origin: str | None, session_key: str | None) -> User | None:
    """Who opens an agents' socket: the session's user, if the page is the dashboard's own."""
    if not agent_origin_allowed(origin=origin):
        return None
    return agent_session_user(session_key=session_key)


def agent_session_still(*, session_key: str | None, user_id: int) -> bool:
    """Whether the session still logs in the user it logged in when the socket opened."""
    user = agent_session_user(session_key=session_key)
    return user is not None and user.pk == user_id


def agent_origin_allowed(*, origin: str | None) -> bool:
    """Only the dashboard's own pages may open the agents' socket: a browser sends the agent's cookie
    with a handshake that any site's page starts, so a page elsewhere (https://evil.example) would
    otherwise read the inbox live and reply as the agent (cross-site WebSocket hijacking). The
    dashboard is served on the tenant's own domains, so the page's host must be one of them (with or
    without "www.", as the host lookup does). Browsers always label a handshake with its page's
    Origin; one without it is not the dashboard, and is refused too."""
    if not origin:
        return False
    try:
        page = urlsplit(origin.strip().lower())
        host = page.hostname
    except ValueError:  # "http://[" and the like: no real origin
        return False
    if page.scheme not in ("http", "https") or not host:
        return False
    return remove_www(host) in {remove_www(domain) for domain in tenant_domains()}
