"""The inbox list (order, filters, search, pagination, query count) and one conversation's actions."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from chat.conversations import services as conversation_services
from chat.conversations.events import conversation_group
from chat.conversations.models import Author, Channel, Contact, Conversation, ConversationStatus, Message
from chat.dashboard import services as dashboard_services
from tests.dashboard.conftest import Business
from tests.support.processes import WebServer, child_env
from tests.support.ws import WidgetSocket


def conversation_with(business: Business, *, name: str = "", email: str = "", text: str = "Hello",
                      status: str = ConversationStatus.BOT, channel: str = Channel.WIDGET,
                      minutes_ago: int = 0, assignee: Any = None) -> Conversation:
    with schema_context(business.tenant.schema_name):
        contact = Contact.objects.create(visitor_id=uuid.uuid4().hex, name=name, email=email)
        conversation = Conversation.objects.create(
            contact=contact, status=status, channel=channel, assignee=assignee,
            last_message_at=timezone.now() - timedelta(minutes=minutes_ago))
        Message.objects.create(conversation=conversation, author=Author.CUSTOMER, text=text)
        return conversation


def listed_ids(business: Business, query: str = "", user: Any = None) -> list[int]:
    response = business.client(user or business.agent).get(f"/app/inbox/rows?{query}")
    assert response.status_code == 200
    return [conversation.pk for conversation in response.context["page"].object_list]


def test_open_conversations_waiting_for_a_person_come_first_then_the_most_recent(business: Business) -> None:
    old_bot = conversation_with(business, minutes_ago=30)
    new_bot = conversation_with(business, minutes_ago=1)
    waiting = conversation_with(business, status=ConversationStatus.NEEDS_HUMAN, minutes_ago=60)
    human = conversation_with(business, status=ConversationStatus.HUMAN, minutes_ago=0)
    resolved = conversation_with(business, status=ConversationStatus.RESOLVED)

    assert listed_ids(business) == [waiting.pk, new_bot.pk, old_bot.pk, human.pk]
    assert listed_ids(business, "status=resolved") == [resolved.pk]
    assert listed_ids(business, "status=needs_human") == [waiting.pk]
    assert len(listed_ids(business, "status=all")) == 5


def test_the_inbox_filters_by_assignee_and_channel(business: Business) -> None:
    mine = conversation_with(business, assignee=business.agent)
    theirs = conversation_with(business, assignee=business.owner)
    nobodys = conversation_with(business, channel=Channel.MESSAGING)

    assert listed_ids(business, "assignee=me") == [mine.pk]
    assert set(listed_ids(business, "assignee=unassigned")) == {nobodys.pk}
    assert listed_ids(business, "assignee=me", user=business.owner) == [theirs.pk]
    assert listed_ids(business, "channel=messaging") == [nobodys.pk]


def test_the_inbox_searches_names_emails_and_message_text(business: Business) -> None:
    by_name = conversation_with(business, name="Marta Kowalska")
    by_email = conversation_with(business, email="jo@shoes.example")
    by_text = conversation_with(business, text="My parcel TL-10412 never arrived")
    conversation_with(business, name="Someone else", text="Opening hours?")

    assert listed_ids(business, "q=kowalska") == [by_name.pk]
    assert listed_ids(business, "q=SHOES.example") == [by_email.pk]
    assert listed_ids(business, "q=tl-10412") == [by_text.pk]
    assert listed_ids(business, "q=nothing-like-this") == []


def test_the_inbox_shows_the_last_visible_message_and_pages(business: Business) -> None:
    conversation = conversation_with(business, name="Paula", text="First question")
    with schema_context(business.tenant.schema_name):
        Message.objects.create(conversation=conversation, author=Author.ASSISTANT, text="The visible answer")
        Message.objects.create(conversation=conversation, author=Author.AGENT, text="secret note", internal=True)
    page = business.client(business.agent).get("/app/inbox/").content.decode()
    assert "The visible answer" in page and "secret note" not in page


def make_conversations(business: Business, count: int) -> None:
    with schema_context(business.tenant.schema_name):
        contacts = Contact.objects.bulk_create(
            [Contact(visitor_id=uuid.uuid4().hex, name=f"Customer {n}") for n in range(count)])
        conversations = Conversation.objects.bulk_create(
            [Conversation(contact=contact, last_message_at=timezone.now(), assignee=business.agent)
             for contact in contacts])
        Message.objects.bulk_create([Message(conversation=c, author=Author.CUSTOMER, text=f"Question {c.pk}")
                                     for c in conversations])


def inbox_queries(business: Business) -> tuple[int, str]:
    client = business.client(business.agent)
    client.get("/app/inbox/")  # warm: session and user caches behave as on any later page
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/app/inbox/")
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_the_inbox_uses_the_same_number_of_queries_for_5_or_50_conversations(
        make_business: Any) -> None:
    few, many = make_business(name="Few"), make_business(name="Many")
    make_conversations(few, 5)
    make_conversations(many, 50)
    few_count, few_page = inbox_queries(few)
    many_count, many_page = inbox_queries(many)
    assert few_page.count('class="conversation-row"') == 5
    assert many_page.count('class="conversation-row"') == 25
    assert few_count == many_count, (few_count, many_count)
    assert many_count <= 12


def test_another_businesss_conversation_ids_are_404(business: Business, other_business: Business) -> None:
    theirs = conversation_with(other_business, name="Not yours", text="private")
    client = business.client(business.owner)
    for path in ("", "transcript", "presence"):
        assert client.get(f"/app/inbox/{theirs.pk}/{path}").status_code == 404
    assert client.post(f"/app/inbox/{theirs.pk}/reply", {"text": "hi"}).status_code == 404
    assert client.post(f"/app/inbox/{theirs.pk}/action", {"action": "take_over"}).status_code == 404
    # The same id on its own business's domain is there.
    assert other_business.client(other_business.agent).get(f"/app/inbox/{theirs.pk}/").status_code == 200


def test_the_conversation_page_folds_sources_and_tool_calls_and_sets_notes_apart(business: Business) -> None:
    conversation = conversation_with(business, text="Where is my order?")
    with schema_context(business.tenant.schema_name):
        Message.objects.create(conversation=conversation, author=Author.ASSISTANT, text="On its way.",
                               sources=[{"title": "Shipping FAQ", "url": "https://shop.example/faq", "score": 0.8},
                                        {"title": "Odd source", "url": "javascript:alert(1)"}],
                               tool_calls=[{"name": "order_lookup", "arguments": {"number": "TL-1"}}])
        Message.objects.create(conversation=conversation, author=Author.AGENT, agent=business.owner,
                               text="Check with the courier", internal=True)
    page = business.client(business.agent).get(f"/app/inbox/{conversation.pk}/").content.decode()
    assert "<details><summary>Sources (2)</summary>" in page
    assert '<a href="https://shop.example/faq" rel="noopener noreferrer">Shipping FAQ</a>' in page
    assert "Odd source" in page and "javascript:" not in page
    assert "Tool calls (1)" in page and "order_lookup" in page
    assert 'class="from-agent internal-note"' in page and "Internal note" in page


def test_an_agent_takes_over_replies_adds_a_note_hands_back_resolves_and_reopens(business: Business) -> None:
    conversation = conversation_with(business, status=ConversationStatus.NEEDS_HUMAN)
    client = business.client(business.agent)
    url = f"/app/inbox/{conversation.pk}/"

    client.post(url + "action", {"action": "take_over"})
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.HUMAN and conversation.assignee_id == business.agent.pk

    reply = client.post(url + "reply", {"text": "Hi, Anna here."}, HTTP_HX_REQUEST="true")
    assert reply.status_code == 200 and "Hi, Anna here." in reply.content.decode()
    client.post(url + "reply", {"text": "Customer seems upset", "internal": "on"})
    with schema_context(business.tenant.schema_name):
        sent = list(conversation.messages.filter(author=Author.AGENT).values_list("text", "internal"))
    assert sent == [("Hi, Anna here.", False), ("Customer seems upset", True)]

    empty = client.post(url + "reply", {"text": "   "}, HTTP_HX_REQUEST="true")
    assert empty.status_code == 422

    for action, status in (("hand_back", ConversationStatus.BOT), ("resolve", ConversationStatus.RESOLVED),
                           ("reopen", ConversationStatus.BOT)):
        client.post(url + "action", {"action": action})
        conversation.refresh_from_db()
        assert conversation.status == status, action


def test_a_conversation_is_assigned_to_a_teammate(business: Business) -> None:
    conversation = conversation_with(business)
    client = business.client(business.agent)
    client.post(f"/app/inbox/{conversation.pk}/assign", {"assignee": str(business.owner.pk)})
    conversation.refresh_from_db()
    assert conversation.assignee_id == business.owner.pk
    client.post(f"/app/inbox/{conversation.pk}/assign", {"assignee": ""})
    conversation.refresh_from_db()
    assert conversation.assignee_id is None


@pytest.fixture(scope="module")
def web() -> Iterator[WebServer]:
    server = WebServer(env=child_env(OPENAI_API_KEY=""))
    yield server
    server.stop()


def agent_socket(web: WebServer, business: Business, user: User) -> WidgetSocket:
    """The agents' live socket, as the dashboard opens it with the user's logged-in session."""
    session = business.client(user).cookies[settings.SESSION_COOKIE_NAME].value
    socket = WidgetSocket(web.port, business.domain, "/ws/agent/", origin=f"http://{business.domain}:{web.port}",
                          cookie=f"{settings.SESSION_COOKIE_NAME}={session}")
    socket.recv_until("welcome")
    return socket


def test_an_assignment_reaches_the_other_agents_live_and_nobody_else(
        web: WebServer, business: Business, other_business: Business) -> None:
    conversation = conversation_with(business)
    # The owner has the conversation open (the page subscribes to it); another business's owner is online.
    owner = agent_socket(web, business, business.owner)
    owner.send({"type": "subscribe", "conversation_id": conversation.pk})
    owner.recv_until("subscribed")
    outsider = agent_socket(web, other_business, other_business.owner)
    agent = business.client(business.agent)

    def assign_and_unassign() -> None:
        agent.post(f"/app/inbox/{conversation.pk}/assign", {"assignee": str(business.owner.pk)})
        assigned = owner.recv_until("conversation.assigned", timeout=10)
        assert assigned == {"type": "conversation.assigned", "conversation_id": conversation.pk,
                            "assignee": {"id": business.owner.pk, "name": "Olivia Owner"},
                            "actor": business.agent.username}
        agent.post(f"/app/inbox/{conversation.pk}/assign", {"assignee": ""})
        unassigned = owner.recv_until("conversation.assigned", timeout=10)
        assert unassigned["assignee"] is None and unassigned["conversation_id"] == conversation.pk

    async def listening_as_the_customers_widget() -> None:
        # The conversation's group is shared with the customer's widget: the assignment must not go there.
        layer = get_channel_layer()
        customer_side = await layer.new_channel()
        await layer.group_add(conversation_group(business.tenant.schema_name, conversation.pk), customer_side)
        await sync_to_async(assign_and_unassign)()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(layer.receive(customer_side), timeout=1)

    async_to_sync(listening_as_the_customers_widget)()
    assert len(owner.of_type("conversation.assigned")) == 2  # once each, though the owner is in both groups
    with pytest.raises((TimeoutError, AssertionError)):
        outsider.recv_until("conversation.assigned", timeout=1)
    owner.close()
    outsider.close()


def test_agents_see_who_else_is_viewing_a_conversation(business: Business) -> None:
    conversation = conversation_with(business)
    owner, agent = business.client(business.owner), business.client(business.agent)
    assert "viewing" not in agent.get(f"/app/inbox/{conversation.pk}/presence").content.decode()
    owner.post(f"/app/inbox/{conversation.pk}/presence")
    seen = agent.get(f"/app/inbox/{conversation.pk}/presence").content.decode()
    assert "Olivia Owner is viewing" in seen
    # Nobody sees themselves.
    assert "Olivia" not in owner.get(f"/app/inbox/{conversation.pk}/presence").content.decode()
    with schema_context(business.tenant.schema_name):
        dashboard_services.presence_touch(conversation_id=conversation.pk, user=business.agent)


def test_owners_manage_canned_responses_and_agents_find_them_in_the_reply_box(business: Business) -> None:
    owner = business.client(business.owner)
    owner.post("/app/canned-responses/", {"title": "Shipping times", "text": "We ship within 2 working days."})
    duplicate = owner.post("/app/canned-responses/", {"title": "shipping times", "text": "again"})
    assert b"exists already" in duplicate.content
    conversation = conversation_with(business)
    page = business.client(business.agent).get(f"/app/inbox/{conversation.pk}/").content.decode()
    assert '<option value="We ship within 2 working days.">Shipping times</option>' in page


def test_a_customer_message_after_takeover_is_not_left_for_the_assistant(business: Business) -> None:
    conversation = conversation_with(business)
    business.client(business.agent).post(f"/app/inbox/{conversation.pk}/action", {"action": "take_over"})
    with schema_context(business.tenant.schema_name):
        received = conversation_services.message_receive(conversation=conversation, text="Are you a person?")
    assert received.needs_answer is False
