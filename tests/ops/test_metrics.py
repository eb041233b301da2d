"""/metrics as the operators' scraper reads it: only with the token, and the figures of every web
process together (two daphnes sharing one PROMETHEUS_MULTIPROC_DIR, as gunicorn's workers do), from
real requests, sockets and answers, with no id in any label."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.utils import timezone
from django_tenants.utils import schema_context
from prometheus_client.parser import text_string_to_metric_families

from chat.widget.services import widget_settings_get
from config.metrics import metrics_text, metrics_worker_exit
from tenants.models import DeadLetter, UsageEntry
from tests.support.processes import WebServer, child_env
from tests.support.worker_probe import tenant_worker_probe
from tests.support.ws import WidgetSocket

TOKEN = "metrics-token-for-the-scraper"


@pytest.fixture(scope="module")
def metrics_folder() -> Iterator[str]:
    folder = tempfile.mkdtemp(prefix="deskpilot-metrics-")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def webs(metrics_folder: str) -> Iterator[tuple[WebServer, WebServer]]:
    """Two web processes writing to one folder, as gunicorn's workers do."""
    env = child_env(METRICS_TOKEN=TOKEN, PROMETHEUS_MULTIPROC_DIR=metrics_folder, OPENAI_API_KEY="")
    first = WebServer(env=env)
    second = WebServer(env=env)
    yield first, second
    first.stop()
    second.stop()


def scrape(web: WebServer, token: str | None = TOKEN) -> httpx.Response:
    headers = {"Host": "localhost"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.get(f"{web.base_url}/metrics", headers=headers, timeout=30)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def widget_answer(web: WebServer, tenant: object, question: str, *, keep_open: bool = False) -> WidgetSocket:
    with schema_context(tenant.schema_name):  # type: ignore[attr-defined]
        key = widget_settings_get().public_key
    ws = WidgetSocket(web.port, tenant.get_primary_domain().domain, f"/ws/widget/?key={key}")  # type: ignore[attr-defined]
    ws.recv_until("welcome")
    ws.send({"type": "message", "client_id": uuid.uuid4().hex, "text": question})
    ws.recv_until("answer.end")
    if not keep_open:
        ws.close()
    return ws


def test_no_token_setting_means_404_and_a_wrong_token_is_404_too() -> None:
    client = Client(HTTP_HOST="localhost")
    with override_settings(METRICS_TOKEN=""):
        assert client.get("/metrics").status_code == 404
        assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404
    with override_settings(METRICS_TOKEN=TOKEN):
        assert client.get("/metrics").status_code == 404
        assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}x").status_code == 404
        assert client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 404
        answered = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert answered.status_code == 200 and b"deskpilot_http_requests_total" in answered.content


def test_metrics_live_on_the_platform_domain_only(webs, demo_copies) -> None:
    web, _ = webs
    cafe_domain = demo_copies["cafe"].get_primary_domain().domain
    on_tenant = httpx.get(f"{web.base_url}/metrics", headers={"Host": cafe_domain,
                                                              "Authorization": f"Bearer {TOKEN}"})
    assert on_tenant.status_code == 404 and "deskpilot_" not in on_tenant.text


