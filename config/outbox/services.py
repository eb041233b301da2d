"""Send tenant tasks through the outbox, relay what was never queued or never finished, note outcomes.

`outbox_send` is called inside the transaction that stores a change: the row commits with it or not
at all, and the task is handed to the broker after the commit. If that fails (Redis down), the row
stays and says so (`queued_at` empty); the caller's work is durably stored, so it does not fail.
`outbox_relay` (beat, each tenant) hands the broker again every row never queued, or queued longer
ago than `OUTBOX_RELAY_TIMEOUT_SECONDS` without finishing. Tasks are idempotent, so a second copy of
one still under way changes nothing: at-least-once sending, exactly-once effect.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from celery import Task
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context

from config.celery import OUTBOX_HEADER
from config.outbox.models import OutboxMessage

logger = logging.getLogger(__name__)

RELAY_BATCH = 500


class OutboxOnPublicSchema(RuntimeError):
    """An outbox row belongs to a tenant; the public schema has no outbox (a programming error)."""


def _tenant_schema() -> str:
    schema = getattr(connection, "schema_name", None)
    if not schema or schema == get_public_schema_name():
        raise OutboxOnPublicSchema("outbox_send needs a tenant's schema; the public schema has no outbox")
    return str(schema)


def outbox_send(*, task: Task, args: Sequence[Any] = (), kwargs: dict[str, Any] | None = None,
                key: str | None = None) -> OutboxMessage:
    """Promise `task(*args, **kwargs)` in the current transaction; it is handed to the broker after commit."""
    schema = _tenant_schema()
    message = OutboxMessage.objects.create(task_name=task.name, args=list(args), kwargs=dict(kwargs or {}), key=key,
                                           queued_at=timezone.now(), sends=1)
    transaction.on_commit(lambda: _publish([message], schema=schema), robust=True)
    return message


def outbox_send_many(*, task: Task, calls: Iterable[Sequence[Any]]) -> list[OutboxMessage]:
    """`outbox_send` for many calls of one task (a bulk import): one INSERT, sent in order after commit."""
    schema = _tenant_schema()
    now = timezone.now()
    messages = OutboxMessage.objects.bulk_create(
        OutboxMessage(task_name=task.name, args=list(args), kwargs={}, queued_at=now, sends=1) for args in calls)
    if messages:
        transaction.on_commit(lambda: _publish(messages, schema=schema), robust=True)
    return messages


def outbox_resend_unless_under_way(*, key: str) -> bool:
    """Send a promised task again unless it finished or was handed over less than the timeout ago.

    For a sender's retry of something already stored (a shop retrying a delivery it got a 500 for):
    True when it was sent again, now or after the current transaction commits.
    """
    schema = _tenant_schema()
    with transaction.atomic():
        message = OutboxMessage.objects.select_for_update().filter(key=key).first()
        if message is None or message.done_at is not None:
            return False
        if message.given_up_at is None and message.queued_at is not None and message.queued_at >= _stale_before():
            return False
        message.given_up_at = None
        message.queued_at = timezone.now()
        message.sends += 1
        message.save(update_fields=["given_up_at", "queued_at", "sends"])
        transaction.on_commit(lambda: _publish([message], schema=schema), robust=True)
    return True


def _stale_before() -> datetime:
    return timezone.now() - timedelta(seconds=settings.OUTBOX_RELAY_TIMEOUT_SECONDS)


def outbox_relay(*, limit: int = RELAY_BATCH) -> int:
    """Hand the broker again what was never queued or not finished in time; returns how many were sent.

    Also forgets rows finished more than OUTBOX_KEEP_DONE_DAYS ago (given-up rows stay, beside their
    dead letters, until someone looks at them).
    """
    schema = _tenant_schema()
    OutboxMessage.objects.filter(
        done_at__lt=timezone.now() - timedelta(days=settings.OUTBOX_KEEP_DONE_DAYS)).delete()
    due = (Q(queued_at__isnull=True) | Q(queued_at__lt=_stale_before())) & Q(done_at__isnull=True,
                                                                             given_up_at__isnull=True)
    with transaction.atomic():
        # Claimed (skip_locked) and marked queued before sending, so two relays never send one row twice.
        ids = list(OutboxMessage.objects.select_for_update(skip_locked=True).filter(due)
                   .order_by("id").values_list("pk", flat=True)[:limit])
        OutboxMessage.objects.filter(pk__in=ids).update(queued_at=timezone.now(), sends=F("sends") + 1)
    if not ids:
        return 0
    sent = _publish(list(OutboxMessage.objects.filter(pk__in=ids).order_by("id")), schema=schema)
    logger.warning("outbox relay sent %d of %d task(s) again (never queued or not finished in %ss)", sent,
                   len(ids), settings.OUTBOX_RELAY_TIMEOUT_SECONDS)
    return sent


def _publish(messages: Iterable[OutboxMessage], *, schema: str) -> int:
    """Hand each message's task to the broker; on the first failure the rest stay marked not queued."""
    from config.celery import app

    pending = list(messages)
    with schema_context(schema):
        for index, message in enumerate(pending):
            try:
                app.tasks[message.task_name].apply_async(args=message.args, kwargs=message.kwargs,
                                                         headers={OUTBOX_HEADER: message.pk})
            except Exception as exc:
                # The broker is unreachable: the rows are the promise; the relay sends them when it is back.
                logger.warning("outbox: could not queue %s (%d waiting): %s", message.task_name,
                               len(pending) - index, exc)
                OutboxMessage.objects.filter(pk__in=[m.pk for m in pending[index:]], done_at__isnull=True).update(
                    queued_at=None, last_error=f"not queued: {type(exc).__name__}: {exc}"[:300])
                return index
    return len(pending)


def outbox_note_done(*, message_id: int) -> None:
    """The task ran to its end (in the tenant's schema)."""
    OutboxMessage.objects.filter(pk=message_id, done_at__isnull=True).update(done_at=timezone.now(), last_error="")


def outbox_note_retrying(*, schema_name: str, message_id: int, error: str) -> None:
    """The task failed and queued its own retry: it is under way, the relay leaves it alone for a while."""
    with schema_context(schema_name):
        OutboxMessage.objects.filter(pk=message_id, done_at__isnull=True).update(
            queued_at=timezone.now(), last_error=error[:300])


def outbox_note_given_up(*, schema_name: str, message_id: int, error: str) -> None:
    """The task used up its retries and went to the dead-letter store: the relay stops sending it."""
    with schema_context(schema_name):
        OutboxMessage.objects.filter(pk=message_id, done_at__isnull=True).update(
            given_up_at=timezone.now(), last_error=error[:300])
