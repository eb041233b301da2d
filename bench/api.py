"""The API's two streamed answers at a steady rate of customers: SSE time to first delta (customer
side) and OpenAI-compatible time to first chunk, each over the model's own first-token time.

    .venv/bin/python bench/api.py [--rate 50] [--duration 15] [--delay 0.5] [--timeout 10] [--catalog-products 0]

The server is the one `make run` starts (config/devrun.py's web command, one process) with DEBUG
off, on throw-away embedded stores holding one business on the Scale plan and an API key (and, with
--catalog-products N, a catalog of N products of three sizes each, which every LLM answer's check
knows the names of); no Celery worker (nothing on these paths waits for one). The fake OpenAI server
(tests/support/fake_openai.py) runs in a process of its own, first token after --delay, and logs
each request's own first-token time; "added" is what a customer waited for the first words minus
that time, per answer.

Arrivals are open-loop: customer n arrives at n / rate seconds whatever happened to the ones before.
For the customer side, each customer's token and conversation are made beforehand through the
services (the token exchange is not what is measured); the customer sends one question with
`"stream": true` and reads the events until `message.completed`: first = the first `message.delta`.
For the OpenAI-compatible side, each customer posts one streamed chat completion (its `user` its
own) and reads until `[DONE]`: first = the first chunk with content. No two questions alike, so the
answer cache never answers one. The load generator is this process (asyncio, httpx); its lag
behind the schedule is printed.

Each side also reports the most PostgreSQL connections open at once and how many the server saw
refused ("too many clients").

Prints one line per side, then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
MODEL_TEXT = ("Thanks for your message, happy to help. I've checked the details for you, and a colleague from "
              "the team can add anything more.")
TOPICS = ["delivery to Spain", "a gift card", "returns after a month", "the size guide", "paying by invoice",
          "a missing parcel", "opening a business account", "a discount for students", "changing my address"]


@dataclass
class Side:
    name: str
    customers: int
    answered: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    first_p50_ms: float | None = None
    first_p95_ms: float | None = None
    model_first_token_p50_ms: float | None = None
    added_p50_ms: float | None = None
    added_p95_ms: float | None = None
    end_p95_ms: float | None = None
    # Until the response's status and headers: the message checked and stored, before the answer starts.
    headers_p50_ms: float | None = None
    headers_p95_ms: float | None = None
    generator_lag_p95_ms: float = 0.0
    answer_modes: dict[str, int] = field(default_factory=dict)
    load_average: float = 0.0
    # The most connections PostgreSQL had open at once during the side (all of them: the server's,
    # and this process's one), and how many it refused for lack of a free slot.
    db_connections_max: int = 0
    db_refused: int = 0


def question(n: int, side: str) -> str:
    return f"Hello, question {n} from the {side} app: can you tell me about {TOPICS[n % len(TOPICS)]}?"


async def sse_customer(client, customer: dict, start: float, timeout: float) -> dict:  # type: ignore[no-untyped-def]
    await asyncio.sleep(max(0.0, start + customer["at"] - time.time()))
    result: dict = {"n": customer["n"], "lag_ms": (time.time() - start - customer["at"]) * 1000}
    sent = time.perf_counter()
    try:
        async with asyncio.timeout(timeout * 3), client.stream(
                "POST", f"/api/v1/customer/conversations/{customer['conversation']}/messages",
                json={"text": customer["text"], "stream": True},
                headers={"Authorization": f"Bearer {customer['token']}"}) as response:
            result["headers_ms"] = (time.perf_counter() - sent) * 1000
            if response.status_code != 200:
                result["error"] = f"HTTP {response.status_code}"
                return result
            event = ""
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                    if event == "message.delta" and "first_ms" not in result:
                        result["first_ms"] = (time.perf_counter() - sent) * 1000
                    elif event == "message.completed":
                        result["end_ms"] = (time.perf_counter() - sent) * 1000
                    elif event in ("error", "handoff"):
                        result["error"] = event
                        return result
    except TimeoutError:
        result["error"] = "timeout"
    except OSError as error:
        result["error"] = type(error).__name__
    if "end_ms" not in result and "error" not in result:
        result["error"] = "no message.completed"
    return result


async def openai_customer(client, customer: dict, start: float, timeout: float) -> dict:  # type: ignore[no-untyped-def]
    await asyncio.sleep(max(0.0, start + customer["at"] - time.time()))
    result: dict = {"n": customer["n"], "lag_ms": (time.time() - start - customer["at"]) * 1000}
    sent = time.perf_counter()
    try:
        async with asyncio.timeout(timeout * 3), client.stream(
                "POST", "/v1/chat/completions",
                json={"model": "deskpilot-assistant", "stream": True, "user": f"bench-{customer['n']}",
                      "messages": [{"role": "user", "content": customer["text"]}]},
                headers={"Authorization": f"Bearer {customer['key']}"}) as response:
            result["headers_ms"] = (time.perf_counter() - sent) * 1000
            if response.status_code != 200:
                result["error"] = f"HTTP {response.status_code}"
                return result
            async for line in response.aiter_lines():
                if not line.startswith("data: "):
                    continue
                data = line.removeprefix("data: ")
                if data == "[DONE]":
                    result["end_ms"] = (time.perf_counter() - sent) * 1000
                    break
                body = json.loads(data)
                if "error" in body:
                    result["error"] = "error chunk"
                    return result
                choices = body.get("choices") or [{}]
                if choices[0].get("delta", {}).get("content") and "first_ms" not in result:
                    result["first_ms"] = (time.perf_counter() - sent) * 1000
    except TimeoutError:
        result["error"] = "timeout"
    except OSError as error:
        result["error"] = type(error).__name__
    return result


async def run(side: str, customers: list[dict], *, port: int, domain: str, timeout: float) -> list[dict]:
    import httpx

    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers={"Host": domain}, limits=limits,
                                 timeout=timeout * 3) as client:
        start = time.time() + 0.5
        one = sse_customer if side == "sse" else openai_customer
        return list(await asyncio.gather(*(one(client, customer, start, timeout) for customer in customers)))


async def bare_requests(*, port: int, domain: str, key: str, count: int = 20) -> dict[str, float]:
    """The HTTP stack's own floor on this machine now: an authenticated GET that does nothing else."""
    import httpx
    from _django import percentile

    took = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers={"Host": domain}) as client:
        for _ in range(count):
            sent = time.perf_counter()
            answer = await client.get("/api/v1/key", headers={"Authorization": f"Bearer {key}"})
            assert answer.status_code == 200, answer.text
            took.append((time.perf_counter() - sent) * 1000)
    return {"p50": round(percentile(took, 50), 1), "p95": round(percentile(took, 95), 1)}


