"""Dashboard writes: invitations, team membership, profiles, canned responses, assignment, presence."""

from __future__ import annotations

import logging
import secrets
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import connection, transaction
from django.utils import timezone

from chat.conversations.events import publish_after_commit, publish_agent_access_changed_after_commit
from chat.conversations.models import Conversation, ConversationEvent, TeamMemberProfile
from chat.dashboard.models import CannedResponse, Invitation
from chat.dashboard.selectors import invitation_get_open, invitation_signer, presence_key, seat_usage
from config.errors import ApplicationError, ValidationFailed
from config.outbox.services import outbox_send
from config.outside_urls import outside_url
from config.redis import redis_client, tenant_key
from tenants.models import Tenant
from tenants.services import ROLE_AGENT, ROLE_OWNER, tenant_user_create

logger = logging.getLogger(__name__)


class SeatLimitReached(ApplicationError):
    code = "seat_limit_reached"
    status = 409


class TeamChangeRefused(ApplicationError):
    code = "team_change_refused"
    status = 409


def invitation_token(*, invitation: Invitation) -> str:
    return invitation_signer().sign(f"{invitation.pk}:{invitation.nonce}")


def invitation_create(*, email: str, role: str, invited_by: Any, tenant: Any, base_url: str) -> Invitation:
    email = email.strip().lower()
    if role not in (ROLE_OWNER, ROLE_AGENT):
        raise ValidationFailed(f"'{role}' is not a role.")
    if User.objects.filter(username=email, is_active=True).exists():
        raise ValidationFailed(f"{email} is already on the team.")
    with transaction.atomic():
        # Earlier open invitations to the same address give way to this one (and free their seat).
        Invitation.objects.filter(email=email, accepted_at__isnull=True, revoked_at__isnull=True).update(
            revoked_at=timezone.now())
        seats = seat_usage(tenant=tenant)
        if seats.full:
            raise SeatLimitReached(
                f"Your plan includes {seats.limit} seats and all are taken (invitations still open count too). "
                "Remove a teammate, withdraw an invitation or move to a larger plan.")
        invitation = Invitation.objects.create(
            email=email, role=role, invited_by=invited_by, nonce=secrets.token_urlsafe(24),
            expires_at=timezone.now() + timedelta(seconds=settings.DASHBOARD_INVITATION_MAX_AGE_SECONDS))
        # A worker sends the e-mail: a slow or failing mail server neither holds up the owner's page nor
        # loses the invitation (retries, then the dead-letter store). Promised through the outbox, in
        # this transaction: Redis down at commit delays the e-mail until the relay sends it, no more.
        from chat.dashboard.tasks import invitation_email_send

        outbox_send(task=invitation_email_send, args=[invitation.pk, base_url])
    return invitation


def invitation_email_send(*, invitation_id: int, base_url: str) -> bool:
    """E-mail an invitation its link; False when there is nothing to send: the invitation is gone,
    used, withdrawn or expired, or was e-mailed already (a task delivered twice sends one e-mail,
    unless the worker died between sending and noting it)."""
    invitation = Invitation.objects.select_related("invited_by").filter(pk=invitation_id).first()
    if invitation is None or invitation.accepted_at or invitation.revoked_at or invitation.expires_at <= timezone.now():
        logger.info("invitation %s not e-mailed: it is no longer open", invitation_id)
        return False
    schema_name = connection.schema_name
    sent_key = tenant_key(schema_name, "invitation", str(invitation.pk), "emailed")
    if redis_client().exists(sent_key):
        return False
    business = Tenant.objects.get(schema_name=schema_name).name
    inviter = (invitation.invited_by.get_full_name() or invitation.invited_by.get_username()
               if invitation.invited_by else "Your team")
    link = f"{base_url.rstrip('/')}/app/invite/{invitation_token(invitation=invitation)}/"
    subject = f"{inviter} invited you to {business} on Deskpilot"
    body = (f"{inviter} invited you to answer {business}'s customers on Deskpilot as {invitation.role}.\n\n"
            f"Choose your name and password here (the link works once, for "
            f"{settings.DASHBOARD_INVITATION_MAX_AGE_SECONDS // 86400} days):\n{link}\n")
    send_mail(subject, body, None, [invitation.email])
    redis_client().set(sent_key, "1", ex=settings.DASHBOARD_INVITATION_MAX_AGE_SECONDS)
    logger.info("invitation %s e-mailed", invitation.pk)
    return True


