"""The core's writes (chat.conversations.services): a customer's message received once per channel
message id into a conversation that may or may not be the assistant's, and the assistant's answer
stored once, with its usage entry in the public ledger, its low-confidence streak and handoff."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from chat.conversations import services
from chat.conversations.models import (
    AnswerState,
    Author,
    Channel,
    Conversation,
    ConversationEvent,
    ConversationStatus,
    Message,
)
from tenants.models import UsageEntry


def _answer(text: str = "We open at nine.", **changes: Any) -> services.AnswerToStore:
    fields: dict[str, Any] = dict(text=text, mode="llm", sources=[{"title": "Hours", "url": "/hours"}],
                                  tool_calls=[{"name": "opening_hours"}], quick_replies=["Talk to a person"],
                                  confidence=0.9, low_confidence=False, handoff_reason=None, model="gpt-test",
                                  tokens_in=120, tokens_out=30, cost_minor=2, latency_ms=800, first_token_ms=510)
    fields.update(changes)
    return services.AnswerToStore(**fields)


def _first_message(visitor: str, text: str = "are you open on sunday?", channel_message_id: str | None = "c1",
                   channel: str = Channel.WIDGET) -> tuple[Conversation, services.ReceivedMessage]:
    contact = services.contact_get_or_create(visitor_id=visitor)
    conversation = services.conversation_start(contact=contact, channel=channel)
    return conversation, services.message_receive(conversation=conversation, text=text,
                                                  channel_message_id=channel_message_id)


def test_a_first_message_starts_its_conversation_with_an_event_and_waits_for_an_answer(tenant_a: Any) -> None:
    with schema_context(tenant_a.schema_name):
        conversation, received = _first_message("v-first", text="  are you open on sunday?  ")
        stored = Conversation.objects.get(pk=conversation.pk)
        message = Message.objects.get(pk=received.message.pk)
        events = list(ConversationEvent.objects.filter(conversation=stored).values_list("kind", "to_status", "actor"))
    assert received.created and received.needs_answer
    assert stored.status == ConversationStatus.BOT and stored.channel == "widget"
    assert stored.created is not None and stored.last_message_at == message.created
    assert (message.author, message.text, message.client_id) == (Author.CUSTOMER, "are you open on sunday?", "c1")
    assert message.answer_state == AnswerState.PENDING and message.sources == [] and message.quick_replies == []
    assert events == [("created", ConversationStatus.BOT, "customer")]


def test_next_messages_are_stored_once_and_follow_the_conversations_owner(tenant_a: Any) -> None:
    with schema_context(tenant_a.schema_name):
        conversation, _ = _first_message("v-next")
        again = services.message_receive(conversation=conversation, text="and monday?",
                                                      channel_message_id="c2")
        resent = services.message_receive(conversation=conversation, text="and monday?",
                                                       channel_message_id="c2")
        # Inside a caller's transaction a re-send must not break that transaction.
        with transaction.atomic():
            inside = services.message_receive(conversation=conversation, text="and monday?",
                                                           channel_message_id="c2")
            assert Message.objects.filter(conversation=conversation).count() == 2
        services.conversation_transition(conversation=conversation, to_status=ConversationStatus.HUMAN, actor="a@b.c")
        to_person = services.message_receive(conversation=conversation, text="hello?")
        services.conversation_transition(conversation=conversation, to_status=ConversationStatus.RESOLVED,
                                         actor="a@b.c")
        reopened = services.message_receive(conversation=conversation, text="one more thing")
        status = Conversation.objects.get(pk=conversation.pk).status
        last_message_at = Conversation.objects.get(pk=conversation.pk).last_message_at
        with pytest.raises(Conversation.DoesNotExist):
            services.message_receive(conversation=Conversation(pk=conversation.pk + 10_000), text="hi")
    assert again.created and again.needs_answer and again.message.answer_state == AnswerState.PENDING
    assert not resent.created and resent.message.pk == again.message.pk
    assert not inside.created and inside.message.pk == again.message.pk
    assert to_person.created and not to_person.needs_answer
    assert reopened.created and reopened.needs_answer and status == ConversationStatus.BOT
    assert last_message_at == reopened.message.created


def test_an_answer_is_stored_once_counted_once_and_marks_the_question_answered(tenant_a: Any, tenant_b: Any) -> None:
    with schema_context(tenant_a.schema_name):
        conversation, received = _first_message("v-answer")
        question = received.message
        finished = timezone.now()
        first = services.assistant_answer_store(customer_message_id=question.pk, count_usage=True,
                                                answer=_answer(finished_at=finished, language="de",
                                                               pending_order_number="A-1001",
                                                               failed_verifications=1))
        retry = services.assistant_answer_store(customer_message_id=question.pk, count_usage=True,
                                                answer=_answer("Another text"))
        stored = Message.objects.get(pk=first.message.pk)
        conversation.refresh_from_db()
        question.refresh_from_db()
    entries = list(UsageEntry.objects.filter(tenant=tenant_a).values_list("kind", "tokens_in", "tokens_out",
                                                                          "cost_minor"))
    assert first.created and not first.handed_over and not retry.created and retry.message.pk == stored.pk
    assert (stored.author, stored.text, stored.in_reply_to_id, stored.created) == (
        Author.ASSISTANT, "We open at nine.", question.pk, finished)
    assert stored.sources == [{"title": "Hours", "url": "/hours"}] and stored.quick_replies == ["Talk to a person"]
    assert (stored.mode, stored.model, stored.tokens_in, stored.first_token_ms) == ("llm", "gpt-test", 120, 510)
    assert question.answer_state == AnswerState.ANSWERED
    assert (conversation.language, conversation.pending_order_number, conversation.failed_verifications) == (
        "de", "A-1001", 1)
    assert conversation.last_message_at == finished and conversation.low_confidence_streak == 0
    assert entries == [(UsageEntry.Kind.MESSAGE, 120, 30, 2)]
    assert not UsageEntry.objects.filter(tenant=tenant_b).exists()


def test_an_answer_after_a_takeover_is_dropped_and_a_late_one_keeps_the_last_message_time(tenant_a: Any) -> None:
    with schema_context(tenant_a.schema_name):
        taken, received = _first_message("v-taken")
        services.conversation_transition(conversation=taken, to_status=ConversationStatus.HUMAN, actor="a@b.c")
        dropped = services.assistant_answer_store(customer_message_id=received.message.pk, count_usage=True,
                                                  answer=_answer())
        question = Message.objects.get(pk=received.message.pk)
        answers_in_taken = Message.objects.filter(conversation=taken, author=Author.ASSISTANT).count()

        late, first_question = _first_message("v-late")
        streamed_until = timezone.now() - timedelta(seconds=5)
        next_question = services.message_receive(conversation=late, text="and another thing")
        services.assistant_answer_store(customer_message_id=first_question.message.pk,
                                        answer=_answer(finished_at=streamed_until))
        late.refresh_from_db()
        with pytest.raises(Conversation.DoesNotExist):  # no such customer message
            services.assistant_answer_store(customer_message_id=first_question.message.pk + 10_000, answer=_answer())
    assert dropped.message is None and not dropped.created and answers_in_taken == 0
    assert question.answer_state == AnswerState.NOT_NEEDED
    assert not UsageEntry.objects.filter(tenant=tenant_a).exists()
    assert late.last_message_at == next_question.message.created


def test_a_second_unsure_answer_still_asks_for_a_person(tenant_a: Any) -> None:
    with schema_context(tenant_a.schema_name):
        conversation, received = _first_message("v-unsure")
        first = services.assistant_answer_store(customer_message_id=received.message.pk,
                                                answer=_answer(low_confidence=True))
        second_question = services.message_receive(conversation=conversation, text="hmm?")
        second = services.assistant_answer_store(customer_message_id=second_question.message.pk,
                                                 answer=_answer(low_confidence=True))
        conversation.refresh_from_db()
    assert first.created and not first.handed_over
    assert second.created and second.handed_over and conversation.status == ConversationStatus.NEEDS_HUMAN


def test_the_callers_conversation_shows_what_its_message_committed(tenant_a: Any) -> None:
    with schema_context(tenant_a.schema_name):
        conversation, _ = _first_message("v-instance")
        services.conversation_transition(conversation=conversation, to_status=ConversationStatus.RESOLVED,
                                         actor="a@b.c")
        conversation.refresh_from_db()
        reopening = services.message_receive(conversation=conversation, text="it broke again")
        reopened = (conversation.status, conversation.resolved_at, conversation.last_message_at)
        following = services.message_receive(conversation=conversation, text="hello?")
        followed = (conversation.status, conversation.last_message_at)
    assert reopened == (ConversationStatus.BOT, None, reopening.message.created)
    assert followed == (ConversationStatus.BOT, following.message.created)


def test_a_practice_channels_answer_is_counted_apart_from_the_plan(tenant_a: Any) -> None:
    with schema_context(tenant_a.schema_name):
        _, received = _first_message("v-practice", channel=Channel.PLAYGROUND, channel_message_id=None)
        services.assistant_answer_store(customer_message_id=received.message.pk, count_usage=True, answer=_answer())
    entries = list(UsageEntry.objects.filter(tenant=tenant_a).values_list("kind", "tokens_in"))
    assert entries == [(UsageEntry.Kind.PLAYGROUND, 120)]


def test_the_same_message_sent_twice_at_once_is_stored_once(tenant_a: Any) -> None:
    """Two processes receiving the same channel message id together: the unique constraint keeps one."""
    import threading

    from django.db import connection

    with schema_context(tenant_a.schema_name):
        conversation, _ = _first_message("v-twice")
    results: list[services.ReceivedMessage] = []
    barrier = threading.Barrier(2)

    def receive() -> None:
        try:
            with schema_context(tenant_a.schema_name):
                barrier.wait(timeout=10)
                results.append(services.message_receive(conversation=Conversation.objects.get(pk=conversation.pk),
                                                        text="are you there?", channel_message_id="wa-123"))
        finally:
            connection.close()

    threads = [threading.Thread(target=receive) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    with schema_context(tenant_a.schema_name):
        stored = list(Message.objects.filter(conversation=conversation, client_id="wa-123").values_list("pk", flat=True))
    assert len(results) == 2 and sorted(result.created for result in results) == [False, True]
    assert {result.message.pk for result in results} == set(stored) and len(stored) == 1
