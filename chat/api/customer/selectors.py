"""Reads of the API's customer side: always within one customer's own conversations."""

from __future__ import annotations

from django.db.models import QuerySet

from chat.api.customer.services import CustomerIdentity, customer_conversation_get
from chat.api.customer.streaming import ANSWERED, WITH_PERSON, Outcome
from chat.conversations.events import message_wire
from chat.conversations.models import Author, Channel, Conversation, Message


def customer_conversation_list(*, identity: CustomerIdentity) -> QuerySet[Conversation]:
    """The customer's API conversations (pages order them newest first)."""
    return Conversation.objects.filter(contact_id=identity.contact_id, channel=Channel.API)


def customer_message_list(*, identity: CustomerIdentity, conversation_id: int) -> QuerySet[Message]:
    """What the customer sees of one of their conversations (pages order it newest first): never
    agents' notes."""
    conversation = customer_conversation_get(identity=identity, conversation_id=conversation_id)
    return Message.objects.filter(conversation=conversation, internal=False).select_related("agent__team_profile")


def answer_outcome_stored(*, customer_message_id: int) -> Outcome:
    """For a message that needs no answer now: its stored answer, or a person's turn."""
    answer = (Message.objects.filter(in_reply_to_id=customer_message_id, author=Author.ASSISTANT)
              .select_related("agent__team_profile").first())
    if answer is None:
        return Outcome(WITH_PERSON)
    return Outcome(ANSWERED, message=message_wire(answer), mode=answer.mode, tokens_in=answer.tokens_in,
                   tokens_out=answer.tokens_out)
