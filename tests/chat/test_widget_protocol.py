"""The widget protocol (docs/widget-protocol.md), frame by frame, with a plain WebSocket client."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from types import SimpleNamespace

import httpx
import pytest
from django.db import transaction
from django_tenants.utils import schema_context
from websockets.exceptions import ConnectionClosed, InvalidStatus

from chat.conversations.models import Contact, Conversation, Message
from chat.widget.services import origin_allowed, widget_settings_get
from tests.support.fake_openai import FakeOpenAIServer
from tests.support.owner_session import session_cookie_for, team_member_create
from tests.support.processes import WebServer, child_env
from tests.support.ws import WidgetSocket


@pytest.fixture(scope="module")
def web() -> Iterator[WebServer]:
    server = WebServer(env=child_env(OPENAI_API_KEY="", WIDGET_PING_INTERVAL_SECONDS="1",
                                     WIDGET_PING_TIMEOUT_SECONDS="3"))
    yield server
    server.stop()


def key_of(tenant) -> str:
    with schema_context(tenant.schema_name):
        return widget_settings_get().public_key


def domain_of(tenant) -> str:
    return tenant.get_primary_domain().domain


def open_widget(web: WebServer, tenant, *, token: str | None = None, origin: str | None = None,
                key: str | None = None, answer_pings: bool = True) -> WidgetSocket:
    query = f"?key={key or key_of(tenant)}" + (f"&token={token}" if token else "")
    return WidgetSocket(web.port, domain_of(tenant), f"/ws/widget/{query}", origin=origin,
                        answer_pings=answer_pings)


def web_with_model(llm: FakeOpenAIServer) -> WebServer:
    """A web process of the test's own whose assistant asks `llm`, every time (no answer cache)."""
    return WebServer(env=child_env(OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=llm.base_url,
                                   ASSISTANT_CACHE_ENABLED="false"))


def test_welcome_ack_and_a_streamed_answer(web: WebServer, demo_copies) -> None:
    cafe = demo_copies["cafe"]
    ws = open_widget(web, cafe)
    welcome = ws.recv_until("welcome")
    assert welcome["visitor_token"] and welcome["conversation_id"] is None and welcome["history"] == []
    assert set(welcome["away"]) == {"open", "message"} and welcome["status"] == "bot"
    ws.send({"type": "message", "client_id": "c-1", "text": "can I bring my dog?"})
    ack = ws.recv_until("ack")
    assert ack["client_id"] == "c-1" and isinstance(ack["message_id"], int)
    start = ws.recv_until("answer.start")
    assert start["reply_to"] == ack["message_id"]
    end = ws.recv_until("answer.end", answer_ref=start["answer_ref"])
    deltas = [f for f in ws.of_type("answer.delta") if f["answer_ref"] == start["answer_ref"]]
    assert [f["seq"] for f in deltas] == list(range(1, len(deltas) + 1)) and len(deltas) >= 2
    assert "".join(f["text"] for f in deltas) == end["message"]["text"]
    assert end["seq"] == len(deltas)
    assert end["message"]["author"] == "assistant" and end["message"]["sources"][0]["title"] == "Can I bring my dog?"
    ws.close()


def test_returning_visitor_sees_history_and_a_resent_message_is_stored_once(web: WebServer, demo_copies) -> None:
    cafe = demo_copies["cafe"]
    first = open_widget(web, cafe)
    token = first.recv_until("welcome")["visitor_token"]
    first.send({"type": "message", "client_id": "same", "text": "hello"})
    message_id = first.recv_until("ack")["message_id"]
    first.recv_until("answer.end")
    first.close()

    again = open_widget(web, cafe, token=token)
    welcome = again.recv_until("welcome")
    assert [m["text"] for m in welcome["history"]][:1] == ["hello"] and len(welcome["history"]) == 2
    again.send({"type": "message", "client_id": "same", "text": "hello"})  # re-sent after a drop
    assert again.recv_until("ack")["message_id"] == message_id
    with schema_context(cafe.schema_name):
        assert Message.objects.filter(conversation_id=welcome["conversation_id"], client_id="same").count() == 1
    again.close()


