"""What the outbox of the current tenant holds, for operators."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from config.outbox.models import OutboxMessage


@dataclass(frozen=True)
class OutboxCounts:
    not_queued: int  # Redis refused it (or was down): the relay's next pass sends it
    under_way: int  # queued (or retrying) within OUTBOX_RELAY_TIMEOUT_SECONDS
    overdue: int  # queued longer ago than that without finishing: the relay sends it again
    given_up: int  # dead-lettered: see `manage.py deadletters`
    done: int  # finished, kept OUTBOX_KEEP_DONE_DAYS


def outbox_counts() -> OutboxCounts:
    stale = timezone.now() - timedelta(seconds=settings.OUTBOX_RELAY_TIMEOUT_SECONDS)
    open_rows = Q(done_at__isnull=True, given_up_at__isnull=True)
    counts = OutboxMessage.objects.aggregate(
        not_queued=Count("pk", filter=open_rows & Q(queued_at__isnull=True)),
        under_way=Count("pk", filter=open_rows & Q(queued_at__gte=stale)),
        overdue=Count("pk", filter=open_rows & Q(queued_at__lt=stale)),
        given_up=Count("pk", filter=Q(done_at__isnull=True, given_up_at__isnull=False)),
        done=Count("pk", filter=Q(done_at__isnull=False)),
    )
    return OutboxCounts(**counts)
