"""Embeddings apart from chat (issue 26): a chat endpoint without embeddings is a supported setup, a
question is embedded with the model its business's chunks were embedded with, and an embeddings
endpoint that fails never fails a search: it falls back to full text, logged and counted."""

from __future__ import annotations

import io
import logging
import time
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django_tenants.utils import schema_context

from chat.conversations.models import BusinessProfile
from chat.knowledge import services
from chat.knowledge.embeddings import LOCAL_MODEL_ID, current_model_id
from chat.knowledge.models import KnowledgeChunk
from chat.knowledge.selectors import kb_answerable, kb_embedding_failures, kb_search
from tests.support.fake_openai import FakeOpenAIServer

RENT_QUESTION = "can i rent a bicycle for the weekend"
RENT_TITLE = "Can I rent a bike?"


@pytest.fixture
def reembed_requests(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Background re-embedding promised by a search, recorded instead of queued."""
    from chat.knowledge import tasks

    requested: list[str] = []
    monkeypatch.setattr(tasks.kb_reembed_stale, "delay", lambda: requested.append(str(connection.schema_name)))
    return requested


def embeddings_requests(fake: FakeOpenAIServer) -> list[Any]:
    return [request for request in fake.requests if request.path.endswith("/embeddings")]


def index_faq(faq_file: Any) -> None:
    report = services.kb_import_path(path=faq_file)
    services.sources_index_now(source_ids=report.to_index)


def test_a_chat_only_provider_leaves_knowledge_on_the_local_model_and_questions_are_answered(
        tenant_a, faq_file, settings) -> None:
    # llama.cpp's server without --embeddings, as in the issue: /v1/embeddings answers 500.
    with FakeOpenAIServer(embeddings_status=500) as chat_only:
        settings.OPENAI_API_KEY = "sk-chat-only"
        settings.OPENAI_BASE_URL = chat_only.base_url
        with schema_context(tenant_a.schema_name):
            index_faq(faq_file)
            results = kb_search(query="rent a bike for a weekend, what does it cost?", k=3)

            assert current_model_id() == LOCAL_MODEL_ID
            assert set(KnowledgeChunk.objects.values_list("embedding_model", flat=True)) == {LOCAL_MODEL_ID}
            assert results[0].title == RENT_TITLE and kb_answerable(results=results)
        assert embeddings_requests(chat_only) == [], "the chat endpoint is never asked for embeddings"


def test_a_question_is_embedded_with_its_chunks_model_while_they_are_embedded_again(
        tenant_a, faq_file, settings, reembed_requests: list[str]) -> None:
    with FakeOpenAIServer() as embeddings:
        with schema_context(tenant_a.schema_name):
            index_faq(faq_file)
            # The operator configures an embeddings endpoint: the chunks are still the local model's.
            settings.EMBEDDING_API_KEY = "sk-embeddings"
            settings.EMBEDDING_BASE_URL = embeddings.base_url
            settings.EMBEDDING_MODEL = "text-embedding-3-large"
            assert current_model_id() == "openai/text-embedding-3-large"

            meanwhile = kb_search(query="how long until my bike is repaired", k=1)

            assert meanwhile[0].title == "How long does a repair take?" and kb_answerable(results=meanwhile)
            assert embeddings_requests(embeddings) == [], "a local vector is never compared with the endpoint's"
            assert reembed_requests == [tenant_a.schema_name], "the chunks are embedded again in the background"

            assert services.chunks_reembed_stale() > 0
            after = kb_search(query="how long until my bike is repaired", k=1)

            assert set(KnowledgeChunk.objects.values_list("embedding_model", "embedding_dims")) == {
                ("openai/text-embedding-3-large", 3072)}
            assert after[0].title == "How long does a repair take?"
            queries = [request.json["input"] for request in embeddings_requests(embeddings)][-1:]
            assert queries == [["how long until my bike is repaired"]]


def test_chunks_of_a_model_no_longer_configured_are_found_by_full_text_never_by_another_models_vector(
        tenant_a, faq_file, settings, reembed_requests: list[str]) -> None:
    with FakeOpenAIServer() as embeddings:
        settings.EMBEDDING_API_KEY = "sk-embeddings"
        settings.EMBEDDING_BASE_URL = embeddings.base_url
        settings.EMBEDDING_MODEL = "text-embedding-3-small"
        with schema_context(tenant_a.schema_name):
            index_faq(faq_file)
            settings.EMBEDDING_MODEL = "text-embedding-3-large"  # the old model can no longer embed a question
            asked_before = len(embeddings_requests(embeddings))

            results = kb_search(query=RENT_QUESTION, k=3)

            assert results[0].title == RENT_TITLE and kb_answerable(results=results)
            assert len(embeddings_requests(embeddings)) == asked_before, "no vector of the new model is compared"
            assert reembed_requests == [tenant_a.schema_name]


def test_an_embeddings_endpoint_that_fails_falls_back_to_full_text_and_is_counted(
        tenant_a, faq_file, settings, caplog: pytest.LogCaptureFixture) -> None:
    with FakeOpenAIServer() as embeddings:
        settings.EMBEDDING_API_KEY = "sk-embeddings"
        settings.EMBEDDING_BASE_URL = embeddings.base_url
        with schema_context(tenant_a.schema_name):
            index_faq(faq_file)
            before = kb_embedding_failures().count
            embeddings.embeddings_status = 500  # the endpoint breaks after indexing

            with caplog.at_level(logging.WARNING, logger="chat.knowledge.selectors"):
                rent = kb_search(query=RENT_QUESTION, k=3)
                milk = kb_search(query="do you sell oat milk", k=3)

            assert rent[0].title == RENT_TITLE and kb_answerable(results=rent), "the question is still answered"
            assert not kb_answerable(results=milk), "a question the knowledge does not answer is not answered"
            failures = kb_embedding_failures()
            assert failures.count == before + 2
            assert "500" in failures.last_error and failures.model == "openai/text-embedding-3-small"
            assert "could not be embedded" in caplog.text
        status = io.StringIO()
        call_command("kb", "status", "--tenant", tenant_a.schema_name, stdout=status)
        assert f"searched by full text only because embedding failed: {before + 2}" in status.getvalue()


def test_an_embeddings_endpoint_that_hangs_costs_a_question_the_query_timeout_not_the_indexing_one(
        tenant_a, faq_file, settings) -> None:
    settings.KB_QUERY_EMBEDDING_TIMEOUT_SECONDS = 1
    with FakeOpenAIServer() as embeddings:
        settings.EMBEDDING_API_KEY = "sk-embeddings"
        settings.EMBEDDING_BASE_URL = embeddings.base_url
        with schema_context(tenant_a.schema_name):
            index_faq(faq_file)
            before = kb_embedding_failures().count
            embeddings.script_reply(endpoint="embeddings", hang=True)

            started = time.monotonic()
            results = kb_search(query="is a helmet included when renting a bike", k=3)
            elapsed = time.monotonic() - started

            assert results[0].title == RENT_TITLE
            assert 1 <= elapsed < 2.5, elapsed
            assert kb_embedding_failures().count == before + 1


def test_a_business_embedding_model_is_used_through_its_own_endpoint(tenant_a, faq_file, settings) -> None:
    settings.EGRESS_ALLOWED_NETWORKS = ["127.0.0.1"]  # the business's own model server is the local fake
    with FakeOpenAIServer() as own, FakeOpenAIServer() as platform:
        settings.EMBEDDING_API_KEY = "sk-platform"
        settings.EMBEDDING_BASE_URL = platform.base_url
        with schema_context(tenant_a.schema_name):
            BusinessProfile.objects.update_or_create(pk=1, defaults={
                "name": "Bikes", "llm_api_key": "sk-own", "llm_base_url": own.base_url,
                "llm_embedding_model": "text-embedding-ada-002"})
            index_faq(faq_file)
            results = kb_search(query="do you fix e-bikes with a broken motor", k=1)

            assert set(KnowledgeChunk.objects.values_list("embedding_model", flat=True)) == {
                "openai/text-embedding-ada-002"}
            assert results[0].title == "Do you fix electric bikes?"
        assert embeddings_requests(platform) == []
        assert {request.headers["authorization"] for request in embeddings_requests(own)} == {"Bearer sk-own"}


def test_each_business_question_is_embedded_with_its_own_chunks_model(tenant_a, tenant_b, faq_file,
                                                                     settings) -> None:
    settings.EGRESS_ALLOWED_NETWORKS = ["127.0.0.1"]
    with FakeOpenAIServer() as own:
        with schema_context(tenant_a.schema_name):
            BusinessProfile.objects.update_or_create(pk=1, defaults={
                "name": "Own model", "llm_api_key": "sk-own", "llm_base_url": own.base_url,
                "llm_embedding_model": "text-embedding-3-large"})
            index_faq(faq_file)
        with schema_context(tenant_b.schema_name):
            index_faq(faq_file)
        indexed = len(embeddings_requests(own))

        with schema_context(tenant_b.schema_name):
            other = kb_search(query="do you sell used bicycles", k=1)
            assert set(KnowledgeChunk.objects.values_list("embedding_model", flat=True)) == {LOCAL_MODEL_ID}
        assert len(embeddings_requests(own)) == indexed, "another business's question never goes to this endpoint"
        with schema_context(tenant_a.schema_name):
            own_results = kb_search(query="do you sell used bicycles", k=1)

    assert other[0].title == own_results[0].title == "Do you sell second-hand bikes?"
    assert [request.json["input"] for request in embeddings_requests(own)[indexed:]] == [["do you sell used bicycles"]]


def test_a_business_endpoint_on_a_private_address_is_refused_and_search_still_answers(
        tenant_a, faq_file, settings, reembed_requests: list[str]) -> None:
    # EGRESS_ALLOWED_NETWORKS empty: the business's endpoint on 127.0.0.1 must never be reached.
    with FakeOpenAIServer() as own:
        with schema_context(tenant_a.schema_name):
            index_faq(faq_file)
            BusinessProfile.objects.update_or_create(pk=1, defaults={
                "name": "Bikes", "llm_api_key": "sk-own", "llm_base_url": own.base_url,
                "llm_embedding_model": "text-embedding-ada-002"})
            with pytest.raises(Exception, match="embeddings endpoint failed"):
                services.chunks_reembed_stale()
            results = kb_search(query=RENT_QUESTION, k=1)

            assert results[0].title == RENT_TITLE and kb_answerable(results=results)
        assert own.requests == []
