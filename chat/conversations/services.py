"""Writes about conversations: receiving messages, the handoff state machine, storing answers."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Subquery
from django.utils import timezone

from chat.conversations.events import (
    ConversationAssigned,
    ConversationChanged,
    ConversationContactChanged,
    ConversationCreated,
    ConversationStatusChanged,
    MessagePosted,
    event_send,
)
from chat.conversations.models import (
    AnswerState,
    Author,
    BusinessProfile,
    Channel,
    Contact,
    Conversation,
    ConversationEvent,
    ConversationStatus,
    EmailStatus,
    Message,
)
from chat.conversations.selectors import agent_identity
from config.content_version import content_version_bump
from config.errors import ApplicationError, ValidationFailed

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 4000

# The handoff state machine. The assistant replies only in BOT (and RESOLVED, which a new customer
# message reopens); once a person has the conversation (HUMAN) or one was asked for (NEEDS_HUMAN),
# only a person hands it back.
ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    ConversationStatus.BOT: {ConversationStatus.NEEDS_HUMAN, ConversationStatus.HUMAN, ConversationStatus.RESOLVED},
    ConversationStatus.NEEDS_HUMAN: {ConversationStatus.HUMAN, ConversationStatus.BOT, ConversationStatus.RESOLVED},
    ConversationStatus.HUMAN: {ConversationStatus.BOT, ConversationStatus.NEEDS_HUMAN, ConversationStatus.RESOLVED},
    ConversationStatus.RESOLVED: {ConversationStatus.BOT, ConversationStatus.NEEDS_HUMAN, ConversationStatus.HUMAN},
}


class TransitionNotAllowed(ApplicationError):
    code = "transition_not_allowed"
    status = 409


def _conversation_changed(conversation: Conversation) -> None:
    """Tell the analytics roll-up, in this transaction, that a conversation's figures changed."""
    event_send(ConversationChanged(conversation_id=conversation.pk, channel=conversation.channel,
                                   started=conversation.created))


def business_profile_get() -> BusinessProfile:
    profile = BusinessProfile.objects.filter(pk=1).first()
    if profile is None:
        # The tenant's row, not the connection's tenant: inside `in_schema` (the engine's trips) that
        # is a stand-in with no name.
        from tenants.models import Tenant

        name = (Tenant.objects.filter(schema_name=connection.schema_name).values_list("name", flat=True).first()
                or "our business")
        profile, created = BusinessProfile.objects.get_or_create(pk=1, defaults={"name": name, "languages": ["en"]})
        if created:
            content_version_bump()
    return profile


def contact_get_or_create(*, visitor_id: str, name: str = "", email: str = "", phone: str = "") -> Contact:
    contact, created = Contact.objects.get_or_create(visitor_id=visitor_id[:64],
                                                     defaults={"name": name[:200], "email": email[:254],
                                                               "phone": phone[:40]})
    changed = [field for field, value in (("name", name), ("email", email), ("phone", phone))
               if value and not getattr(contact, field)]
    if changed and not created:
        for field in changed:
            setattr(contact, field, {"name": name, "email": email, "phone": phone}[field])
        contact.save(update_fields=changed)
    return contact


def _publish_contact_changed(contact: Contact) -> None:
    """Agents' open inbox and conversation pages show the customer's new name or address."""
    conversation_id = (Conversation.objects.filter(contact=contact).order_by("-created", "-id")
                       .values_list("pk", flat=True).first())
    if conversation_id is not None:
        event_send(ConversationContactChanged(conversation_id=conversation_id))


def contact_prechat_save(*, visitor_id: str, name: str, email: str) -> Contact:
    """What a customer typed into the pre-chat form. Anyone can type any address: it is stored as
    "given", and it never replaces an address an order proved (unless it is that same address)."""
    with transaction.atomic():
        contact = contact_get_or_create(visitor_id=visitor_id)
        contact = Contact.objects.select_for_update().get(pk=contact.pk)
        changed = []
        if name and name != contact.name:
            contact.name = name[:200]
            changed.append("name")
        email = email.strip().lower()[:254]
        proven = contact.email_status == EmailStatus.VERIFIED
        if email and email != contact.email.lower() and not proven:
            contact.email, contact.email_status = email, EmailStatus.GIVEN
            changed += ["email", "email_status"]
        if changed:
            contact.save(update_fields=changed)
            _publish_contact_changed(contact)
    return contact


