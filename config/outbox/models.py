"""One table per tenant schema: each row promises that one tenant task runs to its end.

A service that stores a change and needs a task for it (apply a shop webhook, index an imported
source, e-mail an invitation) writes a row here in the same transaction. The row, not the broker
message, is the promise: Redis may be down at commit, or lose its queue, and the relay sends the task
again until the task reports it finished or gave up (its dead letter was stored).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class OutboxMessage(models.Model):
    task_name = models.CharField(max_length=200, help_text="The Celery task's registered name.")
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    key = models.CharField(max_length=200, unique=True, null=True, blank=True,
                           help_text="What the task is for (e.g. a webhook delivery), to find it again.")
    created = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(null=True, blank=True,
                                     help_text="Last handed to the broker (or retried); empty: not queued.")
    sends = models.PositiveIntegerField(default=0, help_text="How many times it was handed to the broker.")
    done_at = models.DateTimeField(null=True, blank=True)
    given_up_at = models.DateTimeField(null=True, blank=True, help_text="Its task went to the dead-letter store.")
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            # The relay's question, "what is promised and not finished", reads only the open rows.
            models.Index(fields=["queued_at"], name="outbox_open_by_queued",
                         condition=Q(done_at__isnull=True, given_up_at__isnull=True)),
            # Finished rows are forgotten after OUTBOX_KEEP_DONE_DAYS (by the relay).
            models.Index(fields=["done_at"], name="outbox_done", condition=Q(done_at__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.task_name} {self.args} ({self.key or 'no key'})"
