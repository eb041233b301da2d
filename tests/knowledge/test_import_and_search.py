"""Importing an FAQ and pages, re-importing, changing one entry, searching, and tenant isolation."""

from __future__ import annotations

import uuid
from pathlib import Path

from django_tenants.utils import schema_context

from chat.knowledge import services
from chat.knowledge.models import KnowledgeChunk, KnowledgeSource
from chat.knowledge.selectors import kb_answerable, kb_search

from .conftest import BIKE_FAQ


def import_now(path: Path) -> services.ImportReport:
    report = services.kb_import_path(path=path)
    services.sources_index_now(source_ids=report.to_index)
    return report


def test_faq_import_creates_ready_sources_with_chunks_per_phrasing(tenant_a, faq_file) -> None:
    with schema_context(tenant_a.schema_name):
        report = import_now(faq_file)
        assert report.count("created") == 5 and not report.errors
        source = KnowledgeSource.objects.get(title="Do you sell second-hand bikes?")
        assert source.status == KnowledgeSource.Status.READY and source.kind == "faq"
        assert source.variants == ["used bikes for sale", "do u have cheap bikes", "refurbished bicycles"]
        roles = list(source.chunks.order_by("position").values_list("role", flat=True))
        assert roles == ["question", "phrasing", "phrasing", "phrasing", "qa"]
        chunk = source.chunks.first()
        assert chunk.embedding_dims == 384 and chunk.embedding_model == "local/all-MiniLM-L6-v2"
        assert len(chunk.content_hash) == 64


def test_reimporting_an_unchanged_faq_changes_nothing(tenant_a, faq_file) -> None:
    with schema_context(tenant_a.schema_name):
        import_now(faq_file)
        before = list(KnowledgeChunk.objects.order_by("pk").values_list("pk", "content_hash"))
        report = import_now(faq_file)
        assert report.count("unchanged") == 5 and report.to_index == []
        assert list(KnowledgeChunk.objects.order_by("pk").values_list("pk", "content_hash")) == before


def test_changing_one_faq_replaces_only_its_own_chunks(tenant_a, faq_file) -> None:
    with schema_context(tenant_a.schema_name):
        import_now(faq_file)
        rental = KnowledgeSource.objects.get(title="Can I rent a bike?")
        others_before = set(KnowledgeChunk.objects.exclude(source=rental).values_list("pk", flat=True))
        rental_before = set(rental.chunks.values_list("pk", flat=True))

        faq_file.write_text(BIKE_FAQ.replace("12 euros a day", "15 euros a day"), encoding="utf-8")
        report = import_now(faq_file)

        assert report.count("updated") == 1 and report.count("unchanged") == 4
        assert set(KnowledgeChunk.objects.exclude(source=rental).values_list("pk", flat=True)) == others_before
        rental_after = set(rental.chunks.values_list("pk", flat=True))
        assert rental_after and rental_after.isdisjoint(rental_before)
        assert "15 euros a day" in rental.chunks.get(role="qa").content
        result = kb_search(query="how much to hire a bike for a day", k=1)[0]
        assert result.title == "Can I rent a bike?" and "15 euros" in result.content


def test_an_entry_dropped_from_the_csv_is_removed(tenant_a, faq_file) -> None:
    with schema_context(tenant_a.schema_name):
        import_now(faq_file)
        faq_file.write_text("\n".join(line for line in BIKE_FAQ.splitlines() if "rent" not in line.lower()) + "\n")
        report = import_now(faq_file)
        assert [outcome.title for outcome in report.outcomes if outcome.action == "removed"] == ["Can I rent a bike?"]
        assert not KnowledgeSource.objects.filter(title="Can I rent a bike?").exists()
        assert all(result.title != "Can I rent a bike?" for result in kb_search(query="bike rental price", k=5))