def business(products: int = 0) -> tuple[str, str, str]:
    """A business on the Scale plan (no monthly answer limit reached here) and an API key of it, with
    a catalog of `products` products of three sizes each, imported as an owner's CSV is."""
    import io

    from django.db import connection
    from django_tenants.utils import schema_context

    from chat.api.services import api_key_create
    from orders.services.catalog import CATALOG_CSV_HEADER, catalog_import_csv
    from tenants.models import Plan, Tenant
    from tenants.services import tenant_create

    slug = f"apibench{uuid.uuid4().hex[:6]}"
    domain = f"{slug}.bench.localhost"
    tenant_create(slug=slug, name="API bench shop", domain=domain)
    Tenant.objects.filter(schema_name=slug).update(plan=Plan.objects.get(code="scale"))
    connection.set_schema_to_public()
    with schema_context(slug):
        key = api_key_create(name="bench").key
        if products:
            rows = [",".join(CATALOG_CSV_HEADER)] + [
                f"P{n},Harbour piece {n},category {n % 40},Soft and warm,{19 + n % 50}.95,EUR,piece {n},P{n}-{size},"
                f"{size},navy,{n % 7}" for n in range(products) for size in ("S", "M", "L")]
            catalog_import_csv(stream=io.StringIO("\n".join(rows) + "\n"))
    return slug, domain, key


def sse_customers(slug: str, key_pk: int, count: int, rate: float) -> list[dict]:
    from django_tenants.utils import schema_context

    from chat.api.customer.services import customer_conversation_start, customer_token_issue

    customers = []
    with schema_context(slug):
        for n in range(count):
            issued = customer_token_issue(api_key_id=key_pk, customer_id=f"sse-{n}")
            conversation = customer_conversation_start(identity=issued.identity)
            customers.append({"n": n, "at": n / rate, "token": issued.token, "conversation": conversation.pk,
                              "text": question(n, "mobile")})
    return customers


def answer_modes_since(slug: str, since: datetime) -> dict[str, int]:
    from django.db.models import Count
    from django_tenants.utils import schema_context

    from chat.conversations.models import Message

    with schema_context(slug):
        rows = (Message.objects.filter(author="assistant", created__gte=since).values("mode").annotate(n=Count("id")))
        return {row["mode"] or "none": row["n"] for row in rows}