def test_errors_are_frames_with_a_code_and_a_human_message(web: WebServer, tenant_a) -> None:
    ws = open_widget(web, tenant_a)
    ws.recv_until("welcome")
    ws.send("not json")
    assert ws.recv_until("error")["code"] == "bad_frame"
    ws.send({"type": "launch_missiles"})
    assert ws.recv_until("error")["code"] == "bad_frame"
    ws.send({"type": "message", "client_id": "e1", "text": "   "})
    empty = ws.recv_until("error")
    assert empty["code"] == "empty_message" and empty["client_id"] == "e1" and empty["message"]
    ws.send({"type": "message", "client_id": "e2", "text": "x" * 4001})
    long = ws.recv_until("error")
    assert long["code"] == "message_too_long" and "4000" in long["message"]
    ws.send({"type": "rating", "score": 9})
    assert ws.recv_until("error")["code"] == "invalid"
    ws.send({"type": "message", "client_id": "e0", "text": "hi"})
    ws.recv_until("answer.end")
    # Fields of the wrong kind are the client's mistake, said so: not "something went wrong on our side".
    for frame in ({"type": "resume", "last_message_id": "abc"}, {"type": "resume", "last_message_id": [1]},
                  {"type": "resume", "last_message_id": 10**30}, {"type": "resume", "last_message_id": -1},
                  {"type": "resume", "last_message_id": 0, "answer_ref": "a999999999", "seq": {"n": 1}}):
        ws.send(frame)
        assert ws.recv_until("error")["code"] == "bad_frame", frame
    ws.send({"type": "rating", "score": True})
    assert ws.recv_until("error")["code"] == "invalid"
    # The refused messages hold nobody back: the next answer ends as soon as it is stored.
    ws.send({"type": "message", "client_id": "e3", "text": "hello"})
    assert ws.recv_until("answer.end")["message"]["author"] == "assistant"
    ws.close()


def test_a_lone_surrogate_in_a_frame_is_stored_as_a_replacement_character(web: WebServer, tenant_a) -> None:
    # "\ud800" is valid JSON but no UTF-8: stored as it was, PostgreSQL would refuse the message.
    ws = open_widget(web, tenant_a)
    ws.recv_until("welcome")
    ws.send({"type": "message", "client_id": "s1\udc00", "text": "where is my order \ud800?"})
    ack = ws.recv_until("ack")
    assert ack["client_id"] == "s1\ufffd"
    assert ws.recv_until("answer.end")["message"]["author"] == "assistant"
    ws.close()
    with schema_context(tenant_a.schema_name):
        assert Message.objects.get(pk=ack["message_id"]).text == "where is my order \ufffd?"


def test_rate_limit_answers_with_a_retry_time(web: WebServer, tenant_a) -> None:
    with schema_context(tenant_a.schema_name):
        widget = widget_settings_get()
        widget.messages_per_minute_per_visitor = 3
        widget.save()
    ws = open_widget(web, tenant_a)
    ws.recv_until("welcome")
    for index in range(3):
        ws.send({"type": "message", "client_id": f"r{index}", "text": f"hello {index}"})
        ws.recv_until("ack")
    ws.send({"type": "message", "client_id": "r4", "text": "one too many"})
    limited = ws.recv_until("error")
    assert limited["code"] == "rate_limited" and 1 <= limited["retry_after"] <= 60
    with schema_context(tenant_a.schema_name):
        assert not Message.objects.filter(client_id="r4").exists()
    ws.close()


def test_prechat_rating_handoff_status_and_ping(web: WebServer, tenant_a) -> None:
    ws = open_widget(web, tenant_a)
    welcome = ws.recv_until("welcome")
    assert welcome["prechat_done"] is False
    ws.send({"type": "prechat", "name": "Ada", "email": "ada@example.test"})
    ws.recv_until("prechat.saved")
    ws.send({"type": "message", "client_id": "p1", "text": "hi"})
    ws.recv_until("ack")
    ws.send({"type": "handoff"})
    assert ws.recv_until("status")["status"] == "needs_human"
    ws.send({"type": "rating", "score": 4})
    assert ws.recv_until("rating.saved")["score"] == 4
    ping = ws.recv_until("ping", timeout=10)
    ws.send({"type": "pong", "ts": ping["ts"]})
    with schema_context(tenant_a.schema_name):
        contact = Contact.objects.get(email="ada@example.test")
        assert contact.name == "Ada"
        assert Conversation.objects.get(contact=contact).rating == 4
    ws.close()


