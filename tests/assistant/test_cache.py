"""The answer cache: one model call for identical questions, per tenant, gone when the knowledge changes."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from datetime import time as clock
from typing import Any

import pytest
from django_tenants.utils import schema_context

from chat.assistant.cache import CachedAnswer, answer_cache_get_or_compute, knowledge_version, normalize_question
from chat.assistant.llm import run_then_close_llm_clients
from chat.conversations.models import BusinessProfile
from chat.knowledge.models import KnowledgeSource
from config.errors import ApplicationError
from config.redis import redis_client, tenant_key
from orders.models import Product, Variant, WeeklyOpening

QUESTION = "Are you open on Sunday?"


def _answer(text: str = "Yes, from 10:00 to 16:00.") -> CachedAnswer:
    return CachedAnswer(
        text=text,
        sources=[{"source_id": 3, "title": "Opening hours"}],
        tool_calls=[],
        confidence=0.92,
        mode="llm",
        quick_replies=["Where are you?"],
    )


class CountingCompute:
    """A model call that takes a while, counted across threads and event loops."""

    def __init__(self, answer: CachedAnswer | None, *, seconds: float = 0.3) -> None:
        self.answer = answer
        self.seconds = seconds
        self.calls = 0
        self._lock = threading.Lock()

    async def __call__(self) -> CachedAnswer | None:
        with self._lock:
            self.calls += 1
        await asyncio.sleep(self.seconds)
        return self.answer


def _ask(schema_name: str, compute: Any, *, question: str = QUESTION, version: str = "v1", language: str = "en") -> Any:
    return answer_cache_get_or_compute(
        schema_name=schema_name, language=language, question=question, version=version, compute=compute
    )


@pytest.fixture
def schema() -> str:
    """A tenant key space of its own for tests that need no tables (keys are all the cache uses)."""
    return f"t{uuid.uuid4().hex[:12]}"


# ----------------------------------------------------------------------------- single flight


def test_twenty_identical_questions_at_once_make_one_model_call(schema: str) -> None:
    compute = CountingCompute(_answer())

    async def ask_twenty() -> list[tuple[CachedAnswer | None, bool]]:
        return await asyncio.gather(*(_ask(schema, compute) for _ in range(20)))

    results = run_then_close_llm_clients(ask_twenty())

    assert compute.calls == 1
    assert [answer for answer, _ in results] == [_answer()] * 20
    assert sorted(from_cache for _, from_cache in results) == [False] + [True] * 19


def test_identical_questions_from_two_threads_each_with_its_own_event_loop_make_one_call(schema: str) -> None:
    compute = CountingCompute(_answer(), seconds=0.5)
    start = threading.Barrier(2)
    results: list[tuple[CachedAnswer | None, bool]] = []

    async def ask_ten() -> list[tuple[CachedAnswer | None, bool]]:
        return await asyncio.gather(*(_ask(schema, compute) for _ in range(10)))

    def event_loop_of_its_own() -> None:
        start.wait()
        results.extend(run_then_close_llm_clients(ask_ten()))

    threads = [threading.Thread(target=event_loop_of_its_own) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert compute.calls == 1
    assert len(results) == 20 and all(answer == _answer() for answer, _ in results)


def test_the_same_question_asked_differently_is_served_from_the_cache(schema: str) -> None:
    compute = CountingCompute(_answer(), seconds=0)

    first = run_then_close_llm_clients(_ask(schema, compute, question="Are you open on Sunday?"))
    again = run_then_close_llm_clients(_ask(schema, compute, question="  are you OPEN on sunday "))
    other_day = run_then_close_llm_clients(_ask(schema, compute, question="Are you open on Saturday?"))

    assert first == (_answer(), False)
    assert again == (_answer(), True)
    assert other_day == (_answer(), False)
    assert compute.calls == 2


def test_a_new_knowledge_version_or_another_language_is_a_new_entry(schema: str) -> None:
    compute = CountingCompute(_answer(), seconds=0)

    run_then_close_llm_clients(_ask(schema, compute, version="v1"))
    assert run_then_close_llm_clients(_ask(schema, compute, version="v2"))[1] is False
    assert run_then_close_llm_clients(_ask(schema, compute, version="v1", language="de"))[1] is False
    assert run_then_close_llm_clients(_ask(schema, compute, version="v1"))[1] is True
    assert compute.calls == 3


def test_tenants_never_share_an_entry(tenant_a, tenant_b) -> None:
    compute_a = CountingCompute(_answer("Business A opens at 9."), seconds=0)
    compute_b = CountingCompute(_answer("Business B opens at 11."), seconds=0)

    run_then_close_llm_clients(_ask(tenant_a.schema_name, compute_a))
    answer_b, from_cache_b = run_then_close_llm_clients(_ask(tenant_b.schema_name, compute_b))
    answer_a, from_cache_a = run_then_close_llm_clients(_ask(tenant_a.schema_name, compute_a))

    assert (answer_b.text, from_cache_b) == ("Business B opens at 11.", False)
    assert (answer_a.text, from_cache_a) == ("Business A opens at 9.", True)
    assert compute_a.calls == 1 and compute_b.calls == 1


def test_an_uncacheable_answer_is_not_stored_and_waiters_answer_on_their_own(schema: str, settings: Any) -> None:
    settings.ASSISTANT_CACHE_WAIT_SECONDS = 10
    compute = CountingCompute(None, seconds=0.3)

    async def ask_five() -> list[tuple[CachedAnswer | None, bool]]:
        return await asyncio.gather(*(_ask(schema, compute, question="Where is my order 1042?") for _ in range(5)))

    started = time.monotonic()
    results = run_then_close_llm_clients(ask_five())
    elapsed = time.monotonic() - started

    assert results == [(None, False)] * 5
    assert compute.calls == 5
    # They did not sit out the wait: the first told them at once that it was not cacheable.
    assert elapsed < 3
    run_then_close_llm_clients(_ask(schema, compute, question="Where is my order 1042?"))
    assert compute.calls == 6
    stored = [
        key
        for key in redis_client().scan_iter(match=tenant_key(schema, "answer", "*"))
        if not key.endswith((":lock", ":uncacheable"))
    ]
    assert stored == []


def test_when_the_first_caller_fails_a_waiter_answers_instead(schema: str) -> None:
    calls = 0

    async def failing_first() -> CachedAnswer:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.2)
        if calls == 1:
            raise RuntimeError("the provider went away")
        return _answer()

    async def ask_four() -> list[Any]:
        return await asyncio.gather(*(_ask(schema, failing_first) for _ in range(4)), return_exceptions=True)

    results = run_then_close_llm_clients(ask_four())

    assert sum(isinstance(result, RuntimeError) for result in results) == 1
    assert [result[0] for result in results if not isinstance(result, Exception)] == [_answer()] * 3
    assert calls == 2


def test_a_waiter_gives_up_after_the_wait_and_answers_itself(schema: str, settings: Any) -> None:
    settings.ASSISTANT_CACHE_WAIT_SECONDS = 0.5
    slow = CountingCompute(_answer("slow"), seconds=2)
    quick = CountingCompute(_answer("quick"), seconds=0)

    async def slow_and_quick() -> list[tuple[CachedAnswer | None, bool]]:
        leader = asyncio.create_task(_ask(schema, slow))
        await asyncio.sleep(0.1)
        follower = await _ask(schema, quick)
        return [await leader, follower]

    started = time.monotonic()
    (slow_answer, _), (quick_answer, quick_from_cache) = run_then_close_llm_clients(slow_and_quick())

    assert slow_answer is not None and quick_answer is not None
    assert slow_answer.text == "slow"
    assert (quick_answer.text, quick_from_cache) == ("quick", False)
    assert slow.calls == 1 and quick.calls == 1
    assert time.monotonic() - started < 3


def test_with_the_cache_off_every_question_is_computed(schema: str, settings: Any) -> None:
    settings.ASSISTANT_CACHE_ENABLED = False
    compute = CountingCompute(_answer(), seconds=0)

    assert run_then_close_llm_clients(_ask(schema, compute)) == (_answer(), False)
    assert run_then_close_llm_clients(_ask(schema, compute)) == (_answer(), False)
    assert compute.calls == 2


def test_a_cached_answer_survives_json_unchanged() -> None:
    answer = CachedAnswer(
        text="Größe M ist da — 29,90 €",
        sources=[{"source_id": 1, "score": 0.8}],
        tool_calls=[{"name": "product_lookup", "arguments": {"query": "hoodie"}}],
        confidence=None,
        mode="offline",
        quick_replies=["Größe L?"],
    )

    assert CachedAnswer.from_json(answer.to_json()) == answer


# ----------------------------------------------------------------------------- questions


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("Are you open on Sunday?", "are you open on sunday", True),
        ("Are you open on Sunday?", "Are you   open on Sunday ?!", True),
        ("Don't you deliver to Spain?", "dont you deliver to spain", True),
        ("Are you open on Sunday?", "are you open on saturday", False),
        ("Is the 3.5 kg bag in stock?", "Is the 35 kg bag in stock?", False),
        ("Do you open at 10:30?", "Do you open at 1030?", False),
        ("Is there 5% off?", "Is there 5 off?", False),
    ],
)
def test_normalizing_keeps_meaning(first: str, second: str, same: bool) -> None:
    assert (normalize_question(first) == normalize_question(second)) is same


# ----------------------------------------------------------------------------- knowledge version


def test_knowledge_edits_and_deletes_change_the_version(tenant_a) -> None:
    with schema_context(tenant_a.schema_name):
        empty = knowledge_version()
        assert knowledge_version() == empty
        source = KnowledgeSource.objects.create(
            kind=KnowledgeSource.Kind.FAQ,
            key="opening-sunday",
            title="Sunday",
            question="Open on Sunday?",
            answer="Yes, 10-16.",
            content_hash="a1",
        )
        created = knowledge_version()
        source.answer = "No, closed on Sundays."
        source.save()
        edited = knowledge_version()
        # Services also change rows with QuerySet.update(), which leaves `updated` alone.
        KnowledgeSource.objects.filter(pk=source.pk).update(status=KnowledgeSource.Status.READY)
        updated_in_bulk = knowledge_version()
        source.delete()
        deleted = knowledge_version()

    assert len({empty, created, edited, updated_in_bulk}) == 4
    assert deleted not in {created, edited, updated_in_bulk}
    assert len(empty) == 16


def test_chunks_embedded_again_change_the_version_without_their_source_changing(tenant_a) -> None:
    from chat.knowledge.models import KnowledgeChunk
    from chat.knowledge.services import chunks_reembed_stale, faq_upsert, sources_index_now

    with schema_context(tenant_a.schema_name):
        outcome = faq_upsert(question="Do you deliver?", answer="Yes, within the city.")
        sources_index_now(source_ids=[outcome.source_id])
        indexed = knowledge_version()
        # As after a change of embedding model: the chunks are stale, their source is as it was.
        KnowledgeChunk.objects.update(embedding_model="an-older-model")
        stale = knowledge_version()
        assert chunks_reembed_stale() > 0
        embedded_again = knowledge_version()
    assert embedded_again not in {indexed, stale}


def test_catalog_opening_hours_and_profile_changes_change_the_version(tenant_a) -> None:
    with schema_context(tenant_a.schema_name):
        product = Product.objects.create(sku="HOOD-1", name="Harbour Hoodie", price_minor=5900, currency="EUR")
        variant = Variant.objects.create(product=product, sku="HOOD-1-M", size="M", price_minor=5900, stock=4)
        Variant.objects.create(product=product, sku="HOOD-1-L", size="L", price_minor=5900, stock=2)
        profile = BusinessProfile.objects.create(name="Threadline", tagline="Clothes for the coast")
        versions = [knowledge_version()]

        product.price_minor = 4900
        product.save()
        versions.append(knowledge_version())

        variant.delete()
        versions.append(knowledge_version())

        profile.tagline = "Clothes for the harbour"
        profile.save()
        versions.append(knowledge_version())

        WeeklyOpening.objects.create(weekday=6, opens=clock(10), closes=clock(16))
        versions.append(knowledge_version())

        assert knowledge_version() == versions[-1]

    assert len(set(versions)) == len(versions)


def test_one_tenants_changes_leave_another_tenants_version_alone(tenant_a, tenant_b) -> None:
    with schema_context(tenant_b.schema_name):
        before = knowledge_version()
    with schema_context(tenant_a.schema_name):
        Product.objects.create(sku="MUG-1", name="Mug", price_minor=1200, currency="EUR")
    with schema_context(tenant_b.schema_name):
        assert knowledge_version() == before


def test_the_knowledge_version_needs_a_tenant() -> None:
    with pytest.raises(ApplicationError) as raised:
        knowledge_version()
    assert raised.value.code == "no_tenant"
