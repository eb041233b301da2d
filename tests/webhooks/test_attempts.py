"""Each attempt of a delivery, made in this process against the receiver: signatures, the retry
schedule, 410, 429 and Retry-After, secret rotation, giving up after three days, the attempts log."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from chat.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from chat.webhooks.services import (
    webhook_deliveries_overdue_send,
    webhook_delivery_attempt,
    webhook_endpoint_disabled_email,
    webhook_endpoint_secret_rotate,
    webhook_event_enqueue,
    webhook_history_prune,
)
from config.celery import app
from tests.webhooks.conftest import endpoint_for
from tests.webhooks.receiver import Answer

pytestmark = pytest.mark.usefixtures("receiver_allowed", "empty_queues")

EXPECTED_WAITS = [timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
                  timedelta(hours=5), timedelta(hours=10), timedelta(hours=14), timedelta(hours=20),
                  timedelta(hours=24)]


def queued_retries() -> list[dict]:
    """The webhook retries waiting on `high` with a time (eta), as the broker holds them, oldest first."""
    raw = app.connection().default_channel.client.lrange("high", 0, -1)
    headers = [json.loads(item)["headers"] for item in reversed(raw)]
    return [h for h in headers if h["task"] == "chat.webhooks.tasks.webhook_delivery_send" and h["eta"]]


def one_delivery(schema: str) -> WebhookDelivery:
    with schema_context(schema):
        with transaction.atomic():
            message = webhook_event_enqueue(type="order.updated", data={"order_id": 1, "number": "#1",
                                                                         "status": "paid", "created": False})
        assert message is not None
        return WebhookDelivery.objects.get(message=message)


@pytest.mark.parametrize("jitter", ["shortest", "longest"])
def test_a_failing_receiver_is_retried_on_the_schedule_then_the_endpoint_is_disabled_and_the_owner_told(
        make_tenant, receiver, monkeypatch, jitter) -> None:
    # Every wait at the low or the high end of its jitter: the round ends three days in either way.
    monkeypatch.setattr("chat.webhooks.services.random.uniform", min if jitter == "shortest" else max)
    created = make_tenant(owner_email="owner-hooks@example.test")
    hooked = endpoint_for(created.tenant, receiver, path=f"failing-{jitter}", events=["order.updated"])
    receiver.answer_next(f"failing-{jitter}", *[Answer(status=500, body="x" * 5000)] * 10)
    delivery = one_delivery(hooked.tenant.schema_name)
    waits = []
    with schema_context(hooked.tenant.schema_name):
        start = timezone.now()
        with time_machine.travel(start, tick=False) as clock:
            for attempt in range(10):
                result = webhook_delivery_attempt(delivery_id=delivery.pk, attempt=attempt)
                assert result is not None and result.answer is not None and result.answer.status_code == 500
                if result.next_attempt_at is None:
                    break
                wait = result.next_attempt_at - timezone.now()
                waits.append(wait)
                # The task for the next attempt is queued with exactly that time.
                assert queued_retries()[-1]["eta"] == result.next_attempt_at.isoformat()
                assert queued_retries()[-1]["argsrepr"] == repr([delivery.pk, attempt + 1])
                # An early copy of that task (the relay, a redelivered message) makes no request.
                assert webhook_delivery_attempt(delivery_id=delivery.pk, attempt=attempt + 1) is None
                clock.move_to(result.next_attempt_at)
        assert len(waits) == 9
        for wait, expected in zip(waits[:-1], EXPECTED_WAITS[:-1], strict=True):
            assert expected * 0.9 <= wait <= expected * 1.1
        # The last wait is the schedule's, or longer: the round ends no sooner than three days after
        # the first failure, whichever way the jitter fell.
        assert EXPECTED_WAITS[-1] * 0.9 <= waits[-1]
        assert waits[-1] <= EXPECTED_WAITS[-1] * 1.1 or sum(waits, timedelta()) == timedelta(days=3)
        assert sum(waits, timedelta()) >= timedelta(days=3)
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 10
        attempts = list(delivery.attempt_log.order_by("attempted_at"))
        assert len(attempts) == 10
        assert all(a.status_code == 500 and len(a.response_body) == 2048 for a in attempts)
        endpoint = WebhookEndpoint.objects.get(pk=hooked.endpoint_id)
        # Failing since the first attempt, three days and more ago: disabled, and the owner told.
        assert not endpoint.enabled and "failed since" in endpoint.disabled_reason
        assert webhook_endpoint_disabled_email(endpoint_id=endpoint.pk) == 1
        assert mail.outbox[-1].to == ["owner-hooks@example.test"] and endpoint.url in mail.outbox[-1].body
        # Nothing more is sent to a disabled endpoint.
        assert webhook_event_enqueue(type="order.updated", data={}) is None
    assert len(receiver.got(f"failing-{jitter}")) == 10


def test_410_gone_disables_the_endpoint_at_once(tenant_a, receiver) -> None:
    hooked = endpoint_for(tenant_a, receiver, path="gone", events=["order.updated"])
    receiver.answer_next("gone", Answer(status=410))
    delivery = one_delivery(tenant_a.schema_name)
    with schema_context(tenant_a.schema_name):
        result = webhook_delivery_attempt(delivery_id=delivery.pk, attempt=0)
        assert result is not None and result.next_attempt_at is None
        assert result.delivery.status == DeliveryStatus.FAILED
        endpoint = WebhookEndpoint.objects.get(pk=hooked.endpoint_id)
        assert not endpoint.enabled and "410" in endpoint.disabled_reason
    assert queued_retries() == []


@pytest.mark.parametrize("retry_after", ["120", "date"])
def test_429_retry_after_is_honoured(tenant_a, receiver, retry_after) -> None:
    from email.utils import format_datetime

    endpoint_for(tenant_a, receiver, path=f"busy-{retry_after}", events=["order.updated"])
    delivery = one_delivery(tenant_a.schema_name)
    with schema_context(tenant_a.schema_name), time_machine.travel(timezone.now().replace(microsecond=0), tick=False):
        header = "120" if retry_after == "120" else format_datetime(timezone.now() + timedelta(seconds=120),
                                                                      usegmt=True)
        receiver.answer_next(f"busy-{retry_after}", Answer(status=429, headers={"Retry-After": header}))
        result = webhook_delivery_attempt(delivery_id=delivery.pk, attempt=0)
        assert result is not None and result.next_attempt_at == timezone.now() + timedelta(seconds=120)
        assert queued_retries()[-1]["eta"] == result.next_attempt_at.isoformat()


def test_during_a_rotation_both_secrets_sign_and_afterwards_only_the_new_one(tenant_a, receiver) -> None:
    hooked = endpoint_for(tenant_a, receiver, path="rotating", events=["order.updated"])
    with schema_context(tenant_a.schema_name):
        rotated = webhook_endpoint_secret_rotate(endpoint=WebhookEndpoint.objects.get(pk=hooked.endpoint_id))
    assert rotated.secret != hooked.secret and rotated.secret.startswith("whsec_")
    receiver.trust("rotating", rotated.secret)
    delivery = one_delivery(tenant_a.schema_name)
    with schema_context(tenant_a.schema_name):
        webhook_delivery_attempt(delivery_id=delivery.pk, attempt=0)
    during = receiver.got("rotating")[-1]
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert set(during.verified_with) == {hooked.secret, rotated.secret}

    later = one_delivery(tenant_a.schema_name)
    with schema_context(tenant_a.schema_name), time_machine.travel(timezone.now() + timedelta(hours=25)):
        webhook_delivery_attempt(delivery_id=later.pk, attempt=0)
    after = receiver.got("rotating")[-1]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    assert after.verified_with == [rotated.secret]


def test_a_lost_retry_is_queued_again_and_old_history_is_forgotten(tenant_a, receiver) -> None:
    endpoint_for(tenant_a, receiver, path="lost", events=["order.updated"])
    receiver.answer_next("lost", Answer(status=500))
    delivery = one_delivery(tenant_a.schema_name)
    with schema_context(tenant_a.schema_name):
        retry_at = webhook_delivery_attempt(delivery_id=delivery.pk, attempt=0).next_attempt_at
        app.connection().default_channel.client.delete("high")  # the broker lost the retry
        with time_machine.travel(retry_at + timedelta(minutes=1), tick=False):
            assert webhook_deliveries_overdue_send() == 0  # not overdue enough to count as lost
        with time_machine.travel(retry_at + timedelta(minutes=3), tick=False):
            assert webhook_deliveries_overdue_send() == 1
        raw = app.connection().default_channel.client.lrange("high", 0, -1)
        assert [json.loads(item)["headers"]["argsrepr"] for item in raw] == [repr([delivery.pk, 1])]

        receiver.answer_next("lost", Answer(status=200))
        with time_machine.travel(retry_at, tick=False):
            assert webhook_delivery_attempt(delivery_id=delivery.pk, attempt=1).delivery.status == "succeeded"
        with time_machine.travel(timezone.now() + timedelta(days=29)):
            assert webhook_history_prune() == 0
        with time_machine.travel(timezone.now() + timedelta(days=31)):
            assert webhook_history_prune() == 1
        assert not WebhookDelivery.objects.filter(pk=delivery.pk).exists()
