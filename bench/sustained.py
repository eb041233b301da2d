"""Customers arriving at a steady rate through the widget socket: time to first words, errors, CPU per answer.

    .venv/bin/python bench/sustained.py [--rates 20,50,100] [--web-processes 1,2] [--modes offline,llm]
                                        [--duration 20] [--burst 1000] [--delay 0.5] [--generators 1]
                                        [--server gunicorn|daphne]

The servers are the ones `make run` starts (config/devrun.py's web command: gunicorn with one uvicorn
worker a web process; `--server daphne` for daphne as before, to compare), a Celery worker on all
four queues with two pool processes; no beat), with DEBUG off as in production, on throw-away
embedded stores holding the two demo tenants (`demo load`: Sunrise Café and Threadline, moved to the
Scale plan so a run does not reach the Starter plan's 2,000 answers a month). With two web
processes, customers alternate between them, as a load balancer would spread them.

Arrivals are open-loop: customer n arrives at n / rate seconds whatever happened to the ones
before, opens the widget socket from a loopback address of its own (127.x.y.z: the per-address
limits see one visitor each), sends one question, and stays until the answer ends. Questions come
from the demo tenants' own data (prices of products and drinks, stock of variants, opening hours at
a given day and time, the FAQ's questions in their customers' wordings, orders with the e-mail or
phone that verifies them), with greetings and thanks around them, and no two alike in a run, so the
answer cache never answers one from another; the answers stored with mode "cache" are counted to
prove it.

Per point: p50 / p95 of send -> first `answer.delta`; p95 of send -> `answer.end` (the stored
answer) and how many came later than --timeout after the first words ("late ends": the words were
shown); errors (refused or dropped sockets, error frames, no first words within --timeout); CPU
time per answer of each process (from /proc: each web process, the worker with its pool,
PostgreSQL with its back-ends, Redis, the fake model, the load generators), read before the first
arrival and after the servers went quiet again, divided by the answers stored (a customer who gave
up may still have been answered). LLM mode runs the fake OpenAI server (tests/support/fake_openai.py)
in a process of its own with --delay before its first token and --chunk-delay between pieces; it
logs each request's own first-token time, and "added" is what a customer waited minus that, per
answer. The pieces come without pauses by default: the answer check holds the first sentence until
it ends, so with pauses "added" would also hold the model's own time to finish its first sentence.
LLM_TENANT_MAX_CONCURRENCY is raised so no answer falls back to offline for lack of a slot (the
answers' modes are printed). --burst: that many customers at once, after the rates. The load
generators are asyncio with the `websockets` client, one process each (--generators).

--py-spy PATH records each web process with py-spy during every measured point (raw stacks of the
thread holding the GIL, in --profile-dir), for the profiles in docs/benchmarks.md.

Prints one table, then one JSON line with every point.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import csv
import itertools
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
FIXTURES = ROOT / "tenants" / "fixtures" / "demo"
WARM_UP_CUSTOMERS_PER_WEB_PROCESS = 12
# The fake model's answer to every question: short sentences of the words a shop's service uses, which
# the answer check accepts whatever was asked. A text it rejects (off topic) is asked for again and
# then answered offline: two model calls and an offline answer for each customer.
MODEL_TEXT = ("Thanks for your message, happy to help. I've checked the details for you, and a colleague from "
              "the team can add anything more.")
# Quiet: the servers used less than this share of one core over half a second (pings, beat-less timers).
QUIET_CPU_SHARE = 0.05
QUIET_WAIT_LIMIT_SECONDS = 60

OPENERS = ["", "Hi, ", "Hello! ", "Hey there, ", "Good morning, ", "Good afternoon! ", "Quick question: ",
           "Hi there, ", "Sorry to bother you, ", "Hello again, ", "Hiya, ", "Morning! "]
CLOSERS = ["", " Thanks!", " Thank you.", " Cheers", " Thanks in advance.", " Many thanks", " Thx", " Ta!"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
TIMES = [f"{hour}:{minute:02d}" for hour in range(8, 19) for minute in (0, 30)]


# ----------------------------------------------------------------------------- questions

def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _faq(path: Path) -> list[str]:
    questions = []
    for row in _rows(path):
        questions.append(row["question"])
        questions += [variant.strip() for variant in row["variants"].split("|") if variant.strip()]
    return questions


def _hours() -> list[str]:
    return [template.format(day=day, time=at) for day in DAYS for at in TIMES
            for template in ("Are you open on {day} at {time}?", "Will you be open {day} around {time}?")]


def shop_questions() -> list[str]:
    products = _rows(FIXTURES / "shop" / "products.csv")
    names = sorted({row["name"] for row in products})
    questions = [template.format(name=name) for name in names
                 for template in ("How much is the {name}?", "What does the {name} cost?",
                                  "What's the price of the {name}?", "price of the {name}?")]
    for row in products:
        variant = f"{row['colour']} {row['size']}".strip()
        questions += [f"Do you have the {row['name']} in {variant}?",
                      f"Is the {row['name']} in size {row['size']} in stock?" if row["size"] else
                      f"Is the {row['name']} in stock?",
                      f"Any {row['name']} left in {variant}?"]
    orders = json.loads((FIXTURES / "shop" / "orders.json").read_text(encoding="utf-8"))
    for order in orders:
        questions += [f"Where is my order {order['number']}? My email is {order['email']}",
                      f"Status of order {order['number']} please, my phone is {order['phone']}",
                      f"Has order {order['number']} shipped yet? It's {order['email']}"]
    return questions + _hours() + _faq(FIXTURES / "shop" / "faq.csv")


def cafe_questions() -> list[str]:
    questions = []
    for row in _rows(FIXTURES / "cafe" / "menu.csv"):
        item = f"{row['size'].lower()} {row['name']}".strip()
        questions += [f"How much is a {item}?", f"What do you charge for a {item}?", f"Do you have {item}?"]
    return questions + _hours() + _faq(FIXTURES / "cafe" / "faq.csv")


def _plain(text: str) -> str:
    """Case, apostrophes, punctuation and spacing evened out: at least as much as the answer cache
    evens out ("What's" and "Whats" are one question to it)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(char for char in text if char not in "'’‘`")
    return " ".join("".join(char if char.isalnum() else " " for char in text).split())


