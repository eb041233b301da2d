"""Writes about conversations: receiving messages, the handoff state machine, storing answers."""

from __future__ import annotations

import contextlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from chat.audit.models import AuditAction
from chat.audit.services import audit_record
from chat.conversations import statements
from chat.conversations.delivery import agent_reply_send
from chat.conversations.events import (
    ContactCreated,
    ContactUpdated,
    ConversationAssigned,
    ConversationChanged,
    ConversationContactChanged,
    ConversationCreated,
    ConversationRated,
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


@dataclass(frozen=True)
class ContactFound:
    contact: Contact
    created: bool


def contact_get_or_create(*, visitor_id: str, name: str = "", email: str = "", phone: str = "") -> Contact:
    """The contact of a visitor id (every channel's customer has one), made on first sight."""
    return contact_find_or_add(visitor_id=visitor_id, name=name, email=email, phone=phone).contact


def contact_find_or_add(*, visitor_id: str, name: str = "", email: str = "", phone: str = "") -> ContactFound:
    """As contact_get_or_create, telling whether the contact was made now. Every contact is made
    here, so each new one is told to the business's webhooks (`contact.created`)."""
    # One transaction, so what the contact's events promise (webhooks) commits with the contact;
    # inside a caller's, no savepoint of its own: nobody goes on after a failure here.
    with transaction.atomic(savepoint=False):
        contact, created = Contact.objects.get_or_create(visitor_id=visitor_id[:64],
                                                         defaults={"name": name[:200], "email": email[:254],
                                                                   "phone": phone[:40]})
        if created:
            event_send(ContactCreated(contact_id=contact.pk))
            return ContactFound(contact, created=True)
        changed = [field for field, value in (("name", name), ("email", email), ("phone", phone))
                   if value and not getattr(contact, field)]
        if changed:
            for field in changed:
                setattr(contact, field, {"name": name, "email": email, "phone": phone}[field])
            contact.save(update_fields=changed)
            event_send(ContactUpdated(contact_id=contact.pk, changed=tuple(changed)))
    return ContactFound(contact, created=False)


def _publish_contact_changed(contact: Contact, changed: list[str]) -> None:
    """Agents' open inbox and conversation pages show the customer's new name or address."""
    event_send(ContactUpdated(contact_id=contact.pk, changed=tuple(changed)))
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
            _publish_contact_changed(contact, changed)
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
            _publish_contact_changed(contact, changed)
    return contact


def conversation_start(*, contact: Contact, channel: str = Channel.WIDGET, language: str = "en") -> Conversation:
    # As contact_get_or_create: a transaction of its own, or the caller's without a savepoint.
    with transaction.atomic(savepoint=False):
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
    never interleave; the caller's instance ends as committed.

    One statement (`statements.message_insert`, docs/decisions/1103); reopening a resolved
    conversation adds its transition in the same transaction."""
    text = message_text_clean(text)
    channel_message_id = (channel_message_id or "")[:64] or None
    message = Message(author=Author.CUSTOMER, text=text, client_id=channel_message_id,
                      answer_state=AnswerState.PENDING, created=timezone.now())
    try:
        # A re-sent id fails the unique constraint and is answered from the first copy, so the usual
        # case (a new message) costs no lookup first. Inside a caller's transaction a savepoint
        # keeps that failure from breaking it; outside one the statement is its own transaction.
        with transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext():
            inserted = statements.message_insert(conversation_id=conversation.pk, message=message)
            if inserted is not None and inserted.message is None:  # resolved: the message reopens it
                with transaction.atomic():
                    locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
                    if locked.status == ConversationStatus.RESOLVED:
                        _transition(locked, ConversationStatus.BOT, actor="customer",
                                    reason="The customer wrote again.")
                    inserted = statements.message_insert(conversation_id=conversation.pk, message=message)
                conversation.low_confidence_streak = locked.low_confidence_streak
    except IntegrityError:
        if channel_message_id is None:
            raise
        # The same message again (re-sent, or twice at once): the first one stored it.
        conversation.refresh_from_db()
        existing = Message.objects.get(conversation_id=conversation.pk, client_id=channel_message_id)
        return ReceivedMessage(existing, False, existing.answer_state == AnswerState.PENDING)
    if inserted is None or inserted.message is None:
        raise Conversation.DoesNotExist(f"No conversation {conversation.pk}.")
    conversation.status, conversation.last_message_at = inserted.status, message.created
    conversation.resolved_at = None  # never resolved with a new message in it
    _conversation_changed(conversation)
    event_send(MessagePosted.of(message))
    return ReceivedMessage(message, True, message.answer_state == AnswerState.PENDING)


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
        audit_record(action=AuditAction.TAKEOVER, target=f"conversation {locked.pk}", actor=agent)
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
            agent_reply_send(message=message)
        event_send(MessagePosted.of(message))
    return message


def conversation_note_add(*, conversation: Conversation, text: str) -> Message:
    """A note only the team sees, from the platform itself (a reply a messaging channel could not send)."""
    with transaction.atomic():
        message = Message.objects.create(conversation=conversation, author=Author.SYSTEM,
                                         text=message_text_clean(text), internal=True)
        event_send(MessagePosted.of(message))
    return message


def contact_merge(*, keep: Contact, other: Contact) -> Contact:
    """An agent's word that two contacts are one person (who wrote on two channels): `other`'s
    conversations become `keep`'s, its details fill `keep`'s empty ones, and `other` goes. Each
    channel's conversation stays on its channel; the contact's history is one. A channel that keeps
    its own rows pointing at contacts moves them to `keep` first (chat.messaging.services.contact_link)."""
    if keep.pk == other.pk:
        raise ValidationFailed("A contact cannot be linked to itself.", code="same_contact")
    with transaction.atomic():
        for field in ("name", "email", "phone"):
            if not getattr(keep, field) and getattr(other, field):
                setattr(keep, field, getattr(other, field))
        keep.save(update_fields=["name", "email", "phone"])
        moved = list(Conversation.objects.filter(contact=other).values_list("pk", flat=True))
        Conversation.objects.filter(pk__in=moved).update(contact=keep)
        other.delete()
        for conversation_id in moved:
            event_send(ConversationContactChanged(conversation_id=conversation_id))
    return keep


def conversation_rate(*, conversation: Conversation, score: int) -> None:
    """The customer's rating of the conversation, 1 to 5; a later rating replaces an earlier one."""
    if not 1 <= score <= 5:
        raise ValidationFailed("A rating is a whole number from 1 to 5.", code="invalid")
    with transaction.atomic():
        Conversation.objects.filter(pk=conversation.pk).update(rating=score)
        _conversation_changed(conversation)
        event_send(ConversationRated(conversation_id=conversation.pk, rating=score))


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

    One statement (`statements.answer_insert`, docs/decisions/1103); an answer that may hand the
    conversation over (a handoff reason, or a low-confidence answer that may end a streak) is
    stored in a transaction with its transition.
    """
    from chat.assistant.usage import (
        PRACTICE_CHANNELS,
        usage_answer_counted,
        usage_answer_entry,
        usage_counts_toward_plan,
    )

    message = Message(author=Author.ASSISTANT, text=answer.text, in_reply_to_id=customer_message_id,
                      sources=answer.sources, tool_calls=answer.tool_calls, quick_replies=answer.quick_replies,
                      confidence=answer.confidence, mode=answer.mode, model=answer.model, tokens_in=answer.tokens_in,
                      tokens_out=answer.tokens_out, cost_minor=answer.cost_minor, latency_ms=answer.latency_ms,
                      first_token_ms=answer.first_token_ms, created=answer.finished_at or timezone.now())
    usage = (usage_answer_entry(tokens_in=answer.tokens_in, tokens_out=answer.tokens_out,
                                cost_minor=answer.cost_minor) if count_usage else None)
    may_hand_over = answer.handoff_reason is not None or answer.low_confidence
    with transaction.atomic() if may_hand_over else contextlib.nullcontext():
        inserted = statements.answer_insert(
            customer_message_id=customer_message_id, answer=message, low_confidence=answer.low_confidence,
            language=answer.language or None, pending_order_number=answer.pending_order_number,
            failed_verifications=answer.failed_verifications, usage=usage, practice_channels=PRACTICE_CHANNELS)
        if inserted is None:
            raise Conversation.DoesNotExist(f"No conversation has a customer message {customer_message_id}.")
        if inserted.existing_id is not None:
            return StoredAnswer(Message.objects.get(pk=inserted.existing_id), False, False)
        if inserted.message is None:
            return StoredAnswer(None, False, False)
        if usage is not None and usage_counts_toward_plan(inserted.channel):
            usage_answer_counted(schema_name=connection.schema_name, tokens=answer.tokens_in + answer.tokens_out)
        conversation = Conversation(pk=inserted.conversation_id, status=inserted.status, channel=inserted.channel,
                                    created=inserted.started, low_confidence_streak=inserted.low_confidence_streak)
        _conversation_changed(conversation)
        event_send(MessagePosted.of(message))
        reason = answer.handoff_reason
        if reason is None and inserted.low_confidence_streak >= LOW_CONFIDENCE_HANDOFF_STREAK:
            reason = "The assistant could not answer confidently twice in a row."
        if reason and inserted.status in (ConversationStatus.BOT, ConversationStatus.RESOLVED):
            locked = Conversation.objects.select_for_update().get(pk=inserted.conversation_id)
            _transition(locked, ConversationStatus.NEEDS_HUMAN, actor="assistant", reason=reason,
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
            _publish_contact_changed(locked, changed)
    return locked