def test_a_client_whose_pongs_wait_behind_a_slow_message_is_not_taken_for_dead(web: WebServer, tenant_a) -> None:
    ws = open_widget(web, tenant_a)
    ws.recv_until("welcome")
    ws.send({"type": "message", "client_id": "slow-1", "text": "hello"})
    first_message_id = ws.recv_until("ack")["message_id"]
    ws.recv_until("answer.end")
    with schema_context(tenant_a.schema_name):
        conversation_id = Message.objects.get(pk=first_message_id).conversation_id

    # The next message waits for this lock far longer than the 3 s pong timeout, while the client
    # keeps answering pings that the server cannot read until the message is handled.
    with schema_context(tenant_a.schema_name), transaction.atomic():
        Conversation.objects.select_for_update().get(pk=conversation_id)
        ws.send({"type": "message", "client_id": "slow-2", "text": "are you there?"})
        held_until = time.monotonic() + 6
        while time.monotonic() < held_until:
            ws.recv(timeout=held_until - time.monotonic() + 1)  # pings, answered by the client

    assert ws.recv_until("ack", client_id="slow-2", timeout=20)["message_id"]
    assert ws.connection.close_code is None


def test_dead_connections_are_closed(web: WebServer, tenant_a) -> None:
    ws = open_widget(web, tenant_a, answer_pings=False)
    ws.recv_until("welcome")
    ws.recv_until("ping", timeout=10)  # and never answer
    with pytest.raises(ConnectionClosed):
        for _ in range(20):
            ws.recv(timeout=10)
    assert ws.connection.close_code == 4408


def test_key_from_another_tenant_or_a_foreign_origin_is_refused(web: WebServer, tenant_a, tenant_b) -> None:
    with pytest.raises(InvalidStatus):
        open_widget(web, tenant_b, key=key_of(tenant_a))
    with pytest.raises(InvalidStatus):
        open_widget(web, tenant_a, origin="https://evil.example")
    with schema_context(tenant_a.schema_name):
        widget = widget_settings_get()
        widget.allowed_origins = ["https://shop-a.example"]
        widget.save()
    allowed = open_widget(web, tenant_a, origin="https://shop-a.example")
    token_a = allowed.recv_until("welcome")["visitor_token"]
    allowed.close()
    # A visitor token made for tenant A means nothing on tenant B: a new visitor starts there.
    on_b = open_widget(web, tenant_b, token=token_a)
    assert on_b.recv_until("welcome")["visitor_token"] != token_a
    on_b.close()


