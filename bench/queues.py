"""Start delay of `critical` tasks while a backlog of `low` tasks waits.

    .venv/bin/python bench/queues.py [--backlog 10000] [--samples 30] [--concurrency 2]

One real worker serving -Q critical,high,medium,low with prefetch 1. The backlog is queued first;
then critical tasks are sent one at a time while the backlog drains, and each one's start delay
(the worker's recorded start time minus the send time) is measured.
"""

from __future__ import annotations

import argparse
import time
import uuid

from _django import percentile, setup


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backlog", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    setup()
    from django_tenants.utils import schema_context

    from config.celery import app
    from config.redis import redis_client, tenant_key
    from tenants.services import tenant_create
    from tests.support.processes import Worker, child_env, wait_until
    from tests.support.worker_probe import tenant_worker_probe

    redis_client().flushdb()
    slug = f"q{uuid.uuid4().hex[:10]}"
    tenant_create(slug=slug, name="Queue bench", domain=f"{slug}.bench.localhost")
    with schema_context(slug):
        started = time.perf_counter()
        with app.producer_or_acquire() as producer:
            for index in range(args.backlog):
                tenant_worker_probe.apply_async(args=[f"low-{index}"], producer=producer)
        print(f"queued {args.backlog} low tasks in {time.perf_counter() - started:.1f} s")

    # INFO: the worker's "ready" line is how the harness knows it is serving.
    worker = Worker(concurrency=args.concurrency, env=child_env(DJANGO_SETTINGS_MODULE="config.settings.local"))
    broker = app.connection().default_channel.client
    delays = []
    try:
        for sample in range(args.samples):
            marker = f"critical-{sample}-{uuid.uuid4().hex[:6]}"
            attempts = tenant_key(slug, "probe", marker, "attempts")
            with schema_context(slug):
                sent = time.time()
                tenant_worker_probe.apply_async(args=[marker], queue="critical")
            started_at = float(wait_until(lambda key=attempts: redis_client().lindex(key, 0), timeout=60,
                                          message="critical task start"))
            delays.append((started_at - sent) * 1000)
        remaining = broker.llen("low")
    finally:
        worker.stop()
    print(f"critical start delay over {len(delays)} samples with {remaining}+ low tasks still waiting: "
          f"p50 {percentile(delays, 50):.0f} ms, p95 {percentile(delays, 95):.0f} ms, max {max(delays):.0f} ms")


if __name__ == "__main__":
    main()
