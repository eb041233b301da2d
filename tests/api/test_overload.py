"""The API under more requests at once than a web process has request threads: it waits (or refuses
clearly, 503 `overloaded` with Retry-After), never fails with a 500, loses or doubles no message, and
holds no more PostgreSQL connections than its settings allow (config/request_threads.py); against
the product as `make run` serves it, its assistant asking a fake model."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil
import pytest
from django.conf import settings
from django_tenants.utils import schema_context

from tests.api.answering import SENTENCES, answering_server, sse_events
from tests.api.conftest import ApiTenant, api_tenant_create
from tests.support.fake_openai import FakeOpenAIServer, ScriptedReply
from tests.support.peak import Peak
from tests.support.processes import WebServer, wait_until

ANSWER = " ".join(SENTENCES)
REQUEST_THREADS = 2
ASYNC_THREADS = 2
WAIT_SECONDS = 3.0
BURST = 30


@pytest.fixture(scope="module")
def biz(django_db_setup: None, django_db_blocker: Any) -> ApiTenant:
    with django_db_blocker.unblock():
        return api_tenant_create("Overload")


@pytest.fixture(scope="module")
def other(django_db_setup: None, django_db_blocker: Any) -> ApiTenant:
    """A second business, whose requests take turns on the same two threads (and connections)."""
    with django_db_blocker.unblock():
        return api_tenant_create("Overload, the other business")


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(first_token_delay=0.2) as server:
        yield server


@pytest.fixture(scope="module")
def web(llm: FakeOpenAIServer) -> Iterator[WebServer]:
    # Every answer of the burst from the model, none turned away by the business's own limit on
    # answers it asks at once.
    server = answering_server(llm, WEB_REQUEST_THREADS=str(REQUEST_THREADS), WEB_REQUEST_WAIT_SECONDS=str(WAIT_SECONDS),
                              DATABASE_ASYNC_THREADS=str(ASYNC_THREADS), LLM_TENANT_MAX_CONCURRENCY=str(BURST))
    yield server
    server.stop()


@dataclass(frozen=True)
class Customer:
    token: str
    conversation_id: int


def customers(tenant: ApiTenant, count: int) -> tuple[str, list[Customer]]:
    """An API key and `count` customers, each with a token and a conversation, made by the services."""
    from chat.api.customer.services import customer_conversation_start, customer_token_issue
    from chat.api.services import api_key_create

    with schema_context(tenant.schema):
        created = api_key_create(name=f"overload {uuid.uuid4().hex[:6]}")
        made = []
        for n in range(count):
            issued = customer_token_issue(api_key_id=created.api_key.pk, customer_id=f"c{n}-{uuid.uuid4().hex[:6]}")
            made.append(Customer(issued.token, customer_conversation_start(identity=issued.identity).pk))
    return created.key, made


def refused_clearly(response: httpx.Response) -> bool:
    return (response.status_code == 503 and response.json()["error"]["code"] == "overloaded"
            and int(response.headers["Retry-After"]) > 0 and bool(response.headers.get("X-Request-ID")))


def connections_held(web: WebServer) -> int:
    """PostgreSQL connections the server's processes hold now."""
    server, port = psutil.Process(web.process.pid), urlsplit(settings.DATABASE_URL).port
    held = 0
    for process in [server, *server.children(recursive=True)]:
        try:
            held += sum(1 for c in process.net_connections(kind="tcp") if c.raddr and c.raddr.port == port)
        except psutil.NoSuchProcess:
            continue
    return held


def sse_ask(web: WebServer, tenant: ApiTenant, customer: Customer, text: str) -> tuple[httpx.Response, str]:
    """The customer's message, its answer read from the event stream (the text of its deltas)."""
    with httpx.Client(base_url=web.base_url, headers={"Host": tenant.domain}, timeout=30) as client, client.stream(
            "POST", f"/api/v1/customer/conversations/{customer.conversation_id}/messages",
            json={"text": text, "stream": True}, headers={"Authorization": f"Bearer {customer.token}"}) as response:
        if response.status_code != 200:
            response.read()
            return response, ""
        events = list(sse_events(response))
    assert events[-1].name == "message.completed", events
    return response, "".join(event.data["text"] for event in events if event.name == "message.delta")


def blocking_ask(web: WebServer, tenant: ApiTenant, customer: Customer, text: str) -> tuple[httpx.Response, str]:
    with httpx.Client(base_url=web.base_url, headers={"Host": tenant.domain}, timeout=30) as client:
        response = client.post(f"/api/v1/customer/conversations/{customer.conversation_id}/messages",
                               json={"text": text, "stream": False},
                               headers={"Authorization": f"Bearer {customer.token}"})
    return response, (response.json()["answer"]["text"] if response.status_code == 200 else "")


