"""A contact's e-mail address is "given" when typed into the pre-chat form and "verified" only when an
order's number and the e-mail or phone it was placed with match: a claim never proves anything."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django_tenants.utils import schema_context

from chat.conversations.models import Contact, EmailStatus
from chat.conversations.services import (
    contact_get_or_create,
    contact_prechat_save,
    contact_verify_by_order,
    conversation_start,
)
from orders.demo import load_demo as load_demo_orders
from tenants.demo import FIXTURES

# From tenants/fixtures/demo/shop/orders.json.
ORDER_NUMBER, ORDER_EMAIL = "TL-10412", "lotte.visser@example.com"


def test_an_address_only_claimed_in_a_message_or_a_wrong_order_check_is_never_verified(
        make_tenant: Callable[..., Any]) -> None:
    tenant = make_tenant(name="Threadline Claims").tenant
    with schema_context(tenant.schema_name):
        load_demo_orders(tenant=tenant, fixtures=FIXTURES / "shop")
        visitor = f"w-{uuid.uuid4().hex}"
        conversation = conversation_start(contact=contact_get_or_create(visitor_id=visitor))
        # A typed address is "given"; an order check with someone else's address proves nothing
        contact_prechat_save(visitor_id=visitor, name="", email=ORDER_EMAIL)
        assert contact_verify_by_order(conversation_id=conversation.pk, order_number=ORDER_NUMBER,
                                       email_or_phone="someone@else.example") is None
        contact = Contact.objects.get(visitor_id=visitor)
        assert (contact.email, contact.email_status) == (ORDER_EMAIL, EmailStatus.GIVEN)
        # The right details prove it; a later pre-chat address does not replace a proven one
        contact_verify_by_order(conversation_id=conversation.pk, order_number=ORDER_NUMBER.lower(),
                                email_or_phone=ORDER_EMAIL.upper())
        contact_prechat_save(visitor_id=visitor, name="", email="other@else.example")
        contact.refresh_from_db()
        assert (contact.email, contact.email_status) == (ORDER_EMAIL, EmailStatus.VERIFIED)


def test_the_assistants_order_check_verifies_the_contacts_address(make_tenant: Callable[..., Any]) -> None:
    from chat.assistant.engine import answer_customer_message_sync
    from chat.conversations.services import conversation_start, message_receive

    tenant = make_tenant(name="Threadline Engine").tenant
    with schema_context(tenant.schema_name):
        load_demo_orders(tenant=tenant, fixtures=FIXTURES / "shop")
        contact = contact_get_or_create(visitor_id=f"w-{uuid.uuid4().hex}")
        conversation = conversation_start(contact=contact)
        first = message_receive(conversation=conversation, text="Where is my order?")
        answer_customer_message_sync(schema_name=tenant.schema_name, message_id=first.message.pk)
        for text in (f"It is {ORDER_NUMBER}, I am boss@else.example", ORDER_EMAIL):
            received = message_receive(conversation=conversation, text=text)
            result = answer_customer_message_sync(schema_name=tenant.schema_name, message_id=received.message.pk)
        assert f"Order {ORDER_NUMBER} is shipped." in result.text
        contact.refresh_from_db()
        assert (contact.email, contact.email_status) == (ORDER_EMAIL, EmailStatus.VERIFIED)
