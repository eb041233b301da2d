"""What the customer-side and OpenAI-compatible tests share: the product as `make run` serves it,
whose assistant asks a fake model (a real local server speaking OpenAI's protocol), an SSE reader,
and the examples of docs/api.md, run as they are written."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from django_tenants.utils import schema_context

from tests.api.conftest import ApiTenant
from tests.support.fake_openai import FakeOpenAIServer
from tests.support.processes import ROOT, WebServer, make_run_env

# Short sentences, streamed slowly: each checked sentence is released as its own piece.
SENTENCES = ["We are a small team.", "We answer every message ourselves.", "We ship all over Europe.",
             "We reply within a day.", "Ask us anything!"]
CHUNK_DELAY = 0.02
PING_SECONDS = 0.3


def answering_server(llm: FakeOpenAIServer, **env: str) -> WebServer:
    """The `make run` web process (local settings), its assistant asking `llm` every time; `env`
    sets more of its settings."""
    llm.default_reply = {"text": " ".join(SENTENCES), "chunk_size": 8, "chunk_delay": CHUNK_DELAY}
    return WebServer(env=make_run_env(OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=llm.base_url,
                                      KB_EMBEDDING_PROVIDER="local", ASSISTANT_CACHE_ENABLED="false",
                                      API_SSE_PING_SECONDS=str(PING_SECONDS), **env))


def site(web: WebServer, tenant: ApiTenant, **headers: str) -> httpx.Client:
    """A client of the business's domain, as `shop` in docs/api.md."""
    return httpx.Client(base_url=web.base_url, headers={"Host": tenant.domain, **headers}, timeout=30)


@dataclass(frozen=True)
class SseEvent:
    name: str
    data: dict[str, Any]
    at: float  # time.monotonic() when it arrived


def sse_events(response: httpx.Response) -> Iterator[SseEvent]:
    """Named events of a text/event-stream response, as they arrive."""
    name, data = "message", []
    for line in response.iter_lines():
        if line == "":
            if data:
                yield SseEvent(name, json.loads("\n".join(data)), time.monotonic())
            name, data = "message", []
        elif line.startswith("event:"):
            name = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data.append(line.removeprefix("data:").strip())


def docs_example(name: str) -> dict[str, Any]:
    """The definitions of docs/api.md's example `name` (the code block after `<!-- example: name -->`)."""
    text = (Path(ROOT) / "docs" / "api.md").read_text()
    match = re.search(rf"<!-- example: {re.escape(name)} -->\n```python\n(.*?)```", text, re.S)
    assert match, f"docs/api.md has no example {name!r}"
    namespace: dict[str, Any] = {"httpx": httpx}
    exec(compile(match.group(1), f"docs/api.md:{name}", "exec"), namespace)  # noqa: S102 - our own docs
    return namespace


def conversation_row(tenant: ApiTenant, conversation_id: int) -> Any:
    from chat.conversations.models import Conversation

    with schema_context(tenant.schema):
        return Conversation.objects.select_related("contact").get(pk=conversation_id)
