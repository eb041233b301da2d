"""The owner's outgoing-webhook pages through the test client: the secret shown once and stored
encrypted, the attempts log, send again, replay since, a test event, enable/disable, rotation; agents
and other tenants kept out."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import schema_context

from chat.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookMessage
from chat.webhooks.services import webhook_delivery_attempt, webhook_event_enqueue
from config.outbox.models import OutboxMessage
from tests.webhooks.receiver import Answer

pytestmark = pytest.mark.usefixtures("receiver_allowed", "empty_queues")

SECRET = re.compile(r"whsec_[A-Za-z0-9+/=]{40,}")


def add_endpoint(owner_client, url: str, events: list[str]):
    return owner_client.post(reverse("dashboard:outgoing-webhooks"), {"url": url, "events": events,
                                                                       "description": "Our CRM"})


def test_an_owner_adds_an_endpoint_sees_the_secret_once_and_it_is_stored_encrypted(business, receiver) -> None:
    client = business.client(business.owner)
    answer = add_endpoint(client, receiver.url("dash-new"), ["message.created", "order.updated"])
    assert answer.status_code == 201
    secret = SECRET.search(answer.content.decode()).group(0)
    assert "will not be shown again" in answer.content.decode()

    listing = client.get(reverse("dashboard:outgoing-webhooks")).content.decode()
    assert receiver.url("dash-new") in listing and "message.created, order.updated" in listing
    assert secret not in listing and not SECRET.search(listing)
    with schema_context(business.tenant.schema_name):
        endpoint = WebhookEndpoint.objects.get()
        assert endpoint.secret == secret
        with connection.cursor() as cursor:
            cursor.execute("SELECT secret FROM webhooks_webhookendpoint WHERE id = %s", [endpoint.pk])
            stored = cursor.fetchone()[0]
    assert stored.startswith("fernet:") and secret not in stored
    detail = client.get(reverse("dashboard:outgoing-webhook", args=[endpoint.pk])).content.decode()
    assert secret not in detail


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/hook", "http://169.254.169.254/latest/meta-data/",
                                 "http://localhost:8000/hook", "http://[::1]/hook"])
def test_an_endpoint_on_the_platforms_own_network_is_refused_on_the_form(business, settings, url) -> None:
    settings.EGRESS_ALLOWED_NETWORKS = []
    answer = add_endpoint(business.client(business.owner), url, ["message.created"])
    assert answer.status_code == 400
    assert "requests to the platform&#x27;s own network are refused" in answer.content.decode()
    with schema_context(business.tenant.schema_name):
        assert not WebhookEndpoint.objects.exists()


def test_the_attempts_log_send_again_replay_and_test_event(business, receiver) -> None:
    client = business.client(business.owner)
    secret = SECRET.search(add_endpoint(client, receiver.url("dash-log"), ["order.updated"]).content.decode()).group(0)
    receiver.trust("dash-log", secret)
    receiver.answer_next("dash-log", Answer(status=503, body="upstream down: try later"))
    with schema_context(business.tenant.schema_name):
        endpoint = WebhookEndpoint.objects.get()
        webhook_event_enqueue(type="order.updated", data={"order_id": 7, "number": "#7", "status": "paid",
                                                          "created": True})
        delivery = WebhookDelivery.objects.get()
        webhook_delivery_attempt(delivery_id=delivery.pk, attempt=0)
    page = client.get(reverse("dashboard:outgoing-webhook", args=[endpoint.pk])).content.decode()
    assert "HTTP 503" in page and "upstream down: try later" in page and "order.updated" in page

    # Send again: a fresh round, made by the task the outbox promised.
    assert client.post(reverse("dashboard:outgoing-webhook-resend", args=[delivery.pk])).status_code == 302
    with schema_context(business.tenant.schema_name):
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)
        assert webhook_delivery_attempt(delivery_id=delivery.pk, attempt=0).answer.status_code == 200
    assert receiver.got("dash-log")[-1].verified["data"]["order_id"] == 7

    # Replay since: what was not delivered since then (here an event stored while it was disabled).
    client.post(reverse("dashboard:outgoing-webhook-action", args=[endpoint.pk]), {"action": "disable"})
    with schema_context(business.tenant.schema_name):
        assert not WebhookEndpoint.objects.get().enabled
        missed = WebhookMessage.objects.create(msg_id="msg_missed", type="order.updated",
                                               payload={"type": "order.updated", "timestamp": "2026-01-01T00:00:00Z",
                                                        "data": {"order_id": 8}})
    client.post(reverse("dashboard:outgoing-webhook-action", args=[endpoint.pk]), {"action": "enable"})
    since = (timezone.localtime() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    answer = client.post(reverse("dashboard:outgoing-webhook-action", args=[endpoint.pk]),
                         {"action": "replay", "since": since})
    assert answer.status_code == 302 and answer["Location"].endswith("done=replayed-1")
    with schema_context(business.tenant.schema_name):
        replayed = WebhookDelivery.objects.get(message=missed)
        assert replayed.status == DeliveryStatus.PENDING
        assert OutboxMessage.objects.filter(args=[replayed.pk, 0], done_at__isnull=True).exists()

    # A test event, to this endpoint alone.
    client.post(reverse("dashboard:outgoing-webhook-action", args=[endpoint.pk]), {"action": "test"})
    with schema_context(business.tenant.schema_name):
        test = WebhookDelivery.objects.get(message__type="webhook.test")
        webhook_delivery_attempt(delivery_id=test.pk, attempt=0)
    assert receiver.got("dash-log")[-1].verified["type"] == "webhook.test"


def test_rotating_shows_the_new_secret_once(business, receiver) -> None:
    client = business.client(business.owner)
    first = SECRET.search(add_endpoint(client, receiver.url("dash-rot"), ["order.updated"]).content.decode()).group(0)
    with schema_context(business.tenant.schema_name):
        endpoint = WebhookEndpoint.objects.get()
    answer = client.post(reverse("dashboard:outgoing-webhook-action", args=[endpoint.pk]), {"action": "rotate"})
    second = SECRET.search(answer.content.decode()).group(0)
    assert second != first and "previous secret also signs" in answer.content.decode()
    with schema_context(business.tenant.schema_name):
        assert WebhookEndpoint.objects.get().previous_secret == first


def test_agents_and_other_tenants_cannot_see_or_touch_an_endpoint(business, other_business, receiver) -> None:
    add_endpoint(business.client(business.owner), receiver.url("dash-private"), ["order.updated"])
    with schema_context(business.tenant.schema_name):
        endpoint = WebhookEndpoint.objects.get()
    agent = business.client(business.agent)
    assert agent.get(reverse("dashboard:outgoing-webhooks")).status_code == 403
    assert agent.post(reverse("dashboard:outgoing-webhook-action", args=[endpoint.pk]),
                      {"action": "rotate"}).status_code == 403
    stranger = other_business.client(other_business.owner)
    assert stranger.get(reverse("dashboard:outgoing-webhook", args=[endpoint.pk])).status_code == 404
    assert stranger.post(reverse("dashboard:outgoing-webhook-action", args=[endpoint.pk]),
                         {"action": "disable"}).status_code == 404
    with schema_context(business.tenant.schema_name):
        assert WebhookEndpoint.objects.get().enabled
