"""Redis registers a socket's subscription to its conversation late (it read the SUBSCRIBE after
the publishes that followed it on other connections). Nothing the customer or the agent was about to
receive is lost: the widget's first answer streams in whole, and an agent told "subscribed" hears
the customer's next message.

Real processes: a web process (make run's command) that reaches Redis through a proxy holding
every SUBSCRIBE for half a second, widget and agent clients on real WebSockets."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django_tenants.utils import schema_context

from chat.conversations.models import Message
from tests.chat.test_widget_protocol import open_widget
from tests.support.owner_session import session_cookie_for, team_member_create
from tests.support.processes import WebServer, child_env
from tests.support.slow_subscribe import SlowSubscribeRedis
from tests.support.ws import WidgetSocket

HOLD_SECONDS = 0.5


@pytest.fixture(scope="module")
def slow_redis() -> Iterator[SlowSubscribeRedis]:
    with SlowSubscribeRedis(settings.REDIS_URL, hold_seconds=HOLD_SECONDS) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def web(slow_redis: SlowSubscribeRedis) -> Iterator[WebServer]:
    server = WebServer(env=child_env(OPENAI_API_KEY="", REDIS_URL=slow_redis.url))
    yield server
    server.stop()


def test_the_first_answer_of_a_new_conversation_streams_in_whole(web: WebServer, slow_redis: SlowSubscribeRedis,
                                                                tenant_a: Any) -> None:
    customer = open_widget(web, tenant_a)
    customer.recv_until("welcome")
    held_before = slow_redis.held
    customer.send({"type": "message", "client_id": "c-1", "text": "what are your opening hours?"})
    question = customer.recv_until("ack")["message_id"]

    start = customer.recv_until("answer.start", reply_to=question, timeout=15)
    end = customer.recv_until("answer.end", answer_ref=start["answer_ref"], timeout=15)
    shown = "".join(frame["text"] for frame in customer.of_type("answer.delta")
                    if frame["answer_ref"] == start["answer_ref"])
    with schema_context(tenant_a.schema_name):
        stored = Message.objects.get(in_reply_to_id=question, author="assistant")
    assert end["message"]["id"] == stored.pk and end["message"]["text"] == stored.text
    # Streamed as it was written, not only handed over at the end.
    assert shown and shown.split() == stored.text.split()
    # The conversation's group was joined through the slow path.
    assert slow_redis.held > held_before


def test_an_agent_told_subscribed_hears_the_customers_next_message(web: WebServer, slow_redis: SlowSubscribeRedis,
                                                                  tenant_a: Any) -> None:
    customer = open_widget(web, tenant_a)
    customer.recv_until("welcome")
    customer.send({"type": "message", "client_id": "c-1", "text": "hello, is anyone there?"})
    question = customer.recv_until("ack")["message_id"]
    customer.recv_until("answer.end", timeout=15)
    with schema_context(tenant_a.schema_name):
        conversation_id = Message.objects.get(pk=question).conversation_id

    domain = tenant_a.get_primary_domain().domain
    user = team_member_create(tenant_a.schema_name, role="agent", email=f"a-{uuid.uuid4().hex[:6]}@example.test",
                              password="pw-agent-1")
    agent = WidgetSocket(web.port, domain, "/ws/agent/", origin=f"http://{domain}",
                         cookie=session_cookie_for(tenant_a.schema_name, user))
    agent.recv_until("welcome", timeout=15)
    agent.send({"type": "subscribe", "conversation_id": conversation_id})
    agent.recv_until("subscribed", conversation_id=conversation_id, timeout=15)

    customer.send({"type": "typing", "on": True})
    typing = agent.recv_until("typing", author="customer", timeout=15)
    assert typing["conversation_id"] == conversation_id and typing["on"] is True
