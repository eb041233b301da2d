"""The core path every channel takes: a message received once per channel message id, answered,
stored, and delivered through the channel's adapter, live or later (chat.conversations.delivery)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from chat.assistant import engine
from chat.assistant.tasks import answer_pending_messages
from chat.conversations import delivery, services
from chat.conversations.models import AnswerState, Author, Channel, ConversationStatus, Message


@pytest.fixture(autouse=True)
def _offline(settings: Any) -> None:
    settings.OPENAI_API_KEY = ""
    settings.ASSISTANT_CACHE_ENABLED = False
    settings.ASSISTANT_SWEEP_GRACE_SECONDS = 0


class RecordingDelivery:
    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    async def started(self) -> None:
        self.seen.append(("started", None))

    async def delta(self, text: str) -> None:
        self.seen.append(("delta", text))

    async def finished(self, stored_message: dict[str, Any] | None) -> None:
        self.seen.append(("finished", stored_message))


@pytest.fixture
def messaging_sent() -> Iterator[list[dict[str, Any]]]:
    """A messaging platform's stored-answer sender, as issue #22's channel will register one."""
    sent: list[dict[str, Any]] = []

    async def send(*, schema_name: str, conversation_id: int, customer_message_id: int,
                   stored_message: dict[str, Any] | None) -> None:
        sent.append({"schema": schema_name, "conversation_id": conversation_id, "reply_to": customer_message_id,
                     "message": stored_message})

    delivery.stored_answer_sender_register(channel=Channel.MESSAGING, sender=send)
    yield sent
    delivery._stored_answer_senders.pop(Channel.MESSAGING, None)


def _received(schema: str, text: str, *, channel: str = Channel.WIDGET,
              channel_message_id: str | None = None) -> services.ReceivedMessage:
    with schema_context(schema):
        contact = services.contact_get_or_create(visitor_id=f"v-{uuid.uuid4().hex}")
        conversation = services.conversation_start(contact=contact, channel=channel)
        return services.message_receive(conversation=conversation, text=text, channel_message_id=channel_message_id)


def test_a_live_answer_streams_then_ends_with_the_stored_answer(demo_copies: Any) -> None:
    schema = demo_copies["cafe"].schema_name
    received = _received(schema, "can I bring my dog?")
    live = RecordingDelivery()
    result = engine.run_then_close_llm_clients(
        engine.answer_deliver(schema_name=schema, message_id=received.message.pk, delivery=live))
    kinds = [kind for kind, _ in live.seen]
    assert kinds[0] == "started" and kinds[-1] == "finished" and kinds.count("delta") >= 1
    streamed = "".join(text for kind, text in live.seen if kind == "delta")
    stored = live.seen[-1][1]
    assert result is not None and stored["id"] == result.message_id and stored["text"] == streamed == result.text
    assert "dog" in streamed.lower()


def test_a_person_owning_the_conversation_gets_no_answer_and_the_channel_is_told_none(demo_copies: Any) -> None:
    schema = demo_copies["cafe"].schema_name
    received = _received(schema, "can I bring my dog?")
    with schema_context(schema):
        conversation = received.message.conversation
        services.conversation_transition(conversation=conversation, to_status=ConversationStatus.HUMAN,
                                         actor="agent@example.test")
    live = RecordingDelivery()
    engine.run_then_close_llm_clients(
        engine.answer_deliver(schema_name=schema, message_id=received.message.pk, delivery=live))
    with schema_context(schema):
        answers = Message.objects.filter(in_reply_to_id=received.message.pk, author=Author.ASSISTANT).count()
    assert live.seen == [("started", None), ("finished", None)] and answers == 0


def test_a_failed_answer_is_cancelled_on_the_channel_and_left_for_the_sweeper(
        demo_copies: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    schema = demo_copies["cafe"].schema_name
    received = _received(schema, "can I bring my dog?")

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(engine, "turn_load", broken)
    live = RecordingDelivery()
    result = engine.run_then_close_llm_clients(
        engine.answer_deliver(schema_name=schema, message_id=received.message.pk, delivery=live))
    with schema_context(schema):
        state = Message.objects.get(pk=received.message.pk).answer_state
    assert result is None and live.seen == [("started", None), ("finished", None)]
    assert state == AnswerState.PENDING


def test_the_sweeper_answers_a_messaging_channels_message_through_that_channels_sender(
        demo_copies: Any, messaging_sent: list[dict[str, Any]]) -> None:
    schema = demo_copies["cafe"].schema_name
    # A platform re-sends a webhook it thinks was lost: the same platform message id is stored once.
    received = _received(schema, "can I bring my dog?", channel=Channel.MESSAGING, channel_message_id="wamid.1")
    with schema_context(schema):
        again = services.message_receive(conversation=received.message.conversation, text="can I bring my dog?",
                                         channel_message_id="wamid.1")
        Message.objects.filter(pk=received.message.pk).update(created=timezone.now())
        # The sweep's own work, in the tenant's schema (the task's wrapper only sets the schema).
        answered = answer_pending_messages.run()
        reply = Message.objects.get(in_reply_to_id=received.message.pk, author=Author.ASSISTANT)
    assert not again.created and again.message.pk == received.message.pk
    assert answered >= 1
    sent = [entry for entry in messaging_sent if entry["reply_to"] == received.message.pk]
    assert len(sent) == 1 and sent[0]["message"]["id"] == reply.pk and sent[0]["schema"] == schema
    assert sent[0]["conversation_id"] == received.message.conversation_id and "dog" in reply.text.lower()


def test_a_later_answer_on_a_channel_with_no_sender_is_stored_and_sent_nowhere(
        demo_copies: Any, messaging_sent: list[dict[str, Any]]) -> None:
    schema = demo_copies["cafe"].schema_name
    received = _received(schema, "can I bring my dog?", channel=Channel.PLAYGROUND)
    result = engine.answer_deliver_later(schema_name=schema, message_id=received.message.pk,
                                         conversation_id=received.message.conversation_id,
                                         channel=Channel.PLAYGROUND)
    assert result is not None and result.message_id is not None and messaging_sent == []
