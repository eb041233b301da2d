"""Writes about conversations: receiving messages, the handoff state machine, storing answers."""

from __future__ import annotations

import contextlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Subquery
from django.utils import timezone

from chat.conversations import statements
from chat.conversations.events import publish_after_commit
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
from chat.dashboard.rollup import analytics_day_mark_stale, analytics_day_mark_stale_for
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


def message_event(message: Message) -> dict[str, Any]:
    """The one shape of a message in real-time events and APIs."""
    agent = agent_identity(user=message.agent) if message.agent_id and message.agent is not None else None
    return {
        "type": "message",
        "conversation_id": message.conversation_id,
        "message": {
            "id": message.pk,
            "author": message.author,
            "text": message.text,
            "client_id": message.client_id,
            "internal": message.internal,
            "sources": message.sources,
            "quick_replies": message.quick_replies,
            # The name customers see, never the e-mail address the agent logs in with.
            "agent": agent.name if agent else None,
            "agent_avatar": agent.avatar_url if agent else None,
            "created": message.created.isoformat(),
        },
    }


def business_profile_get() -> BusinessProfile:
    from django.db import connection

    profile = BusinessProfile.objects.filter(pk=1).first()
    if profile is None:
        tenant = getattr(connection, "tenant", None)
        name = getattr(tenant, "name", "") or "our business"
        profile, _ = BusinessProfile.objects.get_or_create(pk=1, defaults={"name": name, "languages": ["en"]})
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
        publish_after_commit(conversation_id=conversation_id, to_conversation=False,
                             event={"type": "conversation.contact", "conversation_id": conversation_id})


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
    publish_after_commit(conversation_id=conversation.pk, to_conversation=False,
                         event={"type": "conversation.created", "conversation_id": conversation.pk,
                                "channel": conversation.channel, "status": conversation.status})


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
    created: bool
    # True when the assistant should answer it (no person owns the conversation).
    needs_answer: bool


def conversation_start_with_message(*, contact_id: int, text: str, client_id: str | None = None,
                                    channel: str = Channel.WIDGET, language: str = "en"
                                    ) -> tuple[Conversation, ReceivedMessage]:
    """A contact's first message, with the conversation it starts (one statement: see `statements`)."""
    text = message_text_clean(text)
    client_id = (client_id or "")[:64] or None
    now = timezone.now()
    conversation = Conversation(contact_id=contact_id, channel=channel, language=language[:8], last_message_at=now)
    state = AnswerState.PENDING if conversation.assistant_may_reply else AnswerState.NOT_NEEDED
    message = Message(author=Author.CUSTOMER, text=text, client_id=client_id, answer_state=state, created=now)
    with _savepoint_if_nested():
        statements.first_message_insert(conversation=conversation, event=_created_event(conversation),
                                        message=message)
    _publish_created(conversation)
    publish_after_commit(conversation_id=conversation.pk, event=message_event(message))
    return conversation, ReceivedMessage(message, True, message.answer_state == AnswerState.PENDING)


def message_receive(*, conversation: Conversation, text: str, client_id: str | None = None) -> ReceivedMessage:
    """Store a customer's message before anything else happens; a re-sent message is stored once.
    The caller's instance gets the conversation's status and last message time as committed."""
    received, committed = _message_receive(conversation_id=conversation.pk, text=text, client_id=client_id)
    for attname, value in committed.items():
        setattr(conversation, attname, value)
    return received


def conversation_message_receive(*, conversation_id: int, text: str, client_id: str | None = None
                                 ) -> ReceivedMessage:
    """`message_receive` for a conversation known by its id."""
    return _message_receive(conversation_id=conversation_id, text=text, client_id=client_id)[0]


def _message_receive(*, conversation_id: int, text: str, client_id: str | None
                     ) -> tuple[ReceivedMessage, dict[str, Any]]:
    """The message, and the conversation's columns as the message left them (attribute name -> value;
    none for a re-sent message, which changed nothing)."""
    text = message_text_clean(text)
    client_id = (client_id or "")[:64] or None
    try:
        # A re-sent client id fails the unique constraint and is answered from the first copy, so
        # the usual case (a new message) costs no lookup first.
        with _savepoint_if_nested():
            stored = statements.next_message_insert(conversation_id=conversation_id, text=text, client_id=client_id)
        if stored is not None:
            message = stored.message
            analytics_day_mark_stale_for(channel=stored.channel, started=stored.started)
            publish_after_commit(conversation_id=conversation_id, event=message_event(message))
            return (ReceivedMessage(message, True, message.answer_state == AnswerState.PENDING),
                    {"status": stored.status, "last_message_at": message.created})
        # Resolved (a new message reopens it), or no such conversation (DoesNotExist).
        with transaction.atomic():
            locked = Conversation.objects.select_for_update().get(pk=conversation_id)
            if locked.status == ConversationStatus.RESOLVED:
                _transition(locked, ConversationStatus.BOT, actor="customer", reason="The customer wrote again.")
            state = AnswerState.PENDING if locked.assistant_may_reply else AnswerState.NOT_NEEDED
            message = Message.objects.create(conversation=locked, author=Author.CUSTOMER, text=text,
                                             client_id=client_id, answer_state=state)
            locked.last_message_at = message.created
            locked.save(update_fields=["last_message_at", "updated"])
            analytics_day_mark_stale(conversation=locked)
            publish_after_commit(conversation_id=locked.pk, event=message_event(message))
    except IntegrityError:
        if client_id is None:
            raise
        # The same client id again (re-sent, or twice at once): the first one stored it.
        existing = Message.objects.get(conversation_id=conversation_id, client_id=client_id)
        return ReceivedMessage(existing, False, existing.answer_state == AnswerState.PENDING), {}
    return (ReceivedMessage(message, True, state == AnswerState.PENDING),
            {column.attname: getattr(locked, column.attname) for column in Conversation._meta.concrete_fields})


