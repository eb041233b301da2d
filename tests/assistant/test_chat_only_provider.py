"""A chat endpoint without embeddings (llama.cpp's server without --embeddings, most self-hosted
ones) is a supported setup (issue 26: 21 of 40 knowledge questions failed outright with one).

The provider is the fake model in its chat-only mode: /v1/embeddings answers 500 (as llama.cpp does)
or 404. Knowledge is embedded and searched with the local model, so knowledge questions are answered,
through the engine and through a real web process's widget socket; the chat endpoint is never asked
for an embedding.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from django_tenants.utils import schema_context

from chat.conversations.models import Author, Message
from chat.widget.services import widget_settings_get
from tenants.models import Tenant
from tests.assistant.test_engine_llm import TOOL_PATHS, Sink, ask, demo_tenant_create
from tests.support.fake_openai import FakeOpenAIServer
from tests.support.processes import ROOT, WebServer, child_env
from tests.support.ws import WidgetSocket

SHIPPING_QUESTION, SHIPPING_SEARCH, SHIPPING_ANSWER = TOOL_PATHS["knowledge_search"]


@pytest.fixture(scope="module")
def shop(django_db_setup: None, django_db_blocker: Any) -> Iterator[Tenant]:
    with django_db_blocker.unblock():
        yield demo_tenant_create()


@pytest.fixture(params=[500, 404])
def chat_only(request: pytest.FixtureRequest, fast_limits: Any) -> Iterator[FakeOpenAIServer]:
    """The platform's provider is a chat-only server; no embedding setting is made (the defaults)."""
    with FakeOpenAIServer(embeddings_status=request.param) as server:
        fast_limits.OPENAI_API_KEY = "sk-chat-only"
        fast_limits.OPENAI_BASE_URL = server.base_url
        fast_limits.ASSISTANT_CACHE_ENABLED = False
        yield server


def embeddings_requests(server: FakeOpenAIServer) -> list[Any]:
    return [request for request in server.requests if request.path.endswith("/embeddings")]


def test_the_chat_only_server_really_has_no_embeddings(chat_only: FakeOpenAIServer) -> None:
    from openai import APIStatusError, OpenAI

    client = OpenAI(api_key="sk-chat-only", base_url=chat_only.base_url, max_retries=0)
    with pytest.raises(APIStatusError) as refused:
        client.embeddings.create(model="text-embedding-3-small", input=["hello"])
    assert refused.value.status_code == chat_only.embeddings_status


def test_a_knowledge_question_is_answered_by_the_model_from_the_knowledge(
        shop: Tenant, chat_only: FakeOpenAIServer) -> None:
    chat_only.script_reply(tool_calls=[{"name": "knowledge_search", "arguments": SHIPPING_SEARCH}])
    chat_only.script_reply(text=SHIPPING_ANSWER)
    sink = Sink()

    result, _ = ask(shop, SHIPPING_QUESTION, sink=sink)

    assert (result.mode, result.text) == ("llm", SHIPPING_ANSWER)
    assert [source["title"] for source in result.sources][:1] == ["How much is shipping?"]
    passages = result.tool_calls[0]["result"]["passages"]
    assert result.tool_calls[0]["result"]["confident"] and "6.95" in passages[0]["text"]
    assert embeddings_requests(chat_only) == []


def test_a_chat_only_server_that_cannot_call_tools_still_gets_knowledge_questions_answered(
        shop: Tenant, fast_limits: Any) -> None:
    # llama.cpp started without --jinja refuses any request offering tools.
    with FakeOpenAIServer(embeddings_status=500, tools_status=500) as server:
        fast_limits.OPENAI_API_KEY = "sk-chat-only"
        fast_limits.OPENAI_BASE_URL = server.base_url
        fast_limits.ASSISTANT_CACHE_ENABLED = False
        fast_limits.LLM_MAX_RETRIES = 0

        result, _ = ask(shop, "how much is shipping to germany?")

    assert result.mode == "offline" and "6.95" in result.text, result.text
    assert [source["title"] for source in result.sources][:1] == ["How much is shipping?"]
    assert embeddings_requests(server) == []


def test_through_the_widget_a_chat_only_model_answers_a_knowledge_question(demo_copies: dict[str, Any]) -> None:
    cafe = demo_copies["cafe"]

    def model(body: dict[str, Any]) -> dict[str, Any]:
        if body["messages"][-1]["role"] == "user":
            return {"tool_calls": [{"name": "knowledge_search", "arguments": {"query": "dogs allowed inside"}}]}
        return {"text": "Yes, well-behaved dogs are welcome inside and on the terrace."}

    with FakeOpenAIServer(embeddings_status=500, responder=model) as server:
        web = WebServer(env=child_env(OPENAI_API_KEY="sk-chat-only", OPENAI_BASE_URL=server.base_url,
                                      ASSISTANT_CACHE_ENABLED="false"))
        try:
            with schema_context(cafe.schema_name):
                key = widget_settings_get().public_key
            ws = WidgetSocket(web.port, cafe.get_primary_domain().domain, f"/ws/widget/?key={key}")
            ws.recv_until("welcome")
            ws.send({"type": "message", "client_id": "dog-1", "text": "r dogs ok inside??"})
            asked = ws.recv_until("ack")["message_id"]
            end = ws.recv_until("answer.end", timeout=30)
            ws.close()
        finally:
            web.stop()

    assert end["message"]["text"] == "Yes, well-behaved dogs are welcome inside and on the terrace."
    assert end["message"]["sources"][0]["title"] == "Can I bring my dog?"
    assert embeddings_requests(server) == []
    with schema_context(cafe.schema_name):
        assert Message.objects.get(in_reply_to_id=asked, author=Author.ASSISTANT).mode == "llm"


def test_through_the_command_line_a_chat_only_model_answers_a_knowledge_question(shop: Tenant) -> None:
    with FakeOpenAIServer(embeddings_status=404) as server:
        server.script_reply(tool_calls=[{"name": "knowledge_search", "arguments": SHIPPING_SEARCH}])
        server.script_reply(text=SHIPPING_ANSWER)
        ran = subprocess.run([sys.executable, "manage.py", "assistant", "ask", "--tenant", shop.schema_name, "--json",
                              SHIPPING_QUESTION], cwd=ROOT, capture_output=True, text=True, timeout=120,
                             env=child_env(OPENAI_API_KEY="sk-chat-only", OPENAI_BASE_URL=server.base_url,
                                           ASSISTANT_CACHE_ENABLED="false"))

    assert ran.returncode == 0, ran.stderr[-2000:]
    answered = json.loads(ran.stdout)
    assert (answered["mode"], answered["answer"]) == ("llm", SHIPPING_ANSWER)
    assert [source["title"] for source in answered["sources"]][:1] == ["How much is shipping?"]
    assert embeddings_requests(server) == []

