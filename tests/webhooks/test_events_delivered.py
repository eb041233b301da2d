"""Every event type reaches a subscribed endpoint once, signed, after the commit that caused it, by a
real worker on `high`; a rolled-back change sends nothing; one tenant's events never reach another's."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from chat.conversations import services as conversations
from chat.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookMessage
from config.outbox.models import OutboxMessage
from config.redis import redis_client
from orders.platforms import ItemData, OrderData
from orders.services.orders import order_upsert
from tenants.services import ROLE_OWNER, tenant_user_create
from tests.support.processes import Worker, child_env, running, wait_until
from tests.webhooks.conftest import endpoint_for
from tests.webhooks.receiver import Receiver

ALL_TYPES = {"conversation.created", "conversation.status_changed", "conversation.assigned", "message.created",
             "contact.created", "contact.updated", "handoff.requested", "rating.created", "order.updated"}


@pytest.fixture(scope="module")
def worker(django_db_setup: None) -> Iterator[Worker]:
    redis_client().flushdb()  # tasks earlier modules queued for receivers long gone
    # The receiver plays a business's server on the internet: the worker lets its loopback address through.
    with running(Worker(queues="high,medium", env=child_env(EGRESS_ALLOWED_NETWORKS="127.0.0.1/32"))) as process:
        yield process  # type: ignore[misc]


def types_received(receiver: Receiver, path: str) -> Counter[str]:
    return Counter(item.payload["type"] for item in receiver.got(path))


def an_order(number: str) -> OrderData:
    now = timezone.now()
    return OrderData(platform="shopify", external_ref=f"ext-{number}", number=number, email="ada@example.test",
                     phone="", currency="EUR", status="paid",
                     items=[ItemData(sku="MUG-1", name="Mug", quantity=1, unit_price_minor=1200)],
                     subtotal_minor=1200, shipping_minor=0, total_minor=1200, placed_at=now - timedelta(hours=1),
                     updated_at=now)


def test_each_event_is_delivered_once_after_commit_signed_with_ids_the_api_knows(tenant_a, receiver, worker) -> None:
    hooked = endpoint_for(tenant_a, receiver, path="all-events")
    visitor = f"v-{uuid.uuid4().hex[:8]}"
    with schema_context(tenant_a.schema_name):
        owner = tenant_user_create(email=f"owner-{visitor}@example.test", password="pw-123456789", role=ROLE_OWNER,
                                   name="Olivia Owner")
        contact = conversations.contact_get_or_create(visitor_id=visitor)
        conversation = conversations.conversation_start(contact=contact)
        received = conversations.message_receive(conversation=conversation, text="Where is my order?")
        conversations.contact_prechat_save(visitor_id=visitor, name="Ada", email="ada@example.test")
        conversations.conversation_request_human(conversation=conversation, reason="The customer asked for a person.")
        conversations.conversation_assign(conversation=conversation, assignee_id=owner.pk, actor=owner)
        conversations.conversation_rate(conversation=conversation, score=5)
        order_upsert(data=an_order(f"#{visitor}"), source="test")

    wait_until(lambda: set(types_received(receiver, "all-events")) == ALL_TYPES, timeout=60)
    with schema_context(tenant_a.schema_name):
        wait_until(lambda: not WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).exists(), timeout=30)
        assert set(WebhookDelivery.objects.values_list("status", "attempts")) == {(DeliveryStatus.SUCCEEDED, 1)}
        sent_ids = set(WebhookMessage.objects.values_list("msg_id", flat=True))
    got = receiver.got("all-events")
    assert types_received(receiver, "all-events") == Counter(ALL_TYPES)  # each once
    assert all(item.verified is not None and item.verified_with == [hooked.secret] for item in got)
    assert {item.headers["webhook-id"] for item in got} == sent_ids
    data = {item.payload["type"]: item.payload["data"] for item in got}
    for type in ALL_TYPES - {"contact.created", "contact.updated", "order.updated"}:
        assert data[type]["conversation_id"] == conversation.pk and data[type]["contact_id"] == contact.pk
    assert data["message.created"]["message_id"] == received.message.pk
    assert data["message.created"]["message"]["text"] == "Where is my order?"
    assert data["contact.created"]["contact_id"] == contact.pk
    assert data["contact.updated"] == {"contact_id": contact.pk, "name": "Ada", "email": "ada@example.test",
                                       "email_status": "given", "phone": "", "changed": ["name", "email", "email_status"]}
    assert data["conversation.status_changed"]["from"] == "bot" and data["conversation.status_changed"]["to"] == "needs_human"
    assert data["handoff.requested"]["reason"] == "The customer asked for a person."
    assert data["conversation.assigned"]["assignee_id"] == owner.pk
    assert data["rating.created"]["rating"] == 5
    assert data["order.updated"]["number"] == f"#{visitor}" and data["order.updated"]["status"] == "paid"
    assert all(item.payload["timestamp"].endswith("Z") for item in got)


def test_a_rolled_back_change_sends_nothing_and_nothing_leaves_before_the_commit(tenant_a, receiver, worker) -> None:
    endpoint_for(tenant_a, receiver, path="rollback", events=["contact.created"])
    with schema_context(tenant_a.schema_name):
        with pytest.raises(RuntimeError), transaction.atomic():
            conversations.contact_get_or_create(visitor_id="rolled-back")
            assert OutboxMessage.objects.count() == 1  # promised inside the transaction...
            raise RuntimeError("the request failed after the contact was stored")
        assert not WebhookMessage.objects.exists() and not OutboxMessage.objects.exists()  # ...and gone with it

        with transaction.atomic():
            kept = conversations.contact_get_or_create(visitor_id="committed")
            assert receiver.got("rollback") == []  # not before the commit
    wait_until(lambda: receiver.got("rollback"), timeout=30)
    assert [item.payload["data"]["contact_id"] for item in receiver.got("rollback")] == [kept.pk]


def test_one_tenants_events_never_reach_another_tenants_endpoint(tenant_a, tenant_b, receiver, worker) -> None:
    endpoint_for(tenant_a, receiver, path="tenant-a", events=["contact.created"])
    endpoint_for(tenant_b, receiver, path="tenant-b", events=["contact.created"])
    with schema_context(tenant_b.schema_name):
        of_b = conversations.contact_get_or_create(visitor_id="customer-of-b")
    wait_until(lambda: receiver.got("tenant-b"), timeout=30)
    with schema_context(tenant_a.schema_name):
        assert not WebhookMessage.objects.exists()
        of_a = conversations.contact_get_or_create(visitor_id="customer-of-a")
    wait_until(lambda: receiver.got("tenant-a"), timeout=30)
    assert [item.payload["data"]["contact_id"] for item in receiver.got("tenant-b")] == [of_b.pk]
    assert [item.payload["data"]["contact_id"] for item in receiver.got("tenant-a")] == [of_a.pk]