class Questions:
    """Every question at most once: (base question, opener, closer) drawn without replacement."""

    def __init__(self, seed: int) -> None:
        # The FAQ's wordings repeat its questions in other case and punctuation: one of each.
        self.bases = list({_plain(text): ("shop", text) for text in shop_questions()}.values())
        self.bases += list({_plain(text): ("cafe", text) for text in cafe_questions()}.values())
        size = len(self.bases) * len(OPENERS) * len(CLOSERS)
        self.order = iter(random.Random(seed).sample(range(size), size))
        self.asked: set[tuple[str, str]] = set()

    def next(self) -> tuple[str, str]:
        while True:
            number = next(self.order)
            base, rest = divmod(number, len(OPENERS) * len(CLOSERS))
            opener, closer = divmod(rest, len(CLOSERS))
            tenant, text = self.bases[base]
            question = OPENERS[opener] + text + CLOSERS[closer]
            if (tenant, _plain(question)) not in self.asked:  # "Hi, X" and "Hi there, X"-like twins
                self.asked.add((tenant, _plain(question)))
                return tenant, question


def loopback_address(number: int) -> str:
    """The nth customer's own address in 127.0.0.0/8 (never 127.0.0.x, where the servers listen)."""
    return f"127.{1 + number // (254 * 256)}.{(number // 254) % 256}.{number % 254 + 1}"


# ----------------------------------------------------------------------------- the load generator

