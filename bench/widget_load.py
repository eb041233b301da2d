"""Concurrent widget conversations against one web process.

    .venv/bin/python bench/widget_load.py [--levels 500,1000,2000] [--delay 0.5]

One daphne process (the real widget WebSocket path: consumer, services, engine, channel layer) and
a fake OpenAI server in a process of its own, answering in plain text after a fixed first-token
delay. At each level, N widget connections are opened and left idle (the web process's resident
memory before and after gives the cost of an idle connection); then every connection sends one
message at once. Prints p50/p95 of each connection's time from sending to its first `answer.delta`
and that p95 minus the model's first-token delay (what the burst added), answers per second, the
web process's CPU time per answer during the burst (and the share of it already spent when the p95
first token arrived), and errors (error frames, refused or dropped connections, missing answers).

A burst from one machine is not a sustained load: for customers arriving at a steady rate, each
from its own address, see bench/sustained.py.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import resource
import time
import uuid
from pathlib import Path

from _django import percentile, setup

LIMIT_SECONDS = 180


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def open_connection(port: int, domain: str, key: str) -> object:
    from websockets.asyncio.client import connect

    connection = await connect(f"ws://{domain}:{port}/ws/widget/?key={key}", host="127.0.0.1", port=port,
                               open_timeout=60, ping_interval=None, max_queue=None)
    welcome = json.loads(await connection.recv())
    assert welcome["type"] == "welcome", welcome
    return connection


async def first_delta(connection: object, index: int, web_pid: int, cpu_at_first: list[float]) -> float | str:
    """Seconds from sending to the first answer.delta (or what went wrong); the web process's CPU
    time when that delta arrived goes to `cpu_at_first`."""
    await connection.send(json.dumps({"type": "message", "client_id": f"b{index}",  # type: ignore[attr-defined]
                                      "text": f"Question {uuid.uuid4().hex[:8]}: tell me how you work?"}))
    sent = time.perf_counter()
    first: float | None = None
    deadline = sent + LIMIT_SECONDS
    while time.perf_counter() < deadline:
        frame = json.loads(await asyncio.wait_for(connection.recv(), deadline - time.perf_counter()))  # type: ignore[attr-defined]
        if frame["type"] == "ping":
            await connection.send(json.dumps({"type": "pong", "ts": frame.get("ts")}))  # type: ignore[attr-defined]
        elif frame["type"] == "error":
            return f"error frame {frame.get('code')}"
        elif frame["type"] == "answer.delta" and first is None:
            first = time.perf_counter()
            cpu_at_first.append(cpu_seconds(web_pid))
        elif frame["type"] == "answer.end":
            return (first or time.perf_counter()) - sent
    return "no answer in time"


def _share_before(cpu_at_first: list[float], cpu_before: float, burst_cpu: float, pct: float) -> float:
    """How much of the burst's web CPU had been spent when the pct-th percentile first token arrived:
    near 1, the work before first tokens is most of an answer's work, and reordering cannot help."""
    return (percentile(cpu_at_first, pct) - cpu_before) / burst_cpu if cpu_at_first and burst_cpu else 0.0


def failure_name(error: BaseException) -> str:
    """The exception's name, with the close code when the server closed the socket."""
    received = getattr(error, "rcvd", None)
    if received is not None:
        return f"{type(error).__name__} (close code {received.code})"
    return type(error).__name__


async def run_level(level: int, port: int, domain: str, key: str, web_pid: int, delay: float) -> str:
    before = rss_kib(web_pid)
    opened = await asyncio.gather(*(open_connection(port, domain, key) for _ in range(level)),
                                  return_exceptions=True)
    connections = [c for c in opened if not isinstance(c, BaseException)]
    refused = collections.Counter(f"not opened: {type(c).__name__}" for c in opened if isinstance(c, BaseException))
    await asyncio.sleep(2)  # let the server settle before reading its memory
    per_connection = (rss_kib(web_pid) - before) / max(1, len(connections))
    started, cpu_before = time.perf_counter(), cpu_seconds(web_pid)
    cpu_at_first: list[float] = []
    results = await asyncio.gather(*(first_delta(c, i, web_pid, cpu_at_first) for i, c in enumerate(connections)),
                                   return_exceptions=True)
    elapsed, web_cpu = time.perf_counter() - started, cpu_seconds(web_pid) - cpu_before
    through = [r * 1000 for r in results if isinstance(r, float)]
    failures = collections.Counter(r if isinstance(r, str) else failure_name(r) for r in results
                                   if not isinstance(r, float))
    failures.update(refused)
    errors = sum(failures.values())
    await asyncio.gather(*(c.close() for c in connections), return_exceptions=True)
    if not through:
        return f"{level:>5} connections: no answers ({errors} errors)"
    return (f"{level:>5} connections: first token p50 {percentile(through, 50):,.0f} ms p95 "
            f"{percentile(through, 95):,.0f} ms (p95 minus the model's {delay * 1000:.0f} ms: "
            f"{percentile(through, 95) - delay * 1000:,.0f} ms); {len(through) / elapsed:.1f} answers/s; "
            f"web process CPU {web_cpu * 1000 / len(through):.1f} ms per answer, "
            f"{_share_before(cpu_at_first, cpu_before, web_cpu, 95):.0%} of it spent by the p95 first token; {errors} errors {dict(failures) or ''}; {per_connection:.0f} KiB per idle connection")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--levels", default="500,1000,2000")
    parser.add_argument("--delay", type=float, default=0.5)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    setup()
    from assistant import start_fake_model
    from django_tenants.utils import schema_context

    from chat.widget.services import widget_settings_get
    from tenants.services import tenant_create
    from tests.support.processes import WebServer, child_env

    slug = f"w{uuid.uuid4().hex[:10]}"
    tenant = tenant_create(slug=slug, name="Widget bench", domain=f"{slug}.bench.localhost", plan_code="scale").tenant
    with schema_context(slug):
        widget = widget_settings_get()
        # One machine plays every visitor: the per-IP limit would otherwise stop the burst.
        widget.messages_per_minute_per_ip = 1_000_000
        widget.save()
        key = widget.public_key
    fake, base_url = start_fake_model(delay=args.delay, chunk_delay=0.0)
    web = WebServer(env=child_env(DJANGO_SETTINGS_MODULE="config.settings.local", OPENAI_API_KEY="sk-bench",
                                  OPENAI_BASE_URL=base_url, LLM_TENANT_MAX_CONCURRENCY="100000",
                                  ASSISTANT_CACHE_ENABLED="false", DATABASE_CONN_MAX_AGE="60",
                                  WIDGET_HANDSHAKES_PER_MINUTE_PER_IP="0",
                                  DJANGO_DEBUG="false", DESKPILOT_LOG_LEVEL="WARNING"))
    try:
        print(f"web process {web.pid}, model first-token delay {args.delay * 1000:.0f} ms, "
              f"open files limit {hard}", flush=True)
        for level in [int(value) for value in args.levels.split(",")]:
            print(asyncio.run(run_level(level, web.port, tenant.get_primary_domain().domain, key, web.pid,
                                        args.delay)), flush=True)
    finally:
        # Warnings and errors only (DESKPILOT_LOG_LEVEL=WARNING): what went wrong, if anything.
        log = "\n".join(line for line in web.output().splitlines()
                        if not any(word in line for word in ('"WSCONNECT', '"WSDISCONNECT', '"WSREJECT', '"GET ')))
        if log.strip():
            print("web process log (last 40 lines):\n" + "\n".join(log.splitlines()[-40:]), flush=True)
        web.stop()
        fake.terminate()


if __name__ == "__main__":
    main()
