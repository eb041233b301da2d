"""Assistant: what Deskpilot adds to the model's time to first token, and how fast offline answers start.

    .venv/bin/python bench/assistant.py [--delay 0.5] [--levels 1,50,200] [--samples 60] [--chunk-delay 0]

Starts its own embedded PostgreSQL and Redis in a temporary data folder (bench/_django.py), makes
two tenants holding the demo data (Threadline the shop, Sunrise Café), and runs the fake OpenAI
server (tests/support/fake_openai.py) in a process of its own with a fixed first-token delay.

1. LLM mode. At each concurrency level N, N first questions are stored in N new conversations of
   the shop, then answered at once (asyncio.gather of answer_customer_message); a conversation's
   time to first token is from the start of the burst to the first text its sink receives, so it
   includes loading the turn, the budget check, the answer cache, the tenant's LLM slot and the
   circuit, the model's own delay and the fact-check gate holding the first sentence until it ends.
   "Added" is that time minus the model's first-token delay: what Deskpilot added to it.
   The fake model answers in plain text, two sentences without figures, and calls no tool; every
   question is different, so the answer cache never merges two conversations. All conversations
   belong to one tenant, so its LLM concurrency cap (LLM_TENANT_MAX_CONCURRENCY, 8 by default) is
   raised to 1000 here; otherwise all but 8 of a burst would be answered offline.
2. Offline mode. No provider configured; about a hundred varied questions to the two demo tenants
   (hours, products, prices, orders with their verification, FAQ, greetings, hand-offs, questions
   nobody can answer), one after another, each in a new conversation; time to the first text the
   sink receives. The local embedding model is loaded by a few warm-up questions first.

Database connections are kept open between the engine's database calls (DATABASE_CONN_MAX_AGE=60
unless set), as in production; with 0, every call of every answer opens a new connection. The
machine's load average is printed with the figures: other work on the same CPUs moves them.
A burst inside one process is not a sustained load: bench/sustained.py has customers arriving at
a steady rate through the widget socket.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import datetime

from _django import ROOT, percentile, setup

MODEL_TEXT = ("Thanks for your question, we're glad you asked. Someone who knows the details best can tell you "
              "more about it, and I'm happy to help with anything else meanwhile.")

SHOP_QUESTIONS = [
    "hi", "Hello there!", "thanks!", "What are your opening hours?", "Are you open on Saturday?",
    "Are you open right now?", "When do you close today?", "Are you open on Christmas Day?",
    "What time do you open tomorrow?", "Do you have the Harbour Hoodie in M?", "Is the blue hoodie available in L?",
    "How much is the Zip Hoodie?", "Do you have the Essential Hoodie in navy XL?", "Do you sell crewneck sweatshirts?",
    "Do you have any jeans?", "How much are the organic cotton tees?", "Do you have linen dresses?",
    "Where is my order?", "Where is my order TL-10411? My email is oliver.bennett@example.com",
    "Status of order TL-10416 please, my phone is +31 6 5812 0936", "Where is order TL-10398?",
    "Has my order TL-10422 shipped? It's kevin.vanleeuwen@example.com",
    "Where is order TL-10413, email someone.else@example.com", "How much is shipping?",
    "Do you ship to the UK?", "What is your return policy?", "Are returns free?",
    "Can I exchange for a different size?", "When will I get my refund?", "How should I wash my hoodie?",
    "What materials do you use?", "What payment methods do you accept?", "My discount code isn't working",
    "Do you sell gift cards?", "Do you have a student discount?", "Can I get a VAT invoice?",
    "Do you offer gift wrapping?", "How do pre-orders work?", "Can I pick up my order in Amsterdam?",
    "Can I change my order?", "I want to talk to a real person", "I have a complaint about my delivery",
    "Do you do wholesale?", "Do you sell bicycles?", "What's the meaning of life?",
    "Hoe lang duurt de levering?", "Wat zijn jullie openingstijden?", "Is de Harbour Hoodie op voorraad in maat M?",
    "Waar is mijn bestelling?", "Bedankt!",
]
CAFE_QUESTIONS = [
    "hello", "good morning", "thank you", "What are your opening hours?", "Are you open on Sundays?",
    "What time do you open on Saturday?", "Are you open now?", "When do you close tonight?",
    "Are you open on Boxing Day?", "What are your Christmas opening hours?", "How much is a flat white?",
    "Do you have oat milk? Does it cost extra?", "How much is a large latte?", "Do you do a double espresso?",
    "Do you have cappuccino?", "How much is a mocha?", "Do you have English breakfast tea?",
    "What's the wifi password?", "Can I bring my dog?", "Do you have vegan options?",
    "Do you have gluten-free food?", "Where can I find allergen information?", "Is there parking?",
    "Is the café wheelchair accessible?", "Can I book a table?", "Can you fit a group of 15?",
    "Do you do catering?", "Do you have a loyalty card?", "Can I pay by card?",
    "Do you give a discount for reusable cups?", "Do you deliver?", "Can I work on my laptop?",
    "Do you have toilets?", "Do you have high chairs?", "Do you have a kids' menu?",
    "What's happening on Friday evenings?", "Are you hiring?", "Where does your coffee come from?",
    "Do you do decaf?", "Can I buy your coffee beans?", "I left my scarf in the café yesterday",
    "I want to make a complaint", "Can I get a refund?", "Do you serve breakfast all day?",
    "Do you have outdoor seating?", "Can I get tap water?", "Can I speak to the manager?",
    "Do you sell car insurance?", "Where is my order?", "bye",
]
WARM_UP_QUESTIONS = ["Do you have a returns policy?", "Is there a size guide?", "Do you ship worldwide?"]


class FirstText:
    """A sink that remembers when the first text reached it."""

    def __init__(self) -> None:
        self.at: float | None = None

    async def delta(self, text: str) -> None:
        if self.at is None:
            self.at = time.perf_counter()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_fake_model(*, delay: float, chunk_delay: float, timing_log: str | None = None,
                     text: str = MODEL_TEXT) -> tuple[subprocess.Popen[str], str]:
    """The fake OpenAI server in a process of its own, so it takes no time from the one measured;
    with `timing_log`, it appends each answer's own first-token time there (tests/support/fake_openai.py).

    Its listen backlog is raised from socketserver's 5: a burst of 200 new connections would
    otherwise lose some SYNs and wait a second for the retry.
    """
    port = free_port()
    code = ("import http.server; http.server.ThreadingHTTPServer.request_queue_size = 4096; "
            "from tests.support.fake_openai import main; main()")
    process = subprocess.Popen(
        [sys.executable, "-c", code, "--port", str(port), "--first-token-delay", str(delay),
         "--chunk-delay", str(chunk_delay), "--text", text,
         *(["--timing-log", timing_log] if timing_log else [])],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "fake OpenAI server on" in line, line
    return process, f"http://127.0.0.1:{port}/v1"


def demo_tenant(kind: str) -> object:
    from django.db import connection
    from django.utils.module_loading import import_string
    from django_tenants.utils import schema_context

    from tenants.demo import FIXTURES
    from tenants.services import tenant_create
    from tests.support.demo import demo_content_loaders

    slug = f"a{uuid.uuid4().hex[:10]}"
    tenant = tenant_create(slug=slug, name=f"Assistant bench {kind}", domain=f"{slug}.bench.localhost",
                           plan_code="scale", timezone_name="Europe/Amsterdam" if kind == "shop" else "Europe/London"
                           ).tenant
    with schema_context(slug):
        for path in demo_content_loaders():
            import_string(path)(tenant=tenant, fixtures=FIXTURES / kind)
    connection.set_schema_to_public()
    return tenant


def store_questions(schema_name: str, questions: list[str]) -> list[int]:
    """Each question as the first customer message of a new conversation; returns the message ids."""
    from django_tenants.utils import schema_context

    from chat.conversations import services

    ids = []
    with schema_context(schema_name):
        for text in questions:
            contact = services.contact_get_or_create(visitor_id=f"bench-{uuid.uuid4().hex}")
            conversation = services.conversation_start(contact=contact)
            ids.append(services.message_receive(conversation=conversation, text=text,
                                                channel_message_id=uuid.uuid4().hex).message.pk)
    return ids


async def deskpilot_burst(schema_name: str, message_ids: list[int]) -> tuple[list[float], list[str]]:
    from chat.assistant.engine import answer_customer_message

    sinks = [FirstText() for _ in message_ids]
    started = time.perf_counter()
    results = await asyncio.gather(*(answer_customer_message(schema_name=schema_name, message_id=message_id,
                                                             sink=sink)
                                     for message_id, sink in zip(message_ids, sinks, strict=True)))
    # An answer without a first text would be a failure of the benchmark, not a figure.
    assert all(sink.at is not None for sink in sinks)
    return [((sink.at or 0) - started) * 1000 for sink in sinks], [result.mode for result in results]


def llm_questions(count: int) -> list[str]:
    # Different every time, so neither the answer cache nor its lock joins two conversations.
    return [f"Question {uuid.uuid4().hex[:8]}: could you tell me a bit about how you work?" for _ in range(count)]


def measure_llm(schema_name: str, base_url: str, levels: list[int], samples: int, delay: float) -> list[str]:
    from django.test import override_settings

    lines = []
    with override_settings(OPENAI_API_KEY="sk-bench", OPENAI_BASE_URL=base_url, OPENAI_CHAT_MODEL="gpt-4o-mini",
                           LLM_TENANT_MAX_CONCURRENCY=1000):

        async def run() -> None:
            for level in levels:
                rounds = max(1, math.ceil(samples / level))
                # Warm-up: connection pools filled, code paths loaded.
                await deskpilot_burst(schema_name, await asyncio.to_thread(store_questions, schema_name,
                                                                           llm_questions(level)))
                through: list[float] = []
                modes: list[str] = []
                # CPU of this process (every thread), per answer: unlike the timings, hardly moved by
                # other work on the machine.
                through_cpu = 0.0
                for _ in range(rounds):
                    ids = await asyncio.to_thread(store_questions, schema_name, llm_questions(level))
                    cpu = time.process_time()
                    timings, round_modes = await deskpilot_burst(schema_name, ids)
                    through_cpu += time.process_time() - cpu
                    through += timings
                    modes += round_modes
                not_llm = len([mode for mode in modes if mode != "llm"])
                assert not_llm == 0, f"{not_llm} answers at concurrency {level} were not from the model"
                t50, t95 = percentile(through, 50), percentile(through, 95)
                model_ms = delay * 1000
                lines.append(f"  {level:>11}  {len(through):>7}  {t50:>6.0f} / {t95:<6.0f}  "
                             f"{t50 - model_ms:>6.0f} / {t95 - model_ms:<6.0f}  {through_cpu * 1000 / len(through):.1f}")

        from chat.assistant.llm import run_then_close_llm_clients

        run_then_close_llm_clients(run())
    return lines


def measure_offline(tenants: list[tuple[object, list[str]]]) -> tuple[list[float], dict[str, int]]:
    from django.test import override_settings

    from chat.assistant.engine import answer_customer_message

    timings: list[float] = []
    modes: dict[str, int] = {}
    with override_settings(OPENAI_API_KEY="", OPENAI_BASE_URL=""):

        async def run() -> None:
            for tenant, questions in tenants:
                schema = tenant.schema_name  # type: ignore[attr-defined]
                for message_id in await asyncio.to_thread(store_questions, schema, WARM_UP_QUESTIONS):
                    await answer_customer_message(schema_name=schema, message_id=message_id)
                for message_id in await asyncio.to_thread(store_questions, schema, questions):
                    sink = FirstText()
                    started = time.perf_counter()
                    result = await answer_customer_message(schema_name=schema, message_id=message_id, sink=sink)
                    assert sink.at is not None
                    timings.append((sink.at - started) * 1000)
                    modes[result.mode] = modes.get(result.mode, 0) + 1

        asyncio.run(run())
    return timings, modes


def setup_for_answers() -> None:
    """Django for answering as a web process does (no debug, kept connections), on throw-away stores."""
    os.environ.setdefault("DJANGO_DEBUG", "false")
    os.environ.setdefault("DATABASE_CONN_MAX_AGE", "60")
    # The knowledge base embeds with the local model even though a model key is set for phase 1.
    os.environ["KB_EMBEDDING_PROVIDER"] = "local"
    setup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--delay", type=float, default=0.5, help="the fake model's first-token delay, seconds")
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between streamed chunks")
    parser.add_argument("--levels", default="1,50,200", help="concurrent conversations, comma-separated")
    parser.add_argument("--samples", type=int, default=60, help="at least this many answers per level")
    args = parser.parse_args()
    setup_for_answers()
    from config.redis import redis_client

    redis_client().flushdb()
    load_before = os.getloadavg()[0]
    shop, cafe = demo_tenant("shop"), demo_tenant("cafe")
    process, base_url = start_fake_model(delay=args.delay, chunk_delay=args.chunk_delay)
    # What the set-up left behind (two demo tenants' worth of objects) is frozen like a web process's
    # start-up objects: otherwise every full garbage collection in a burst walks it again.
    from config.startup import freeze_loaded_objects

    freeze_loaded_objects()
    try:
        levels = [int(level) for level in args.levels.split(",")]
        lines = measure_llm(shop.schema_name, base_url, levels, args.samples, args.delay)  # type: ignore[attr-defined]
    finally:
        process.terminate()
        process.wait(timeout=10)
    print(f"LLM mode, time to first token: fake model with a {args.delay * 1000:.0f} ms first-token delay, "
          f"{args.chunk_delay * 1000:.0f} ms between chunks; one tenant, LLM_TENANT_MAX_CONCURRENCY=1000")
    print("  concurrency  answers  first text p50 / p95 ms  added p50 / p95 ms  CPU ms per answer")
    print("\n".join(lines))

    timings, modes = measure_offline([(cafe, CAFE_QUESTIONS), (shop, SHOP_QUESTIONS)])
    print(f"offline mode, time to first token over {len(timings)} questions ({len(CAFE_QUESTIONS)} café, "
          f"{len(SHOP_QUESTIONS)} shop; modes {modes}): p50 {percentile(timings, 50):.0f} ms, "
          f"p95 {percentile(timings, 95):.0f} ms, max {max(timings):.0f} ms")
    print(f"measured {datetime.now().isoformat(timespec='minutes')} on {os.cpu_count()} CPUs, load average "
          f"{load_before:.1f} before and {os.getloadavg()[0]:.1f} after")


if __name__ == "__main__":
    main()