def test_both_processes_figures_add_up_with_bounded_labels(webs, demo_copies) -> None:
    first, second = webs
    cafe = demo_copies["cafe"]
    domain = cafe.get_primary_domain().domain
    before = samples(scrape(first).text)
    conversation_id = 987654
    for web in (first, second):
        with web.client(domain) as client:
            assert client.get("/app/login/").status_code == 200
            assert client.get(f"/app/inbox/{conversation_id}/").status_code == 302  # to the login page
    widget_answer(first, cafe, "can I bring my dog?")
    still_open = widget_answer(second, cafe, "are you open on Sunday?", keep_open=True)
    with schema_context(cafe.schema_name):
        tenant_worker_probe.apply_async(args=[uuid.uuid4().hex])  # no worker here: it waits in `low`
    letter = DeadLetter.objects.create(task_name="tests.ops.probe", task_id=uuid.uuid4().hex, queue="low",
                                       error="boom", first_failed_at=timezone.now(), last_failed_at=timezone.now())
    UsageEntry.objects.create(tenant=cafe, kind=UsageEntry.Kind.LLM_CALL, tokens_in=1000, tokens_out=500,
                              cost_minor=7_500_000)

    text = scrape(first).text
    after = samples(text)
    still_open.close()
    login = {"route": "dashboard:login", "method": "GET", "status": "2xx"}
    assert value(after, "deskpilot_http_requests_total", **login) - value(before, "deskpilot_http_requests_total",
                                                                          **login) == 2
    conversation = {"route": "dashboard:conversation", "method": "GET", "status": "3xx"}
    assert value(after, "deskpilot_http_requests_total", **conversation) >= 2
    assert value(after, "deskpilot_http_request_duration_seconds_count", route="dashboard:login", method="GET") >= 2
    answered = {"mode": "offline", "outcome": "answered"}
    assert value(after, "deskpilot_answers_total", **answered) - value(before, "deskpilot_answers_total",
                                                                       **answered) == 2
    assert value(after, "deskpilot_answer_first_delta_seconds_count", mode="offline") - value(
        before, "deskpilot_answer_first_delta_seconds_count", mode="offline") == 2
    assert value(after, "deskpilot_websocket_connections", kind="widget") == 1  # the one still open, on `second`
    assert value(after, "deskpilot_queue_waiting_tasks", queue="low") >= 1
    assert value(after, "deskpilot_queue_oldest_task_age_seconds", queue="low") > 0
    assert value(after, "deskpilot_dead_letters", queue="low") >= 1
    assert value(after, "deskpilot_usage_month_top_tenant_cost_usd", tenant=cafe.schema_name) >= 7.5
    assert value(after, "deskpilot_usage_month_cost_usd") >= 7.5
    assert value(after, "deskpilot_database_connections", state="active") >= 1
    assert value(after, "deskpilot_database_max_connections") > 0
    assert value(after, "deskpilot_redis_connected_clients") >= 1
    assert ("deskpilot_outbox_backlog", frozenset({("state", "overdue")})) in after
    # No id of anything in any label: not the conversation's, not the dead letter's.
    label_values = {value for (_, labels) in after for _, value in labels}
    assert not any(str(conversation_id) in label or str(letter.pk) == label for label in label_values)
    assert not [label for label in label_values if re.fullmatch(r"\d+", label)]
    DeadLetter.objects.filter(pk=letter.pk).delete()


def test_every_metric_the_grafana_dashboard_plots_is_served() -> None:
    dashboard = json.loads((Path(settings.BASE_DIR) / "deploy" / "grafana-dashboard.json").read_text())
    plotted = {name for panel in dashboard["panels"] for target in panel["targets"]
               for name in re.findall(r"deskpilot_[a-z_]+", target["expr"])}
    # What /metrics declares, samples or not yet (a counter no answer has touched still has its family).
    families = list(text_string_to_metric_families(metrics_text().decode()))
    served = {family.name + suffix for family in families for suffix in ("", "_total", "_bucket", "_count", "_sum")}
    assert len(plotted) >= 15 and plotted <= served, plotted - served


def test_a_dead_web_process_stops_counting_its_open_sockets(webs, metrics_folder, demo_copies, monkeypatch) -> None:
    """Last in the module: it kills the second process."""
    survivor, doomed = webs
    ws = widget_answer(doomed, demo_copies["cafe"], "hello", keep_open=True)
    assert value(samples(scrape(survivor).text), "deskpilot_websocket_connections", kind="widget") == 1
    # The sockets are counted by gunicorn's worker processes, not its master.
    workers = [child.pid for child in psutil.Process(doomed.pid).children()]
    doomed.kill()
    ws.close()
    # What gunicorn's child_exit hook does for a worker that died.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", metrics_folder)
    for pid in workers:
        metrics_worker_exit(pid)
    assert value(samples(scrape(survivor).text), "deskpilot_websocket_connections", kind="widget") == 0
