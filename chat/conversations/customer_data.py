"""One customer's data rights: a copy of what the business holds about them, and its erasure.

Both answer for one contact: their details, every conversation with every message they and the
business's side wrote to them, ratings, and the orders an order verification proved are theirs.
Agents' internal notes are the business's own working notes and are left out of the copy; they go
with the conversation when it is erased. Erasure deletes the contact with its conversations in one
transaction and tells the apps that keep records of their own (delivery and channel logs) through
the internal `ConversationErased` event, so they delete theirs in the same transaction; the
analytics days those conversations counted in are computed again without them.

Each export, erasure and change of the retention period leaves an entry in the tenant's audit log,
naming the customer by number only: the log outlives the erasure and must not keep what it erased.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from chat.audit.models import AuditAction
from chat.audit.services import audit_record
from chat.conversations.events import ConversationChanged, ConversationErased, event_send
from chat.conversations.models import BusinessProfile, Contact, Conversation, EmailStatus, Message
from chat.conversations.services import business_profile_get
from config.errors import NotFound, ValidationFailed
from config.redis import redis_client, tenant_key

logger = logging.getLogger(__name__)

EXPORT_FORMAT = "deskpilot-customer-data"
EXPORT_VERSION = 1


class ContactNotFound(NotFound):
    code = "contact_not_found"


@dataclass(frozen=True)
class Erasure:
    contact_id: int
    conversations: int
    messages: int


def _contact(contact_id: int) -> Contact:
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None:
        raise ContactNotFound(f"There is no customer {contact_id}.")
    return contact


def _message(message: Message) -> dict[str, Any]:
    return {"id": message.pk, "author": message.author, "text": message.text,
            "created": message.created.isoformat()}


def customer_data_export(*, contact_id: int, actor: Any = None) -> dict[str, Any]:
    """Everything the business holds about customer `contact_id`, as one JSON-ready document.
    `actor`: who asked, for the audit log (by default the request's user, or "system")."""
    from orders.selectors import orders_of_email

    contact = _contact(contact_id)
    conversations = []
    for conversation in contact.conversations.order_by("created", "id"):
        messages = conversation.messages.filter(internal=False).order_by("created", "id")
        conversations.append({
            "id": conversation.pk, "channel": conversation.channel, "status": conversation.status,
            "language": conversation.language, "created": conversation.created.isoformat(),
            "rating": conversation.rating, "messages": [_message(message) for message in messages],
        })
    verified = contact.email if contact.email_status == EmailStatus.VERIFIED else ""
    orders = [{"number": order.number, "status": order.status, "placed": order.placed_at.isoformat()}
              for order in (orders_of_email(email=verified) if verified else [])]
    audit_record(action=AuditAction.EXPORT, target=f"customer {contact.pk}", actor=actor,
                 details={"conversations": len(conversations), "orders": len(orders)})
    return {
        "format": EXPORT_FORMAT, "version": EXPORT_VERSION, "exported": timezone.now().isoformat(),
        "contact": {"id": contact.pk, "name": contact.name, "email": contact.email, "phone": contact.phone,
                    "created": contact.created.isoformat()},
        "conversations": conversations, "orders": orders,
    }


def customer_data_erase(*, contact_id: int, actor: Any = None) -> Erasure:
    """Delete customer `contact_id` and everything they wrote or were written, for good.
    `actor`: who asked, for the audit log (by default the request's user, or "system")."""
    with transaction.atomic():
        contact = Contact.objects.select_for_update().filter(pk=contact_id).first()
        if contact is None:
            raise ContactNotFound(f"There is no customer {contact_id}.")
        conversations = list(contact.conversations.all())
        message_count = _conversations_delete(conversations)
        contact.delete()
        audit_record(action=AuditAction.DELETION, target=f"customer {contact_id}", actor=actor,
                     details={"op": "customer_erased", "conversations": len(conversations),
                              "messages": message_count})
    logger.warning("customer %s erased with %s conversations", contact_id, len(conversations))
    return Erasure(contact_id=contact_id, conversations=len(conversations), messages=message_count)


def _conversations_delete(conversations: list[Conversation]) -> int:
    """Delete `conversations` in the caller's transaction, telling every app that keeps records of
    them; returns how many messages went with them."""
    if not conversations:
        return 0
    message_count = Message.objects.filter(conversation__in=conversations).count()
    for conversation in conversations:
        event_send(ConversationErased(conversation_id=conversation.pk, contact_id=conversation.contact_id))
        event_send(ConversationChanged(conversation_id=conversation.pk, channel=conversation.channel,
                                       started=conversation.created))
    Conversation.objects.filter(pk__in=[conversation.pk for conversation in conversations]).delete()
    schema_name = connection.schema_name
    conversation_ids = [conversation.pk for conversation in conversations]
    transaction.on_commit(lambda: _live_copies_delete(schema_name, conversation_ids))
    return message_count


RETENTION_BATCH = 200


def conversation_retention_set(*, days: int | None) -> BusinessProfile:
    """Keep conversations `days` days after their last message (None: until deleted by hand)."""
    if days is not None and days < 1:
        raise ValidationFailed("Keep conversations for at least one day, or leave it empty.",
                               code="invalid_retention", details={"field": "days"})
    with transaction.atomic():
        profile = business_profile_get()
        before = profile.conversation_retention_days
        profile.conversation_retention_days = days
        profile.save(update_fields=["conversation_retention_days", "updated"])
        audit_record(action=AuditAction.SETTINGS_CHANGE, target="conversation retention",
                     details={"days": days, "before": before})
    return profile


def conversations_retention_apply(*, now: datetime | None = None) -> int:
    """Delete the conversations whose last message is older than the business's retention period
    (none kept forever when it is not set), and the customers left with no conversation; returns
    how many conversations went."""
    days = BusinessProfile.objects.values_list("conversation_retention_days", flat=True).first()
    if not days:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted = 0
    while True:
        with transaction.atomic():
            batch = list(Conversation.objects.select_for_update(skip_locked=True)
                         .filter(created__lt=cutoff, last_message_at__lt=cutoff).order_by("pk")[:RETENTION_BATCH])
            if not batch:
                break
            _conversations_delete(batch)
            Contact.objects.filter(pk__in={c.contact_id for c in batch}, conversations__isnull=True).delete()
        deleted += len(batch)
    if deleted:
        logger.info("retention: %s conversations older than %s days deleted", deleted, days)
    return deleted


def _live_copies_delete(schema_name: str, conversation_ids: list[int]) -> None:
    """Answers still kept for a reconnecting widget hold the erased words too."""
    client = redis_client()
    for conversation_id in conversation_ids:
        keys = list(client.scan_iter(match=tenant_key(schema_name, "answer", str(conversation_id), "*")))
        if keys:
            client.unlink(*keys)
