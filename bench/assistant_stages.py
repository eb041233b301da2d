"""Where an LLM answer's time and CPU go, stage by stage.

    .venv/bin/python bench/assistant_stages.py [--burst 200] [--sequential 200] [--delay 0.5]

Same set-up as bench/assistant.py (a demo shop, the fake OpenAI server in a process of its own,
plain-text answers with no tool call, every question different). The engine is observed from the
outside, by wrapping the functions it calls (its database trips and the openai client's `post`):

1. CPU per answer and stage, answers one at a time (the fake model with no delay): loading the turn;
   what comes before the request to the model (usage level, answer cache, prompt, guards); the
   openai client's request until the response headers; from the first chunk to the first text the
   sink receives (the fact-check gate holds a sentence until it ends); the rest of the stream and
   its checks; storing the answer and its usage entry.
2. A burst of N answers at once (the fake model with a first-token delay): for each stage, when
   the answers reached it, from the start of the burst (p50 / p95 / max), and the garbage
   collector's pauses during the burst. This shows which stage the last answers wait in.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextvars
import gc
import time
from collections.abc import Awaitable, Callable
from typing import Any

from _django import percentile

STAGES = ("turn loaded", "request sent", "response headers", "first text", "stored")


class _Recorder:
    """Per answer (a context variable set by each task), the first time each stage was reached."""

    def __init__(self) -> None:
        self.current: contextvars.ContextVar[dict[str, float] | None] = contextvars.ContextVar("stages", default=None)
        self.clock: Callable[[], float] = time.perf_counter
        self.origin = 0.0

    def mark(self, stage: str) -> None:
        stages = self.current.get()
        if stages is not None and stage not in stages:
            stages[stage] = self.clock() - self.origin


def _instrument(recorder: _Recorder) -> None:
    import openai

    from chat.assistant import engine

    post = openai.AsyncOpenAI.post

    async def observed_post(self: Any, *args: Any, **kwargs: Any) -> Any:
        recorder.mark("request sent")
        response = await post(self, *args, **kwargs)
        recorder.mark("response headers")
        return response

    openai.AsyncOpenAI.post = observed_post  # type: ignore[method-assign]
    in_schema = engine.in_schema
    after = {"turn_load": "turn loaded", "_answer_store_and_count": "stored"}

    async def observed_in_schema(schema_name: str, function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        if function.__name__ == "_answer_store_and_count":
            recorder.mark("stream done")
        result = await in_schema(schema_name, function, *args, **kwargs)
        if function.__name__ in after:
            recorder.mark(after[function.__name__])
        return result

    engine.in_schema = observed_in_schema  # type: ignore[assignment]


class _Sink:
    def __init__(self, recorder: _Recorder) -> None:
        self.recorder = recorder

    async def delta(self, text: str) -> None:
        self.recorder.mark("first text")


async def _answer_all(schema_name: str, message_ids: list[int], recorder: _Recorder,
                      at_once: bool) -> list[dict[str, float]]:
    from chat.assistant.engine import answer_customer_message

    records: list[dict[str, float]] = [{} for _ in message_ids]

    async def one(message_id: int, stages: dict[str, float]) -> None:
        recorder.current.set(stages)
        stages["start"] = recorder.clock() - recorder.origin
        await answer_customer_message(schema_name=schema_name, message_id=message_id, sink=_Sink(recorder))

    recorder.origin = recorder.clock()
    if at_once:
        await asyncio.gather(*(one(message_id, stages) for message_id, stages in zip(message_ids, records, strict=True)))
    else:
        for message_id, stages in zip(message_ids, records, strict=True):
            await one(message_id, stages)
    return records


def _with_model(base_url: str, work: Callable[[], Awaitable[None]]) -> None:
    from django.test import override_settings

    with override_settings(OPENAI_API_KEY="sk-bench", OPENAI_BASE_URL=base_url, OPENAI_CHAT_MODEL="gpt-4o-mini",
                           LLM_TENANT_MAX_CONCURRENCY=1000):
        from chat.assistant.llm import run_then_close_llm_clients

        run_then_close_llm_clients(work())


def sequential_cpu(schema_name: str, count: int, recorder: _Recorder) -> None:
    import assistant as bench

    process, base_url = bench.start_fake_model(delay=0.0, chunk_delay=0.0)
    recorder.clock = time.process_time  # CPU of the whole process, every thread: answers run one at a time
    try:
        async def work() -> None:
            await _answer_all(schema_name, await asyncio.to_thread(bench.store_questions, schema_name,
                                                                   bench.llm_questions(20)), recorder, at_once=False)
            ids = await asyncio.to_thread(bench.store_questions, schema_name, bench.llm_questions(count))
            records = await _answer_all(schema_name, ids, recorder, at_once=False)
            order = ("start", "turn loaded", "request sent", "response headers", "first text", "stream done", "stored")
            totals: dict[str, float] = collections.defaultdict(float)
            for stages in records:
                for before, stage in zip(order, order[1:], strict=False):
                    totals[f"{before} -> {stage}"] += (stages[stage] - stages[before]) * 1000
            print(f"CPU per answer and stage, {count} answers one at a time (ms):")
            for name, total in totals.items():
                print(f"  {name:<32} {total / count:6.2f}")
            print(f"  {'in all':<32} {sum(totals.values()) / count:6.2f}")

        _with_model(base_url, work)
    finally:
        process.terminate()
        process.wait(timeout=10)


def burst_timeline(schema_name: str, count: int, delay: float, recorder: _Recorder) -> None:
    import assistant as bench

    process, base_url = bench.start_fake_model(delay=delay, chunk_delay=0.0)
    recorder.clock = time.perf_counter
    pauses: list[tuple[int, float]] = []
    started: list[float] = []

    def on_collection(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(time.perf_counter())
        elif started:
            pauses.append((info["generation"], (time.perf_counter() - started.pop()) * 1000))

    try:
        async def work() -> None:
            await _answer_all(schema_name, await asyncio.to_thread(bench.store_questions, schema_name,
                                                                   bench.llm_questions(count)), recorder, at_once=True)
            ids = await asyncio.to_thread(bench.store_questions, schema_name, bench.llm_questions(count))
            gc.callbacks.append(on_collection)
            try:
                records = await _answer_all(schema_name, ids, recorder, at_once=True)
            finally:
                gc.callbacks.remove(on_collection)
            print(f"A burst of {count} answers, fake model with a {delay * 1000:.0f} ms first-token delay: "
                  "when the answers reached each stage (ms from the start of the burst)")
            for stage in STAGES:
                times = [stages[stage] * 1000 for stages in records if stage in stages]
                print(f"  {stage:<18} p50 {percentile(times, 50):6.0f}  p95 {percentile(times, 95):6.0f}  "
                      f"max {max(times):6.0f}")
            for generation in (0, 1, 2):
                durations = [ms for gen, ms in pauses if gen == generation]
                print(f"  garbage collections, generation {generation}: {len(durations)}, "
                      f"{sum(durations):.0f} ms in all, longest {max(durations, default=0):.0f} ms")

        _with_model(base_url, work)
    finally:
        process.terminate()
        process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--burst", type=int, default=200, help="answers at once in the timeline")
    parser.add_argument("--sequential", type=int, default=200, help="answers one at a time for the CPU figures")
    parser.add_argument("--delay", type=float, default=0.5, help="the fake model's first-token delay in the burst")
    args = parser.parse_args()
    import assistant as bench

    bench.setup_for_answers()

    from config.startup import freeze_loaded_objects

    shop = bench.demo_tenant("shop")
    freeze_loaded_objects()  # as bench/assistant.py does after its set-up
    recorder = _Recorder()
    _instrument(recorder)
    sequential_cpu(shop.schema_name, args.sequential, recorder)  # type: ignore[attr-defined]
    burst_timeline(shop.schema_name, args.burst, args.delay, recorder)  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
