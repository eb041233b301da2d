"""Someone opens widget sockets by the hundred without ever saying a word.

Each handshake used to store a Contact, and nothing limited them. Now a handshake stores nothing
until the visitor sends something (a message or the pre-chat form), and one IP's handshakes to a
tenant are limited per minute (WIDGET_HANDSHAKES_PER_MINUTE_PER_IP), past which the socket is
closed with code 4429 after a `rate_limited` error frame. Real daphne, real WebSockets.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django_tenants.utils import schema_context
from websockets.exceptions import ConnectionClosed

from chat.conversations.models import Contact, Conversation
from tests.chat.test_widget_protocol import open_widget
from tests.support.processes import WebServer, child_env

LIMIT = 150


@pytest.fixture
def web() -> Iterator[WebServer]:
    server = WebServer(env=child_env(OPENAI_API_KEY="", WIDGET_HANDSHAKES_PER_MINUTE_PER_IP=str(LIMIT)))
    yield server
    server.stop()


def counts(tenant) -> tuple[int, int]:
    with schema_context(tenant.schema_name):
        return Contact.objects.count(), Conversation.objects.count()


def handshake(web: WebServer, tenant) -> dict:
    """One handshake, read to its first frame, then hung up."""
    ws = open_widget(web, tenant)
    try:
        frame = ws.recv()
        if frame["type"] == "error":
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=10)
            frame["close_code"] = ws.connection.close_code
        return frame
    finally:
        ws.close()


def test_two_hundred_silent_handshakes_store_nothing_and_the_rest_are_refused(web: WebServer, tenant_a) -> None:
    frames = [handshake(web, tenant_a) for _ in range(200)]

    welcomed = [frame for frame in frames if frame["type"] == "welcome"]
    refused = [frame for frame in frames if frame["type"] == "error"]
    assert len(welcomed) == LIMIT and len(refused) == 200 - LIMIT
    assert frames[:LIMIT] == welcomed  # the first ones in, the rest refused
    assert all(frame["code"] == "rate_limited" and frame["close_code"] == 4429 and 1 <= frame["retry_after"] <= 60
               for frame in refused), refused[:3]
    assert counts(tenant_a) == (0, 0)


def test_the_limit_is_per_tenant_and_a_visitor_who_writes_keeps_one_contact_and_conversation(
        web: WebServer, tenant_a, tenant_b) -> None:
    for _ in range(LIMIT + 1):
        handshake(web, tenant_a)
    assert handshake(web, tenant_a)["code"] == "rate_limited"

    # Another tenant's widget, from the same address, is not held back by the first one's flood.
    visitor = open_widget(web, tenant_b)
    token = visitor.recv_until("welcome")["visitor_token"]
    assert counts(tenant_b) == (0, 0)
    visitor.send({"type": "prechat", "name": "Ada", "email": "ada@example.test"})
    visitor.recv_until("prechat.saved")
    assert counts(tenant_b) == (1, 0)
    visitor.send({"type": "message", "client_id": "m-1", "text": "hello"})
    visitor.recv_until("ack")
    visitor.recv_until("answer.end")
    visitor.close()
    assert counts(tenant_b) == (1, 1)

    again = open_widget(web, tenant_b, token=token)
    welcome = again.recv_until("welcome")
    assert welcome["prechat_done"] is True and [m["text"] for m in welcome["history"]][:1] == ["hello"]
    again.send({"type": "message", "client_id": "m-2", "text": "thanks"})
    again.recv_until("ack")
    again.recv_until("answer.end")
    again.close()
    with schema_context(tenant_b.schema_name):
        contact = Contact.objects.get()
        assert (contact.name, contact.email) == ("Ada", "ada@example.test")
        conversation = Conversation.objects.get()
        assert conversation.contact_id == contact.pk
        assert list(conversation.messages.filter(author="customer").values_list("text", flat=True)
                    .order_by("id")) == ["hello", "thanks"]

    # A visitor whose first word is a message (no pre-chat) gets one contact and one conversation too.
    writer = open_widget(web, tenant_b)
    writer_token = writer.recv_until("welcome")["visitor_token"]
    writer.send({"type": "message", "client_id": "w-1", "text": "hi"})
    writer.recv_until("answer.end")
    writer.close()
    assert counts(tenant_b) == (2, 2)
    back = open_widget(web, tenant_b, token=writer_token)
    conversation_id = back.recv_until("welcome")["conversation_id"]
    back.send({"type": "message", "client_id": "w-2", "text": "me again"})
    assert back.recv_until("ack")
    back.close()
    assert counts(tenant_b) == (2, 2)
    with schema_context(tenant_b.schema_name):
        assert Conversation.objects.get(pk=conversation_id).messages.filter(author="customer").count() == 2
