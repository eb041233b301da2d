"""The event contract (chat.conversations.events): each event's shape on the wire, and who receives it.

Shapes are read from the channel layer as the services publish them (real Redis); audiences over
real sockets against a real server process.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from chat.analytics.models import AnalyticsDay
from chat.conversations import services as conversation_services
from chat.conversations.events import (
    AnswerDelta,
    AnswerEnded,
    AnswerStarted,
    Audience,
    ConversationChanged,
    Typing,
    channel_message,
    conversation_group,
    event_send,
    event_send_now,
    inbox_group,
)
from chat.conversations.models import Author, Channel, Contact, Conversation, Message
from chat.widget.services import widget_settings_get
from chat.widget.streaming import answer_ref_for, stored_answer_send
from tenants.models import Tenant
from tenants.services import ROLE_AGENT, ROLE_OWNER, tenant_user_create
from tests.dashboard.conftest import Business
from tests.support.owner_session import session_cookie_for, team_member_create
from tests.support.processes import WebServer, child_env
from tests.support.ws import WidgetSocket

MESSAGE_FIELDS = {"id": int, "author": str, "text": str, "client_id": (str, type(None)), "internal": bool,
                  "sources": list, "quick_replies": list, "products": list, "agent": (str, type(None)),
                  "agent_avatar": (str, type(None)), "created": str}


@pytest.fixture
def business(make_tenant: Callable[..., Any]) -> Business:
    created = make_tenant(name="Business A")
    tag = uuid.uuid4().hex[:6]
    with schema_context(created.tenant.schema_name):
        owner = tenant_user_create(email=f"owner-{tag}@example.test", password="owner-pass-1234", role=ROLE_OWNER,
                                   name="Olivia Owner")
        agent = tenant_user_create(email=f"agent-{tag}@example.test", password="agent-pass-1234", role=ROLE_AGENT,
                                   name="Anna Agent")
    return Business(tenant=created.tenant, domain=created.domain.domain, owner=owner, agent=agent)


def assert_shape(frame: dict[str, Any], shape: dict[str, Any]) -> None:
    """Exactly these fields, each of its type."""
    assert set(frame) == set(shape), frame
    for name, kind in shape.items():
        if isinstance(kind, dict):
            assert_shape(frame[name], kind)
        else:
            assert isinstance(frame[name], kind) and not (kind is int and isinstance(frame[name], bool)), (name, frame)


def published(schema_name: str, conversation_id: int | None, action: Callable[[], Any]) -> list[dict[str, Any]]:
    """The channel-layer messages published to the conversation's group and the tenant's inbox
    while `action` ran, each with the group it came through."""

    async def listen() -> list[dict[str, Any]]:
        layer = get_channel_layer()
        groups = [inbox_group(schema_name)] + ([conversation_group(schema_name, conversation_id)]
                                               if conversation_id else [])
        channels = {}
        for group in groups:
            channels[group] = await layer.new_channel()
            await layer.group_add(group, channels[group])
        await sync_to_async(action)()
        got = []
        for group, channel in channels.items():
            while True:
                try:
                    got.append({**await asyncio.wait_for(layer.receive(channel), timeout=1), "group": group})
                except TimeoutError:
                    break
        return got

    return async_to_sync(listen)()


def only(messages: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    return [message for message in messages if message["event"]["type"] == event_type]


def new_conversation(business: Business) -> Conversation:
    with schema_context(business.tenant.schema_name):
        contact = Contact.objects.create(visitor_id=uuid.uuid4().hex)
        return conversation_services.conversation_start(contact=contact)


def in_tenant(business: Business, action: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        with tenant_context(Tenant.objects.get(pk=business.tenant.pk)):
            return action()

    return run


# ----------------------------------------------------------------------------- shapes, one per event


def test_conversation_created_reaches_the_inbox_only(business: Business) -> None:
    schema = business.tenant.schema_name
    started: list[Conversation] = []

    def start() -> None:
        contact = Contact.objects.create(visitor_id=uuid.uuid4().hex)
        started.append(conversation_services.conversation_start(contact=contact, channel=Channel.WIDGET))

    [created] = only(published(schema, None, in_tenant(business, start)), "conversation.created")
    assert created["audience"] == ["agents"] and created["group"] == inbox_group(schema)
    assert_shape(created["event"], {"type": str, "conversation_id": int, "channel": str, "status": str})
    assert created["event"] == {"type": "conversation.created", "conversation_id": started[0].pk,
                                "channel": "widget", "status": "bot"}


def test_a_customer_message_reaches_the_customer_and_the_agents(business: Business) -> None:
    conversation = new_conversation(business)
    schema = business.tenant.schema_name
    sent = published(schema, conversation.pk, in_tenant(business, lambda: conversation_services.message_receive(
        conversation=conversation, text="Where is my order?", channel_message_id="c-1")))
    messages = only(sent, "message")
    assert {message["group"] for message in messages} == {conversation_group(schema, conversation.pk),
                                                          inbox_group(schema)}
    for message in messages:
        assert message["audience"] == ["agents", "customer"]
        assert_shape(message["event"], {"type": str, "conversation_id": int, "message": MESSAGE_FIELDS})
        assert message["event"]["message"]["text"] == "Where is my order?"


def test_an_internal_note_and_an_assistant_message_reach_the_agents_only(business: Business) -> None:
    conversation = new_conversation(business)
    schema = business.tenant.schema_name
    sent = published(schema, conversation.pk, in_tenant(business, lambda: conversation_services.agent_message_send(
        conversation=conversation, agent=business.agent, text="She called before", internal=True)))
    [note] = only(sent, "message")
    assert note["audience"] == ["agents"] and note["group"] == inbox_group(schema)
    assert note["event"]["message"]["internal"] is True and note["event"]["message"]["agent"] == "Anna Agent"
    assert_shape(note["event"], {"type": str, "conversation_id": int, "message": MESSAGE_FIELDS})

    def answer() -> None:
        question = conversation_services.message_receive(conversation=conversation, text="hello").message
        conversation_services.assistant_answer_store(customer_message_id=question.pk, answer=conversation_services
                                                     .AnswerToStore(text="Hi!", mode="offline", sources=[],
                                                                    tool_calls=[], quick_replies=[], confidence=0.9,
                                                                    low_confidence=False, handoff_reason=None))

    answers = [message for message in only(published(schema, conversation.pk, in_tenant(business, answer)), "message")
               if message["event"]["message"]["author"] == "assistant"]
    # The customer has the answer as its `answer.end`, never as a second copy.
    assert [(message["audience"], message["group"]) for message in answers] == [(["agents"], inbox_group(schema))]


def test_conversation_contact_names_no_personal_data(business: Business) -> None:
    conversation = new_conversation(business)
    with schema_context(business.tenant.schema_name):
        visitor_id = conversation.contact.visitor_id
    sent = published(business.tenant.schema_name, conversation.pk, in_tenant(
        business, lambda: conversation_services.contact_prechat_save(visitor_id=visitor_id, name="Sam",
                                                                     email="sam@example.test")))
    [contact] = only(sent, "conversation.contact")
    assert contact["audience"] == ["agents"] and contact["group"] == inbox_group(business.tenant.schema_name)
    assert contact["event"] == {"type": "conversation.contact", "conversation_id": conversation.pk}


def test_conversation_status_says_from_to_who_and_why(business: Business) -> None:
    conversation = new_conversation(business)
    schema = business.tenant.schema_name
    sent = published(schema, conversation.pk, in_tenant(business, lambda: conversation_services
                                                        .conversation_request_human(conversation=conversation,
                                                                                    reason="Asked for a person.")))
    statuses = only(sent, "conversation.status")
    assert {message["group"] for message in statuses} == {conversation_group(schema, conversation.pk),
                                                          inbox_group(schema)}
    for status in statuses:
        assert status["audience"] == ["agents", "customer"]
        assert_shape(status["event"], {"type": str, "conversation_id": int, "from": str, "to": str, "actor": str,
                                       "reason": str})
        assert (status["event"]["from"], status["event"]["to"]) == ("bot", "needs_human")


def test_conversation_assigned_reaches_the_agents_only(business: Business) -> None:
    conversation = new_conversation(business)
    sent = published(business.tenant.schema_name, conversation.pk, in_tenant(
        business, lambda: conversation_services.conversation_assign(conversation=conversation,
                                                                    assignee_id=business.agent.pk, actor=business.owner)))
    [assigned] = only(sent, "conversation.assigned")
    assert assigned["audience"] == ["agents"] and assigned["group"] == inbox_group(business.tenant.schema_name)
    assert_shape(assigned["event"], {"type": str, "conversation_id": int, "assignee": {"id": int, "name": str},
                                     "actor": str})


def test_answer_cancelled_names_the_answer_only(business: Business) -> None:
    conversation = new_conversation(business)
    schema = business.tenant.schema_name
    sent = published(schema, conversation.pk, in_tenant(business, lambda: async_to_sync(stored_answer_send)(
        schema_name=schema, conversation_id=conversation.pk, customer_message_id=41, stored_message=None)))
    [cancelled] = only(sent, "answer.cancelled")
    assert cancelled["audience"] == ["agents", "customer"]
    assert cancelled["group"] == conversation_group(schema, conversation.pk)
    assert cancelled["event"] == {"type": "answer.cancelled", "answer_ref": answer_ref_for(
        schema_name=schema, conversation_id=conversation.pk, customer_message_id=41)}


@pytest.mark.parametrize(("event", "shape", "audience"), [
    (AnswerStarted(conversation_id=3, answer_ref="a1.x", reply_to=1),
     {"type": str, "answer_ref": str, "reply_to": int}, {Audience.CUSTOMER, Audience.AGENTS}),
    (AnswerDelta(conversation_id=3, answer_ref="a1.x", seq=1, text="Hi"),
     {"type": str, "answer_ref": str, "seq": int, "text": str}, {Audience.CUSTOMER, Audience.AGENTS}),
    (AnswerEnded(conversation_id=3, answer_ref="a1.x", seq=2, message={"id": 9}),
     {"type": str, "answer_ref": str, "seq": int, "message": dict}, {Audience.CUSTOMER, Audience.AGENTS}),
    (Typing(conversation_id=3, author="agent", on=True, name="Sam"),
     {"type": str, "conversation_id": int, "author": str, "on": bool, "name": str},
     {Audience.CUSTOMER, Audience.AGENTS}),
    (Typing(conversation_id=3, author="customer", on=False),
     {"type": str, "conversation_id": int, "author": str, "on": bool, "name": type(None)}, {Audience.AGENTS}),
], ids=["answer.start", "answer.delta", "answer.end", "typing-agent", "typing-customer"])
def test_streamed_event_shapes(event: Any, shape: dict[str, Any], audience: set[Audience]) -> None:
    # Sent while an answer streams, on the conversation's group only (agents viewing it, and its customer).
    message = channel_message(event)
    assert_shape(message["event"], shape)
    assert set(message["audience"]) == audience and event.groups("s") == [conversation_group("s", 3)]


def test_streamed_events_are_published_as_they_are_sent(business: Business) -> None:
    conversation = new_conversation(business)
    schema = business.tenant.schema_name
    delta = AnswerDelta(conversation_id=conversation.pk, answer_ref="a1.x", seq=1, text="Hello")
    sent = published(schema, conversation.pk, lambda: async_to_sync(event_send_now)(delta, schema_name=schema))
    assert [(message["event"], message["group"]) for message in sent] == [
        ({"type": "answer.delta", "answer_ref": "a1.x", "seq": 1, "text": "Hello"},
         conversation_group(schema, conversation.pk))]


# ----------------------------------------------------------------------------- internal: analytics


def _conversation_started_days_ago(business: Business, days: int) -> tuple[Conversation, datetime]:
    started = timezone.now() - timedelta(days=days)
    with schema_context(business.tenant.schema_name):
        contact = Contact.objects.create(visitor_id=uuid.uuid4().hex)
        conversation = Conversation.objects.create(contact=contact, last_message_at=started)
        Conversation.objects.filter(pk=conversation.pk).update(created=started)
        conversation.refresh_from_db()
        Message.objects.create(conversation=conversation, author=Author.CUSTOMER, text="Hello")
    return conversation, started


def test_conversation_changed_never_leaves_the_server(business: Business) -> None:
    conversation, started = _conversation_started_days_ago(business, 3)
    event = ConversationChanged(conversation_id=conversation.pk, channel=Channel.WIDGET, started=started)
    assert event.audience == {Audience.INTERNAL} and event.groups("s") == []
    with pytest.raises(TypeError):
        event.to_wire()
    sent = published(business.tenant.schema_name, conversation.pk, in_tenant(business, lambda: event_send(event)))
    assert sent == []
    with schema_context(business.tenant.schema_name):  # and the roll-up heard it, in this process
        assert list(AnalyticsDay.objects.values_list("stale", flat=True)) == [True]


def test_a_rolled_back_change_marks_no_day_and_a_committed_one_does(business: Business) -> None:
    conversation, started = _conversation_started_days_ago(business, 4)

    class Undo(Exception):
        pass

    with tenant_context(Tenant.objects.get(pk=business.tenant.pk)):
        with pytest.raises(Undo), transaction.atomic():
            conversation_services.conversation_rate(conversation=conversation, score=5)
            raise Undo
        assert not AnalyticsDay.objects.exists()
        assert Conversation.objects.get(pk=conversation.pk).rating is None
        conversation_services.conversation_rate(conversation=conversation, score=5)
        assert list(AnalyticsDay.objects.values_list("stale", flat=True)) == [True]


# ----------------------------------------------------------------------------- audiences, over real sockets


@pytest.fixture(scope="module")
def web() -> Iterator[WebServer]:
    server = WebServer(env=child_env(OPENAI_API_KEY=""))
    yield server
    server.stop()


def _widget(web: WebServer, tenant: Any) -> WidgetSocket:
    with schema_context(tenant.schema_name):
        key = widget_settings_get().public_key
    return WidgetSocket(web.port, tenant.get_primary_domain().domain, f"/ws/widget/?key={key}")


def _drain(socket: WidgetSocket, quiet: float = 1.5) -> None:
    """Read until the socket has been quiet for `quiet` seconds."""
    while True:
        try:
            socket.recv(timeout=quiet)
        except TimeoutError:
            return


def _conversation_of(tenant: Any, message_id: int) -> int:
    with schema_context(tenant.schema_name):
        return Message.objects.get(pk=message_id).conversation_id


def test_each_audience_receives_exactly_its_events(web: WebServer, tenant_a: Any) -> None:
    domain = tenant_a.get_primary_domain().domain
    agent_user = team_member_create(tenant_a.schema_name, role="agent", email=f"a-{uuid.uuid4().hex[:6]}@example.test",
                                    password="pw-agent-1")
    agent = WidgetSocket(web.port, domain, "/ws/agent/", origin=f"http://{domain}",
                         cookie=session_cookie_for(tenant_a.schema_name, agent_user))
    agent.recv_until("welcome")
    customer_a, customer_b = _widget(web, tenant_a), _widget(web, tenant_a)
    for customer, text in ((customer_a, "hello from A"), (customer_b, "hello from B")):
        customer.recv_until("welcome")
        customer.send({"type": "message", "client_id": "c1", "text": text})
        customer.recv_until("answer.end")
    conversation_a = _conversation_of(tenant_a, customer_a.of_type("ack")[0]["message_id"])
    conversation_b = _conversation_of(tenant_a, customer_b.of_type("ack")[0]["message_id"])
    # Every agent hears of a new conversation; no customer does.
    agent.recv_until("conversation.created", conversation_id=conversation_a)
    agent.recv_until("conversation.created", conversation_id=conversation_b)
    agent.send({"type": "subscribe", "conversation_id": conversation_a})
    agent.recv_until("subscribed")

    # The customer's typing is for the agents viewing the conversation.
    customer_a.send({"type": "typing", "on": True})
    assert agent.recv_until("typing", author="customer") == {"type": "typing", "conversation_id": conversation_a,
                                                             "author": "customer", "on": True, "name": None}
    # An internal note reaches the agents, never the customer.
    agent.send({"type": "message", "conversation_id": conversation_a, "text": "note: refund pending", "internal": True})
    note = agent.recv_until("message", conversation_id=conversation_a)
    while note["message"]["author"] != "agent":
        note = agent.recv_until("message", conversation_id=conversation_a)
    assert note["message"]["internal"] is True and note["message"]["text"] == "note: refund pending"
    # A public reply and an answer that will not come reach A's customer (and the agents viewing A).
    agent.send({"type": "message", "conversation_id": conversation_a, "text": "public: on its way"})
    assert customer_a.recv_until("message")["message"]["text"] == "public: on its way"
    with tenant_context(Tenant.objects.get(pk=tenant_a.pk)):
        async_to_sync(stored_answer_send)(schema_name=tenant_a.schema_name, conversation_id=conversation_a,
                               customer_message_id=10**9, stored_message=None)
    cancelled = customer_a.recv_until("answer.cancelled")
    assert cancelled == {"type": "answer.cancelled", "answer_ref": answer_ref_for(
        schema_name=tenant_a.schema_name, conversation_id=conversation_a, customer_message_id=10**9)}
    agent.recv_until("answer.cancelled", answer_ref=cancelled["answer_ref"])

    for socket in (customer_a, customer_b, agent):
        _drain(socket)
    seen_by_a, seen_by_b = str(customer_a.frames), str(customer_b.frames)
    assert "refund pending" not in seen_by_a and "refund pending" not in seen_by_b
    # Agent-only events never reach a customer; A's own typing is not echoed to A.
    for frame_type in ("conversation.created", "conversation.contact", "conversation.assigned",
                       "conversation.status", "conversation.changed"):
        assert not customer_a.of_type(frame_type) and not customer_b.of_type(frame_type)
    assert not customer_a.of_type("typing")
    # Customer B never receives customer A's events.
    assert "public: on its way" not in seen_by_b and "hello from A" not in seen_by_b
    assert not customer_b.of_type("answer.cancelled")
    assert {frame["message"]["text"] for frame in customer_b.of_type("message")} <= {"hello from B"}
    assert str(conversation_a) not in str([frame.get("conversation_id") for frame in customer_b.frames])
    for socket in (customer_a, customer_b, agent):
        socket.close()
