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


# ----------------------------------------------------------------------------- every kind of content

WEEK_WITH_SUNDAY = {"weekly": {"mon": [["09:00", "17:30"]], "tue": [["09:00", "17:30"]], "wed": [["09:00", "17:30"]],
                               "thu": [["09:00", "17:30"]], "fri": [["09:00", "17:30"]], "sat": [["10:00", "14:00"]],
                               "sun": [["11:00", "15:00"]]}}


def _price_changed() -> None:
    from orders.models import Variant
    from orders.services.catalog import variant_update

    variant_update(variant=Variant.objects.get(sku="TL-HOOD-002-BLU-M"), price="54.95", stock=11, is_sellable=True)


def _stock_from_the_shop() -> None:
    from orders.platforms import InventoryData
    from orders.services.catalog import variant_stock_set_from_platform

    variant_stock_set_from_platform(data=InventoryData(platform="shopify", inventory_ref="inv-hood-002-blu-m",
                                                       available=3, updated_at=None))


def _hours_changed() -> None:
    from orders.services.hours import opening_hours_set_from_json

    opening_hours_set_from_json(data=WEEK_WITH_SUNDAY)


def _address_changed() -> None:
    from chat.conversations.services import business_profile_get
    from chat.dashboard.services import business_profile_update

    profile = business_profile_get()
    business_profile_update(name=profile.name, tagline=profile.tagline, tone=profile.tone,
                            languages=list(profile.languages), human_only_topics=list(profile.human_only_topics),
                            contact_email=profile.contact_email, phone=profile.phone,
                            address="Threadline B.V., Oostelijke Handelskade 3, 1019 BM Amsterdam")


def _knowledge_changed() -> None:
    from chat.knowledge.services import faq_upsert, sources_index_now

    outcome = faq_upsert(question=SHIPPING_QUESTION, answer="Shipping is now a flat €2.50 everywhere.",
                         variants=["shipping costs?", "what does delivery cost"], origin="demo:faq.csv")
    sources_index_now(source_ids=[outcome.source_id])


# Kind: the question, a part of its answer before the change, the change, a part after it, and whether
# the answer is one the cache keeps (the others are worked out afresh from per-process indexes).
CONTENT_CHANGES = {
    "price": ("do you have the blue hoodie in M?", "€64.95", _price_changed, "€54.95", False),
    "stock": ("do you have the blue hoodie in M?", "11 available", _stock_from_the_shop, "3 available", False),
    "opening hours": ("are you open on sunday?", "closed on Sunday", _hours_changed, "11:00", False),
    "business profile": ("where are you?", "Werfkade 14", _address_changed, "Oostelijke Handelskade 3", True),
    "knowledge": (SHIPPING_QUESTION, "€4.95", _knowledge_changed, "€2.50", True),
}


@pytest.fixture(scope="module")
def changing_shop(django_db_setup: None, django_db_blocker: Any) -> Iterator[Tenant]:
    """A shop of its own: each kind's change leaves the other kinds' answers as they were."""
    with django_db_blocker.unblock():
        tenant = demo_tenant_create()
        with schema_context(tenant.schema_name):
            from orders.models import Variant

            Variant.objects.filter(sku="TL-HOOD-002-BLU-M").update(inventory_ref="inv-hood-002-blu-m")
        connection.set_schema_to_public()
    yield tenant


@pytest.fixture
def offline_cached(changing_shop: Tenant, settings: Any) -> Tenant:
    """Answered offline with the answer cache on."""
    settings.KB_EMBEDDING_PROVIDER = "local"
    settings.ASSISTANT_CACHE_ENABLED = True
    settings.OPENAI_API_KEY = ""
    settings.OPENAI_BASE_URL = ""
    return changing_shop


@pytest.mark.parametrize("kind", list(CONTENT_CHANGES))
def test_after_a_change_through_a_service_the_next_answer_has_it(kind: str, offline_cached: Tenant) -> None:
    question, before, change, after, cached = CONTENT_CHANGES[kind]
    first, _ = ask(offline_cached, question)
    again, _ = ask(offline_cached, question)
    assert before in first.text and again.text == first.text
    assert (again.mode == "cache") is cached

    with override_settings(KB_EMBEDDING_PROVIDER="local"), schema_context(offline_cached.schema_name):
        change()
    connection.set_schema_to_public()

    fresh, _ = ask(offline_cached, question)
    assert fresh.mode != "cache" and after in fresh.text and before not in fresh.text
