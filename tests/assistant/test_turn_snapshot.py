"""What the assistant reads for one turn, in one statement: the message, its conversation, the history
the model sees, the business profile, whether it was answered, and the knowledge version."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone
from django_tenants.utils import schema_context

from chat.assistant.engine import HISTORY_MESSAGES, turn_load
from chat.assistant.selectors import turn_snapshot
from chat.conversations import services
from chat.conversations.models import Author, BusinessProfile, ConversationStatus, Message
from config.content_version import content_version_get


def _conversation(visitor: str = "visitor-1") -> Any:
    contact = services.contact_get_or_create(visitor_id=visitor)
    return services.conversation_start(contact=contact)


def _answer(message: Message, text: str) -> Message:
    return Message.objects.create(conversation=message.conversation, author=Author.ASSISTANT, text=text,
                                  in_reply_to=message)


def _agent() -> Any:
    # Users live in the tenant's schema: call inside schema_context.
    return get_user_model().objects.create_user(username=f"agent-{uuid.uuid4().hex[:8]}@shop.test", password="x")


def test_a_long_conversation_gives_the_model_its_latest_visible_messages_oldest_first(tenant_a: Any) -> None:
    with schema_context(tenant_a.schema_name):
        agent = _agent()
        conversation = _conversation()
        for turn in range(10):
            asked = services.message_receive(conversation=conversation, text=f"question {turn}").message
            _answer(asked, f"answer {turn}")
        services.agent_message_send(conversation=conversation, agent=agent, text="note for colleagues only",
                                    internal=True)
        services.agent_message_send(conversation=conversation, agent=agent, text="I'm Sam from the team")
        current = services.message_receive(conversation=conversation, text="and one more thing").message

        snapshot = turn_snapshot(message_id=current.pk, history=HISTORY_MESSAGES)
        turn = turn_load(tenant_a.schema_name, current.pk)

    assert snapshot is not None
    assert len(snapshot.recent) == HISTORY_MESSAGES
    assert snapshot.recent[-1] == (Author.AGENT, "I'm Sam from the team")
    assert snapshot.recent[:2] == [(Author.ASSISTANT, "answer 4"), (Author.CUSTOMER, "question 5")]
    assert all("colleagues" not in text for _, text in snapshot.recent)
    assert snapshot.answered_id is None and not snapshot.is_first_question
    assert turn.history[-1] == {"role": "assistant", "content": "(A team member wrote) I'm Sam from the team"}
    assert turn.history[-2] == {"role": "assistant", "content": "answer 9"}
    assert turn.customer_texts[-2:] == ["question 9", "and one more thing"]
    # Only a first question may be answered from the cache.
    assert turn.is_first_question is False


def test_a_first_question_carries_the_current_content_version(tenant_a: Any) -> None:
    schema = tenant_a.schema_name
    with schema_context(schema):
        services.business_profile_get()  # the tenant's profile row exists
        first = services.message_receive(conversation=_conversation(), text="Do you ship to Spain?").message
        turn = turn_load(schema, first.pk)
        expected = content_version_get()
    assert turn.is_first_question is True
    assert turn.history == [] and turn.customer_texts == ["Do you ship to Spain?"]
    assert turn.content_version == expected is not None


def test_an_order_verification_in_progress_is_never_read_for_the_cache(tenant_a: Any) -> None:
    schema = tenant_a.schema_name
    with schema_context(schema):
        conversation = _conversation()
        conversation.pending_order_number = "TL-10411"
        conversation.save(update_fields=["pending_order_number"])
        first = services.message_receive(conversation=conversation, text="it's oliver@example.com").message
        turn = turn_load(schema, first.pk)
    assert turn.is_first_question is True
    assert turn.state.pending_order_number == "TL-10411"


def test_an_answered_message_and_a_taken_over_conversation_are_seen(tenant_a: Any) -> None:
    schema = tenant_a.schema_name
    with schema_context(schema):
        agent = _agent()
        conversation = _conversation()
        asked = services.message_receive(conversation=conversation, text="hello").message
        answer = _answer(asked, "Hi! How can I help?")
        answered_turn = turn_load(schema, asked.pk)
        services.conversation_take_over(conversation=conversation, agent=agent)
        later = services.message_receive(conversation=conversation, text="are you a person?").message
        taken_over_turn = turn_load(schema, later.pk)
    assert answered_turn.already_answered is not None
    assert answered_turn.already_answered.pk == answer.pk
    assert answered_turn.may_reply is True
    assert taken_over_turn.status == ConversationStatus.HUMAN and taken_over_turn.may_reply is False
    assert taken_over_turn.already_answered is None


def test_only_a_customer_message_of_this_tenant_is_a_turn(tenant_a: Any, tenant_b: Any) -> None:
    with schema_context(tenant_a.schema_name):
        agent = _agent()
        conversation = _conversation()
        mine = services.message_receive(conversation=conversation, text="my own question").message
        from_agent = services.agent_message_send(conversation=conversation, agent=agent, text="an agent's words")
        assert turn_snapshot(message_id=from_agent.pk, history=HISTORY_MESSAGES) is None
    with schema_context(tenant_b.schema_name):
        # Ids are per schema: the same number in another tenant is another message, or none.
        other = turn_snapshot(message_id=mine.pk, history=HISTORY_MESSAGES)
        assert other is None or other.text != "my own question"


def test_a_tenant_without_a_profile_row_gets_one_and_is_answered(tenant_a: Any) -> None:
    schema = tenant_a.schema_name
    with schema_context(schema):
        BusinessProfile.objects.all().delete()
        asked = services.message_receive(conversation=_conversation(), text="hi").message
        turn = turn_load(schema, asked.pk)
        profile = BusinessProfile.objects.get(pk=1)
        version_after = content_version_get()
    assert turn.state.business_name == profile.name and turn.profile_tone == profile.tone
    # Creating the row is a change: an answer made without it is never found once it exists.
    assert turn.content_version != version_after


def test_an_answer_stored_after_the_customers_next_message_keeps_its_place(tenant_a: Any) -> None:
    """Under load an answer is stored a moment after it streamed; the customer may have written again."""
    schema = tenant_a.schema_name
    with schema_context(schema):
        conversation = _conversation()
        first = services.message_receive(conversation=conversation, text="hello").message
        streamed_until = timezone.now()
        second = services.message_receive(conversation=conversation, text="and another thing").message
        services.assistant_answer_store(customer_message_id=first.pk, answer=services.AnswerToStore(
            text="Hi! How can I help?", mode="offline", sources=[], tool_calls=[], quick_replies=[],
            confidence=None, low_confidence=False, handoff_reason=None, finished_at=streamed_until))
        transcript = list(Message.objects.filter(conversation=conversation).order_by("created", "id")
                          .values_list("text", flat=True))
        conversation.refresh_from_db()
        turn = turn_load(schema, second.pk)
    assert transcript == ["hello", "Hi! How can I help?", "and another thing"]
    assert conversation.last_message_at == second.created
    assert turn.history == [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "Hi! How can I help?"}]
