"""The API's customer side: tokens bound to one end customer, and that customer's conversations.

A business's backend exchanges its API key for a customer token naming one of its own customers
(its own id for them); the business's app then acts as that customer, and only ever reaches that
customer's conversations on the API channel. The customer's contact is the one whose `visitor_id`
is `api:<their id>`: the widget names its visitors `w-<random>` itself and signs them, so no widget
visitor can become an API customer or the other way round (docs/decisions/1301).

The token is signed with the server's secret and the tenant's schema (a token of one tenant is
worthless on another), expires, and names the API key that made it: revoking the key ends its
tokens at once, since every request checks that the key is still live.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db import connection, transaction
from django.utils import timezone

from chat.api.models import ApiKey
from chat.conversations.models import Channel, Contact, Conversation, ConversationStatus
from chat.conversations.services import (
    ReceivedMessage,
    contact_get_or_create,
    conversation_rate,
    conversation_request_human,
    conversation_start,
    message_receive,
)
from config.errors import ApplicationError, NotFound, ValidationFailed

CUSTOMER_VISITOR_PREFIX = "api:"
# What a business may use as its customer's id: fits `Contact.visitor_id` after the prefix.
CUSTOMER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+\-]{0,59}")
TOKEN_PREFIX = "ct_"
_TOKEN_SALT = "deskpilot.api.customer"


class CustomerTokenInvalid(ApplicationError):
    code = "invalid_token"
    status = 401


@dataclass(frozen=True)
class CustomerIdentity:
    """Who a valid customer token speaks for."""

    api_key_id: int
    contact_id: int
    customer_id: str


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime
    identity: CustomerIdentity


def customer_id_clean(customer_id: object) -> str:
    if not isinstance(customer_id, str) or not CUSTOMER_ID.fullmatch(customer_id):
        raise ValidationFailed("A customer id is 1 to 60 letters, digits or . _ : @ + -, starting with a letter "
                               "or digit.", code="invalid", details={"field": "customer_id"})
    return customer_id


def customer_contact_get_or_create(*, customer_id: str, name: str = "", email: str = "") -> Contact:
    """The business's customer as a contact, made on first sight; a name or e-mail fills a blank."""
    return contact_get_or_create(visitor_id=CUSTOMER_VISITOR_PREFIX + customer_id_clean(customer_id),
                                 name=name, email=email)


def _signing_salt() -> str:
    # The schema is part of what is signed: a token made on one tenant fails the signature on another.
    return f"{_TOKEN_SALT}.{connection.schema_name}"


def customer_token_issue(*, api_key_id: int, customer_id: str, name: str = "", email: str = "") -> IssuedToken:
    contact = customer_contact_get_or_create(customer_id=customer_id, name=name, email=email)
    payload = {"k": api_key_id, "c": contact.pk, "x": customer_id}
    token = TOKEN_PREFIX + signing.dumps(payload, salt=_signing_salt(), compress=True)
    expires_at = timezone.now() + timedelta(seconds=settings.API_CUSTOMER_TOKEN_SECONDS)
    return IssuedToken(token=token, expires_at=expires_at,
                       identity=CustomerIdentity(api_key_id=api_key_id, contact_id=contact.pk, customer_id=customer_id))


def customer_token_read(*, token: str) -> CustomerIdentity:
    """The customer a token speaks for; CustomerTokenInvalid for a token that is forged, of another
    tenant, expired, or made with a key revoked since. Every failure reads the same."""
    invalid = CustomerTokenInvalid("The customer token is invalid or has expired.")
    if not token.startswith(TOKEN_PREFIX) or len(token) > 1024:
        raise invalid
    try:
        payload = signing.loads(token.removeprefix(TOKEN_PREFIX), salt=_signing_salt(),
                                max_age=settings.API_CUSTOMER_TOKEN_SECONDS)
    except signing.BadSignature:  # expired tokens too (SignatureExpired is one)
        raise invalid from None
    if not isinstance(payload, dict) or not isinstance(payload.get("k"), int):
        raise invalid
    if not ApiKey.objects.filter(pk=payload["k"], revoked_at__isnull=True).exists():
        raise invalid
    if not Contact.objects.filter(pk=payload.get("c"), visitor_id=CUSTOMER_VISITOR_PREFIX + str(payload.get("x"))
                                  ).exists():
        raise invalid
    return CustomerIdentity(api_key_id=payload["k"], contact_id=payload["c"], customer_id=payload["x"])


def customer_conversation_get(*, identity: CustomerIdentity, conversation_id: int) -> Conversation:
    """The customer's own API conversation; NotFound for any other, whoever's it is."""
    conversation = Conversation.objects.filter(pk=conversation_id, contact_id=identity.contact_id,
                                               channel=Channel.API).first()
    if conversation is None:
        raise NotFound("No such conversation.", code="not_found")
    return conversation


def customer_conversation_start(*, identity: CustomerIdentity, language: str = "en") -> Conversation:
    return conversation_start(contact=Contact.objects.get(pk=identity.contact_id), channel=Channel.API,
                              language=language)


def customer_message_receive(*, identity: CustomerIdentity, conversation_id: int, text: str,
                             client_id: str | None) -> ReceivedMessage:
    """The customer's message stored by the core, once per `client_id` (the app's own id for it)."""
    conversation = customer_conversation_get(identity=identity, conversation_id=conversation_id)
    return message_receive(conversation=conversation, text=text, channel_message_id=client_id)


def customer_conversation_rate(*, identity: CustomerIdentity, conversation_id: int, score: object) -> Conversation:
    if not isinstance(score, int) or isinstance(score, bool):
        raise ValidationFailed("A rating is a whole number from 1 to 5.", code="invalid", details={"field": "score"})
    conversation = customer_conversation_get(identity=identity, conversation_id=conversation_id)
    conversation_rate(conversation=conversation, score=score)
    conversation.refresh_from_db()
    return conversation


def customer_handoff_request(*, identity: CustomerIdentity, conversation_id: int, reason: str = "") -> Conversation:
    """The customer asked for a person: asked for, unless a person has it or was asked for already."""
    with transaction.atomic():
        conversation = customer_conversation_get(identity=identity, conversation_id=conversation_id)
        if conversation.status in (ConversationStatus.BOT, ConversationStatus.RESOLVED):
            conversation = conversation_request_human(
                conversation=conversation, actor="customer",
                reason=(reason.strip()[:300] or "The customer asked for a person in the app."))
    return conversation