def contact_verify_by_order(*, conversation_id: int, order_number: str, email_or_phone: str) -> Contact | None:
    """The customer proved an order is theirs (its number and the e-mail or phone it was placed
    with): the order's e-mail becomes the contact's verified address, its phone the contact's phone
    when none was known. Checked again here; None when the details do not match an order."""
    from orders.selectors import order_contact_verified

    proven = order_contact_verified(number=order_number, email_or_phone=email_or_phone)
    if proven is None:
        return None
    with transaction.atomic():
        contact = Contact.objects.select_for_update().filter(conversations__pk=conversation_id).first()
        if contact is None:
            return None
        changed = []
        if proven.email and (contact.email != proven.email or contact.email_status != EmailStatus.VERIFIED):
            contact.email, contact.email_status = proven.email, EmailStatus.VERIFIED
            changed += ["email", "email_status"]
        if proven.phone and not contact.phone:
            contact.phone = proven.phone[:40]
            changed.append("phone")
        if changed:
            contact.save(update_fields=changed)
            logger.info("contact %s verified by an order", contact.pk)
            _publish_contact_changed(contact)
    return contact


def conversation_start(*, contact: Contact, channel: str = Channel.WIDGET, language: str = "en") -> Conversation:
    with transaction.atomic():
        conversation = Conversation.objects.create(contact=contact, channel=channel, language=language[:8],
                                                   last_message_at=timezone.now())
        _created_event(conversation).save(force_insert=True)
        _publish_created(conversation)
    return conversation


def _created_event(conversation: Conversation) -> ConversationEvent:
    return ConversationEvent(conversation=conversation, kind="created", to_status=conversation.status,
                             actor="customer")


def _publish_created(conversation: Conversation) -> None:
    event_send(ConversationCreated(conversation_id=conversation.pk, channel=conversation.channel,
                                   status=conversation.status))


