"""Messaging tasks, on `high`: answer a stored customer message, send a reply to the platform."""

from __future__ import annotations

import logging

from django.db import connection

from chat.assistant.engine import answer_deliver_later
from chat.conversations.models import Conversation
from chat.messaging.services import outbound_deliver, typing_show
from config.celery import Queue, tenant_task

logger = logging.getLogger(__name__)


@tenant_task(queue=Queue.HIGH)
def message_answer(message_id: int, conversation_id: int) -> None:
    """The assistant's answer to a customer's message from a platform; the stored answer goes out
    through the channel's sender (services.stored_answer_send). A message answered already (the
    sweeper was first) is not answered twice: the core stores one answer per question."""
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None:
        logger.info("message %s: conversation %s is gone", message_id, conversation_id)
        return
    typing_show(conversation_id=conversation_id)
    answer_deliver_later(schema_name=connection.schema_name, message_id=message_id, conversation_id=conversation_id,
                         channel=conversation.channel)


@tenant_task(queue=Queue.HIGH, bind=True)
def outbound_send(self, outbound_id: int) -> None:  # type: ignore[no-untyped-def]
    """Send a reply (and any earlier one of its conversation still queued); retried with backoff,
    and on the last attempt the team is told and the task's dead letter is stored."""
    outbound_deliver(outbound_id=outbound_id, last_attempt=self.request.retries >= self.max_retries)