def invitation_accept(*, token: str, name: str, password: str, tenant: Any) -> User:
    with transaction.atomic():
        invitation = invitation_get_open(token=token)
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.accepted_at is not None:
            raise ApplicationError("This invitation was already used. Log in instead.", code="invitation_invalid")
        user = tenant_user_create(email=invitation.email, password=password, role=invitation.role, name=name.strip())
        if not user.is_active or user.first_name != name.strip():
            user.is_active = True
            user.first_name = name.strip()
            user.save(update_fields=["is_active", "first_name"])
        # The name they gave is the name customers see (team_member_profile_save changes it later).
        TeamMemberProfile.objects.update_or_create(user=user, defaults={"display_name": display_name_clean(name)})
        invitation.accepted_at = timezone.now()
        invitation.save(update_fields=["accepted_at"])
    return user


# Avatars are shown to every customer: small, and only image types a browser cannot run as a page.
AVATAR_MAX_BYTES = 256 * 1024
DISPLAY_NAME_MAX_CHARS = 80
_AVATAR_TYPES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"),
                 (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"))


def avatar_content_type(data: bytes) -> str | None:
    """The image type the file's first bytes say it is (PNG, JPEG, GIF or WebP); None for anything
    else, whatever its name or the browser claimed (an SVG or HTML page could run script)."""
    for signature, content_type in _AVATAR_TYPES:
        if data.startswith(signature):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def display_name_clean(name: str) -> str:
    """A name customers may see: not empty, not too long, and not an e-mail address (which would
    show them exactly what a display name is there to hide)."""
    cleaned = " ".join((name or "").split())
    if not cleaned:
        raise ValidationFailed("Give a name customers will see.", code="invalid")
    if len(cleaned) > DISPLAY_NAME_MAX_CHARS:
        raise ValidationFailed(f"A name can be at most {DISPLAY_NAME_MAX_CHARS} characters long.", code="invalid")
    if "@" in cleaned:
        raise ValidationFailed("Customers see this name: use a name, not an e-mail address.", code="invalid")
    return cleaned


def team_member_profile_save(*, user: Any, display_name: str, avatar_url: str = "",
                             avatar_upload: bytes | None = None, avatar_remove: bool = False) -> TeamMemberProfile:
    """How a team member appears to customers. An uploaded image replaces an avatar address and the
    other way round; an empty address keeps an uploaded image; `avatar_remove` drops both."""
    name = display_name_clean(display_name)
    url = ""
    if avatar_url.strip():
        url = outside_url(avatar_url) or ""
        if not url:
            raise ValidationFailed("An avatar address starts with https:// (or http://).", code="invalid")
    content_type = ""
    if avatar_upload is not None:
        if len(avatar_upload) > AVATAR_MAX_BYTES:
            raise ValidationFailed(f"An avatar can be at most {AVATAR_MAX_BYTES // 1024} KB.", code="invalid")
        content_type = avatar_content_type(avatar_upload) or ""
        if not content_type:
            raise ValidationFailed("An avatar is a PNG, JPEG, GIF or WebP image.", code="invalid")
    with transaction.atomic():
        profile, _ = TeamMemberProfile.objects.select_for_update().get_or_create(user=user)
        profile.display_name = name
        if avatar_remove:
            profile.avatar_url, profile.avatar_image, profile.avatar_content_type = "", None, ""
        elif avatar_upload is not None:
            profile.avatar_url, profile.avatar_image, profile.avatar_content_type = "", avatar_upload, content_type
        elif url:
            profile.avatar_url, profile.avatar_image, profile.avatar_content_type = url, None, ""
        else:  # the address field emptied: no outside avatar (an uploaded one stays)
            profile.avatar_url = ""
        profile.save()
        User.objects.filter(pk=user.pk).update(first_name=name[:150])
    return profile


def invitation_revoke(*, invitation_id: int) -> None:
    Invitation.objects.filter(pk=invitation_id, accepted_at__isnull=True).update(revoked_at=timezone.now())


def team_member_remove(*, user_id: int, removed_by: Any) -> str:
    """Deactivate rather than delete: their past replies and events keep their author."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise TeamChangeRefused("That person is not on the team.")
    if user.pk == removed_by.pk:
        raise TeamChangeRefused("You cannot remove yourself. Ask another owner.")
    with transaction.atomic():
        user.is_active = False
        user.save(update_fields=["is_active"])
        user.groups.clear()
        Conversation.objects.filter(assignee=user).update(assignee=None)
        agent_sockets_recheck(user_id=user.pk)
    return user.get_full_name() or user.username


def agent_sockets_recheck(*, user_id: int) -> None:
    """After the current transaction commits, every open inbox socket of this user checks its session
    again and closes if it no longer gives access (docs/widget-protocol.md, close code 4401). Every
    change that takes access away calls it: removing a teammate, a password reset or change (which
    ends the sessions made before it), a logout. A socket that misses the message (Redis was down)
    still checks before its next action and periodically (DASHBOARD_AGENT_ACCESS_RECHECK_SECONDS)."""
    publish_agent_access_changed_after_commit(user_id=user_id)


def canned_response_save(*, title: str, text: str, canned_response_id: int | None = None) -> CannedResponse:
    title, text = title.strip(), text.strip()
    if CannedResponse.objects.filter(title__iexact=title).exclude(pk=canned_response_id).exists():
        raise ValidationFailed(f"A canned response called '{title}' exists already.")
    if canned_response_id is None:
        return CannedResponse.objects.create(title=title, text=text)
    canned = CannedResponse.objects.get(pk=canned_response_id)
    canned.title, canned.text = title, text
    canned.save()
    return canned


def canned_response_delete(*, canned_response_id: int) -> None:
    CannedResponse.objects.filter(pk=canned_response_id).delete()


def conversation_assigned_event(*, conversation: Conversation, actor: Any) -> dict[str, Any]:
    """The one shape of an assignment in real-time events."""
    assignee = conversation.assignee
    return {
        "type": "conversation.assigned",
        "conversation_id": conversation.pk,
        "assignee": None if assignee is None else {
            "id": assignee.pk, "name": assignee.get_full_name() or assignee.get_username()},
        "actor": actor.get_username(),
    }


def conversation_assign(*, conversation: Conversation, assignee: Any | None, actor: Any) -> Conversation:
    if assignee is not None and not assignee.is_active:
        raise ValidationFailed("Conversations can be assigned only to people on the team.")
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        locked.assignee = assignee
        locked.save(update_fields=["assignee", "updated"])
        ConversationEvent.objects.create(
            conversation=locked, kind="assigned", actor=actor.get_username(),
            reason=f"Assigned to {assignee.get_username()}." if assignee is not None else "Unassigned.")
        # Who works on what is the team's business, not the customer's: the tenant's agents only (an
        # agent viewing this conversation is among them), never the conversation's group, which the
        # customer's widget shares.
        publish_after_commit(conversation_id=locked.pk, to_conversation=False,
                             event=conversation_assigned_event(conversation=locked, actor=actor))
    return locked


# ----------------------------------------------------------------------------- presence

def presence_touch(*, conversation_id: int, user: Any) -> None:
    """An agent's page says it is still open on this conversation (every ~15 s); the mark lapses
    on its own when the page closes, so nobody has to say goodbye."""
    key = presence_key(conversation_id=conversation_id)
    now = time.time()
    pipeline = redis_client().pipeline()
    pipeline.zadd(key, {str(user.pk): now})
    pipeline.zremrangebyscore(key, "-inf", now - settings.DASHBOARD_PRESENCE_TTL_SECONDS)
    pipeline.expire(key, settings.DASHBOARD_PRESENCE_TTL_SECONDS * 2)
    pipeline.execute()
