"""Traces reach a local OTLP collector from a real web process and a real worker: a widget answer
(its socket frame, knowledge search and queries, with the tenant), and a shop webhook's request with
its request id and tenant, joined by the task it queued. The same web process writes JSON access
lines, and no customer's e-mail address, phone number or key reaches its log."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import pytest
from django_tenants.utils import schema_context

from chat.assistant.resilience import circuit_reset
from chat.widget.services import widget_settings_get
from config.logging import redact
from config.redis import redis_client
from tests.orders import payloads
from tests.orders.conftest import SHOPIFY_SECRET, shop_connect
from tests.support.fake_openai import FakeOpenAIServer
from tests.support.otlp_collector import OtlpCollector, ReceivedSpan
from tests.support.processes import WebServer, Worker, child_env, make_run_env, wait_until
from tests.support.ws import WidgetSocket

EMAIL = "lotte.visser@example.com"
PHONE = "+31 6 1234 5678"
API_KEY = "sk-proj-Zx81kQ2mN4pL7rT0vW9y"


@pytest.fixture(scope="module")
def collector() -> Iterator[OtlpCollector]:
    server = OtlpCollector()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def traced_env(collector: OtlpCollector) -> dict[str, str]:
    # Spans leave every 200 ms instead of every 5 s, so the test waits less for them. Every answer is
    # worked out (no answer cache): other modules ask the session's demo businesses the same questions.
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url, "OTEL_BSP_SCHEDULE_DELAY": "200", "OPENAI_API_KEY": "",
            "ASSISTANT_CACHE_ENABLED": "false"}


@pytest.fixture(scope="module")
def web(traced_env: dict[str, str]) -> Iterator[WebServer]:
    """The web process as `make run` serves it, logging JSON as production does."""
    server = WebServer(env=make_run_env(DESKPILOT_LOG_FORMAT="json", **traced_env))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def worker(traced_env: dict[str, str]) -> Iterator[Worker]:
    redis_client().flushdb()
    process = Worker(queues="high", env=child_env(**traced_env))
    yield process
    process.stop()


def spans_of_trace(collector: OtlpCollector, trace_id: str) -> list[ReceivedSpan]:
    return [span for span in collector.received() if span.trace_id == trace_id]


def test_a_widget_answer_is_traced_with_its_tenant(web: WebServer, collector: OtlpCollector, demo_copies) -> None:
    cafe = demo_copies["cafe"]
    with schema_context(cafe.schema_name):
        key = widget_settings_get().public_key
    ws = WidgetSocket(web.port, cafe.get_primary_domain().domain, f"/ws/widget/?key={key}")
    ws.recv_until("welcome")
    ws.send({"type": "message", "client_id": "traced-1", "text": "can I bring my dog?"})
    ws.recv_until("answer.end")
    ws.close()

    frame = wait_until(lambda: next((span for span in collector.received() if span.name == "ws.frame message"
                                     and span.attributes.get("deskpilot.tenant") == cafe.schema_name), None),
                       timeout=20, message="the socket frame's span")
    assert frame.service == "web" and frame.attributes["deskpilot.request_id"]
    names = wait_until(lambda: {span.name for span in spans_of_trace(collector, frame.trace_id)} >= {"kb.search"}
                       and {span.name for span in spans_of_trace(collector, frame.trace_id)},
                       timeout=20, message="the answer's spans in the frame's trace")
    assert any(span.attributes.get("db.system") == "postgresql" for span in spans_of_trace(collector, frame.trace_id))
    assert "kb.search" in names


def test_a_model_call_makes_its_own_span_in_the_answers_trace(traced_env: dict[str, str], collector: OtlpCollector,
                                                               demo_copies) -> None:
    cafe = demo_copies["cafe"]
    with FakeOpenAIServer() as llm:
        asyncio.run(circuit_reset(base_url=llm.base_url))
        web = WebServer(env=child_env(**{**traced_env, "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": llm.base_url,
                                          "ASSISTANT_CACHE_ENABLED": "false"}))
        try:
            with schema_context(cafe.schema_name):
                key = widget_settings_get().public_key
            ws = WidgetSocket(web.port, cafe.get_primary_domain().domain, f"/ws/widget/?key={key}")
            ws.recv_until("welcome")
            ws.send({"type": "message", "client_id": "traced-llm", "text": "hello there"})
            ws.recv_until("answer.end")
            ws.close()
            assert llm.chat_requests, "the model was not asked"
            # Awaited while the server runs: its spans leave on the exporter's schedule.
            call = wait_until(lambda: next((span for span in collector.received() if span.name == "llm.chat"
                                            and span.attributes.get("deskpilot.tenant") == cafe.schema_name), None),
                              timeout=20, message="the model call's span")
        finally:
            web.stop()
    assert call.attributes["gen_ai.request.model"] and call.attributes["gen_ai.usage.output_tokens"] > 0
    frames = [span for span in spans_of_trace(collector, call.trace_id) if span.name == "ws.frame message"]
    assert frames and frames[0].attributes["deskpilot.tenant"] == cafe.schema_name


def test_a_webhook_request_and_the_task_it_queued_share_one_trace(web: WebServer, worker: Worker,
                                                                  collector: OtlpCollector, make_tenant) -> None:
    shop = make_tenant(name="Traced shop", timezone_name="Europe/Amsterdam").tenant
    shop_connect(shop.schema_name, currency="EUR")
    raw = payloads.body(payloads.shopify_order(name="#7001", order_id=7001))
    request_id = f"trace-{uuid.uuid4().hex}"
    headers = {**payloads.shopify_headers(SHOPIFY_SECRET, raw, "orders/create", "create-7001"),
               "X-Request-ID": request_id}
    with web.client(shop.get_primary_domain().domain) as client:
        assert client.post("/webhooks/shopify/", content=raw, headers=headers).status_code == 200

    def request_span() -> ReceivedSpan | None:
        return next((span for span in collector.received()
                     if span.service == "web" and span.attributes.get("deskpilot.request_id") == request_id
                     and span.attributes.get("http.request.method", span.attributes.get("http.method")) == "POST"),
                    None)

    http_span = wait_until(request_span, timeout=20, message="the request's span")
    assert http_span.attributes["deskpilot.tenant"] == shop.schema_name
    task_span = wait_until(lambda: next((span for span in spans_of_trace(collector, http_span.trace_id)
                                         if span.service == "worker" and span.name.startswith("run/")), None),
                           timeout=30, message="the task's span in the request's trace")
    assert task_span.attributes["deskpilot.request_id"] == request_id
    assert task_span.attributes["deskpilot.tenant"] == shop.schema_name
    by_id = {span.span_id: span for span in spans_of_trace(collector, http_span.trace_id)}
    ancestors, parent = [], task_span.parent_span_id
    while parent in by_id:  # the task's span descends from the request's
        ancestors.append(by_id[parent].span_id)
        parent = by_id[parent].parent_span_id
    assert http_span.span_id in ancestors


def test_access_lines_are_json_and_contact_details_never_reach_the_log(web: WebServer, demo_copies) -> None:
    cafe = demo_copies["cafe"]
    domain = cafe.get_primary_domain().domain
    with schema_context(cafe.schema_name):
        key = widget_settings_get().public_key
    ws = WidgetSocket(web.port, domain, f"/ws/widget/?key={key}")
    ws.recv_until("welcome")
    ws.send({"type": "message", "client_id": "contact-1",
             "text": f"I am {EMAIL}, call me on {PHONE}; my key is {API_KEY}"})
    ws.recv_until("answer.end")
    ws.close()
    with web.client(domain) as client:
        response = client.get(f"/app/login/?email={EMAIL}&next=/app/&api_key={API_KEY}",
                              headers={"Authorization": f"Bearer {API_KEY}"})
    request_id = response.headers["X-Request-ID"]

    def access_line() -> dict | None:
        for line in web.output().splitlines():
            if line.startswith("{") and request_id in line:
                entry = json.loads(line)
                if entry["logger"] == "deskpilot.access":
                    return entry
        return None

    entry = wait_until(access_line, timeout=10, message="the request's access line")
    assert entry["request_id"] == request_id and entry["tenant"] == cafe.schema_name
    assert entry["status"] == 200 and entry["method"] == "GET" and entry["duration_ms"] >= 0
    assert "[email]" in entry["path"] and "api_key=[redacted]" in entry["path"]
    assert len(entry["trace_id"]) == 32  # the request's trace, to find its spans by
    log = web.output()
    for secret in (EMAIL, PHONE, API_KEY, "Zx81kQ2mN4pL7rT0vW9y"):
        assert secret not in log


@pytest.mark.parametrize(("text", "expected"), [
    (f"write to {EMAIL} today", "write to [email] today"),
    (f"call {PHONE} or (020) 555-1234", "call [phone] or [phone]"),
    (f"key={API_KEY}", "key=[redacted]"),
    (f"using {API_KEY} now", "using [api-key] now"),
    ("Authorization: Bearer abcdefgh12345678", "Authorization: Bearer [token]"),
    ("GET /app/invite/AbC.def-123:xyz/ 200", "GET /app/invite/[token]/ 200"),
    ("GET /app/password-reset/MQ/cz8k-abc123/ 302", "GET /app/password-reset/[token]/ 302"),
    # What must stay readable: dates, times, addresses, versions, order numbers, request ids.
    ("2026-12-07 16:45:12 from 192.168.100.200:8000 v1.2.3 TL-10412 3f2a9c0e4b5d6a7f",
     "2026-12-07 16:45:12 from 192.168.100.200:8000 v1.2.3 TL-10412 3f2a9c0e4b5d6a7f"),
    ("GET /app/password-reset/sent/ 200", "GET /app/password-reset/sent/ 200"),
])
def test_redaction_of_one_line(text: str, expected: str) -> None:
    assert redact(text) == expected
