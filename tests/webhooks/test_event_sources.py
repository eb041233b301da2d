"""Where webhooks come from: the contract's new internal events never reach a socket, the owner's
playground sends nothing, and a tenant without endpoints stores nothing."""

from __future__ import annotations

import uuid

import pytest
from asgiref.sync import async_to_sync
from django_tenants.utils import schema_context

from chat.api.openai.services import MODEL_ID, completion_message_receive, completion_request_parse
from chat.conversations import services as conversations
from chat.conversations.events import ContactCreated, ContactUpdated, ConversationRated
from chat.conversations.models import Channel, Conversation
from chat.webhooks.models import WebhookMessage
from chat.widget.services import widget_message_receive
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


def test_a_new_customer_on_every_channel_is_told_as_contact_created(tenant_a, receiver) -> None:
    endpoint_for(tenant_a, receiver, path="contacts", events=["contact.created"])
    # A visitor's first message in the website's widget, as its socket stores it.
    on_widget = async_to_sync(widget_message_receive)(
        tenant=tenant_a, visitor_id=f"v-{uuid.uuid4().hex[:12]}", contact_id=None, conversation_id=None,
        ip="203.0.113.9", limits=(100, 100), text="Hi, do you deliver on Saturdays?", client_id="c-1")
    with schema_context(tenant_a.schema_name):
        # A chat completion without `user`: a customer nobody named, in a conversation of its own.
        anonymous = completion_message_receive(request=completion_request_parse(body={
            "model": MODEL_ID, "messages": [{"role": "user", "content": "What are your opening hours?"}]}),
            conversation_id=None)
        anonymous_contact = Conversation.objects.get(pk=anonymous.conversation_id).contact_id
        # One of the API's own customers, by the business's id for them.
        named = completion_message_receive(request=completion_request_parse(body={
            "model": MODEL_ID, "user": "crm-4711", "messages": [{"role": "user", "content": "Is my order on its way?"}]}),
            conversation_id=None)
        named_contact = Conversation.objects.get(pk=named.conversation_id).contact_id
        told = list(WebhookMessage.objects.filter(type="contact.created")
                    .values_list("payload__data__contact_id", flat=True))
    assert sorted(told) == sorted([on_widget.contact_id, anonymous_contact, named_contact])