# A lone UTF-16 surrogate ("\ud800" in JSON) decodes to a str that cannot be encoded as UTF-8:
# PostgreSQL, Redis and every page would refuse it. Shown as the replacement character instead.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def without_lone_surrogates(value: Any) -> Any:
    """`value` (decoded JSON: strings, lists, dicts) with every lone surrogate replaced by U+FFFD."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [without_lone_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {without_lone_surrogates(key): without_lone_surrogates(item) for key, item in value.items()}
    return value


def message_text_clean(text: str) -> str:
    cleaned = without_lone_surrogates((text or "").replace("\x00", "")).strip()
    if not cleaned:
        raise ValidationFailed("A message cannot be empty.", code="empty_message")
    if len(cleaned) > MAX_MESSAGE_CHARS:
        raise ValidationFailed(f"A message can be at most {MAX_MESSAGE_CHARS} characters long.",
                               code="message_too_long", details={"max_chars": MAX_MESSAGE_CHARS})
    return cleaned


@dataclass(frozen=True)
class ReceivedMessage:
    message: Message
    # False for a re-sent message: the first copy is returned and nothing changed.
    created: bool
    # True when the assistant should answer it (no person owns the conversation).
    needs_answer: bool


def message_receive(*, conversation: Conversation, text: str, channel_message_id: str | None = None
                    ) -> ReceivedMessage:
    """The core's first step for a customer's message from any channel (the conversation's): stored
    before anything else happens, pending an answer unless a person owns the conversation, and stored
    once per `channel_message_id` (the channel's own id for the message: the widget's client id, a
    messaging platform's message id), so a re-sent message returns its first copy. A resolved
    conversation is reopened. The conversation row is locked meanwhile, so a takeover and a message
    never interleave; the caller's instance ends as committed."""
    text = message_text_clean(text)
    channel_message_id = (channel_message_id or "")[:64] or None
    try:
        # A re-sent id fails the unique constraint and is answered from the first copy, so the usual
        # case (a new message) costs no lookup first. Inside a caller's transaction this is a
        # savepoint, which the failure leaves usable.
        with transaction.atomic():
            conversation.refresh_from_db(from_queryset=Conversation.objects.select_for_update())
            if conversation.status == ConversationStatus.RESOLVED:
                _transition(conversation, ConversationStatus.BOT, actor="customer", reason="The customer wrote again.")
            state = AnswerState.PENDING if conversation.assistant_may_reply else AnswerState.NOT_NEEDED
            message = Message.objects.create(conversation=conversation, author=Author.CUSTOMER, text=text,
                                             client_id=channel_message_id, answer_state=state)
            conversation.last_message_at = message.created
            conversation.save(update_fields=["last_message_at", "updated"])
            _conversation_changed(conversation)
            event_send(MessagePosted.of(message))
    except IntegrityError:
        if channel_message_id is None:
            raise
        # The same message again (re-sent, or twice at once): the first one stored it.
        conversation.refresh_from_db()
        existing = Message.objects.get(conversation_id=conversation.pk, client_id=channel_message_id)
        return ReceivedMessage(existing, False, existing.answer_state == AnswerState.PENDING)
    return ReceivedMessage(message, True, state == AnswerState.PENDING)


def _transition(conversation: Conversation, to_status: str, *, actor: str, reason: str = "",
                kind: str = "status_changed") -> None:
    """Inside a transaction, on a locked row."""
    if to_status == conversation.status:
        return
    if to_status not in ALLOWED_TRANSITIONS[conversation.status]:
        raise TransitionNotAllowed(f"A conversation cannot go from {conversation.status} to {to_status}.",
                                   details={"from": conversation.status, "to": to_status})
    from_status = conversation.status
    conversation.status = to_status
    conversation.resolved_at = timezone.now() if to_status == ConversationStatus.RESOLVED else None
    if to_status == ConversationStatus.BOT:
        conversation.low_confidence_streak = 0
    conversation.save(update_fields=["status", "resolved_at", "low_confidence_streak", "updated"])
    ConversationEvent.objects.create(conversation=conversation, kind=kind, from_status=from_status,
                                     to_status=to_status, actor=actor[:200], reason=reason[:300])
    _conversation_changed(conversation)
    event_send(ConversationStatusChanged(conversation_id=conversation.pk, from_status=from_status,
                                         to_status=to_status, actor=actor, reason=reason))


def conversation_transition(*, conversation: Conversation, to_status: str, actor: str, reason: str = "",
                            kind: str = "status_changed") -> Conversation:
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        _transition(locked, to_status, actor=actor, reason=reason, kind=kind)
        if to_status in (ConversationStatus.HUMAN, ConversationStatus.NEEDS_HUMAN):
            # Customer messages waiting for the assistant are now the team's to answer.
            Message.objects.filter(conversation=locked, answer_state=AnswerState.PENDING).update(
                answer_state=AnswerState.NOT_NEEDED)
    return locked


def conversation_request_human(*, conversation: Conversation, reason: str, actor: str = "assistant") -> Conversation:
    return conversation_transition(conversation=conversation, to_status=ConversationStatus.NEEDS_HUMAN, actor=actor,
                                   reason=reason, kind="handoff_requested")


def conversation_take_over(*, conversation: Conversation, agent: Any) -> Conversation:
    with transaction.atomic():
        locked = conversation_transition(conversation=conversation, to_status=ConversationStatus.HUMAN,
                                         actor=agent.get_username(), reason="An agent took over.", kind="taken_over")
        locked.assignee = agent
        locked.save(update_fields=["assignee", "updated"])
        system = Message.objects.create(conversation=locked, author=Author.SYSTEM,
                                        text=f"{agent_identity(user=agent).name} joined the conversation.")
        event_send(MessagePosted.of(system))
    return locked


def conversation_hand_back(*, conversation: Conversation, agent: Any) -> Conversation:
    return conversation_transition(conversation=conversation, to_status=ConversationStatus.BOT,
                                   actor=agent.get_username(), reason="Handed back to the assistant.",
                                   kind="handed_back")


def conversation_resolve(*, conversation: Conversation, actor: str) -> Conversation:
    return conversation_transition(conversation=conversation, to_status=ConversationStatus.RESOLVED, actor=actor,
                                   kind="resolved")


def agent_message_send(*, conversation: Conversation, agent: Any, text: str, internal: bool = False) -> Message:
    text = message_text_clean(text)
    with transaction.atomic():
        message = Message.objects.create(conversation=conversation, author=Author.AGENT, text=text, agent=agent,
                                         internal=internal)
        if not internal:
            Conversation.objects.filter(pk=conversation.pk).update(last_message_at=message.created)
            _conversation_changed(conversation)
        event_send(MessagePosted.of(message))
    return message


def conversation_rate(*, conversation: Conversation, score: int) -> None:
    """The customer's rating of the conversation, 1 to 5; a later rating replaces an earlier one."""
    if not 1 <= score <= 5:
        raise ValidationFailed("A rating is a whole number from 1 to 5.", code="invalid")
    with transaction.atomic():
        Conversation.objects.filter(pk=conversation.pk).update(rating=score)
        _conversation_changed(conversation)


@dataclass(frozen=True)
class AnswerToStore:
    text: str
    mode: str
    sources: list[dict[str, Any]]
    tool_calls: list[dict[str, Any]]
    quick_replies: list[str]
    confidence: float | None
    low_confidence: bool
    handoff_reason: str | None
    model: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    cost_minor: int = 0
    latency_ms: int | None = None
    first_token_ms: int | None = None
    language: str = ""
    pending_order_number: str | None = None
    failed_verifications: int | None = None
    # When the customer had the whole answer; the message is dated then. None: now.
    finished_at: datetime | None = None


@dataclass(frozen=True)
class StoredAnswer:
    message: Message | None  # None: no answer was stored, a person owns the conversation now
    handed_over: bool
    created: bool


LOW_CONFIDENCE_HANDOFF_STREAK = 2


def assistant_answer_store(*, customer_message_id: int, answer: AnswerToStore, count_usage: bool = False
                           ) -> StoredAnswer:
    """Store the assistant's answer to one customer message, unless a person took over meanwhile.

    The conversation row is locked, so a takeover and an answer never interleave: whichever
    commits first wins, and an answer that lost is dropped, never shown to the customer. An answer
    stored already (a retry, the sweeper racing a live answer) is returned as it is.
    `count_usage`: the answer is counted in the tenant's usage ledger in the same transaction.
    """
    with transaction.atomic():
        # The customer's message's conversation, locked (only its row: `of` keeps the message row free).
        # With the id of an answer stored already (a retry), in the same query.
        conversation = (Conversation.objects.select_for_update(of=("self",))
                        .annotate(existing_answer_id=Subquery(
                            Message.objects.filter(in_reply_to_id=customer_message_id, author=Author.ASSISTANT)
                            .values("pk")[:1]))
                        .get(messages__pk=customer_message_id, messages__author=Author.CUSTOMER))
        if conversation.existing_answer_id is not None:
            return StoredAnswer(Message.objects.get(pk=conversation.existing_answer_id), False, False)
        if not conversation.assistant_may_reply:
            Message.objects.filter(pk=customer_message_id).update(answer_state=AnswerState.NOT_NEEDED)
            return StoredAnswer(None, False, False)
        message = Message.objects.create(
            conversation=conversation, author=Author.ASSISTANT, text=answer.text, in_reply_to_id=customer_message_id,
            sources=answer.sources, tool_calls=answer.tool_calls, quick_replies=answer.quick_replies,
            confidence=answer.confidence, mode=answer.mode, model=answer.model, tokens_in=answer.tokens_in,
            tokens_out=answer.tokens_out, cost_minor=answer.cost_minor, latency_ms=answer.latency_ms,
            first_token_ms=answer.first_token_ms, created=answer.finished_at or timezone.now())
        if count_usage:
            from chat.assistant.usage import usage_record_answer

            usage_record_answer(schema_name=connection.schema_name, mode=answer.mode, tokens_in=answer.tokens_in,
                                tokens_out=answer.tokens_out, cost_minor=answer.cost_minor,
                                channel=conversation.channel)
        Message.objects.filter(pk=customer_message_id).update(answer_state=AnswerState.ANSWERED)
        # The customer may have written again before the answer was stored: never move backwards.
        conversation.last_message_at = max(filter(None, (conversation.last_message_at, message.created)))
        conversation.low_confidence_streak = conversation.low_confidence_streak + 1 if answer.low_confidence else 0
        changed = ["last_message_at", "low_confidence_streak", "updated"]
        if answer.language:
            conversation.language = answer.language
            changed.append("language")
        if answer.pending_order_number is not None:
            conversation.pending_order_number = answer.pending_order_number
            changed.append("pending_order_number")
        if answer.failed_verifications is not None:
            conversation.failed_verifications = answer.failed_verifications
            changed.append("failed_verifications")
        conversation.save(update_fields=changed)
        _conversation_changed(conversation)
        event_send(MessagePosted.of(message))
        reason = answer.handoff_reason
        if reason is None and conversation.low_confidence_streak >= LOW_CONFIDENCE_HANDOFF_STREAK:
            reason = "The assistant could not answer confidently twice in a row."
        if reason and conversation.status in (ConversationStatus.BOT, ConversationStatus.RESOLVED):
            _transition(conversation, ConversationStatus.NEEDS_HUMAN, actor="assistant", reason=reason,
                        kind="handoff_requested")
    return StoredAnswer(message, bool(reason), True)


def conversation_assign(*, conversation: Conversation, assignee_id: int | None, actor: Any) -> Conversation:
    """Give the conversation to a team member (`assignee_id`), or to nobody (None)."""
    from django.contrib.auth.models import User

    assignee = None
    if assignee_id is not None:
        assignee = User.objects.filter(pk=assignee_id).first()
        if assignee is None:
            raise ValidationFailed("That person is not on the team.")
        if not assignee.is_active:
            raise ValidationFailed("Conversations can be assigned only to people on the team.")
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        locked.assignee = assignee
        locked.save(update_fields=["assignee", "updated"])
        ConversationEvent.objects.create(
            conversation=locked, kind="assigned", actor=actor.get_username(),
            reason=f"Assigned to {assignee.get_username()}." if assignee is not None else "Unassigned.")
        event_send(ConversationAssigned(
            conversation_id=locked.pk, actor=actor.get_username(),
            assignee=None if assignee is None else {"id": assignee.pk,
                                                    "name": assignee.get_full_name() or assignee.get_username()}))
    return locked


def contact_update(*, contact: Contact, name: str | None = None, email: str | None = None,
                   phone: str | None = None) -> Contact:
    """The business's own systems correct who a customer is. A new e-mail address counts as "given",
    as if typed: only an order proves an address is the customer's."""
    with transaction.atomic():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        changed: list[str] = []
        if name is not None and name.strip()[:200] != locked.name:
            locked.name = name.strip()[:200]
            changed.append("name")
        if email is not None and email.strip().lower() != locked.email.lower():
            locked.email = email.strip().lower()
            locked.email_status = EmailStatus.GIVEN if locked.email else EmailStatus.NONE
            changed += ["email", "email_status"]
        if phone is not None and phone.strip() != locked.phone:
            locked.phone = phone.strip()[:40]
            changed.append("phone")
        if changed:
            locked.save(update_fields=changed)
            _publish_contact_changed(locked)
    return locked
