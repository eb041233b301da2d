"""CPU per streamed answer in the `openai` client: its default httpx transport against Deskpilot's aiohttp one.

    .venv/bin/python bench/llm_transport.py [--streams 1000] [--rounds 3] [--delay 0.5]

The fake OpenAI server (tests/support/fake_openai.py) runs in a process of its own with a fixed
first-token delay and the assistant bench's two-sentence answer in pieces of 8 characters. Each
round opens N streams at once through `client.post("/chat/completions", stream=True)`, as
chat/assistant/llm.py does, and reads each to its end. Printed per round: this process's CPU time
(user and system) divided by N, and the wall time of the burst; then the median round.
No database, no Redis: only the client.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def burst(client: object, count: int) -> tuple[float, float, int]:
    import openai

    async def one(index: int) -> None:
        stream = await client.post(  # type: ignore[attr-defined]
            "/chat/completions", cast_to=object, stream=True, stream_cls=openai.AsyncStream[object],
            body={"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": f"Q{index}"}]})
        async for _chunk in stream:
            pass

    cpu_before, started = cpu_seconds(), time.perf_counter()
    results = await asyncio.gather(*(one(index) for index in range(count)), return_exceptions=True)
    failed = sum(isinstance(result, BaseException) for result in results)
    return (cpu_seconds() - cpu_before) / count * 1000, time.perf_counter() - started, failed


async def measure(kind: str, base_url: str, streams: int, rounds: int) -> list[float]:
    import openai

    from chat.assistant.http import llm_http_client

    # The platform's own endpoint (a local model server here): not behind the egress guard.
    http_client = llm_http_client(egress_guarded=False) if kind == "aiohttp (Deskpilot)" else None
    client = openai.AsyncOpenAI(api_key="sk-bench", base_url=base_url, max_retries=0, http_client=http_client)
    per_stream = []
    try:
        for round_number in range(1, rounds + 1):
            cpu_ms, wall, failed = await burst(client, streams)
            per_stream.append(cpu_ms)
            print(f"  {kind}, round {round_number}: {cpu_ms:.2f} ms CPU per stream, burst {wall:.2f} s, "
                  f"{failed} failed", flush=True)
    finally:
        await client.close()
    return per_stream


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--delay", type=float, default=0.5)
    args = parser.parse_args()

    from assistant import start_fake_model

    fake, base_url = start_fake_model(delay=args.delay, chunk_delay=0.0)
    try:
        print(f"{args.streams} streams at once, model first-token delay {args.delay * 1000:.0f} ms", flush=True)
        for kind in ("httpx (openai's default)", "aiohttp (Deskpilot)"):
            rounds = asyncio.run(measure(kind, base_url, args.streams, args.rounds))
            print(f"{kind}: median {statistics.median(rounds):.2f} ms CPU per stream", flush=True)
    finally:
        fake.kill()


if __name__ == "__main__":
    main()