async def _customer(customer: dict, start: float, timeout: float) -> dict:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

    await asyncio.sleep(max(0.0, start + customer["at"] - time.time()))
    result: dict = {"n": customer["n"], "lag_ms": (time.time() - start - customer["at"]) * 1000}
    opened = time.perf_counter()
    stage = "connect"
    try:
        async with asyncio.timeout(timeout * 3):
            connection = await connect(
                f"ws://{customer['domain']}:{customer['port']}/ws/widget/?key={customer['key']}",
                host="127.0.0.1", port=customer["port"], local_addr=(customer["ip"], 0),
                open_timeout=timeout, ping_interval=None, max_queue=None)
            async with connection:
                welcome = json.loads(await asyncio.wait_for(connection.recv(), timeout))
                if welcome.get("type") != "welcome":
                    result["error"] = f"no welcome: {welcome.get('type')} {welcome.get('code', '')}".strip()
                    return result
                result["connect_ms"] = (time.perf_counter() - opened) * 1000
                stage = "first words"
                await connection.send(json.dumps({"type": "message", "client_id": f"c{customer['n']}",
                                                  "text": customer["text"]}))
                result["sent_epoch"] = time.time()
                sent = time.perf_counter()
                deadline = sent + timeout
                while True:
                    frame = json.loads(await asyncio.wait_for(connection.recv(), deadline - time.perf_counter()))
                    kind = frame.get("type")
                    if kind == "ping":
                        await connection.send(json.dumps({"type": "pong", "ts": frame.get("ts")}))
                    elif kind == "error":
                        result["error"] = f"error frame {frame.get('code')}"
                        return result
                    elif kind == "answer.delta" and "first_ms" not in result:
                        result["first_ms"] = (time.perf_counter() - sent) * 1000
                        stage, deadline = "answer.end", time.perf_counter() + timeout
                    elif kind == "answer.end":
                        result["end_ms"] = (time.perf_counter() - sent) * 1000
                        if "first_ms" not in result:
                            result["error"] = "answer.end without answer.delta"
                        return result
    except TimeoutError:
        if stage == "answer.end":  # the words arrived; the stored answer's frame is late, not lost
            result["late_end"] = True
        else:
            result["error"] = f"timeout ({stage})"
    except InvalidStatus as error:
        result["error"] = f"refused: HTTP {error.response.status_code}"
    except InvalidHandshake as error:
        result["error"] = f"handshake failed: {type(error).__name__}"
    except ConnectionClosed as error:
        code = error.rcvd.code if error.rcvd else "no close frame"
        result["error"] = f"closed {code} ({stage})"
    except OSError as error:
        result["error"] = f"{type(error).__name__} ({stage})"
    return result


async def _generate(plan: dict) -> dict:
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    results = await asyncio.gather(*(_customer(customer, plan["start"], plan["timeout"])
                                     for customer in plan["customers"]))
    after = resource.getrusage(resource.RUSAGE_SELF)
    return {"results": results,
            "cpu_seconds": after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime}


