"""The API's customer side, as a business's app uses it: a customer token from the backend, then the
customer's conversations, messages, answers streamed over Server-Sent Events or returned whole,
rating and asking for a person; against the product as `make run` serves it, with a real fake model."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from django_tenants.utils import schema_context

from tests.api.answering import (
    SENTENCES,
    answering_server,
    conversation_row,
    docs_example,
    site,
    sse_events,
)
from tests.api.conftest import ApiTenant, api_key_for, api_tenant_create
from tests.support.fake_openai import FakeOpenAIServer, ScriptedReply
from tests.support.processes import WebServer


@pytest.fixture(scope="module")
def biz_a(django_db_setup: None, django_db_blocker: Any) -> ApiTenant:
    """Businesses of this module's own: what it stores never meets the other API tests' counts."""
    with django_db_blocker.unblock():
        return api_tenant_create("Customer side A")


@pytest.fixture(scope="module")
def biz_b(django_db_setup: None, django_db_blocker: Any) -> ApiTenant:
    with django_db_blocker.unblock():
        return api_tenant_create("Customer side B")


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture(scope="module")
def web(llm: FakeOpenAIServer) -> Iterator[WebServer]:
    server = answering_server(llm)
    yield server
    server.stop()


def token_for(web: WebServer, tenant: ApiTenant, customer_id: str, key: str | None = None) -> str:
    token_example = docs_example("customer-token")["customer_token"]
    with site(web, tenant) as shop:
        return str(token_example(shop, key or api_key_for(tenant), customer_id))


def start(web: WebServer, tenant: ApiTenant, token: str) -> int:
    with site(web, tenant) as shop:
        return int(docs_example("customer-start")["conversation_start"](shop, token))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_quick_start_streams_an_answer_piece_by_piece_and_stores_it(web: WebServer, biz_a: ApiTenant,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from chat.conversations.models import Message

    customer = f"cust-{uuid.uuid4().hex[:8]}"
    token = token_for(web, biz_a, customer)
    conversation_id = start(web, biz_a, token)
    ask = docs_example("customer-stream")["ask"]
    with site(web, biz_a) as shop:
        answer = ask(shop, token, conversation_id, "Tell me about your shop", "m-1")
    assert answer == " ".join(SENTENCES)
    # The app printed the pieces as they came: the whole answer, in order.
    assert capsys.readouterr().out == answer

    conversation = conversation_row(biz_a, conversation_id)
    assert conversation.channel == "api" and conversation.contact.visitor_id == f"api:{customer}"
    with site(web, biz_a) as shop:
        history = shop.get(f"/api/v1/customer/conversations/{conversation_id}/messages", headers=bearer(token))
        first_page = shop.get(f"/api/v1/customer/conversations/{conversation_id}/messages?limit=1",
                              headers=bearer(token)).json()
        rest = shop.get(f"/api/v1/customer/conversations/{conversation_id}/messages?limit=1&cursor="
                        f"{first_page['next_cursor']}", headers=bearer(token)).json()
    assert history.status_code == 200
    # Newest first, in pages.
    assert [(m["author"], m["text"]) for m in history.json()["data"]] == [
        ("assistant", answer), ("customer", "Tell me about your shop")]
    assert first_page["has_more"] is True and first_page["data"][0]["author"] == "assistant"
    assert rest["has_more"] is False and rest["data"][0]["author"] == "customer"
    with schema_context(biz_a.schema):
        assert Message.objects.filter(conversation_id=conversation_id).count() == 2


def test_each_piece_arrives_as_it_is_checked_with_pings_while_the_model_is_quiet(
        web: WebServer, llm: FakeOpenAIServer, biz_a: ApiTenant) -> None:
    from chat.conversations.models import Message

    llm.script_reply(ScriptedReply(text=" ".join(SENTENCES), chunk_size=8, chunk_delay=0.1, first_token_delay=1.2))
    token = token_for(web, biz_a, f"cust-{uuid.uuid4().hex[:8]}")
    conversation_id = start(web, biz_a, token)
    with site(web, biz_a) as shop, shop.stream(
            "POST", f"/api/v1/customer/conversations/{conversation_id}/messages",
            json={"text": "Who are you?", "client_id": "q-1"}, headers=bearer(token)) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = list(sse_events(response))
    names = [event.name for event in events]
    # Quiet while the model thinks: pings, then the pieces, then the stored answer.
    first_delta = names.index("message.delta")
    assert names[:first_delta] and set(names[:first_delta]) == {"ping"} and first_delta >= 2
    assert names[-1] == "message.completed" and set(names[first_delta:-1]) <= {"message.delta", "ping"}
    deltas = [event for event in events if event.name == "message.delta"]
    completed = events[-1]
    assert [d.data["seq"] for d in deltas] == list(range(1, len(deltas) + 1)) and len(deltas) >= 3
    assert "".join(d.data["text"] for d in deltas) == completed.data["message"]["text"] == " ".join(SENTENCES)
    # Streamed, not sent at the end: the first piece came well before the answer was whole.
    assert completed.at - deltas[0].at > 0.5
    reply_to = completed.data["reply_to"]
    assert all(event.data["reply_to"] == reply_to and event.data["conversation_id"] == conversation_id
               for event in deltas + [completed])
    with schema_context(biz_a.schema):
        stored = Message.objects.get(in_reply_to_id=reply_to)
    usage = completed.data["usage"]
    assert completed.data["mode"] == "llm" and usage["completion_tokens"] == stored.tokens_out > 0
    assert usage["prompt_tokens"] == stored.tokens_in > 0
    assert usage["total_tokens"] == stored.tokens_in + stored.tokens_out
    assert completed.data["message"]["id"] == stored.pk


def test_blocking_mode_returns_the_whole_answer_and_a_resent_message_is_answered_once(
        web: WebServer, llm: FakeOpenAIServer, biz_a: ApiTenant) -> None:
    from chat.conversations.models import Message

    token = token_for(web, biz_a, f"cust-{uuid.uuid4().hex[:8]}")
    conversation_id = start(web, biz_a, token)
    ask_and_wait = docs_example("customer-blocking")["ask_and_wait"]
    asked_before = len(llm.chat_requests)
    with site(web, biz_a) as shop:
        first = ask_and_wait(shop, token, conversation_id, "Do you ship abroad?", "same-id")
        # Sent again after a dropped connection, the app's id now as the Idempotency-Key.
        again = shop.post(f"/api/v1/customer/conversations/{conversation_id}/messages",
                          json={"text": "Do you ship abroad?", "stream": False},
                          headers={**bearer(token), "Idempotency-Key": "same-id"})
    assert first == " ".join(SENTENCES)
    assert again.status_code == 200
    body = again.json()
    assert body["answer"]["text"] == first and body["answer_pending"] is False and body["handoff"] is False
    assert body["message"]["client_id"] == "same-id" and body["usage"]["total_tokens"] > 0
    # Stored once, answered once, and the model asked once.
    assert len(llm.chat_requests) == asked_before + 1
    with schema_context(biz_a.schema):
        assert Message.objects.filter(conversation_id=conversation_id).count() == 2


def test_asking_for_a_person_rating_and_what_the_app_hears_while_a_person_has_it(
        web: WebServer, llm: FakeOpenAIServer, biz_a: ApiTenant) -> None:
    token = token_for(web, biz_a, f"cust-{uuid.uuid4().hex[:8]}")
    conversation_id = start(web, biz_a, token)
    asked_before = len(llm.chat_requests)
    with site(web, biz_a, **bearer(token)) as app:
        handed = app.post(f"/api/v1/customer/conversations/{conversation_id}/handoff", json={"reason": "refund"})
        assert handed.status_code == 200 and handed.json()["status"] == "needs_human"
        with app.stream("POST", f"/api/v1/customer/conversations/{conversation_id}/messages",
                        json={"text": "Hello? I want my money back"}) as response:
            events = list(sse_events(response))
        assert [event.name for event in events] == ["handoff"]
        assert events[0].data["status"] == "needs_human"
        blocking = app.post(f"/api/v1/customer/conversations/{conversation_id}/messages",
                            json={"text": "Anyone there?", "stream": False})
        assert blocking.status_code == 200
        assert blocking.json()["answer"] is None and blocking.json()["handoff"] is True
        # The assistant stays quiet while a person is asked for.
        assert len(llm.chat_requests) == asked_before

        rated = app.post(f"/api/v1/customer/conversations/{conversation_id}/rating", json={"score": 4})
        assert rated.status_code == 200 and rated.json()["rating"] == 4
        for bad in ({"score": 6}, {"score": "5"}, {"score": 3, "comment": "extra"}, {}):
            refused = app.post(f"/api/v1/customer/conversations/{conversation_id}/rating", json=bad)
            assert refused.status_code == 400, bad
            assert set(refused.json()["error"]) == {"code", "message", "details"}
        assert conversation_row(biz_a, conversation_id).rating == 4

        empty = app.post(f"/api/v1/customer/conversations/{conversation_id}/messages", json={"text": "   "})
        assert empty.status_code == 400 and empty.json()["error"]["code"] == "empty_message"
        listed = app.get("/api/v1/customer/conversations").json()["data"]
        assert [c["id"] for c in listed] == [conversation_id] and listed[0]["status"] == "needs_human"


def test_an_answer_that_fails_midway_ends_with_an_error_event(web: WebServer, llm: FakeOpenAIServer,
                                                               biz_a: ApiTenant) -> None:
    """The business deletes the conversation while its answer streams: the answer cannot be
    stored, and the app is told so instead of being left waiting."""
    from chat.conversations.models import Conversation

    llm.script_reply(ScriptedReply(text=" ".join(SENTENCES), chunk_size=8, chunk_delay=0.2))
    token = token_for(web, biz_a, f"cust-{uuid.uuid4().hex[:8]}")
    conversation_id = start(web, biz_a, token)
    names = []
    with site(web, biz_a) as shop, shop.stream(
            "POST", f"/api/v1/customer/conversations/{conversation_id}/messages",
            json={"text": "Tell me everything"}, headers=bearer(token)) as response:
        for event in sse_events(response):
            names.append(event.name)
            if event.name == "message.delta" and names.count("message.delta") == 1:
                with schema_context(biz_a.schema):
                    Conversation.objects.filter(pk=conversation_id).delete()
            if event.name == "error":
                assert event.data["error"]["code"] == "answer_failed"
    assert names[-1] == "error" and "message.completed" not in names


def test_a_customer_token_never_reaches_another_customers_or_another_businesss_data(
        web: WebServer, biz_a: ApiTenant, biz_b: ApiTenant) -> None:
    from chat.api.customer.services import customer_token_issue
    from chat.api.models import ApiKey
    from chat.api.services import api_key_revoke

    alice = token_for(web, biz_a, "alice")
    mallory = token_for(web, biz_a, "mallory")
    alice_conversation = start(web, biz_a, alice)
    with site(web, biz_a) as shop:
        docs_example("customer-blocking")["ask_and_wait"](shop, alice, alice_conversation, "My address is secret",
                                                          "a-1")
    # The same customer id at another business is another customer there.
    alice_at_b = token_for(web, biz_b, "alice")
    b_conversation = start(web, biz_b, alice_at_b)

    with site(web, biz_a, **bearer(mallory)) as app:
        path = f"/api/v1/customer/conversations/{alice_conversation}"
        probes = [app.get(path), app.get(f"{path}/messages"),
                  app.post(f"{path}/messages", json={"text": "hi", "stream": False}),
                  app.post(f"{path}/messages", json={"text": "hi"}),
                  app.post(f"{path}/rating", json={"score": 1}), app.post(f"{path}/handoff", json={}),
                  app.get(f"/api/v1/customer/conversations/{b_conversation}")]
        for probe in probes:
            assert probe.status_code == 404, (probe.request.url, probe.text)
            assert "secret" not in probe.text and probe.json()["error"]["code"] == "not_found"
        assert app.get("/api/v1/customer/conversations").json()["data"] == []
    # Alice's own token does not work at the other business, nor the other business's token here.
    with site(web, biz_b, **bearer(alice)) as other:
        assert other.get("/api/v1/customer/conversations").status_code == 401
    with site(web, biz_a, **bearer(alice_at_b)) as here:
        refused = here.get(f"/api/v1/customer/conversations/{b_conversation}")
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_token"
    # An API key is not a customer token, and a customer token is not an API key.
    with site(web, biz_a, **bearer(api_key_for(biz_a))) as with_key:
        assert with_key.get("/api/v1/customer/conversations").status_code == 401
    with site(web, biz_a, **bearer(alice)) as with_token:
        assert with_token.post("/api/v1/customer/tokens", json={"customer_id": "mallory"}).status_code == 401
    # A forged token (alice's, claiming mallory's contact) and an expired one are refused alike.
    forged = alice[:-6] + ("A" if alice[-6] != "A" else "B") + alice[-5:]
    with schema_context(biz_a.schema), time_machine.travel(timezone.now() - timedelta(hours=2)):
        key_row = ApiKey.objects.filter(revoked_at__isnull=True).first()
        expired = customer_token_issue(api_key_id=key_row.pk, customer_id="alice").token
    for headers in (bearer(forged), bearer(expired), bearer("ct_nonsense"), {}):
        with site(web, biz_a, **headers) as app:
            answer = app.get(f"/api/v1/customer/conversations/{alice_conversation}/messages")
            assert answer.status_code == 401 and answer.json()["error"]["code"] == "invalid_token"

    # Revoking the key that made a token ends the token at once.
    key = api_key_for(biz_a, name="app backend")
    token = token_for(web, biz_a, "alice", key=key)
    with site(web, biz_a, **bearer(token)) as app:
        assert app.get(f"/api/v1/customer/conversations/{alice_conversation}").status_code == 200
        with schema_context(biz_a.schema):
            api_key_revoke(key_id=key.split("_")[1])
        assert app.get(f"/api/v1/customer/conversations/{alice_conversation}").status_code == 401


def test_the_token_exchange_checks_its_key_and_its_input(web: WebServer, biz_a: ApiTenant) -> None:
    read_only = api_key_for(biz_a, scopes=["read", "conversations"])
    other_area = api_key_for(biz_a, scopes=["read", "write", "catalog"])
    with site(web, biz_a) as shop:
        for key in (read_only, other_area):
            refused = shop.post("/api/v1/customer/tokens", json={"customer_id": "x"}, headers=bearer(key))
            assert refused.status_code == 403 and refused.json()["error"]["code"] == "insufficient_scope"
        key = api_key_for(biz_a)
        for body in ({}, {"customer_id": ""}, {"customer_id": "has space"}, {"customer_id": "x" * 61},
                     {"customer_id": "ok", "role": "admin"}, {"customer_id": "ok", "email": "not-an-address"}):
            refused = shop.post("/api/v1/customer/tokens", json=body, headers=bearer(key))
            assert refused.status_code == 400, body
        made = shop.post("/api/v1/customer/tokens", json={"customer_id": "c.42", "name": "Ana", "email": "ana@x.test"},
                         headers=bearer(key))
    assert made.status_code == 201
    body = made.json()
    assert body["customer_id"] == "c.42" and body["token"].startswith("ct_")
    lifetime = timezone.datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00")) - timezone.now()
    assert timedelta(minutes=55) < lifetime <= timedelta(hours=1)


def test_an_answer_that_asks_for_a_person_ends_with_a_handoff_event(web: WebServer) -> None:
    """A topic the business keeps for people: the assistant says a person will take over, the answer
    is completed, then `handoff` tells the app the conversation is now the team's."""
    from django.db import transaction

    from chat.conversations.services import business_profile_get
    from config.content_version import content_version_bump
    from tests.api.conftest import api_tenant_create

    shop = api_tenant_create("Refund shop")
    with schema_context(shop.schema), transaction.atomic():
        profile = business_profile_get()
        profile.human_only_topics = ["refund"]
        profile.save(update_fields=["human_only_topics"])
        content_version_bump()
    token = token_for(web, shop, "carol")
    conversation_id = start(web, shop, token)
    with site(web, shop) as client, client.stream(
            "POST", f"/api/v1/customer/conversations/{conversation_id}/messages",
            json={"text": "I want a refund for my order"}, headers=bearer(token)) as response:
        events = list(sse_events(response))
    names = [event.name for event in events]
    assert names[-2:] == ["message.completed", "handoff"], names
    assert events[-1].data["status"] == "needs_human"
    assert conversation_row(shop, conversation_id).status == "needs_human"
