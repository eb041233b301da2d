"""Prometheus metrics: what the processes count, and `/metrics` on the platform domain.

Counters and histograms are prometheus-client's own. Under several web processes (gunicorn's
workers, or two daphnes behind a balancer) each process writes its samples to files in
PROMETHEUS_MULTIPROC_DIR and the scrape adds them up (the library's multiprocess mode); the
directory is emptied when the server starts (`metrics_dir_prepare`) and a dead worker's live gauges
are dropped (`metrics_worker_exit`). Without that variable (commands, tests in-process) the samples
stay in the process.

Figures that are true of the whole platform at the moment of the scrape (queue depth, dead letters,
outbox backlog, pool use, this month's usage) are read when `/metrics` is asked, by collectors the
apps register (`scrape_collector_register`): this module imports no app.

Labels are bounded: a route is its URL pattern's name, never a path with ids in it; a tenant appears
only in the usage summary, and only the few largest (`TOP_TENANTS`).
"""

from __future__ import annotations

import hmac
import logging
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

logger = logging.getLogger("deskpilot.metrics")

# How many tenants the usage summary names (the largest by this month's cost); the rest are summed.
TOP_TENANTS = 20
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "unmatched"

REQUESTS = Counter("deskpilot_http_requests_total", "HTTP requests answered, by route, method and status class.",
                   ["route", "method", "status"])
REQUEST_SECONDS = Histogram("deskpilot_http_request_duration_seconds", "Time to answer an HTTP request, by route.",
                            ["route", "method"],
                            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
WEBSOCKETS_OPEN = Gauge("deskpilot_websocket_connections", "WebSocket connections open now.", ["kind"],
                        multiprocess_mode="livesum")
ANSWERS = Counter("deskpilot_answers_total", "Answers to customer messages, by mode and outcome.",
                  ["mode", "outcome"])
FIRST_DELTA_SECONDS = Histogram("deskpilot_answer_first_delta_seconds",
                                "From taking a customer's message to the first piece of its answer sent.", ["mode"],
                                buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 12, 20))
LLM_TOKENS = Counter("deskpilot_llm_tokens_total", "Tokens of stored answers drafted by a model.", ["direction"])
LLM_COST = Counter("deskpilot_llm_cost_usd_total", "Estimated cost of stored answers drafted by a model (USD).")


def route_of(request: HttpRequest) -> str:
    """The URL pattern's name (`dashboard:inbox`), the same for every id in the path."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return UNMATCHED_ROUTE
    return match.view_name or (match.route or UNMATCHED_ROUTE)


def request_observe(*, request: HttpRequest, status: int, seconds: float) -> None:
    route = route_of(request)
    method = request.method if request.method in _KNOWN_METHODS else "OTHER"
    REQUESTS.labels(route=route, method=method, status=f"{status // 100}xx").inc()
    REQUEST_SECONDS.labels(route=route, method=method).observe(seconds)


def answer_observe(*, mode: str, outcome: str, first_delta_ms: int | None, tokens_in: int, tokens_out: int,
                   cost_minor: int) -> None:
    """One answer's figures; `mode` is the engine's (llm, offline, cache, none), `outcome` what became of it."""
    ANSWERS.labels(mode=mode, outcome=outcome).inc()
    if first_delta_ms is not None:
        FIRST_DELTA_SECONDS.labels(mode=mode).observe(first_delta_ms / 1000)
    if tokens_in or tokens_out:
        LLM_TOKENS.labels(direction="in").inc(tokens_in)
        LLM_TOKENS.labels(direction="out").inc(tokens_out)
    if cost_minor:
        LLM_COST.inc(cost_minor / settings.LLM_COST_MINOR_UNITS_PER_USD)


# ----------------------------------------------------------------------------- several processes

def metrics_dir_prepare() -> None:
    """Empty PROMETHEUS_MULTIPROC_DIR before the first web process starts (gunicorn's `on_starting`,
    `make run`): files a previous run left would be added to this run's figures."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return
    path = Path(folder)
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)


def metrics_worker_exit(pid: int) -> None:
    """A web worker process ended (gunicorn's `child_exit`): its live gauges (open sockets) stop counting."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)


# ----------------------------------------------------------------------------- the scrape

ScrapeCollect = Callable[[], Iterable[Metric]]
_scrape_collectors: list[ScrapeCollect] = []


def scrape_collector_register(collect: ScrapeCollect) -> None:
    """An app's figures read at each scrape (`collect` yields prometheus-client metric families)."""
    _scrape_collectors.append(collect)


def queues_collect() -> Iterator[Metric]:
    from config.backlog import queue_backlog

    waiting = GaugeMetricFamily("deskpilot_queue_waiting_tasks", "Tasks waiting in each Celery queue.",
                                labels=["queue"])
    oldest = GaugeMetricFamily("deskpilot_queue_oldest_task_age_seconds",
                               "How long the oldest task waiting in each queue has waited.", labels=["queue"])
    for backlog in queue_backlog():
        waiting.add_metric([backlog.queue], backlog.waiting)
        oldest.add_metric([backlog.queue], backlog.oldest_age_seconds)
    yield waiting
    yield oldest


def redis_collect() -> Iterator[Metric]:
    from config.redis import redis_client

    clients = redis_client().info("clients")
    connected = GaugeMetricFamily("deskpilot_redis_connected_clients", "Connections open to Redis, every process's.")
    connected.add_metric([], clients.get("connected_clients", 0))
    yield connected
    if "maxclients" in clients:
        limit = GaugeMetricFamily("deskpilot_redis_max_clients", "Connections Redis accepts at most.")
        limit.add_metric([], clients["maxclients"])
        yield limit


def database_collect() -> Iterator[Metric]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(state, 'unknown'), count(*) FROM pg_stat_activity "
                       "WHERE datname = current_database() GROUP BY 1")
        by_state = cursor.fetchall()
        cursor.execute("SHOW max_connections")
        (max_connections,) = cursor.fetchone()
    used = GaugeMetricFamily("deskpilot_database_connections", "Connections open to the database, by state.",
                             labels=["state"])
    for state, count in by_state:
        used.add_metric([state], count)
    yield used
    limit = GaugeMetricFamily("deskpilot_database_max_connections", "Connections the database accepts at most.")
    limit.add_metric([], float(max_connections))
    yield limit


_scrape_collectors.extend([queues_collect, redis_collect, database_collect])


class _ScrapeTime(Collector):
    def collect(self) -> Iterator[Metric]:
        for collect in _scrape_collectors:
            try:
                yield from collect()
            except Exception:  # one store down must not blank the others' figures
                logger.exception("metrics: %s failed", getattr(collect, "__name__", collect))


def metrics_text() -> bytes:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        for collector in (REQUESTS, REQUEST_SECONDS, WEBSOCKETS_OPEN, ANSWERS, FIRST_DELTA_SECONDS, LLM_TOKENS,
                          LLM_COST):
            registry.register(collector)
    registry.register(_ScrapeTime())
    return generate_latest(registry)


def bearer_token_matches(*, header: str, token: str) -> bool:
    scheme, _, supplied = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(supplied.strip().encode(), token.encode())


def metrics_view(request: HttpRequest) -> HttpResponse:
    """`/metrics`: 404 unless METRICS_TOKEN is set and sent as a bearer token (nothing tells a
    scanner that the page exists)."""
    token = settings.METRICS_TOKEN
    if not token or not bearer_token_matches(header=request.headers.get("Authorization", ""), token=token):
        return HttpResponseNotFound("Not Found", content_type="text/plain")
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)

