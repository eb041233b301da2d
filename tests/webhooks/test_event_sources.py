"""Where webhooks come from: the contract's new internal events never reach a socket, the owner's
playground sends nothing, and a tenant without endpoints stores nothing."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from chat.conversations import services as conversations
from chat.conversations.events import ContactCreated, ContactUpdated, ConversationRated
from chat.conversations.models import Channel
from chat.webhooks.models import WebhookMessage
from config.outbox.models import OutboxMessage
from tests.webhooks.conftest import endpoint_for


@pytest.mark.parametrize("event", [ContactCreated(contact_id=1), ContactUpdated(contact_id=1, changed=("name",)),
                                   ConversationRated(conversation_id=1, rating=4)])
def test_the_new_contract_events_never_leave_the_server(event) -> None:
    assert event.groups("any_schema") == []
    with pytest.raises(TypeError):
        event.to_wire()


def test_the_playground_sends_nothing_and_customers_conversations_do(tenant_a, receiver) -> None:
    endpoint_for(tenant_a, receiver, path="playground", events=["conversation.created", "message.created"])
    with schema_context(tenant_a.schema_name):
        contact = conversations.contact_get_or_create(visitor_id="owner-trying-it")
        trial = conversations.conversation_start(contact=contact, channel=Channel.PLAYGROUND)
        conversations.message_receive(conversation=trial, text="Do you ship to Norway?")
        assert not WebhookMessage.objects.exists()
        real = conversations.conversation_start(contact=contact)
        assert list(WebhookMessage.objects.values_list("type", "payload__data__conversation_id")) == [
            ("conversation.created", real.pk)]


def test_a_tenant_without_endpoints_stores_nothing(tenant_a) -> None:
    with schema_context(tenant_a.schema_name):
        contact = conversations.contact_get_or_create(visitor_id="nobody-listens")
        conversations.conversation_start(contact=contact)
        assert not WebhookMessage.objects.exists() and not OutboxMessage.objects.exists()