def test_widget_config_follows_the_allowed_origins(web: WebServer, tenant_a, tenant_b) -> None:
    with schema_context(tenant_a.schema_name):
        widget = widget_settings_get()
        widget.allowed_origins = ["https://shop-a.example"]
        widget.greeting = "Welcome to A"
        widget.save()
        key = widget.public_key
    with web.client(domain_of(tenant_a)) as client:
        ok = client.get("/widget/config", params={"key": key}, headers={"Origin": "https://shop-a.example"})
        assert ok.status_code == 200 and ok.json()["greeting"] == "Welcome to A"
        assert ok.headers["Access-Control-Allow-Origin"] == "https://shop-a.example"
        refused = client.get("/widget/config", params={"key": key}, headers={"Origin": "https://evil.example"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "origin_not_allowed"
        assert "Access-Control-Allow-Origin" not in refused.headers
    with web.client(domain_of(tenant_b)) as client:
        assert client.get("/widget/config", params={"key": key}).status_code == 404


def _agent_cookie(tenant) -> str:
    agent = team_member_create(tenant.schema_name, role="agent", email=f"agent-{uuid.uuid4().hex[:6]}@example.test",
                               password="pw-agent-1")
    return session_cookie_for(tenant.schema_name, agent)


def test_agent_socket_needs_a_session_of_this_tenant(web: WebServer, tenant_a, tenant_b) -> None:
    with pytest.raises(InvalidStatus):
        WidgetSocket(web.port, domain_of(tenant_a), "/ws/agent/")
    cookie_b = _agent_cookie(tenant_b)
    with pytest.raises(InvalidStatus):
        WidgetSocket(web.port, domain_of(tenant_a), "/ws/agent/", origin=f"http://{domain_of(tenant_a)}", cookie=cookie_b)


def test_customer_and_agent_on_two_server_processes_see_each_other_live(web: WebServer, tenant_a) -> None:
    second = WebServer(env=child_env(OPENAI_API_KEY=""))
    try:
        customer = open_widget(web, tenant_a)
        customer.recv_until("welcome")
        customer.send({"type": "message", "client_id": "x1", "text": "I want to talk to a person"})
        customer.recv_until("ack")
        conversation_id = customer.recv_until("status")["status"] and None
        with schema_context(tenant_a.schema_name):
            conversation_id = Conversation.objects.latest("id").pk
        agent = WidgetSocket(second.port, domain_of(tenant_a), "/ws/agent/", origin=f"http://{domain_of(tenant_a)}",
                             cookie=_agent_cookie(tenant_a))
        agent.recv_until("welcome")
        for unknown in (10**30, True, "1"):  # no such conversation, said so (10**30 was a server error)
            agent.send({"type": "subscribe", "conversation_id": unknown})
            assert agent.recv_until("error")["code"] == "not_found"
        agent.send({"type": "subscribe", "conversation_id": conversation_id})
        agent.recv_until("subscribed")
        agent.send({"type": "take_over", "conversation_id": conversation_id})
        assert customer.recv_until("status")["status"] == "human"
        joined = customer.recv_until("message")["message"]
        # An agent who gave no name is the business's team to the customer, never their e-mail address.
        assert joined["author"] == "system" and joined["text"] == "Business A team joined the conversation."
        agent.send({"type": "typing", "conversation_id": conversation_id, "on": True})
        assert customer.recv_until("typing") == {"type": "typing", "author": "agent", "on": True,
                                                 "name": "Business A team"}
        agent.send({"type": "message", "conversation_id": conversation_id, "text": "Hi, Sam here!", "client_id": "a1"})
        reply = customer.recv_until("message")["message"]
        assert reply["author"] == "agent" and reply["text"] == "Hi, Sam here!"
        assert reply["agent"] == "Business A team" and "@" not in json.dumps(customer.frames)
        agent.send({"type": "message", "conversation_id": conversation_id, "text": "internal only", "internal": True})
        customer.send({"type": "message", "client_id": "x2", "text": "<img src=x onerror=alert(1)> thanks"})
        customer.recv_until("ack")
        seen = agent.recv_until("message", timeout=20)
        while seen["message"]["author"] != "customer" or seen["message"]["client_id"] != "x2":
            seen = agent.recv_until("message", timeout=20)
        assert seen["message"]["text"] == "<img src=x onerror=alert(1)> thanks"  # stored and sent as text
        # The assistant stays silent after the takeover, and the internal note never reached the customer.
        assert not customer.of_type("answer.start")[1:] and "internal only" not in str(customer.frames)
        customer.close()
        agent.close()
    finally:
        second.stop()


def test_a_client_that_reconnects_mid_answer_gets_exactly_what_it_missed(demo_copies) -> None:
    cafe = demo_copies["cafe"]
    # Short sentences, streamed slowly: each checked sentence is released as its own piece.
    sentences = ["We are a small team.", "We love good coffee.", "We bake every morning.", "We roast our own beans.",
                 "We know our regulars.", "We play music on Fridays.", "We welcome dogs.", "Ask us anything!"]
    with FakeOpenAIServer() as llm:
        llm.default_reply = {"text": " ".join(sentences), "chunk_size": 6, "chunk_delay": 0.25}
        server = web_with_model(llm)
        try:
            first = open_widget(server, cafe)
            token = first.recv_until("welcome")["visitor_token"]
            first.send({"type": "message", "client_id": "m1", "text": "tell me about your team"})
            message_id = first.recv_until("ack")["message_id"]
            start = first.recv_until("answer.start")
            seen = [first.recv_until("answer.delta"), first.recv_until("answer.delta")]
            first.close()  # the connection drops mid-answer

            second = open_widget(server, cafe, token=token)
            second.recv_until("welcome")
            second.send({"type": "resume", "last_message_id": message_id, "answer_ref": start["answer_ref"],
                         "seq": seen[-1]["seq"]})
            end = second.recv_until("answer.end", answer_ref=start["answer_ref"], timeout=60)
            missed = [f for f in second.of_type("answer.delta") if f["answer_ref"] == start["answer_ref"]]
            assert missed, "the answer was still streaming when the client came back"
            assert [f["seq"] for f in missed] == list(range(3, 3 + len(missed)))
            whole = "".join(f["text"] for f in seen + missed)
            assert whole == end["message"]["text"] == " ".join(sentences)
            second.close()
            with schema_context(cafe.schema_name):
                assert Message.objects.filter(in_reply_to_id=message_id).count() == 1
        finally:
            server.stop()


def test_a_second_question_is_answered_knowing_the_first_answer(demo_copies) -> None:
    """The turn is read with the stored message, in one trip: it must still hold the conversation so far."""
    cafe = demo_copies["cafe"]
    with FakeOpenAIServer() as llm:
        llm.script_reply(text="Our terrace has twelve tables.")
        llm.script_reply(text="Yes, you can book one of them.")
        server = web_with_model(llm)
        try:
            ws = open_widget(server, cafe)
            ws.recv_until("welcome")
            ws.send({"type": "message", "client_id": "q1", "text": "tell me about your terrace"})
            first = ws.recv_until("answer.end", timeout=30)
            ws.send({"type": "message", "client_id": "q2", "text": "can I book a table there?"})
            asked = ws.recv_until("ack", client_id="q2")["message_id"]
            started = ws.recv_until("answer.start", reply_to=asked)
            second = ws.recv_until("answer.end", answer_ref=started["answer_ref"], timeout=30)
            ws.close()
        finally:
            server.stop()

    assert first["message"]["text"] == "Our terrace has twelve tables."
    assert second["message"]["text"] == "Yes, you can book one of them."
    history = [(m["role"], m["content"]) for m in llm.chat_requests[-1].json["messages"] if m["role"] != "system"]
    assert history[-3:] == [("user", "tell me about your terrace"), ("assistant", "Our terrace has twelve tables."),
                            ("user", "can I book a table there?")]


def test_a_web_process_told_to_stop_closes_its_model_connections_without_an_error(demo_copies) -> None:
    cafe = demo_copies["cafe"]
    with FakeOpenAIServer() as llm:
        llm.default_reply = {"text": "Dogs are welcome on the terrace."}
        server = web_with_model(llm)
        try:
            ws = open_widget(server, cafe)
            ws.recv_until("welcome")
            ws.send({"type": "message", "client_id": "m1", "text": "tell me about your terrace"})
            assert ws.recv_until("answer.end", timeout=30)["message"]["text"] == "Dogs are welcome on the terrace."
            assert llm.chat_requests, "the answer came from the model, over a connection kept open"
            ws.close()
        finally:
            server.stop()  # SIGTERM, as an orchestrator stops a task

    log = server.output()
    assert "Unclosed" not in log and "ERROR" not in log, log[-2000:]


def test_widget_script_and_demo_page_are_served(web: WebServer, demo_copies) -> None:
    shop = demo_copies["shop"]
    with web.client(domain_of(shop)) as client:
        page = client.get("/demo/")
        assert page.status_code == 200 and key_of(shop) in page.text and "/widget.js" in page.text
        script = client.get("/widget.js")
        assert script.status_code == 200 and script.headers["content-type"].startswith("application/javascript")
    assert isinstance(httpx, object)


@pytest.mark.parametrize("origin", ["http://[", "https://[::1", "https://shop.example\uff03.evil"])
def test_an_origin_header_that_is_no_url_is_not_allowed(origin: str) -> None:
    widget = SimpleNamespace(allowed_origins=["https://shop.example"])
    assert origin_allowed(widget, origin) is False  # urlsplit raised ValueError: a 500 instead of a 403
    assert origin_allowed(widget, "https://shop.example/") is True
