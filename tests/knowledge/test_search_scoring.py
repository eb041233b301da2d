"""How an FAQ entry is scored against a customer's words: over every way of asking it, and with a
confidence that keeps questions the knowledge base cannot answer below the answer threshold."""

from __future__ import annotations

from pathlib import Path

import pytest
from django_tenants.utils import schema_context

from chat.knowledge import selectors, services
from chat.knowledge.selectors import kb_answerable, kb_search

from .conftest import BIKE_FAQ

# A shop whose delivery entry is mostly about shipping, with one phrasing about collecting an order in
# the shop: the centroid of its phrasings lies with shipping, far from "picking up at the shop".
SHOP_FAQ = """question,answer,variants
Do you deliver?,"We deliver in two working days for 4.95, or free when you collect your order in the shop.",how much is shipping | do you ship abroad | delivery costs | how long does delivery take | which courier do you use | can I pick my order up at the shop instead
Where is the shop?,"We are at 12 Harbour Street, next to the station; there is parking behind the shop.",what is your address | how do I get to your store | where can I park near the shop | can I visit your shop
What are your opening hours?,"Monday to Saturday, 9:00 to 18:00.",when are you open | are you open on sunday
"""


def import_faq(tmp_path: Path, text: str) -> None:
    path = tmp_path / "faq.csv"
    path.write_text(text, encoding="utf-8")
    report = services.kb_import_path(path=path)
    services.sources_index_now(source_ids=report.to_index)


def test_an_entry_is_found_through_its_one_matching_phrasing_where_its_centroid_is_far(
        tenant_a, tmp_path, monkeypatch) -> None:
    with schema_context(tenant_a.schema_name):
        import_faq(tmp_path, SHOP_FAQ)
        query = "can i pick up my order at your shop"

        found = kb_search(query=query, k=3)
        assert found[0].title == "Do you deliver?", [result.title for result in found]
        assert "collect your order in the shop" in found[0].content

        # Scored by the centroid of its phrasings alone, the same entry loses to the shop's address.
        monkeypatch.setattr(selectors, "FAQ_CENTROID_SHARE", 1.0)
        centroid_only = kb_search(query=query, k=3, mode="vector")
        assert centroid_only[0].title == "Where is the shop?"


def test_an_entry_scores_by_all_its_phrasings_even_those_beyond_the_nearest_chunks(
        tenant_a, tmp_path, monkeypatch) -> None:
    with schema_context(tenant_a.schema_name):
        import_faq(tmp_path, SHOP_FAQ)
        # With room for only the single nearest chunk, the entry is still scored over all its
        # phrasings: the same confidence as with the usual number of candidates.
        query = "how much does shipping to germany cost"
        usual = kb_search(query=query, k=1, mode="vector")
        monkeypatch.setattr(selectors.settings, "KB_SEARCH_CANDIDATES", 1)
        narrow = kb_search(query=query, k=1, mode="vector")
        assert narrow[0].title == usual[0].title == "Do you deliver?"
        assert narrow[0].relevance == pytest.approx(usual[0].relevance, abs=1e-4)


OUT_OF_SCOPE = [
    "what's the weather going to be like tomorrow",
    "can you recommend a good pizza place nearby",
    "how do i change the oil in my car",
    "tell me a joke",
    "what is the capital of australia",
]
IN_SCOPE = {
    "my ebike motor broke can u fix it": "Do you fix electric bikes?",
    "when will my bike be ready": "How long does a repair take?",
    "do you rent bikes by the week": "Can I rent a bike?",
    "are you open on saturday": "What are your opening hours?",
}


def test_questions_the_faq_cannot_answer_stay_below_the_threshold_and_answerable_ones_clear_it(
        tenant_a, faq_file) -> None:
    with schema_context(tenant_a.schema_name):
        report = services.kb_import_path(path=faq_file)
        services.sources_index_now(source_ids=report.to_index)
        for query in OUT_OF_SCOPE:
            results = kb_search(query=query, k=3)
            assert not kb_answerable(results=results), (query, results[:1])
        for query, title in IN_SCOPE.items():
            results = kb_search(query=query, k=3)
            assert results[0].title == title, (query, [result.title for result in results])
            assert kb_answerable(results=results), (query, results[0].score)
    assert BIKE_FAQ  # the same bike shop FAQ as the other knowledge tests
