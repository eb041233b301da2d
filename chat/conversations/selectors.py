"""Reads about conversations that customers see: who the team member talking to them is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import connection
from django.db.models import Prefetch, QuerySet

from chat.conversations.models import BusinessProfile, Contact, Conversation, EmailStatus, Message, TeamMemberProfile
from config.errors import NotFound, ValidationFailed
from config.outside_urls import outside_url


@dataclass(frozen=True)
class AgentIdentity:
    """A team member as a customer sees them. Never their e-mail address, nor any part of it."""

    name: str
    # An outside http(s) address, or the path of an uploaded image on the tenant's own domain.
    avatar_url: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "avatar_url": self.avatar_url}


def business_name() -> str:
    name = BusinessProfile.objects.filter(pk=1).values_list("name", flat=True).first()
    if name:
        return name
    # No profile yet: the tenant's own name (tenants live in the public schema, on the search path).
    from tenants.models import Tenant

    return Tenant.objects.filter(schema_name=connection.schema_name).values_list("name", flat=True).first() or ""


def team_label() -> str:
    """What customers see for a team member who gave no name: "Sunrise Café team"."""
    name = business_name()
    return f"{name} team" if name else "The team"


def avatar_path(*, user_id: int, profile: TeamMemberProfile) -> str:
    """Where the widget loads an uploaded avatar; the version changes with each upload, so browsers
    may keep a copy for long."""
    return f"/widget/avatars/{user_id}?v={int(profile.updated.timestamp())}"


def team_member_profile(user: Any) -> TeamMemberProfile | None:
    """The user's profile, through select_related's copy when the caller loaded one."""
    try:
        return user.team_profile  # type: ignore[no-any-return]
    except ObjectDoesNotExist:
        return None


def agent_identity(*, user: Any) -> AgentIdentity:
    """The name (and avatar) a customer sees for this team member."""
    profile = team_member_profile(user)
    name = profile.display_name.strip() if profile is not None else ""
    if not name:
        # The name given when accepting an invitation, unless someone typed an address there.
        full_name = (user.get_full_name() or "").strip()
        name = full_name if full_name and "@" not in full_name else team_label()
    avatar = None
    if profile is not None:
        if profile.avatar_image:
            avatar = avatar_path(user_id=user.pk, profile=profile)
        else:
            avatar = outside_url(profile.avatar_url)
    return AgentIdentity(name=name, avatar_url=avatar)


def agent_identity_of(*, user_id: int) -> AgentIdentity:
    """`agent_identity`, read afresh (a socket's user object keeps the profile it first saw)."""
    from django.contrib.auth.models import User

    return agent_identity(user=User.objects.select_related("team_profile").get(pk=user_id))



def conversation_get(*, conversation_id: object) -> Conversation:
    """The conversation an agent's frame names; NotFound for an id that is not a whole number of the
    database's range or names no conversation."""
    from config.db import BIGINT_MAX

    conversation = None
    if isinstance(conversation_id, int) and not isinstance(conversation_id, bool) and 0 < conversation_id <= BIGINT_MAX:
        conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None:
        raise NotFound("There is no such conversation.", code="not_found")
    return conversation


def team_member_get(*, email: str) -> Any:
    """An active team member of this tenant by the e-mail address they log in with."""
    from django.contrib.auth.models import User

    user = User.objects.filter(username__iexact=email.strip(), is_active=True).first()
    if user is None:
        raise ValidationFailed(f"Nobody on the team logs in as {email!r}.", code="unknown_team_member",
                               details={"email": email})
    return user


def contact_orders(*, contact: Contact) -> QuerySet[Any]:
    """The orders of a customer whose address an order proved is theirs, newest first; none for an
    address they only typed (anyone can type anyone's)."""
    from orders.models import Order

    if contact.email_status != EmailStatus.VERIFIED or not contact.email.strip():
        return Order.objects.none()
    return Order.objects.filter(email__iexact=contact.email.strip()).order_by("-placed_at", "-id")


def conversation_list(*, status: str | None = None, channel: str | None = None, contact_id: int | None = None,
                      assignee: Any = None) -> QuerySet[Conversation]:
    """Conversations with their contact and assignee; `assignee` a team member, or "none" for the
    unassigned ones."""
    conversations = Conversation.objects.select_related("contact", "assignee", "assignee__team_profile")
    if status:
        conversations = conversations.filter(status=status)
    if channel:
        conversations = conversations.filter(channel=channel)
    if contact_id is not None:
        conversations = conversations.filter(contact_id=contact_id)
    if assignee == "none":
        conversations = conversations.filter(assignee__isnull=True)
    elif assignee is not None:
        conversations = conversations.filter(assignee=assignee)
    return conversations


def conversation_with_messages(*, conversation_id: int) -> Conversation:
    """One conversation, its contact, assignee and every message (internal notes too) in order."""
    conversation = (conversation_list().filter(pk=conversation_id)
                    .prefetch_related(Prefetch("messages", queryset=Message.objects.select_related(
                        "agent", "agent__team_profile").order_by("created", "id"))).first())
    if conversation is None:
        raise NotFound("There is no such conversation.")
    return conversation


def contact_list(*, email: str | None = None) -> QuerySet[Contact]:
    contacts = Contact.objects.all()
    if email:
        contacts = contacts.filter(email__iexact=email.strip())
    return contacts
