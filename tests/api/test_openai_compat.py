"""The OpenAI-compatible endpoint, with the official `openai` client, streaming and not, against the
product as `make run` serves it; its assistant asks a fake model (a real local server)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from django_tenants.utils import schema_context

from tests.api.answering import SENTENCES, answering_server, conversation_row, docs_example, site
from tests.api.conftest import ApiTenant, api_key_for, api_tenant_create
from tests.support.fake_openai import FakeOpenAIServer, ScriptedReply
from tests.support.processes import WebServer

MODEL = "deskpilot-assistant"
ANSWER = " ".join(SENTENCES)
ERROR_KEYS = {"message", "type", "param", "code"}


@pytest.fixture(scope="module")
def biz_a(django_db_setup: None, django_db_blocker: Any) -> ApiTenant:
    """Businesses of this module's own: what it stores never meets the other API tests' counts."""
    with django_db_blocker.unblock():
        return api_tenant_create("OpenAI side A")


@pytest.fixture(scope="module")
def biz_b(django_db_setup: None, django_db_blocker: Any) -> ApiTenant:
    with django_db_blocker.unblock():
        return api_tenant_create("OpenAI side B")


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture(scope="module")
def web(llm: FakeOpenAIServer) -> Iterator[WebServer]:
    server = answering_server(llm)
    yield server
    server.stop()


def assistant(web: WebServer, tenant: ApiTenant, key: str) -> openai.OpenAI:
    """The official client, pointed at the business's domain (as docs/api.md's `assistant`)."""
    return openai.OpenAI(base_url=f"{web.base_url}/v1", api_key=key, max_retries=0,
                         default_headers={"Host": tenant.domain})


def test_the_official_client_gets_answers_that_continue_one_conversation(
        web: WebServer, llm: FakeOpenAIServer, biz_a: ApiTenant) -> None:
    from chat.conversations.models import Message

    example = docs_example("openai")
    client = assistant(web, biz_a, api_key_for(biz_a))
    customer = f"cust-{uuid.uuid4().hex[:8]}"
    first, conversation_id = example["ask_assistant"](client, customer, "Who are you?")
    assert first == ANSWER
    llm.script_reply(ScriptedReply(text="We ship to Norway too."))
    second, continued = example["ask_assistant"](client, customer, "And Norway?", conversation_id)
    assert second == "We ship to Norway too." and continued == conversation_id
    # The model saw the conversation so far: the assistant keeps it, the client sent one message.
    last_request = llm.chat_requests[-1].json["messages"]
    assert any(m.get("content") == "Who are you?" for m in last_request)
    assert any(ANSWER in str(m.get("content")) for m in last_request)

    conversation = conversation_row(biz_a, int(conversation_id))
    assert conversation.channel == "api" and conversation.contact.visitor_id == f"api:{customer}"
    with schema_context(biz_a.schema):
        texts = list(Message.objects.filter(conversation=conversation).values_list("author", "text"))
    assert texts == [("customer", "Who are you?"), ("assistant", ANSWER), ("customer", "And Norway?"),
                     ("assistant", "We ship to Norway too.")]
    # Without the header, a new conversation.
    _, fresh = example["ask_assistant"](client, customer, "Hello again")
    assert fresh != conversation_id

    completion = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}])
    assert completion.object == "chat.completion" and completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.total_tokens > 0
    assert completion.model_extra["deskpilot"]["handoff"] is False


def test_streaming_sends_chunks_a_finish_a_usage_chunk_and_done(web: WebServer, biz_a: ApiTenant,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    example = docs_example("openai")
    client = assistant(web, biz_a, api_key_for(biz_a))
    text, tokens = example["ask_assistant_streaming"](client, "cust-stream", "Tell me about you")
    assert text == ANSWER and capsys.readouterr().out == ANSWER and tokens > 0

    chunks = list(client.chat.completions.create(model=MODEL, stream=True, stream_options={"include_usage": True},
                                                 messages=[{"role": "user", "content": "Again please"}]))
    assert all(chunk.object == "chat.completion.chunk" and chunk.model == MODEL for chunk in chunks)
    assert len({chunk.id for chunk in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [chunk.choices[0].delta.content for chunk in chunks[1:-2]]
    assert len(pieces) >= 3 and "".join(pieces) == ANSWER
    finish, usage = chunks[-2], chunks[-1]
    assert finish.choices[0].finish_reason == "stop" and finish.choices[0].delta.content is None
    assert usage.choices == [] and usage.usage.total_tokens == usage.usage.prompt_tokens + usage.usage.completion_tokens

    # On the wire: the last line is [DONE]; without include_usage there is no usage chunk.
    with site(web, biz_a, Authorization=f"Bearer {api_key_for(biz_a)}") as raw, raw.stream(
            "POST", "/v1/chat/completions",
            json={"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "Hi"}]}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-conversation-id"].isdigit()
        data = [line.removeprefix("data: ") for line in response.iter_lines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    bodies = [json.loads(item) for item in data[:-1]]
    assert bodies[-1]["choices"][0]["finish_reason"] == "stop" and all(b["usage"] is None for b in bodies)


def test_models_lists_the_assistant(web: WebServer, biz_a: ApiTenant) -> None:
    client = assistant(web, biz_a, api_key_for(biz_a, scopes=["read", "conversations"]))
    assert [model.id for model in client.models.list()] == [MODEL]
    assert client.models.retrieve(MODEL).id == MODEL
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")


def test_errors_before_the_first_byte_have_a_real_status_and_openais_shape(
        web: WebServer, biz_a: ApiTenant, biz_b: ApiTenant) -> None:
    from chat.api.services import api_key_revoke

    key = api_key_for(biz_a)
    revoked = api_key_for(biz_a)
    with schema_context(biz_a.schema):
        api_key_revoke(key_id=revoked.split("_")[1])
    hello = [{"role": "user", "content": "hello"}]
    for wrong in (api_key_for(biz_b), revoked, "dpk_0000000000000000_" + "x" * 43, "sk-not-ours"):
        with pytest.raises(openai.AuthenticationError) as refused:
            assistant(web, biz_a, wrong).chat.completions.create(model=MODEL, messages=hello)
        assert refused.value.status_code == 401 and refused.value.type == "authentication_error"
    client = assistant(web, biz_a, key)
    with pytest.raises(openai.NotFoundError) as unknown_model:
        client.chat.completions.create(model="gpt-4o", messages=hello, stream=True)
    assert unknown_model.value.code == "model_not_found" and unknown_model.value.param == "model"
    bad_requests = [
        ({"messages": [{"role": "assistant", "content": "hi"}]}, "messages.[0].role"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
         "messages.[0].content"),
        ({"messages": hello, "n": 2}, "n"),
        ({"messages": hello, "extra_body": {"tools_please": True}}, "tools_please"),
        ({"messages": hello, "user": "not an id!"}, "user"),
        ({"messages": [{"role": "user", "content": "  "}]}, None),
    ]
    for arguments, param in bad_requests:
        with pytest.raises(openai.BadRequestError) as bad:
            client.chat.completions.create(model=MODEL, **arguments)
        assert bad.value.status_code == 400 and bad.value.param == param, arguments
        assert bad.value.type == "invalid_request_error"
    no_scope = assistant(web, biz_a, api_key_for(biz_a, scopes=["read", "write", "catalog"]))
    with pytest.raises(openai.PermissionDeniedError):
        no_scope.chat.completions.create(model=MODEL, messages=hello)

    # The exact shape, on the wire, and on any other path under /v1/.
    with site(web, biz_a, Authorization=f"Bearer {key}") as raw:
        kept = raw.post("/v1/chat/completions", headers={"Idempotency-Key": f"k-{uuid.uuid4().hex}"},
                        json={"model": MODEL, "stream": True, "messages": hello})
        assert kept.status_code == 400 and kept.json()["error"]["param"] == "Idempotency-Key"
        for answer in (raw.post("/v1/chat/completions", json={"model": MODEL}),
                       raw.post("/v1/chat/completions", content=b"{not json", headers={"Content-Type": "application/json"}),
                       raw.get("/v1/embeddings")):
            assert answer.status_code in (400, 404) and set(answer.json()) == {"error"}
            assert set(answer.json()["error"]) == ERROR_KEYS


def test_a_conversation_id_reaches_only_its_own_customer_and_business(
        web: WebServer, biz_a: ApiTenant, biz_b: ApiTenant) -> None:
    ask = docs_example("openai")["ask_assistant"]
    client = assistant(web, biz_a, api_key_for(biz_a))
    _, alices = ask(client, "alice", "My order number is 1234")
    _, anonymous = ask(client, None, "Hello")
    for customer, conversation_id in (("mallory", alices), (None, alices), ("mallory", anonymous)):
        with pytest.raises(openai.NotFoundError) as refused:
            ask(client, customer, "What did I say?", conversation_id)
        assert refused.value.code == "conversation_not_found"
    with pytest.raises(openai.NotFoundError):
        ask(assistant(web, biz_b, api_key_for(biz_b)), "alice", "What did I say?", alices)
    with pytest.raises(openai.BadRequestError):
        ask(client, "alice", "Hi", "1 OR 1=1")
    _, same = ask(client, "alice", "Still me", alices)
    assert same == alices


def test_a_failure_mid_stream_sends_an_error_chunk_then_done(web: WebServer, llm: FakeOpenAIServer,
                                                             biz_a: ApiTenant) -> None:
    """The conversation is deleted while its answer streams: the answer cannot be stored."""
    from chat.conversations.models import Conversation

    llm.script_reply(ScriptedReply(text=ANSWER, chunk_size=8, chunk_delay=0.2))
    key = api_key_for(biz_a)
    lines = []
    with site(web, biz_a, Authorization=f"Bearer {key}") as raw, raw.stream(
            "POST", "/v1/chat/completions",
            json={"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "Go on"}]}) as response:
        conversation_id = int(response.headers["x-conversation-id"])
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            lines.append(line.removeprefix("data: "))
            if len(lines) == 2:  # the role chunk, then the first piece
                with schema_context(biz_a.schema):
                    Conversation.objects.filter(pk=conversation_id).delete()
    assert response.status_code == 200 and lines[-1] == "[DONE]"
    error = json.loads(lines[-2])
    assert set(error) == {"error"} and set(error["error"]) == ERROR_KEYS
    assert error["error"]["code"] == "answer_failed"

    # The official client raises it.
    llm.script_reply(ScriptedReply(text=ANSWER, chunk_size=8, chunk_delay=0.2))
    client = assistant(web, biz_a, key)
    with pytest.raises(openai.APIError, match="could not finish"):
        seen = 0
        for chunk in client.chat.completions.with_raw_response.create(
                model=MODEL, stream=True, messages=[{"role": "user", "content": "Go on"}]).parse():
            seen += 1
            if seen == 2:  # the completion's id names the customer's message
                with schema_context(biz_a.schema):
                    Conversation.objects.filter(messages__pk=int(chunk.id.removeprefix("chatcmpl-"))).delete()


def test_a_person_owning_the_conversation_gets_the_message_and_the_client_is_told(
        web: WebServer, llm: FakeOpenAIServer, biz_a: ApiTenant) -> None:
    from chat.conversations.models import Conversation
    from chat.conversations.services import conversation_request_human

    ask = docs_example("openai")["ask_assistant"]
    client = assistant(web, biz_a, api_key_for(biz_a))
    _, conversation_id = ask(client, "bob", "Hello")
    with schema_context(biz_a.schema):
        conversation_request_human(conversation=Conversation.objects.get(pk=int(conversation_id)), reason="test",
                                   actor="customer")
    asked_before = len(llm.chat_requests)
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, user="bob", messages=[{"role": "user", "content": "Are you a person?"}],
        extra_headers={"X-Conversation-Id": conversation_id})
    completion = raw.parse()
    assert completion.choices[0].message.content == "" and completion.model_extra["deskpilot"]["handoff"] is True
    assert len(llm.chat_requests) == asked_before

