"""The sweeper: a customer message nobody answered (the web process died, say) is answered here,
and the answer reaches the customer through its channel as any answer made away from them does."""

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
    """Answer customer messages still waiting after the grace period, from any channel, and deliver
    each answer through its conversation's channel; safe to run twice at once."""
    from chat.assistant.engine import answer_deliver_later

    cutoff = timezone.now() - timedelta(seconds=settings.ASSISTANT_SWEEP_GRACE_SECONDS)
    pending = list(Message.objects.filter(author=Author.CUSTOMER, answer_state=AnswerState.PENDING,
                                          created__lte=cutoff).order_by("created")
                   .values_list("pk", "conversation_id", "conversation__channel")[:50])
    for message_id, conversation_id, channel in pending:
        # The engine stores at most one answer per message, so a race with a live answer is harmless;
        # told twice (a live answer won the race), a widget socket passes the answer on once.
        answer_deliver_later(schema_name=connection.schema_name, message_id=message_id,
                             conversation_id=conversation_id, channel=channel)
    if pending:
        logger.info("answered %s message(s) left waiting", len(pending))
    return len(pending)


# Owner e-mails about the plan's usage (80% and 100%) are sent by a task that lives with the ledger.
from chat.assistant.usage import usage_notice_email_send  # noqa: E402,F401