def test_search_finds_paraphrases_typos_and_shorthand(tenant_a, faq_file) -> None:
    with schema_context(tenant_a.schema_name):
        import_now(faq_file)
        expectations = {
            "my e-bike motor stopped working, can you help?": "Do you fix electric bikes?",
            "how many days until my bicycle is fixed": "How long does a repair take?",
            "r u opn on sundys": "What are your opening hours?",
            "second hand": "Do you sell second-hand bikes?",
        }
        for query, title in expectations.items():
            results = kb_search(query=query, k=3)
            assert results[0].title == title, (query, [r.title for r in results])
            assert 0.0 <= results[0].score <= 1.0 and results[0].kind == "faq"
            assert results[0].snippet and results[0].chunk_id


def test_confidence_separates_answerable_from_unrelated_questions(tenant_a, faq_file) -> None:
    with schema_context(tenant_a.schema_name):
        import_now(faq_file)
        known = kb_search(query="can I hire a bicycle for the weekend", k=3)
        unknown = kb_search(query="what is the capital of australia", k=3)
        assert kb_answerable(results=known)
        assert not kb_answerable(results=unknown)
        assert known[0].score > (unknown[0].score if unknown else 0.0)
        assert kb_search(query="   ", k=3) == []


def test_pages_are_chunked_along_headings_and_searchable(tenant_a, tmp_path) -> None:
    page = tmp_path / "workshop.md"
    page.write_text(
        "# Our workshop\n\nWe are a small team of three mechanics.\n\n"
        "## Tyres\n\nWe stock tubeless tyres in every common size and fit them while you wait.\n\n"
        "## Brakes\n\n" + " ".join(f"Brake tip {number}: bleed hydraulic disc brakes with fresh fluid."
                                    for number in range(1, 25)),
        encoding="utf-8",
    )
    with schema_context(tenant_a.schema_name):
        import_now(page)
        source = KnowledgeSource.objects.get(kind="file")
        assert source.title == "Our workshop" and source.raw is None and source.status == "ready"
        headings = list(source.chunks.values_list("heading", flat=True))
        assert "Our workshop > Tyres" in headings and headings.count("Our workshop > Brakes") >= 2
        passages = [chunk.content for chunk in source.chunks.filter(heading="Our workshop > Brakes")]
        last_sentence_of_first = passages[0].rsplit("Brake tip", 1)[1]
        assert ("Brake tip" + last_sentence_of_first) in passages[1][:200]  # the overlap carries context
        result = kb_search(query="tubeless tire fitting", k=1)[0]
        assert result.title == "Our workshop" and result.heading == "Our workshop > Tyres"


def test_one_tenants_search_never_returns_another_tenants_chunks(tenant_a, tenant_b, faq_file, tmp_path) -> None:
    other = tmp_path / "b.csv"
    other.write_text("question,answer\nDo you sell bike locks?,Yes: D-locks and chain locks from 25 euros.\n")
    with schema_context(tenant_a.schema_name):
        import_now(faq_file)
        a_chunks = set(KnowledgeChunk.objects.values_list("pk", flat=True))
    with schema_context(tenant_b.schema_name):
        import_now(other)
        for query in ("electric bike repair", "opening hours", "rent a bike", "second-hand bikes", "bike"):
            results = kb_search(query=query, k=5)
            assert {result.title for result in results} <= {"Do you sell bike locks?"}
        assert KnowledgeSource.objects.count() == 1
    with schema_context(tenant_a.schema_name):
        results = kb_search(query="do you sell bike locks", k=5)
        assert "Do you sell bike locks?" not in {result.title for result in results}
        assert {result.chunk_id for result in results} <= a_chunks


def test_the_plans_source_limit_refuses_an_import_that_would_pass_it(make_tenant, faq_file) -> None:
    from tenants.models import Plan

    small = Plan.objects.create(code=f"tiny{uuid.uuid4().hex[:6]}", name="Tiny", monthly_messages=10,
                                knowledge_sources=3, agent_seats=1)
    tenant = make_tenant(plan_code=small.code).tenant
    with schema_context(tenant.schema_name):
        report = services.kb_import_path(path=faq_file)
        assert report.errors and "allows 3 knowledge sources" in report.errors[0][1]
        assert KnowledgeSource.objects.count() == 0  # all or nothing
