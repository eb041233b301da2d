"""The outbox relay: what it sends again, what it leaves alone, what it forgets (this process's Redis)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from config.celery import app
from config.outbox.models import OutboxMessage
from config.outbox.services import OutboxOnPublicSchema, outbox_relay, outbox_resend_unless_under_way, outbox_send
from config.redis import redis_client
from tests.support.worker_probe import tenant_worker_probe


@pytest.fixture(autouse=True)
def _empty_queues() -> None:
    redis_client().flushdb()


def queued_on_low() -> int:
    return int(app.connection().default_channel.client.llen("low"))


def row(marker: str, **fields: object) -> OutboxMessage:
    return OutboxMessage.objects.create(task_name=tenant_worker_probe.name, args=[marker], **fields)


def test_the_relay_sends_what_was_never_queued_or_is_overdue_and_nothing_else(tenant_a, settings) -> None:
    settings.OUTBOX_RELAY_TIMEOUT_SECONDS = 600
    settings.OUTBOX_KEEP_DONE_DAYS = 7
    now = timezone.now()
    with schema_context(tenant_a.schema_name):
        never_queued = row("never-queued", queued_at=None, sends=1, last_error="not queued: OperationalError")
        overdue = row("overdue", queued_at=now - timedelta(seconds=601), sends=1)
        under_way = row("under-way", queued_at=now - timedelta(seconds=30), sends=1)
        done = row("done", queued_at=now - timedelta(hours=1), done_at=now - timedelta(minutes=59), sends=1)
        given_up = row("given-up", queued_at=now - timedelta(hours=1), given_up_at=now, sends=3)
        long_done = row("long-done", queued_at=now - timedelta(days=9), done_at=now - timedelta(days=8), sends=1)

        assert outbox_relay() == 2
        assert queued_on_low() == 2
        for sent in (never_queued, overdue):
            sent.refresh_from_db()
            assert sent.sends == 2 and sent.queued_at >= now
        for left in (under_way, done, given_up):
            assert OutboxMessage.objects.get(pk=left.pk).sends == left.sends
        assert not OutboxMessage.objects.filter(pk=long_done.pk).exists()

        assert outbox_relay() == 0  # just sent: under way now
        assert queued_on_low() == 2


def test_a_senders_retry_sends_again_only_what_is_not_under_way(tenant_a) -> None:
    with schema_context(tenant_a.schema_name):
        with transaction.atomic():
            outbox_send(task=tenant_worker_probe, args=["retried"], key="probe:retried")
        assert queued_on_low() == 1
        assert not outbox_resend_unless_under_way(key="probe:retried")  # queued just now
        OutboxMessage.objects.filter(key="probe:retried").update(queued_at=None)  # as when Redis refused it
        assert outbox_resend_unless_under_way(key="probe:retried")
        assert queued_on_low() == 2
        OutboxMessage.objects.filter(key="probe:retried").update(done_at=timezone.now())
        assert not outbox_resend_unless_under_way(key="probe:retried")
        assert not outbox_resend_unless_under_way(key="probe:unknown")


def test_nothing_is_promised_on_the_public_schema() -> None:
    with pytest.raises(OutboxOnPublicSchema):
        outbox_send(task=tenant_worker_probe, args=["public"])


def test_operators_see_what_each_tenant_owes_and_can_relay_by_hand(tenant_a) -> None:
    import io

    from django.core.management import call_command

    with schema_context(tenant_a.schema_name):
        row("not-queued", queued_at=None)
        row("under-way", queued_at=timezone.now())
        row("gave-up", queued_at=timezone.now(), given_up_at=timezone.now())
    status = io.StringIO()
    call_command("outbox", "status", "--tenant", tenant_a.schema_name, stdout=status)
    assert status.getvalue().strip() == (f"{tenant_a.schema_name}: 1 not queued, 1 under way, 0 overdue, "
                                         "1 given up, 0 done")
    relayed = io.StringIO()
    call_command("outbox", "relay", "--tenant", tenant_a.schema_name, stdout=relayed)
    assert relayed.getvalue().strip() == f"{tenant_a.schema_name}: 1 sent"
    assert queued_on_low() == 1