def generator_main() -> None:
    """A load generator: the plan (JSON) on standard input, the results (JSON) on standard output."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print("ready", flush=True)
    plan = json.loads(sys.stdin.readline())
    print(json.dumps(asyncio.run(_generate(plan))), flush=True)


def run_customers(customers: list[dict], *, generators: int, timeout: float) -> tuple[list[dict], float]:
    """Every customer through `generators` processes on one clock; results, and the generators' CPU."""
    processes = [subprocess.Popen([sys.executable, __file__, "--generator"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True) for _ in range(generators)]
    try:
        for process in processes:
            assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        start = time.time() + 0.5
        for index, process in enumerate(processes):
            assert process.stdin is not None
            process.stdin.write(json.dumps({"start": start, "timeout": timeout,
                                            "customers": customers[index::generators]}) + "\n")
            process.stdin.flush()
        results: list[dict] = []
        cpu = 0.0
        for process in processes:
            assert process.stdout is not None
            answer = json.loads(process.stdout.readline())
            results += answer["results"]
            cpu += answer["cpu_seconds"]
            process.wait(timeout=30)
        return results, cpu
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


# ----------------------------------------------------------------------------- processes and CPU

def tree_cpu(pid: int) -> float:
    """CPU seconds of a process, its live descendants, and the children they have reaped."""
    import psutil

    try:
        root = psutil.Process(pid)
        members = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for member in members:
        try:
            times = member.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


@dataclass
class Servers:
    web: list  # tests.support.processes.WebServer
    worker: object
    others: dict[str, int] = field(default_factory=dict)  # postgres, redis, model: pid

    def pids(self) -> dict[str, int]:
        named = {f"web{index + 1}": server.pid for index, server in enumerate(self.web)}
        return {**named, "worker": self.worker.pid, **self.others}  # type: ignore[attr-defined]

    def cpu(self) -> dict[str, float]:
        return {name: tree_cpu(pid) for name, pid in self.pids().items()}

    def wait_quiet(self) -> None:
        """Until web and worker are idle again: answers held back, stores and tasks all done."""
        watched = [pid for name, pid in self.pids().items() if name.startswith("web") or name == "worker"]
        deadline = time.monotonic() + QUIET_WAIT_LIMIT_SECONDS
        quiet_in_a_row = 0
        while time.monotonic() < deadline and quiet_in_a_row < 2:
            before = sum(tree_cpu(pid) for pid in watched)
            time.sleep(0.5)
            quiet_in_a_row = quiet_in_a_row + 1 if sum(tree_cpu(pid) for pid in watched) - before < (
                QUIET_CPU_SHARE * 0.5) else 0

    def stop(self) -> str:
        """Stop them; what their logs warned of, most frequent first (their logs are deleted)."""
        warned: collections.Counter[str] = collections.Counter()
        for server in [*self.web, self.worker]:
            server.stop()  # type: ignore[attr-defined]
            for line in server.output().splitlines():  # type: ignore[attr-defined]
                head, _, message = line.partition("] ")
                if " WARNING " in head or " ERROR " in head:
                    warned[f"{server.name}: {re.sub(r'[0-9]', '#', message)[:110]}"] += 1  # type: ignore[attr-defined]
            Path(server.log.name).unlink(missing_ok=True)  # type: ignore[attr-defined]
        return "\n".join(f"  {count:>6} x {line}" for line, count in warned.most_common(6))


def daphne_command(port: int) -> list[str]:
    """The web command `make run` used before gunicorn (4d948d3..1d08a8e), for --server daphne."""
    return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "--websocket_connect_timeout", "30",
            "-v", "0", "config.asgi:application"]


def start_servers(count: int, env: dict[str, str], others: dict[str, int], server: str) -> Servers:
    from tests.support.processes import WebServer, Worker

    web: list = []
    worker = None
    try:
        worker = Worker(concurrency=2, env=env)
        for _ in range(count):
            # One web process a server (gunicorn with one worker: WEB_CONCURRENCY=1), customers
            # alternating between their ports, so the two servers are compared process for process.
            web.append(WebServer(env={**env, "WEB_CONCURRENCY": "1"},
                                 command=daphne_command if server == "daphne" else None))
    except BaseException:
        for server in [*web, *([worker] if worker else [])]:
            server.stop()
        raise
    return Servers(web=web, worker=worker, others=others)


# ----------------------------------------------------------------------------- one point

@dataclass
class Point:
    mode: str
    web_processes: int
    rate: float | None  # None: a burst
    customers: int
    answered: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    max_ms: float | None = None
    connect_p95_ms: float | None = None
    model_first_token_p50_ms: float | None = None
    added_p50_ms: float | None = None
    added_p95_ms: float | None = None
    end_p95_ms: float | None = None
    late_ends: int = 0  # first words came, answer.end (the stored answer) not within --timeout after them
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    answer_modes: dict[str, int] = field(default_factory=dict)
    cache_hits: int = 0
    cpu_ms_per_answer: dict[str, float] = field(default_factory=dict)
    generator_lag_p95_ms: float = 0.0
    load_average: float = 0.0
    at: str = ""


def answer_modes_since(since: datetime) -> dict[str, int]:
    from django.db.models import Count
    from django_tenants.utils import schema_context

    from chat.conversations.models import Message

    counts: collections.Counter[str] = collections.Counter()
    for schema in ("shop", "cafe"):
        with schema_context(schema):
            for row in (Message.objects.filter(author="assistant", created__gte=since, in_reply_to__isnull=False)
                        .values("mode").annotate(n=Count("id"))):
                counts[row["mode"] or "none"] += row["n"]
    return dict(counts)


