"""The sweeper: a customer message the web process never answered (it died, say) is answered here,
and the answer is pushed to the customer's widget as a streamed one is."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from chat.conversations.models import AnswerState, Author, Message
from config.celery import Queue, tenant_task

logger = logging.getLogger(__name__)


@tenant_task(queue=Queue.CRITICAL)
def answer_pending_messages() -> int:
    """Answer customer messages still waiting after the grace period; safe to run twice at once."""
    from chat.assistant.engine import answer_customer_message_sync
    from chat.widget.streaming import answer_outcome_publish

    cutoff = timezone.now() - timedelta(seconds=settings.ASSISTANT_SWEEP_GRACE_SECONDS)
    pending = list(Message.objects.filter(author=Author.CUSTOMER, answer_state=AnswerState.PENDING,
                                          created__lte=cutoff).order_by("created")
                   .values_list("pk", "conversation_id")[:50])
    for message_id, conversation_id in pending:
        # The engine stores at most one answer per message, so a race with a live answer is harmless.
        result = answer_customer_message_sync(schema_name=connection.schema_name, message_id=message_id)
        # Stored and committed: a widget still open on it (on any web process) is told now, not at
        # its next reconnect; told twice (a live answer won the race), a socket passes it on once.
        answer_outcome_publish(schema_name=connection.schema_name, conversation_id=conversation_id,
                               customer_message_id=message_id,
                               stored_message=result.stored_message if result.replied else None)
    if pending:
        logger.info("answered %s message(s) left waiting", len(pending))
    return len(pending)


# Owner e-mails about the plan's usage (80% and 100%) are sent by a task that lives with the ledger.
from chat.assistant.usage import usage_notice_email_send  # noqa: E402,F401
