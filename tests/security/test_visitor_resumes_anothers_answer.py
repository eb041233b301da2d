"""A widget visitor asks the server to resume someone else's answer: they get nothing of it.

Two real customers of one shop, each on a real WebSocket to a real web process. Customer A has
their order verified and told, with its tracking number. Customer B then sends `resume` frames
naming A's answer (its reference, as A's client saw it) and every reference B could guess from the
message ids around theirs (`a<id>`, each with and without the form A's took): B's socket must carry
nothing of A's conversation, ever.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from django_tenants.utils import schema_context

from chat.conversations.models import Message
from tests.chat.test_widget_protocol import open_widget
from tests.support.processes import WebServer, child_env
from tests.support.ws import WidgetSocket

ORDER_QUESTION = "where is order TL-10412? my email is lotte.visser@example.com"
TRACKING_NUMBER = "3STHRL0055821"
# How far below A's question B's guessed references reach.
GUESSES_BELOW = 200


@pytest.fixture
def web() -> Iterator[WebServer]:
    server = WebServer(env=child_env(OPENAI_API_KEY="", WIDGET_PING_INTERVAL_SECONDS="60"))
    yield server
    server.stop()


def settle(ws: WidgetSocket) -> None:
    """Every frame the server sent in answer to what `ws` sent so far has arrived: the socket's
    frames are handled in order, so the error for an unknown frame sent last comes after them."""
    ws.send({"type": "are-you-done"})
    ws.recv_until("error", code="bad_frame")


def test_a_visitor_resuming_another_customers_answer_gets_nothing_of_it(web: WebServer, demo_copies) -> None:
    shop = demo_copies["shop"]

    # Customer A: their order, verified, with its tracking number.
    alice = open_widget(web, shop)
    alice.recv_until("welcome")
    alice.send({"type": "message", "client_id": "a-1", "text": ORDER_QUESTION})
    alice_question = alice.recv_until("ack")["message_id"]
    alice_start = alice.recv_until("answer.start", reply_to=alice_question)
    alice_end = alice.recv_until("answer.end", answer_ref=alice_start["answer_ref"])
    assert TRACKING_NUMBER in alice_end["message"]["text"], alice_end

    # Customer B: a conversation of their own, so the server has something to resume for them.
    bob = open_widget(web, shop)
    bob.recv_until("welcome")
    bob.send({"type": "message", "client_id": "b-1", "text": "hello"})
    bob_question = bob.recv_until("ack")["message_id"]
    bob_end = bob.recv_until("answer.end")
    settle(bob)
    own_refs = {frame["answer_ref"] for frame in bob.frames if "answer_ref" in frame}
    already = len(bob.frames)

    # A's reference exactly as A's client got it, then every reference B can guess around it (the
    # session's shop holds other tests' conversations too: ids far below A's are theirs, not A's).
    newest = max(bob_end["message"]["id"], alice_end["message"]["id"]) + 5
    guesses = range(max(1, alice_question - GUESSES_BELOW), newest)
    refs = [alice_start["answer_ref"], f"a{alice_question}"]
    refs += [f"a{number}" for number in guesses]
    refs += [f"a{number}.{alice_start['answer_ref'].partition('.')[2]}" for number in guesses]
    for ref in refs:
        bob.send({"type": "resume", "last_message_id": bob_end["message"]["id"], "answer_ref": ref, "seq": 0})
    settle(bob)

    stolen = bob.frames[already:]
    assert TRACKING_NUMBER not in json.dumps(bob.frames)
    assert not [frame for frame in stolen if frame["type"] in ("answer.delta", "answer.end", "message")], stolen[:5]
    assert not [frame for frame in bob.frames if frame.get("answer_ref") not in (None, *own_refs)]
    with schema_context(shop.schema_name):
        bobs = set(Message.objects.filter(conversation__messages__pk=bob_question).values_list("pk", flat=True))
    assert {frame["message"]["id"] for frame in bob.frames if isinstance(frame.get("message"), dict)} <= bobs
    alice.close()
    bob.close()
