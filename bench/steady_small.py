"""A small steady-rate widget run, offline assistant, one web process.

    .venv/bin/python bench/steady_small.py [--rates 10,20] [--seconds 15]

Customers arrive at each rate for that many seconds, each on a new widget socket, one varied
question each. Prints p50/p95 of send -> first `answer.delta`, the web process's CPU per answer
(handshake and close included) and errors. The before/after of the plumbing (docs/decisions/0401)
was measured with it at low rates; `bench/sustained.py` is the reference for the issue's targets.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import time
import uuid
from typing import Any

from _django import percentile, setup
from widget_load import cpu_seconds, open_connection

QUESTIONS = ["do you ship to {}?", "what are your opening hours on {}?", "can I return {}?",
             "how much is the {} hoodie?", "where is order {}?"]


async def customer(index: int, port: int, domain: str, key: str) -> float | str:
    try:
        connection: Any = await open_connection(port, domain, key)
    except Exception as error:
        return f"not opened: {type(error).__name__}"
    try:
        text = QUESTIONS[index % len(QUESTIONS)].format(uuid.uuid4().hex[:6])
        await connection.send(json.dumps({"type": "message", "client_id": f"s{index}", "text": text}))
        sent = time.perf_counter()
        first = None
        while time.perf_counter() < sent + 60:
            frame = json.loads(await asyncio.wait_for(connection.recv(), 60))
            if frame["type"] == "error":
                return f"error {frame.get('code')}"
            if frame["type"] == "answer.delta" and first is None:
                first = time.perf_counter()
            if frame["type"] in ("answer.end", "answer.cancelled", "handoff", "conversation.handoff"):
                return ((first or time.perf_counter()) - sent) * 1000
        return "no answer"
    finally:
        await connection.close()


async def run(rate: int, seconds: int, port: int, domain: str, key: str, pid: int) -> str:
    tasks = []
    cpu0 = cpu_seconds(pid)
    start = time.perf_counter()
    for index in range(rate * seconds):
        await asyncio.sleep(max(0.0, start + index / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(customer(index, port, domain, key)))
    results = await asyncio.gather(*tasks, return_exceptions=True)
    cpu = cpu_seconds(pid) - cpu0
    ok = [r for r in results if isinstance(r, float)]
    errors = collections.Counter(r if isinstance(r, str) else type(r).__name__ for r in results
                                 if not isinstance(r, float))
    return (f"{rate}/s for {seconds}s: {len(ok)} answers, first delta p50 {percentile(ok, 50):,.0f} ms "
            f"p95 {percentile(ok, 95):,.0f} ms; web CPU {cpu * 1000 / max(1, len(ok)):.1f} ms per answer; "
            f"errors {dict(errors) or 0}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", default="5,10,20")
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()
    setup()
    from django_tenants.utils import schema_context

    from chat.widget.services import widget_settings_get
    from tenants.services import tenant_create
    from tests.support.processes import WebServer, child_env

    slug = f"s{uuid.uuid4().hex[:10]}"
    tenant = tenant_create(slug=slug, name="Steady bench", domain=f"{slug}.bench.localhost", plan_code="scale").tenant
    with schema_context(slug):
        widget = widget_settings_get()
        widget.messages_per_minute_per_ip = 1_000_000
        widget.save()
        key = widget.public_key
    web = WebServer(env=child_env(DJANGO_SETTINGS_MODULE="config.settings.local", OPENAI_API_KEY="",
                                  ASSISTANT_CACHE_ENABLED="false", DATABASE_CONN_MAX_AGE="60",
                                  WIDGET_HANDSHAKES_PER_MINUTE_PER_IP="0", DJANGO_DEBUG="false",
                                  DESKPILOT_LOG_LEVEL="WARNING"))
    try:
        domain = tenant.get_primary_domain().domain
        asyncio.run(run(2, 3, web.port, domain, key, web.pid))  # warm-up
        for rate in [int(r) for r in args.rates.split(",")]:
            print(asyncio.run(run(rate, args.seconds, web.port, domain, key, web.pid)), flush=True)
    finally:
        lines = [line for line in web.output().splitlines() if "ERROR" in line or "Error" in line]
        if lines:
            print("web process errors:", collections.Counter(line.split("]", 1)[-1][:160] for line in lines
                                                             if not line.startswith(" ")).most_common(8), flush=True)
        web.stop()


if __name__ == "__main__":
    main()