def _savepoint_if_nested() -> contextlib.AbstractContextManager[Any]:
    """A single statement is atomic on its own; inside a caller's transaction it needs a savepoint,
    so that a failure (a re-sent client id) leaves the caller's transaction usable."""
    return transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()


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
    analytics_day_mark_stale(conversation=conversation)
    publish_after_commit(conversation_id=conversation.pk, event={
        "type": "conversation.status", "conversation_id": conversation.pk, "from": from_status, "to": to_status,
        "actor": actor, "reason": reason})


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
        publish_after_commit(conversation_id=locked.pk, event=message_event(system))
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
            analytics_day_mark_stale(conversation=conversation)
        publish_after_commit(conversation_id=conversation.pk, event=message_event(message), to_conversation=not internal)
    return message


def conversation_rate(*, conversation: Conversation, score: int) -> None:
    """The customer's rating of the conversation, 1 to 5; a later rating replaces an earlier one."""
    if not 1 <= score <= 5:
        raise ValidationFailed("A rating is a whole number from 1 to 5.", code="invalid")
    with transaction.atomic():
        Conversation.objects.filter(pk=conversation.pk).update(rating=score)
        analytics_day_mark_stale(conversation=conversation)


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
    commits first wins, and an answer that lost is dropped, never shown to the customer.
    `count_usage`: the answer is counted in the tenant's usage ledger in the same transaction.
    """
    if not answer.handoff_reason and not answer.low_confidence:
        # Nothing to hand over: the one-statement path (see `statements`).
        stored = _assistant_answer_insert(customer_message_id=customer_message_id, answer=answer,
                                          count_usage=count_usage)
        if stored is not None:
            return stored
    return _assistant_answer_store_with_handoff(customer_message_id=customer_message_id, answer=answer,
                                                count_usage=count_usage)


def _answer_message(customer_message_id: int, answer: AnswerToStore, conversation: Conversation | None) -> Message:
    return Message(
        conversation=conversation, author=Author.ASSISTANT, text=answer.text, in_reply_to_id=customer_message_id,
        sources=answer.sources, tool_calls=answer.tool_calls, quick_replies=answer.quick_replies,
        confidence=answer.confidence, mode=answer.mode, model=answer.model, tokens_in=answer.tokens_in,
        tokens_out=answer.tokens_out, cost_minor=answer.cost_minor, latency_ms=answer.latency_ms,
        first_token_ms=answer.first_token_ms, created=answer.finished_at or timezone.now())


def _assistant_answer_insert(*, customer_message_id: int, answer: AnswerToStore, count_usage: bool
                             ) -> StoredAnswer | None:
    from chat.assistant.usage import usage_answer_counted, usage_answer_entry, usage_counts_toward_plan

    usage = (usage_answer_entry(tokens_in=answer.tokens_in, tokens_out=answer.tokens_out, cost_minor=answer.cost_minor)
             if count_usage else None)
    inserted = statements.answer_insert(
        customer_message_id=customer_message_id, answer=_answer_message(customer_message_id, answer, None),
        language=answer.language or None, pending_order_number=answer.pending_order_number,
        failed_verifications=answer.failed_verifications, usage=usage)
    if inserted is None:
        return None  # no such customer message: the ORM path says so
    if inserted.existing_id is not None:
        return StoredAnswer(Message.objects.get(pk=inserted.existing_id), False, False)
    if inserted.message is None:
        return StoredAnswer(None, False, False)
    analytics_day_mark_stale_for(channel=inserted.channel, started=inserted.started)
    publish_after_commit(conversation_id=inserted.conversation_id, event=message_event(inserted.message))
    if count_usage and usage_counts_toward_plan(inserted.channel):
        usage_answer_counted(schema_name=connection.schema_name, tokens=answer.tokens_in + answer.tokens_out)
    return StoredAnswer(inserted.message, False, True)


def _assistant_answer_store_with_handoff(*, customer_message_id: int, answer: AnswerToStore, count_usage: bool
                                         ) -> StoredAnswer:
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
        message = _answer_message(customer_message_id, answer, conversation)
        message.save(force_insert=True)
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
        analytics_day_mark_stale(conversation=conversation)
        publish_after_commit(conversation_id=conversation.pk, event=message_event(message))
        reason = answer.handoff_reason
        if reason is None and conversation.low_confidence_streak >= LOW_CONFIDENCE_HANDOFF_STREAK:
            reason = "The assistant could not answer confidently twice in a row."
        if reason and conversation.status in (ConversationStatus.BOT, ConversationStatus.RESOLVED):
            _transition(conversation, ConversationStatus.NEEDS_HUMAN, actor="assistant", reason=reason,
                        kind="handoff_requested")
    return StoredAnswer(message, bool(reason), True)