def connections_open() -> int:
    """PostgreSQL's open client connections now (this one included)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
        return cursor.fetchone()[0]


def summarise(side: Side, results: list[dict], texts: dict[int, str], timing_log: Path, since_epoch: float) -> None:
    from _django import percentile
    from sustained import added_latency, model_first_tokens

    firsts = [result["first_ms"] for result in results if "first_ms" in result]
    ends = [result["end_ms"] for result in results if "end_ms" in result]
    side.answered = len(firsts)
    side.errors = dict(collections.Counter(result["error"] for result in results if "error" in result))
    if firsts:
        side.first_p50_ms, side.first_p95_ms = round(percentile(firsts, 50), 1), round(percentile(firsts, 95), 1)
    if ends:
        side.end_p95_ms = round(percentile(ends, 95), 1)
    heads = [result["headers_ms"] for result in results if "headers_ms" in result]
    if heads:
        side.headers_p50_ms, side.headers_p95_ms = round(percentile(heads, 50), 1), round(percentile(heads, 95), 1)
    side.generator_lag_p95_ms = round(percentile([result["lag_ms"] for result in results], 95), 1)
    model, added = added_latency(results, texts, model_first_tokens(timing_log, since_epoch))
    if added:
        side.model_first_token_p50_ms = round(percentile(model, 50), 1)
        side.added_p50_ms, side.added_p95_ms = round(percentile(added, 50), 1), round(percentile(added, 95), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rate", type=float, default=50, help="customers a second")
    parser.add_argument("--duration", type=float, default=15, help="seconds of arrivals on each side")
    parser.add_argument("--delay", type=float, default=0.5, help="the fake model's first-token delay, seconds")
    parser.add_argument("--timeout", type=float, default=10, help="seconds a customer waits for first words")
    parser.add_argument("--catalog-products", type=int, default=0,
                        help="products (three sizes each) in the business's catalog")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_DEBUG", "false")
    os.environ["KB_EMBEDDING_PROVIDER"] = "local"
    from _django import setup

    setup()
    from assistant import start_fake_model
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from chat.api.models import ApiKey
    from tests.support.peak import Peak
    from tests.support.processes import WebServer, child_env

    started = datetime.now()
    slug, domain, key = business(args.catalog_products)
    with schema_context(slug):
        key_pk = ApiKey.objects.get(name="bench").pk
    count = round(args.rate * args.duration)
    timing_log = Path(tempfile.mkstemp(prefix="deskpilot-model-", suffix=".jsonl")[1])
    model, base_url = start_fake_model(delay=args.delay, chunk_delay=0.0, timing_log=str(timing_log), text=MODEL_TEXT)
    server = None
    sides: list[Side] = []
    try:
        server = WebServer(env=child_env(DJANGO_SETTINGS_MODULE="config.settings.local", DJANGO_DEBUG="false",
                                         KB_EMBEDDING_PROVIDER="local", OPENAI_API_KEY="sk-bench",
                                         OPENAI_BASE_URL=base_url, LLM_TENANT_MAX_CONCURRENCY="100000"))
        warm = sse_customers(slug, key_pk, 20, 5.0)
        for customer in warm:
            customer["text"] = question(100_000 + customer["n"], "warm-up")
        asyncio.run(run("sse", warm, port=server.port, domain=domain, timeout=60))
        floor = asyncio.run(bare_requests(port=server.port, domain=domain, key=key))
        print(json.dumps({"GET /api/v1/key one at a time, ms": floor}), flush=True)
        plans = {"sse": [{**customer, "n": 200_000 + customer["n"]} for customer in
                         sse_customers(slug, key_pk, count, args.rate)],
                 "openai": [{"n": 300_000 + n, "at": n / args.rate, "key": key, "text": question(n, "openai")}
                            for n in range(count)]}
        for customer in plans["sse"]:
            customer["text"] = question(customer["n"], "mobile")
        for name, customers in plans.items():
            side = Side(name=name, customers=len(customers), load_average=round(os.getloadavg()[0], 2))
            since, since_epoch = timezone.now(), time.time()
            refused_before = server.output().count("too many clients")
            with Peak(connections_open, every_seconds=0.05) as connections:
                results = asyncio.run(run(name, customers, port=server.port, domain=domain, timeout=args.timeout))
            side.db_connections_max = connections.most
            side.db_refused = server.output().count("too many clients") - refused_before
            summarise(side, results, {c["n"]: c["text"] for c in customers}, timing_log, since_epoch)
            side.answer_modes = answer_modes_since(slug, since)
            sides.append(side)
            print(json.dumps(asdict(side)), flush=True)
    finally:
        if server is not None:
            server.stop()
            failures = collections.Counter(
                (line.partition("] ")[2] if " ERROR " in line.partition("] ")[0] else line)[:160]
                for line in server.output().splitlines()
                if " ERROR " in line.partition("] ")[0] or re.match(r"^[\w.]+(Error|Exception): ", line))
            for line, times in failures.most_common(5):
                print(f"server error, {times} x: {line}", flush=True)
            Path(server.log.name).unlink(missing_ok=True)
        model.terminate()
        model.wait(timeout=10)
        timing_log.unlink(missing_ok=True)
    print(f"\napi streaming, {started.isoformat(timespec='minutes')}, {os.cpu_count()} CPUs, {args.rate:g} customers/s "
          f"for {args.duration:g} s a side, fake model first token after {args.delay * 1000:.0f} ms, "
          f"{args.catalog_products} products in the catalog")
    print("side     customers  answered  first p50/p95 ms  model p50 ms  added p50/p95 ms  end p95 ms  errors  "
          "lag p95 ms  load  db connections (most)  db refused")
    for side in sides:
        print(f"{side.name:<8} {side.customers:>9}  {side.answered:>8}  {side.first_p50_ms} / {side.first_p95_ms}  "
              f"{side.model_first_token_p50_ms:>12}  {side.added_p50_ms} / {side.added_p95_ms}  {side.end_p95_ms:>10}  "
              f"{side.errors or 0}  {side.generator_lag_p95_ms:>10}  {side.load_average}  {side.db_connections_max}  "
              f"{side.db_refused}")
    print(json.dumps({"benchmark": "api", "started": started.isoformat(timespec="seconds"),
                      "arguments": vars(args), "sides": [asdict(side) for side in sides]}))


if __name__ == "__main__":
    main()