def completion_ask(web: WebServer, tenant: ApiTenant, key: str, user: str, text: str) -> tuple[httpx.Response, str]:
    """A streamed chat completion read to `[DONE]`: the text of its chunks."""
    with httpx.Client(base_url=web.base_url, headers={"Host": tenant.domain}, timeout=30) as client, client.stream(
            "POST", "/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
            json={"model": "deskpilot-assistant", "stream": True, "user": user,
                  "messages": [{"role": "user", "content": text}]}) as response:
        if response.status_code != 200:
            response.read()
            return response, ""
        lines = [line.removeprefix("data: ") for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]", lines
    chunks = [json.loads(line) for line in lines[:-1]]
    assert not any("error" in chunk for chunk in chunks), chunks
    return response, "".join(choice["delta"].get("content") or "" for chunk in chunks for choice in chunk["choices"])


def test_more_requests_than_threads_wait_their_turn_and_every_message_is_answered_once(
        web: WebServer, biz: ApiTenant, other: ApiTenant) -> None:
    from chat.conversations.models import Message

    # Two businesses in turn: their conversations' ids are the same numbers in their own schemas,
    # so a request run with the other's search path left on its thread would write there.
    tenants = [biz, other]
    made = [customers(tenant, 10) for tenant in tenants]
    texts = {n: f"Question {n}: do you ship to {uuid.uuid4().hex[:6]}?" for n in range(BURST)}

    def ask(n: int) -> tuple[httpx.Response, str]:
        # Streamed answers (customer side), blocking ones (which hold a thread while they wait), and
        # streamed chat completions, all at once.
        tenant, (key, people) = tenants[n % 2], made[n % 2]
        if n < 16:
            return sse_ask(web, tenant, people[n // 2], texts[n])
        if n < 20:
            return blocking_ask(web, tenant, people[n // 2], texts[n])
        return completion_ask(web, tenant, key, f"openai-{n}", texts[n])

    with Peak(lambda: connections_held(web), every_seconds=0.01) as connections, ThreadPoolExecutor(max_workers=BURST) as clients:
        results = list(clients.map(ask, range(BURST)))

    statuses = [response.status_code for response, _ in results]
    assert 500 not in statuses and all(status in (200, 503) for status in statuses), statuses
    for n, (response, answer) in enumerate(results):
        if response.status_code == 503:
            assert refused_clearly(response), response.text
        else:
            assert answer == ANSWER, (n, answer)
    # All arrived at once on two threads: all but the first two answered waited for a thread, and
    # most did rather than being refused (each request holds its thread briefly; a loaded machine
    # makes that longer, hence not all).
    assert statuses.count(200) >= BURST // 2, statuses
    for n, (response, _) in enumerate(results):
        with schema_context(tenants[n % 2].schema):
            stored = Message.objects.filter(author="customer", text=texts[n])
            # Stored once when accepted, not at all when refused (the app sends it again).
            assert stored.count() == (1 if response.status_code == 200 else 0), (n, response.status_code)
            if response.status_code == 200:
                answers = Message.objects.filter(conversation_id=stored.get().conversation_id, author="assistant")
                assert list(answers.values_list("text", flat=True)) == [ANSWER]
        with schema_context(tenants[1 - n % 2].schema):
            assert not Message.objects.filter(text=texts[n]).exists(), n
    # Each request thread and each database thread of config.db keeps one connection; the process's
    # start-up work may have kept one more on its main thread.
    assert 0 < connections.most <= REQUEST_THREADS + ASYNC_THREADS + 1, connections.most


def test_a_request_that_finds_no_thread_within_the_wait_is_refused_with_retry_after(
        web: WebServer, llm: FakeOpenAIServer, biz: ApiTenant) -> None:
    from chat.conversations.models import Message

    _, people = customers(biz, REQUEST_THREADS + 1)
    asked_before = len(llm.chat_requests)
    # Blocking answers hold their request thread while they wait: the model is slow for these two.
    llm.script_reply(ScriptedReply(text=ANSWER, first_token_delay=WAIT_SECONDS + 1.0), times=REQUEST_THREADS)
    with ThreadPoolExecutor(max_workers=REQUEST_THREADS) as clients:
        holding = [clients.submit(blocking_ask, web, biz, people[n], f"Slow question {n}")
                   for n in range(REQUEST_THREADS)]
        wait_until(lambda: len(llm.chat_requests) >= asked_before + REQUEST_THREADS, timeout=10,
                   message="both slow answers asked of the model")
        started = time.monotonic()
        refused, _ = sse_ask(web, biz, people[-1], "Anyone there?")
        waited = time.monotonic() - started
        # The load balancer's health checks never queue behind requests.
        checked = time.monotonic()
        assert httpx.get(f"{web.base_url}/readyz", timeout=WAIT_SECONDS).status_code == 200
        assert time.monotonic() - checked < WAIT_SECONDS
        held = [future.result() for future in holding]
    assert refused_clearly(refused), refused.text
    assert refused.json()["error"]["details"] == {"retry_after_seconds": int(refused.headers["Retry-After"])}
    assert waited >= WAIT_SECONDS
    # The two that held the threads were answered; the refused message was never stored.
    assert [(response.status_code, answer) for response, answer in held] == [(200, ANSWER)] * REQUEST_THREADS
    with schema_context(biz.schema):
        assert not Message.objects.filter(text="Anyone there?").exists()
    # Sent again once a thread is free, it is answered.
    again, answer = sse_ask(web, biz, people[-1], "Anyone there?")
    assert again.status_code == 200 and answer == ANSWER
