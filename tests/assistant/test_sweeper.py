"""A stored customer message is never lost: a worker answers what the web process left waiting."""

from __future__ import annotations

import uuid

from django_tenants.utils import schema_context

from chat.assistant.tasks import answer_pending_messages
from chat.conversations import services
from chat.conversations.models import AnswerState, Message
from config.redis import redis_client
from tests.support.processes import Worker, child_env, wait_until


def test_worker_answers_a_message_left_unanswered(demo_copies, settings) -> None:
    redis_client().flushdb()
    cafe = demo_copies["cafe"]
    with schema_context(cafe.schema_name):
        contact = services.contact_get_or_create(visitor_id=f"v-{uuid.uuid4().hex}")
        conversation = services.conversation_start(contact=contact)
        # Stored, then the web process "died" before answering.
        waiting = services.message_receive(conversation=conversation, text="can I bring my dog?").message
        assert waiting.answer_state == AnswerState.PENDING
    worker = Worker(env=child_env(ASSISTANT_SWEEP_GRACE_SECONDS="0", OPENAI_API_KEY=""))
    try:
        with schema_context(cafe.schema_name):
            answer_pending_messages.delay()

        def answered() -> Message | None:
            with schema_context(cafe.schema_name):
                return Message.objects.filter(in_reply_to_id=waiting.pk, author="assistant").first()

        reply = wait_until(answered, timeout=60, message="the sweeper's answer")
        assert "dog" in reply.text.lower()
        with schema_context(cafe.schema_name):
            assert Message.objects.get(pk=waiting.pk).answer_state == AnswerState.ANSWERED
    finally:
        worker.stop()
