"""CPU of the caller's event-loop thread per streamed LLM answer: the client's part of an answer alone.

Opens streams the way `chat.assistant.llm` does (`_open_until_first_token`, then `_absorb` on every
chunk) against the fake provider, which runs in other threads, so `time.thread_time()` counts only
what the web process's event loop spends on the call: the SDK's request building, the HTTP client,
the stream's parsing and our reading of the chunks. No database or Redis needed. Run it from a
checkout (its `chat.assistant.llm` is the one measured), for example an older commit's worktree:

    .venv/bin/python bench/llm_stream_cpu.py                   # this checkout
    cd /tmp/old && .venv/bin/python /path/to/bench/llm_stream_cpu.py   # another checkout's client
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path.cwd()))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

ANSWER = ("The Harbour Hoodie costs €59.95 and is in stock in sizes S, M and L. Orders placed before 2pm ship "
          "the same day, and delivery within Germany takes two to three working days. Anything else I can help with?")
MESSAGES = [{"role": "system", "content": "You are the shop's assistant. Answer from the shop's data only. " * 60},
            {"role": "user", "content": "Hi! How much is the Harbour Hoodie, and do you have it in M?"},
            {"role": "assistant", "content": "Hello! Let me check."},
            {"role": "user", "content": "Thanks, and when would it arrive?"}]


async def answer_once(llm: Any, client: Any, request: dict[str, Any]) -> None:
    progress, parts = llm._AttemptProgress(), {}
    opened, chunks, first = await llm._open_until_first_token(client, request)
    text = []
    try:
        for chunk in first:
            text += [event.text for event in llm._absorb(chunk, progress=progress, tool_parts=parts)]
        async for chunk in chunks:
            text += [event.text for event in llm._absorb(chunk, progress=progress, tool_parts=parts)]
    finally:
        await opened.close()
    assert "".join(text) == ANSWER and progress.tokens_in == 900, "the answer did not come through whole"


async def measure(*, base_url: str, server: Any, answers: int, rounds: int) -> list[float]:
    import openai

    from chat.assistant import llm
    from chat.assistant.tools import TOOL_SPECS

    client = openai.AsyncOpenAI(api_key="sk-bench", base_url=base_url, max_retries=0)
    request = {"model": "gpt-4o-mini", "messages": MESSAGES, "tools": TOOL_SPECS, "stream": True,
               "stream_options": {"include_usage": True}}
    per_answer = []
    try:
        for _ in range(rounds):
            server.script_reply(text=ANSWER, chunk_size=6, prompt_tokens=900, completion_tokens=50,
                                times=answers + 20)
            for _ in range(20):  # warm: connections, caches
                await answer_once(llm, client, request)
            started = time.thread_time()
            for _ in range(answers):
                await answer_once(llm, client, request)
            per_answer.append((time.thread_time() - started) / answers * 1000)
    finally:
        await client.close()
    return per_answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=300, help="answers a round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    # The settings start embedded stores the measurement never uses: on a throw-away folder, stopped at the end.
    data_dir = tempfile.mkdtemp(prefix="deskpilot-bench-")
    os.environ["DESKPILOT_DATA_DIR"] = data_dir
    try:
        import django

        django.setup()
        from tests.support.fake_openai import FakeOpenAIServer

        with FakeOpenAIServer() as server:
            figures = asyncio.run(measure(base_url=server.base_url, server=server, answers=args.answers,
                                          rounds=args.rounds))
    finally:
        from config import embedded

        embedded.stop_all()
        shutil.rmtree(data_dir, ignore_errors=True)
    chunks = -(-len(ANSWER) // 6) + 3  # the pieces, the role chunk, the ending and the usage chunk
    print(f"CPU ms per answer of the caller's thread ({chunks} chunks an answer), per round: "
          + ", ".join(f"{figure:.2f}" for figure in figures))


if __name__ == "__main__":
    main()
