"""Shop webhooks: deliveries accepted per second by one web process, and delivery-to-update latency.

    .venv/bin/python bench/webhooks.py [--burst 600] [--clients 8] [--rate 50] [--seconds 20]

Starts its own embedded PostgreSQL and Redis in a temporary data folder (DESKPILOT_DATA_DIR), one
daphne web process and one Celery worker (-Q high, concurrency 2), and makes a tenant with a
Shopify secret. Two phases:

1. burst: `--clients` threads post `--burst` signed orders/create deliveries as fast as the web
   process answers; reports accepted deliveries per second (the worker drains them meanwhile) and
   how long the worker took to apply them all.
2. steady: orders/updated deliveries (pending -> paid, one per order) sent at `--rate` per second for
   `--seconds`; reports p50/p95/max of the time from sending a delivery to its order being updated
   (the order row's `updated` stamp, written in the worker's transaction).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from _django import percentile, setup

SECRET = "bench-shopify-webhook-secret"


def order_payload(order_id: int, *, financial_status: str, updated_at: str) -> bytes:
    return json.dumps({
        "id": order_id, "name": f"#{order_id}", "email": f"customer{order_id}@example.com", "phone": "+31 6 1234 5678",
        "created_at": "2026-11-02T10:00:00+01:00", "updated_at": updated_at, "currency": "EUR",
        "financial_status": financial_status, "fulfillment_status": None, "cancelled_at": None,
        "subtotal_price": "59.95", "total_price": "64.90",
        "total_shipping_price_set": {"shop_money": {"amount": "4.95", "currency_code": "EUR"}},
        "line_items": [{"id": order_id * 10, "sku": "TL-HOOD-001-NAV-M", "name": "Essential Hoodie - Navy / M",
                        "quantity": 1, "price": "59.95"}],
        "fulfillments": [],
    }).encode()


def headers(body: bytes, topic: str, host: str) -> dict[str, str]:
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    return {"Host": host, "Content-Type": "application/json", "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": signature, "X-Shopify-Webhook-Id": str(uuid.uuid4())}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--burst", type=int, default=600)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_DEBUG", "false")
    setup()
    import httpx
    import psutil
    from django_tenants.utils import schema_context

    from config.redis import redis_client
    from orders.models import Order
    from orders.services.catalog import shop_secret_set
    from tenants.services import tenant_create
    from tests.support.processes import WebServer, Worker, child_env, wait_until

    redis_client().flushdb()
    slug = f"w{uuid.uuid4().hex[:10]}"
    host = f"{slug}.bench.localhost"
    tenant_create(slug=slug, name="Webhook bench", domain=host, timezone_name="Europe/Amsterdam")
    with schema_context(slug):
        shop_secret_set(platform="shopify", secret=SECRET)
    # Production-like: no DEBUG query log, and database connections kept open between requests and
    # tasks (DATABASE_CONN_MAX_AGE) instead of one new connection per delivery.
    env = child_env(DJANGO_SETTINGS_MODULE="config.settings.local", DJANGO_DEBUG="false",
                    DESKPILOT_LOG_LEVEL="WARNING", DATABASE_CONN_MAX_AGE=os.environ.get("DATABASE_CONN_MAX_AGE", "60"))
    web = WebServer(env=env)
    # The worker logs at INFO: its "ready." line is how we know it is serving.
    worker = Worker(queues="high", concurrency=2, env={**env, "DESKPILOT_LOG_LEVEL": "INFO"})
    local = threading.local()

    def post(body: bytes, topic: str) -> int:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=web.base_url, timeout=30)
        return client.post("/webhooks/shopify/", content=body, headers=headers(body, topic, host)).status_code

    def cpu_seconds(process: object) -> float:
        """CPU time used so far by a process and its children (the worker's pool processes)."""
        root = psutil.Process(process.pid)  # type: ignore[attr-defined]
        total = 0.0
        for member in [root, *root.children(recursive=True)]:
            try:
                times = member.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        return total

    def processed_count(status: str) -> int:
        with schema_context(slug):
            return Order.objects.filter(status=status).count()

    try:
        # Phase 1: burst of orders/create.
        bodies = [order_payload(100_000 + i, financial_status="pending", updated_at="2026-11-02T10:00:00+01:00")
                  for i in range(args.burst)]
        web_cpu, worker_cpu = cpu_seconds(web), cpu_seconds(worker)
        started = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            codes = list(pool.map(lambda body: post(body, "orders/create"), bodies))
        accepted_seconds = time.perf_counter() - started
        assert codes.count(200) == len(bodies), f"not all accepted: {set(codes)}"
        wait_until(lambda: processed_count("pending") >= len(bodies), timeout=600, interval=0.2,
                   message="burst applied")
        drained_seconds = time.perf_counter() - started
        print(f"burst: {len(bodies)} deliveries from {args.clients} clients accepted in {accepted_seconds:.1f} s = "
              f"{len(bodies) / accepted_seconds:.0f} deliveries/s by one web process; all applied after "
              f"{drained_seconds:.1f} s ({len(bodies) / drained_seconds:.0f}/s by one worker, concurrency 2)")
        print(f"burst CPU per delivery: web {(cpu_seconds(web) - web_cpu) / len(bodies) * 1000:.1f} ms, "
              f"worker {(cpu_seconds(worker) - worker_cpu) / len(bodies) * 1000:.1f} ms; "
              f"load average {os.getloadavg()[0]:.1f}")

        # Phase 2: steady rate of orders/updated, one order each; latency send -> order updated.
        count = min(int(args.rate * args.seconds), len(bodies))
        sent_at: dict[str, float] = {}
        schedule_start = time.time() + 0.5

        def send(index: int) -> None:
            order_id = 100_000 + index
            body = order_payload(order_id, financial_status="paid", updated_at="2026-11-02T11:00:00+01:00")
            sent_at[f"#{order_id}"] = time.time()
            post(body, "orders/updated")

        with ThreadPoolExecutor(32) as pool:
            for index in range(count):
                delay = schedule_start + index / args.rate - time.time()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(send, index)
        wait_until(lambda: processed_count("paid") >= count, timeout=600, interval=0.2, message="steady applied")
        with schema_context(slug):
            updated = dict(Order.objects.filter(number__in=list(sent_at)).values_list("number", "updated"))
        latencies = [(updated[number].timestamp() - sent) * 1000 for number, sent in sent_at.items()]
        print(f"steady: {count} deliveries at {args.rate:.0f}/s; delivery -> order updated: "
              f"p50 {percentile(latencies, 50):.0f} ms, p95 {percentile(latencies, 95):.0f} ms, "
              f"max {max(latencies):.0f} ms")
        print(f"measured {datetime.now().isoformat(timespec='minutes')} on {os.cpu_count()} CPUs")
    finally:
        worker.stop()
        web.stop()


if __name__ == "__main__":
    main()
