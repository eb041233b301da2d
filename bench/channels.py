"""Messaging channels: WhatsApp webhook acknowledgement and inbound -> answer sent, at a steady rate.

    .venv/bin/python bench/channels.py [--rate 50] [--seconds 20] [--worker-concurrency 2] [--web-processes N]

Starts its own embedded PostgreSQL and Redis in a temporary data folder (DESKPILOT_DATA_DIR), the
web server as `make run` starts it (gunicorn, --web-processes worker processes; WEB_CONCURRENCY,
make run's default, without it) and one Celery worker (-Q critical,high), the fake Graph API
(tests/support/fake_messaging.py) in this process as WhatsApp, and a tenant with a connected WhatsApp
number. Each sending thread opens its connection before its first message, and a warm-up comes
first, unmeasured: --warm-up messages arriving at 10 a second, so the figures are a server's in
service, not its first seconds after a start (docs/benchmarks.md, "warm and cold"). Then signed text messages from distinct customers arrive at `--rate` per
second for `--seconds` (open loop: each is sent at its time whatever the earlier ones are doing).
Reports the webhook's acknowledgement p50 and p95 (the POST's round trip, what Meta
waits for) and its median per 2 s of arrivals (a backlog that forms and stays shows there), p95 of
inbound -> answer sent (from sending the webhook to the fake Graph API receiving the answer), and
messages not answered within 60 s.
The assistant runs offline (no LLM key), so the figure is the platform's own path, not a model's.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _django import percentile, setup

# This file's name is also the `channels` package's (Django Channels): with bench/ first on the path,
# `import channels` would find this script instead.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]

ANSWER_TIMEOUT_SECONDS = 60


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--web-processes", type=int, help="gunicorn worker processes (default: WEB_CONCURRENCY)")
    parser.add_argument("--warm-up", type=int, default=40, help="messages sent, unmeasured, before the run")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_DEBUG", "false")
    setup()
    import httpx
    from django.conf import settings
    from django_tenants.utils import schema_context

    from chat.messaging.services import channel_whatsapp_connect
    from config.redis import redis_client
    from tenants.services import tenant_create
    from tests.messaging import payloads
    from tests.support.fake_messaging import FakeMessagingServer
    from tests.support.processes import WebServer, Worker, child_env, wait_until

    redis_client().flushdb()
    fake = FakeMessagingServer().start()
    settings.WHATSAPP_GRAPH_BASE_URL = fake.url
    settings.EGRESS_ALLOWED_NETWORKS = ["127.0.0.1"]
    slug = f"c{uuid.uuid4().hex[:10]}"
    host = f"{slug}.bench.localhost"
    tenant_create(slug=slug, name="Channels bench", domain=host, timezone_name="Europe/Amsterdam")
    number, token, secret = "106540352242922", "EAAGbench", "bench-app-secret"
    fake.whatsapp_number_add(phone_number_id=number, token=token)
    with schema_context(slug):
        channel = channel_whatsapp_connect(phone_number_id=number, business_account_id="102290129340398",
                                           access_token=token, app_secret=secret)
    env = child_env(DJANGO_SETTINGS_MODULE="config.settings.local", DJANGO_DEBUG="false", OPENAI_API_KEY="",
                    DESKPILOT_LOG_LEVEL="WARNING", DATABASE_CONN_MAX_AGE=os.environ.get("DATABASE_CONN_MAX_AGE", "60"),
                    WHATSAPP_GRAPH_BASE_URL=fake.url, EGRESS_ALLOWED_NETWORKS="127.0.0.1")
    if args.web_processes:
        env["WEB_CONCURRENCY"] = str(args.web_processes)
    web = WebServer(env=env)
    worker = Worker(queues="critical,high", concurrency=args.worker_concurrency,
                    env={**env, "DESKPILOT_LOG_LEVEL": "INFO"})
    local = threading.local()
    sent_at: dict[str, float] = {}
    acks: list[float] = []
    acks_at: list[tuple[float, float]] = []
    failures: list[int] = []
    path = f"/webhooks/whatsapp/{channel.pk}/"

    def connect() -> None:
        local.client = httpx.Client(base_url=web.base_url, timeout=30)
        local.client.get("/healthz")

    def post(index: int, *, measured: bool = True) -> None:
        client = local.client
        wa_id = f"3161{index:07d}"
        raw = payloads.body(payloads.whatsapp_text(number, "Are you open on Sunday?",
                                                   message_id=f"wamid.{uuid.uuid4().hex}", wa_id=wa_id))
        headers = {"Host": host, "Content-Type": "application/json",
                   "X-Hub-Signature-256": payloads.signature(secret, raw)}
        started = time.time()
        sent_at[wa_id] = started
        response = client.post(path, content=raw, headers=headers)
        if not measured:
            del sent_at[wa_id]
            return
        acks.append(time.time() - started)
        acks_at.append((started, acks[-1]))
        if response.status_code != 200 or response.json().get("stored") != 1:
            failures.append(response.status_code)

    total = int(args.rate * args.seconds)
    try:
        with ThreadPoolExecutor(64, initializer=connect) as pool:
            warm_up = []
            for index in range(args.warm_up):
                warm_up.append(pool.submit(post, total + index, measured=False))
                time.sleep(0.1)
            for sent in warm_up:
                sent.result()
            wait_until(lambda: len(fake.state.sent("whatsapp")) >= args.warm_up, timeout=ANSWER_TIMEOUT_SECONDS,
                       interval=0.5, message="the warm-up's answers sent")
            load_before = os.getloadavg()
            start = time.time() + 0.5
            for index in range(total):
                delay = start + index / args.rate - time.time()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(post, index)

        def answered() -> dict[str, float]:
            return {r.body["to"]: r.at for r in fake.state.sent("whatsapp") if r.body["to"] in sent_at}

        try:
            wait_until(lambda: len(answered()) >= total, timeout=ANSWER_TIMEOUT_SECONDS, interval=0.5,
                       message="every answer sent")
        except AssertionError:
            pass
        answers = answered()
        to_answer = [answers[wa_id] - at for wa_id, at in sent_at.items() if wa_id in answers]
        print(f"channels bench: {total} WhatsApp messages at {args.rate:g}/s after {args.warm_up} to warm up, "
              f"web processes {env.get('WEB_CONCURRENCY', 'make run default')}, worker concurrency "
              f"{args.worker_concurrency}, load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}")
        print(f"  webhook ack: p50 {percentile(acks, 50) * 1000:.0f} ms, p95 {percentile(acks, 95) * 1000:.0f} ms, "
              f"max {max(acks) * 1000:.0f} ms; refused or not stored: {len(failures)}")
        first = min(at for at, _ in acks_at)
        windows: dict[int, list[float]] = {}
        for at, took in acks_at:
            windows.setdefault(int((at - first) // 2), []).append(took)
        print("  webhook ack median per 2 s of arrivals (ms): "
              + " ".join(f"{percentile(took, 50) * 1000:.0f}" for _, took in sorted(windows.items())))
        if to_answer:
            print(f"  inbound -> answer sent: p50 {percentile(to_answer, 50) * 1000:.0f} ms, "
                  f"p95 {percentile(to_answer, 95) * 1000:.0f} ms, max {max(to_answer) * 1000:.0f} ms; "
                  f"not answered within {ANSWER_TIMEOUT_SECONDS} s: {total - len(to_answer)}")
    finally:
        worker.stop()
        web.stop()
        fake.stop()


if __name__ == "__main__":
    main()
