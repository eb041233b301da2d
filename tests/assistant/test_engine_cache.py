"""The answer cache seen from the customer's side: a frequent question is answered once by the model,
then from the cache, until the knowledge it came from changes; a burst of the same question makes
one model call. The model is a real local HTTP server speaking OpenAI's protocol.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from django_tenants.utils import schema_context

from chat.assistant.engine import AnswerResult, answer_customer_message
from chat.assistant.llm import run_then_close_llm_clients
from chat.assistant.resilience import circuit_reset
from chat.conversations.models import Author, Message
from tenants.models import Tenant
from tests.assistant.test_engine_llm import (
    NOW,
    PLATFORM_KEY,
    Sink,
    ask,
    customer_says,
    demo_tenant_create,
    last_message,
    stored_answer,
)
from tests.support.fake_openai import FakeOpenAIServer

SHIPPING_QUESTION = "How much is shipping?"


def faq_model(body: dict[str, Any]) -> dict[str, Any]:
    """A model that looks the question up in the knowledge base, then answers with what it found."""
    latest = last_message(body)
    if latest["role"] == "user":
        return {"tool_calls": [{"name": "knowledge_search", "arguments": {"query": latest["content"]}}]}
    passages = json.loads(latest["content"])["passages"]
    return {"text": passages[0]["text"] if passages else "I don't know that one, sorry."}


@pytest.fixture(scope="module")
def shop(django_db_setup: None, django_db_blocker: Any) -> Iterator[Tenant]:
    with django_db_blocker.unblock():
        tenant = demo_tenant_create()
    yield tenant


@pytest.fixture
def llm(settings: Any) -> Iterator[FakeOpenAIServer]:
    settings.KB_EMBEDDING_PROVIDER = "local"
    settings.ASSISTANT_CACHE_ENABLED = True
    settings.ASSISTANT_CACHE_WAIT_SECONDS = 20
    settings.LLM_TENANT_MAX_CONCURRENCY = 8
    with FakeOpenAIServer(responder=faq_model) as server:
        run_then_close_llm_clients(circuit_reset(base_url=server.base_url))
        settings.OPENAI_API_KEY = PLATFORM_KEY
        settings.OPENAI_BASE_URL = server.base_url
        yield server
        run_then_close_llm_clients(circuit_reset(base_url=server.base_url))


def test_a_repeated_question_is_answered_from_the_cache_until_the_knowledge_changes(
        shop: Tenant, llm: FakeOpenAIServer) -> None:
    from chat.knowledge.services import faq_upsert, sources_index_now

    first, _ = ask(shop, SHIPPING_QUESTION)

    assert first.mode == "llm" and "€4.95" in first.text
    calls_for_first = len(llm.chat_requests)
    assert calls_for_first == 2, "a knowledge lookup, then the answer"

    sink = Sink()
    again, _ = ask(shop, "how much is shipping", sink=sink)

    assert again.mode == "cache" and again.text == first.text
    assert len(llm.chat_requests) == calls_for_first, "no model call for a cached answer"
    assert sink.text == first.text, "a cached answer streams like any other"
    cached = stored_answer(shop, again)
    assert cached.mode == "cache" and cached.sources == first.sources and cached.tokens_in == 0

    new_answer = ("Shipping within the Netherlands is now €3.95, or free on orders from €60. To the rest of the EU "
                  "it's €6.95, free from €100.")
    with override_settings(KB_EMBEDDING_PROVIDER="local"), schema_context(shop.schema_name):
        outcome = faq_upsert(question=SHIPPING_QUESTION, answer=new_answer,
                             variants=["shipping costs?", "what does delivery cost"], origin="demo:faq.csv")
        assert outcome.action == "updated"
        sources_index_now(source_ids=[outcome.source_id])
    connection.set_schema_to_public()

    fresh, _ = ask(shop, SHIPPING_QUESTION)

    assert fresh.mode == "llm" and fresh.text == new_answer
    assert len(llm.chat_requests) == calls_for_first + 2, "the model was asked again, with the new content"
    assert new_answer in json.dumps(llm.chat_requests[-1].json, ensure_ascii=False)

    from_cache, _ = ask(shop, SHIPPING_QUESTION)
    assert from_cache.mode == "cache" and from_cache.text == new_answer


def test_ten_identical_questions_at_once_make_one_model_call(shop: Tenant, llm: FakeOpenAIServer) -> None:
    # Slow enough that all ten arrive while the first is still being answered.
    llm.first_token_delay = 0.3
    question = "Do you ship to the UK? Will I pay customs?"
    messages = [customer_says(shop, question)[1] for _ in range(10)]

    async def all_at_once() -> list[AnswerResult]:
        return list(await asyncio.gather(*(
            answer_customer_message(schema_name=shop.schema_name, message_id=message.pk, now=NOW)
            for message in messages)))

    results = run_then_close_llm_clients(all_at_once())

    assert len(llm.chat_requests) == 2, "one answer computed: one lookup and one answer call"
    assert sorted(result.mode for result in results) == ["cache"] * 9 + ["llm"]
    assert len({result.text for result in results}) == 1 and "£135" in results[0].text
    with schema_context(shop.schema_name):
        answered = Message.objects.filter(author=Author.ASSISTANT, in_reply_to__in=[m.pk for m in messages])
        assert answered.count() == 10, "every customer got an answer of their own"
