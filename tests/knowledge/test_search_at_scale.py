"""What keeps search fast in a large knowledge base: exact term statistics kept as chunks change, and a
full-text side that looks chunks up by the query's rarest words without ranking worse for it."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from chat.knowledge import selectors, services
from chat.knowledge.models import KnowledgeSource
from chat.knowledge.query import TextLookup, query_prepare, text_lookup, vocabulary_for_current_tenant

from .conftest import BIKE_FAQ


def import_now(path: Path) -> None:
    report = services.kb_import_path(path=path)
    services.sources_index_now(source_ids=report.to_index)


def stored_statistics() -> dict[tuple[str, str], int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT kind, term, chunks FROM chat_knowledgeterm")
        return {(kind, term): chunks for kind, term, chunks in cursor.fetchall()}


def counted_from_scratch() -> dict[tuple[str, str], int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 'word', word, ndoc FROM ts_stat('SELECT to_tsvector(''simple'', text) FROM chat_knowledgechunk') "
            "UNION ALL SELECT 'lexeme', word, ndoc "
            "FROM ts_stat('SELECT search_vector FROM chat_knowledgechunk WHERE search_vector IS NOT NULL')"
        )
        return {(kind, term): chunks for kind, term, chunks in cursor.fetchall()}


def test_term_statistics_stay_exact_through_import_change_removal_and_delete(tenant_a, faq_file) -> None:
    with schema_context(tenant_a.schema_name):
        import_now(faq_file)
        assert stored_statistics() == counted_from_scratch()
        assert stored_statistics()[("word", "shimano")] == 1  # the e-bike entry's question-and-answer chunk
        assert stored_statistics()[("lexeme", "bike")] == 4  # every FAQ but the opening hours mentions bikes

        # One answer changes and one entry leaves the file.
        changed = BIKE_FAQ.replace("12 euros a day", "15 euros a day")
        changed = "\n".join(line for line in changed.splitlines() if not line.startswith("Do you sell second-hand"))
        faq_file.write_text(changed + "\n", encoding="utf-8")
        import_now(faq_file)
        assert stored_statistics() == counted_from_scratch()
        assert ("word", "refurbished") not in stored_statistics()

        services.source_delete(source_id=KnowledgeSource.objects.get(title="Do you fix electric bikes?").pk)
        assert stored_statistics() == counted_from_scratch()
        assert "shimano" not in vocabulary_for_current_tenant().counts


def test_the_statistics_are_per_tenant(tenant_a, tenant_b, faq_file, tmp_path) -> None:
    page = tmp_path / "kennel.md"
    page.write_text("# Kennel\n\nDogs stay in the kennel with daily walks.\n", encoding="utf-8")
    with schema_context(tenant_a.schema_name):
        import_now(faq_file)
    with schema_context(tenant_b.schema_name):
        import_now(page)
        assert ("word", "kennel") in stored_statistics() and ("word", "shimano") not in stored_statistics()
    with schema_context(tenant_a.schema_name):
        assert ("word", "kennel") not in stored_statistics()


def test_lookup_starts_from_the_rarest_words_within_the_budget(tenant_a, faq_file) -> None:
    with schema_context(tenant_a.schema_name):
        import_now(faq_file)
        prepared = query_prepare("bike rental warranty repair")
        assert prepared.terms == ("bike", "rental", "warranty", "repair")
        # "bike" matches 4 chunks, "rental" none (the FAQ says "rent"), "warranty" 1, "repair" 2.
        assert text_lookup(prepared, budget=300) == TextLookup(terms=prepared.terms, complete=True)
        assert text_lookup(prepared, budget=3) == TextLookup(terms=("warranty", "repair"), complete=False)
        assert text_lookup(prepared, budget=1) == TextLookup(terms=("warranty",), complete=False)
        # Every word that matches anything is more common than the budget: chunks with all of them.
        assert text_lookup(prepared, budget=0) == TextLookup(terms=("bike", "warranty", "repair"), every=True,
                                                             complete=False)


@pytest.mark.parametrize("query", [
    "can i rent a bike for the weekend", "bike repair how long", "used bikes with warranty",
    "ebike motor bosch", "are you open on sunday", "fix my bike",
])
def test_a_bounded_lookup_ranks_like_ranking_every_match(tenant_a, faq_file, monkeypatch, query) -> None:
    with schema_context(tenant_a.schema_name):
        import_now(faq_file)
        everything = selectors.kb_search(query=query, k=5)
        # A budget of one chunk: only the rarest word looks chunks up, the rest come from the vector
        # side's candidates, and every word still ranks them.
        monkeypatch.setattr(selectors, "TEXT_MATCH_BUDGET", 1)
        bounded = selectors.kb_search(query=query, k=5)
        assert [(result.title, result.relevance) for result in bounded] == [
            (result.title, result.relevance) for result in everything]


def test_full_text_alone_finds_a_rare_word_among_common_ones(tenant_a, faq_file, monkeypatch) -> None:
    with schema_context(tenant_a.schema_name):
        import_now(faq_file)
        monkeypatch.setattr(selectors, "TEXT_MATCH_BUDGET", 1)
        results = selectors.kb_search(query="bike shimano", k=3, mode="text")
        assert results[0].title == "Do you fix electric bikes?"
        # Every word more common than the budget: chunks that hold all of them, at most the budget.
        results = selectors.kb_search(query="bikes repairs rental", k=3, mode="text")
        assert len(results) == 1
        assert results[0].title in ("Do you fix electric bikes?", "How long does a repair take?")