def model_first_tokens(timing_log: Path | None, since: float) -> list[tuple[str, float]]:
    if timing_log is None or not timing_log.exists():
        return []
    entries = []
    for line in timing_log.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry["received"] >= since and isinstance(entry["question"], str):
            entries.append((entry["question"], (entry["first_token"] - entry["received"]) * 1000))
    return entries


def added_latency(results: list[dict], texts: dict[int, str], logged: list[tuple[str, float]]) -> tuple[
        list[float], list[float]]:
    """Per answer that reached the model: (model's own first-token ms, customer's wait minus it)."""
    by_question = {question: ms for question, ms in logged}
    model, added = [], []
    for result in results:
        if "first_ms" not in result:
            continue
        text = texts[result["n"]]
        ms = by_question.get(text)
        if ms is None:  # the question inside a longer user message
            ms = next((value for question, value in logged if text in question), None)
        if ms is not None:
            model.append(ms)
            added.append(result["first_ms"] - ms)
    return model, added


def measure(*, servers: Servers, customers: list[dict], mode: str, rate: float | None, generators: int,
            timeout: float, timing_log: Path | None, py_spy: str | None, profile_dir: Path) -> Point:
    from _django import percentile
    from django.utils import timezone

    point = Point(mode=mode, web_processes=len(servers.web), rate=rate, customers=len(customers),
                  load_average=round(os.getloadavg()[0], 2), at=datetime.now().strftime("%H:%M:%S"))
    since, since_epoch = timezone.now(), time.time()
    cpu_before = servers.cpu()
    duration = (customers[-1]["at"] if customers else 0) + 1
    recorders = []
    if py_spy:
        label = f"{mode}-{len(servers.web)}web-{'burst' if rate is None else f'{rate:g}'}"
        recorders = [subprocess.Popen([py_spy, "record", "--pid", str(server.pid), "--subprocesses", "--duration",
                                       str(max(1, round(duration))), "--rate", "200", "--nonblocking", "--gil", "--format", "raw",
                                       "--output", str(profile_dir / f"{label}-web{index + 1}.txt")],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                     for index, server in enumerate(servers.web)]
    results, generator_cpu = run_customers(customers, generators=generators, timeout=timeout)
    for recorder in recorders:
        recorder.wait(timeout=60)
    servers.wait_quiet()
    cpu_after = servers.cpu()
    firsts = [result["first_ms"] for result in results if "first_ms" in result]
    failures = collections.Counter(result["error"] for result in results if "error" in result)
    ends = [result["end_ms"] for result in results if "end_ms" in result]
    point.answered = len(firsts)
    point.late_ends = sum(1 for result in results if result.get("late_end"))
    if ends:
        point.end_p95_ms = round(percentile(ends, 95), 1)
    point.errors = sum(failures.values())
    point.error_kinds = dict(failures)
    point.answer_modes = answer_modes_since(since)
    point.cache_hits = point.answer_modes.get("cache", 0)
    connects = [result["connect_ms"] for result in results if "connect_ms" in result]
    if firsts:
        point.p50_ms, point.p95_ms, point.max_ms = (round(percentile(firsts, 50), 1), round(percentile(firsts, 95), 1),
                                                    round(max(firsts), 1))
    if connects:
        point.connect_p95_ms = round(percentile(connects, 95), 1)
    point.generator_lag_p95_ms = round(percentile([result["lag_ms"] for result in results], 95), 1)
    # Answers the servers made, whether or not their customer was still there to see them.
    answers = max(1, sum(point.answer_modes.values()) or len(firsts))
    point.cpu_ms_per_answer = {name: round((cpu_after[name] - cpu_before[name]) * 1000 / answers, 2)
                               for name in cpu_before}
    point.cpu_ms_per_answer["generators"] = round(generator_cpu * 1000 / answers, 2)
    if timing_log is not None:
        texts = {customer["n"]: customer["text"] for customer in customers}
        model, added = added_latency(results, texts, model_first_tokens(timing_log, since_epoch))
        if added:
            point.model_first_token_p50_ms = round(percentile(model, 50), 1)
            point.added_p50_ms, point.added_p95_ms = round(percentile(added, 50), 1), round(percentile(added, 95), 1)
    return point


# ----------------------------------------------------------------------------- set-up and the matrix

class Arrivals:
    """Customers for each point: the next questions, the next loopback addresses, web processes in turn."""

    def __init__(self, keys: dict[str, tuple[str, str]], seed: int) -> None:
        self.keys = keys  # tenant -> (domain, widget key)
        self.questions = Questions(seed)
        self.number = itertools.count()

    def make(self, count: int, rate: float | None, ports: list[int]) -> list[dict]:
        customers = []
        for index in range(count):
            tenant, text = self.questions.next()
            domain, key = self.keys[tenant]
            number = next(self.number)
            customers.append({"n": number, "at": index / rate if rate else 0.0, "port": ports[index % len(ports)],
                              "domain": domain, "key": key, "ip": loopback_address(number), "text": text})
        return customers


def demo_tenants() -> dict[str, tuple[str, str]]:
    from django_tenants.utils import schema_context

    from chat.widget.services import widget_settings_get
    from config.redis import redis_client, tenant_key
    from tenants.demo import DEMO_TENANTS, demo_load
    from tenants.models import Plan, Tenant

    demo_load()
    Tenant.objects.filter(schema_name__in=[demo.slug for demo in DEMO_TENANTS]).update(
        plan=Plan.objects.get(code="scale"))
    keys = {}
    redis = redis_client()
    cached = 0
    for demo in DEMO_TENANTS:
        with schema_context(demo.slug):
            keys[demo.slug] = (demo.domain, widget_settings_get().public_key)
        # The demo's past conversations were answered through the answer cache, their questions
        # the FAQ's own wordings: those entries go, so no customer here is answered from one.
        for key in redis.scan_iter(match=tenant_key(demo.slug, "answer", "*")):
            cached += redis.delete(key)
    print(f"{cached} answer cache entries of the demo's past conversations removed", flush=True)
    return keys


def server_env(mode: str, base_url: str | None) -> dict[str, str]:
    from tests.support.processes import child_env

    llm = ({"OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": base_url or "", "LLM_TENANT_MAX_CONCURRENCY": "100000"}
           if mode == "llm" else {"OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""})
    return child_env(DJANGO_SETTINGS_MODULE="config.settings.local", DJANGO_DEBUG="false",
                     KB_EMBEDDING_PROVIDER="local", **llm)


def format_table(points: list[Point]) -> str:
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:,.0f}"

    lines = ["mode     web  rate   customers  answered  p50 ms  p95 ms  added p50/p95 ms  end p95 ms  late ends  "
             "errors  cache hits  CPU ms per answer (per process)  load"]
    for point in points:
        rate = "burst" if point.rate is None else f"{point.rate:g}/s"
        added = (f"{ms(point.added_p50_ms)} / {ms(point.added_p95_ms)}" if point.added_p95_ms is not None else "-")
        cpu = ", ".join(f"{name} {value:.1f}" for name, value in point.cpu_ms_per_answer.items())
        errors = f"{point.errors}" + (f" {point.error_kinds}" if point.errors else "")
        lines.append(f"{point.mode:<8} {point.web_processes:>3}  {rate:<6} {point.customers:>9}  {point.answered:>8}  "
                     f"{ms(point.p50_ms):>6}  {ms(point.p95_ms):>6}  {added:<16}  {ms(point.end_p95_ms):>10}  "
                     f"{point.late_ends:>9}  {errors:<6}  {point.cache_hits:>10}  "
                     f"{cpu}  {point.load_average:.2f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--generator", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rates", default="20,50,100", help="customers a second, comma-separated")
    parser.add_argument("--web-processes", default="1,2", help="web processes, comma-separated")
    parser.add_argument("--modes", default="offline,llm", help="offline, llm or both")
    parser.add_argument("--duration", type=float, default=15, help="seconds of arrivals at each rate")
    parser.add_argument("--burst", type=int, default=1000, help="customers at once after the rates (0: none)")
    parser.add_argument("--timeout", type=float, default=10, help="seconds a customer waits for first words")
    parser.add_argument("--delay", type=float, default=0.5, help="the fake model's first-token delay, seconds")
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="the fake model's pause between pieces")
    parser.add_argument("--generators", type=int, default=1, help="load generator processes")
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--server", choices=("gunicorn", "daphne"), default="gunicorn",
                        help="web server: make run's (gunicorn with uvicorn workers) or daphne, as before")
    parser.add_argument("--py-spy", help="path of a py-spy binary: record each web process during each point")
    parser.add_argument("--profile-dir", default=tempfile.gettempdir(), help="where py-spy's recordings go")
    args = parser.parse_args()
    if args.generator:
        generator_main()
        return

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the servers inherit it: a burst's sockets
    os.environ.setdefault("DJANGO_DEBUG", "false")
    os.environ["KB_EMBEDDING_PROVIDER"] = "local"
    sys.path.insert(0, str(BENCH))
    from _django import setup

    setup()
    from assistant import start_fake_model

    from config import embedded

    started = datetime.now()
    print(f"{started.isoformat(timespec='seconds')}: loading the demo tenants ...", flush=True)
    arrivals = Arrivals(demo_tenants(), args.seed)
    rates = [float(rate) for rate in args.rates.split(",") if rate]
    counts = [int(count) for count in args.web_processes.split(",") if count]
    stores = {name: pid for name, pid in (("postgres", embedded.postgres_pid()), ("redis", embedded.redis_pid()))
              if pid is not None}
    profile_dir = Path(args.profile_dir)
    points: list[Point] = []
    for mode in [mode.strip() for mode in args.modes.split(",") if mode.strip()]:
        model = None
        timing_log = None
        base_url = None
        if mode == "llm":
            timing_log = Path(tempfile.mkstemp(prefix="deskpilot-model-", suffix=".jsonl")[1])
            model, base_url = start_fake_model(delay=args.delay, chunk_delay=args.chunk_delay,
                                               timing_log=str(timing_log), text=MODEL_TEXT)
        try:
            for count in counts:
                others = {**stores, **({"model": model.pid} if model else {})}
                servers = start_servers(count, server_env(mode, base_url), others, args.server)
                try:
                    ports = [server.port for server in servers.web]
                    print(f"{mode}, {count} web process(es) {[s.pid for s in servers.web]}, worker "
                          f"{servers.worker.pid}: warming up ...", flush=True)  # type: ignore[attr-defined]
                    run_customers(arrivals.make(WARM_UP_CUSTOMERS_PER_WEB_PROCESS * count, 5.0 * count, ports),
                                  generators=1, timeout=60)
                    servers.wait_quiet()
                    plan = [(rate, round(rate * args.duration)) for rate in rates]
                    if args.burst:
                        plan.append((None, args.burst))
                    for rate, number in plan:
                        point = measure(servers=servers, customers=arrivals.make(number, rate, ports), mode=mode,
                                        rate=rate, generators=args.generators, timeout=args.timeout,
                                        timing_log=timing_log, py_spy=args.py_spy, profile_dir=profile_dir)
                        points.append(point)
                        print(format_table([point]).splitlines()[1], flush=True)
                finally:
                    warnings = servers.stop()
                    if warnings:
                        print(f"warnings and errors in the servers' logs:\n{warnings}", flush=True)
        finally:
            if model is not None:
                model.terminate()
                model.wait(timeout=10)
            if timing_log is not None:
                timing_log.unlink(missing_ok=True)
    print(f"\nsustained arrivals, {started.isoformat(timespec='minutes')}, {args.server}, {os.cpu_count()} CPUs, "
          f"{args.duration:g} s "
          f"a rate, customers' timeout {args.timeout:g} s, {args.generators} generator(s); LLM mode: fake model "
          f"first token after {args.delay * 1000:.0f} ms, {args.chunk_delay * 1000:.0f} ms between pieces")
    print(format_table(points))
    print(json.dumps({"benchmark": "sustained", "started": started.isoformat(timespec="seconds"),
                      "arguments": {key: value for key, value in vars(args).items() if key != "generator"},
                      "points": [asdict(point) for point in points]}))


if __name__ == "__main__":
    main()
