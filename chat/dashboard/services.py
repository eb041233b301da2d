"""Dashboard writes: invitations, team membership, profiles, canned responses, assignment, presence,
the business's settings (profile, its own LLM provider, the widget) and the playground's question.

Each validates first and raises ValidationFailed with a message the owner can act on, which the page
shows on its form (config.errors.form_submit).
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import connection, transaction
from django.utils import timezone

from chat.assistant.engine import AnswerResult, answer_customer_message_sync
from chat.audit.models import AuditAction
from chat.audit.services import audit_record
from chat.conversations import services as conversation_services
from chat.conversations.events import publish_agent_access_changed_after_commit
from chat.conversations.models import (
    BusinessProfile,
    Channel,
    Conversation,
    ConversationStatus,
    TeamMemberProfile,
)
from chat.conversations.services import business_profile_get
from chat.dashboard.models import CannedResponse, Invitation
from chat.dashboard.selectors import invitation_get_open, invitation_signer, presence_key, seat_usage
from chat.widget.models import WidgetSettings
from chat.widget.services import widget_settings_get
from config import egress
from config.content_version import content_version_bump
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
        audit_record(action=AuditAction.TEAM_CHANGE, target=email, details={"op": "invited", "role": role},
                     actor=invited_by)
    return invitation


def account_login(*, request: Any, user: User) -> None:
    """A team member logs in to the dashboard (Django's session login), and the log says so."""
    with transaction.atomic():
        login(request, user)
        audit_record(action=AuditAction.LOGIN, target=user.username, actor=user)


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
        audit_record(action=AuditAction.TEAM_CHANGE, target=invitation.email,
                     details={"op": "joined", "role": invitation.role}, actor=user)
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
    with transaction.atomic():
        invitation = Invitation.objects.filter(pk=invitation_id, accepted_at__isnull=True,
                                               revoked_at__isnull=True).first()
        if invitation is None:
            return
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit_record(action=AuditAction.TEAM_CHANGE, target=invitation.email, details={"op": "invitation_withdrawn"})


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
        audit_record(action=AuditAction.TEAM_CHANGE, target=user.username, details={"op": "removed"},
                     actor=removed_by)
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
    with transaction.atomic():
        canned = CannedResponse.objects.filter(pk=canned_response_id).first()
        if canned is None:
            return
        canned.delete()
        audit_record(action=AuditAction.DELETION, target=f"canned response '{canned.title}'")


def conversation_action_apply(*, conversation: Conversation, action: str, agent: Any) -> None:
    """One of the conversation page's buttons: take over, hand back, resolve, reopen."""
    actor = agent.get_username()
    if action == "take_over":
        conversation_services.conversation_take_over(conversation=conversation, agent=agent)
    elif action == "hand_back":
        conversation_services.conversation_hand_back(conversation=conversation, agent=agent)
    elif action == "resolve":
        conversation_services.conversation_resolve(conversation=conversation, actor=actor)
    elif action == "reopen":
        conversation_services.conversation_transition(conversation=conversation, to_status=str(ConversationStatus.BOT),
                                                      actor=actor, reason="Reopened.", kind="reopened")
    else:
        raise ValidationFailed("Unknown action.", code="unknown_action")


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


# ----------------------------------------------------------------------------- settings

_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(-[a-z]{2})?$")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_ORIGIN = re.compile(r"^https?://[a-z0-9.-]+(:\d{1,5})?$")
MAX_RATE_PER_MINUTE = 10_000


def business_profile_update(*, name: str, tagline: str, tone: str, languages: list[str], human_only_topics: list[str],
                            contact_email: str, phone: str, address: str) -> BusinessProfile:
    name = " ".join(name.split())
    if not name:
        raise ValidationFailed("The business needs a name.", code="invalid_profile", details={"field": "name"})
    codes = [code.lower() for code in languages]
    bad = [code for code in codes if not _LANGUAGE_CODE.match(code)]
    if bad or not codes:
        raise ValidationFailed("Languages are codes such as en, nl or pt-br, at least one.", code="invalid_profile",
                               details={"field": "languages", "invalid": bad})
    profile = business_profile_get()
    profile.name, profile.tagline, profile.tone = name, tagline.strip(), tone.strip() or profile.tone
    profile.languages = list(dict.fromkeys(codes))
    profile.human_only_topics = list(dict.fromkeys(human_only_topics))
    profile.contact_email, profile.phone, profile.address = contact_email.strip(), phone.strip(), address.strip()
    with transaction.atomic():
        profile.save()
        content_version_bump()
        audit_record(action=AuditAction.SETTINGS_CHANGE, target="business profile")
    return profile


def business_llm_set(*, api_key: str | None, base_url: str, chat_model: str,
                     embedding_model: str = "") -> BusinessProfile:
    """The business's own LLM provider. `api_key` None keeps the stored key; "" removes it (and the rest).

    An embedding model makes the endpoint embed the knowledge base too; changing which model embeds
    it embeds the chunks again in the background (search keeps using the old vectors meanwhile).
    """
    from chat.knowledge.embeddings import current_model_id

    with transaction.atomic():
        profile = business_profile_get()
        embedded_with = current_model_id()
        key_before = profile.llm_api_key
        if api_key is not None:
            profile.llm_api_key = api_key.strip()
        if not profile.llm_api_key:
            profile.llm_base_url, profile.llm_chat_model, profile.llm_embedding_model = "", "", ""
        else:
            base_url = base_url.strip()
            if base_url:
                try:
                    # Refused here with a reason the owner can act on; the guard checks again at every
                    # connection, since a name can point elsewhere tomorrow.
                    egress.url_check(base_url)
                except egress.EgressRefused as error:
                    raise ValidationFailed(f"This base URL cannot be used: {error.message}",
                                           code="invalid_llm_base_url", details={"field": "base_url"}) from error
            profile.llm_base_url, profile.llm_chat_model = base_url, chat_model.strip()
            profile.llm_embedding_model = embedding_model.strip()
        profile.save(update_fields=["llm_api_key", "llm_base_url", "llm_chat_model", "llm_embedding_model", "updated"])
        content_version_bump()
        # Which key, never the key itself; its last characters only, as the settings page shows them.
        if profile.llm_api_key != key_before:
            audit_record(action=AuditAction.KEY_CHANGE, target="LLM API key",
                         details={"op": "set" if profile.llm_api_key else "removed"})
        audit_record(action=AuditAction.SETTINGS_CHANGE, target="LLM provider",
                     details={"base_url": profile.llm_base_url, "chat_model": profile.llm_chat_model,
                              "embedding_model": profile.llm_embedding_model})
        if current_model_id() != embedded_with:
            from chat.knowledge.tasks import kb_reembed_stale

            transaction.on_commit(kb_reembed_stale.delay)
    return profile


def widget_settings_update(*, display_name: str, greeting: str, primary_color: str, text_color: str, avatar_url: str,
                           position: str, language: str, prechat_enabled: bool, prechat_require_email: bool,
                           allowed_origins: list[str], messages_per_minute_per_ip: int,
                           messages_per_minute_per_visitor: int) -> WidgetSettings:
    for label, colour in (("main colour", primary_color), ("text colour", text_color)):
        if not _COLOUR.match(colour):
            raise ValidationFailed(f"The {label} must be a colour like #1f6feb.", code="invalid_widget")
    origins = [origin.rstrip("/").lower() for origin in allowed_origins]
    bad = [origin for origin in origins if not _ORIGIN.match(origin)]
    if bad:
        raise ValidationFailed(f"Allowed websites are origins like https://shop.example, not: {', '.join(bad)}.",
                               code="invalid_widget", details={"invalid": bad})
    if position not in ("left", "right"):
        raise ValidationFailed("The widget sits on the left or the right.", code="invalid_widget")
    if avatar_url.strip() and outside_url(avatar_url) is None:
        raise ValidationFailed("The avatar is a web address starting with https:// (or http://).",
                               code="invalid_widget")
    if not _LANGUAGE_CODE.match(language.lower()):
        raise ValidationFailed("The widget's language is a code such as en or nl.", code="invalid_widget")
    for rate in (messages_per_minute_per_ip, messages_per_minute_per_visitor):
        if not 1 <= rate <= MAX_RATE_PER_MINUTE:
            raise ValidationFailed(f"Rate limits are between 1 and {MAX_RATE_PER_MINUTE} messages a minute.",
                                   code="invalid_widget")
    widget = widget_settings_get()
    widget.display_name, widget.greeting = display_name.strip(), greeting.strip() or widget.greeting
    widget.primary_color, widget.text_color, widget.avatar_url = primary_color, text_color, avatar_url.strip()
    widget.position, widget.language = position, language.lower()
    widget.prechat_enabled = prechat_enabled
    widget.prechat_require_email = prechat_enabled and prechat_require_email
    widget.allowed_origins = list(dict.fromkeys(origins))
    widget.messages_per_minute_per_ip = messages_per_minute_per_ip
    widget.messages_per_minute_per_visitor = messages_per_minute_per_visitor
    with transaction.atomic():
        widget.save()
        content_version_bump()
        audit_record(action=AuditAction.SETTINGS_CHANGE, target="chat widget",
                     details={"allowed_origins": widget.allowed_origins})
    return widget


# ----------------------------------------------------------------------------- playground

@dataclass(frozen=True)
class PlaygroundPassage:
    title: str
    text: str
    score: float


@dataclass
class PlaygroundAnswer:
    question: str
    conversation_id: int
    result: AnswerResult
    threshold: float
    passages: list[PlaygroundPassage] = field(default_factory=list)
    # The product searches of the answer (a discovery question's): what they found, with scores, and
    # the filters they read from the question.
    product_searches: list[dict[str, Any]] = field(default_factory=list)

    @property
    def confident(self) -> bool:
        return self.result.confidence is not None and self.result.confidence >= self.threshold


def _passages(tool_calls: list[dict[str, Any]]) -> list[PlaygroundPassage]:
    """What the knowledge search found, cited or not: why the assistant answered as it did."""
    found = []
    for call in tool_calls:
        if call.get("name") != "knowledge_search":
            continue
        for passage in (call.get("result") or {}).get("passages") or []:
            found.append(PlaygroundPassage(title=str(passage.get("title", "")), text=str(passage.get("text", ""))[:400],
                                           score=float(passage.get("score") or 0.0)))
    return found


def _product_searches(tool_calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [call.get("result") or {} for call in tool_calls if call.get("name") == "product_search"]


def playground_ask(*, schema_name: str, visitor_id: str, question: str,
                   conversation_id: int | None) -> PlaygroundAnswer:
    """Ask as a customer in the playground conversation (a new one when there is none, or when a
    person would now own it, since then the assistant would stay silent as it does for customers)."""
    contact = conversation_services.contact_get_or_create(visitor_id=visitor_id, name="Playground")
    conversation = None
    if conversation_id is not None:
        conversation = Conversation.objects.filter(pk=conversation_id, contact=contact,
                                                   channel=Channel.PLAYGROUND).first()
    if conversation is None or not conversation.assistant_may_reply:
        conversation = conversation_services.conversation_start(contact=contact, channel=Channel.PLAYGROUND)
    received = conversation_services.message_receive(conversation=conversation, text=question)
    result = answer_customer_message_sync(schema_name=schema_name, message_id=received.message.pk)
    return PlaygroundAnswer(question=received.message.text, conversation_id=conversation.pk, result=result,
                            threshold=float(settings.KB_ANSWER_THRESHOLD), passages=_passages(result.tool_calls),
                            product_searches=_product_searches(result.tool_calls))
