"""The two embedding providers: the local MiniLM on numpy, and OpenAI's protocol via the real client."""

from __future__ import annotations

import numpy as np
from django_tenants.utils import schema_context

from chat.knowledge import services
from chat.knowledge.embeddings import LOCAL_MODEL_ID, OpenAIEmbeddingProvider, current_model_id, embedding_provider
from chat.knowledge.models import KnowledgeChunk
from chat.knowledge.selectors import kb_search
from tests.support.fake_openai import FakeOpenAIServer


def test_local_model_gives_unit_vectors_that_understand_paraphrase() -> None:
    provider = embedding_provider()
    assert provider.model_id == LOCAL_MODEL_ID
    vectors = provider.embed(["How do I return an item?", "What is your refund policy?", "Do you have oat milk?"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    refund, milk = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    assert refund > 0.3 and milk < 0.15 and refund - milk > 0.25


def test_local_model_is_independent_of_batch_composition_and_truncates_long_text() -> None:
    provider = embedding_provider()
    alone = provider.embed(["Where is my parcel?"])[0]
    batched = provider.embed(["Where is my parcel?", "word " * 2000])  # padding and a 256-token cap
    assert np.allclose(alone, batched[0], atol=1e-5)
    assert np.isfinite(batched).all()


def test_openai_provider_talks_to_an_openai_compatible_endpoint() -> None:
    with FakeOpenAIServer(api_key="sk-test") as fake:
        provider = OpenAIEmbeddingProvider(api_key="sk-test", model="text-embedding-3-small", base_url=fake.base_url,
                                           batch_size=2)
        vectors = provider.embed(["refund policy", "return an item", "oat milk"])
        assert vectors.shape == (3, 1536)
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
        bodies = [request.json for request in fake.requests if request.path.endswith("/embeddings")]
        assert [body["input"] for body in bodies] == [["refund policy", "return an item"], ["oat milk"]]
        assert all(body["model"] == "text-embedding-3-small" for body in bodies)


def test_with_an_api_key_indexing_and_search_use_the_endpoint_and_a_model_change_reembeds(
        tenant_a, faq_file, settings) -> None:
    with FakeOpenAIServer() as fake:
        settings.EMBEDDING_API_KEY = "sk-test"
        settings.EMBEDDING_BASE_URL = fake.base_url
        assert current_model_id() == "openai/text-embedding-3-small"
        with schema_context(tenant_a.schema_name):
            report = services.kb_import_path(path=faq_file)
            services.sources_index_now(source_ids=report.to_index)
            assert set(KnowledgeChunk.objects.values_list("embedding_model", "embedding_dims")) == {
                ("openai/text-embedding-3-small", 1536)}
            assert kb_search(query="rent a bike weekend price", k=1)[0].title == "Can I rent a bike?"

            # Back to the local model: chunks of the old model are re-embedded, nothing else changes.
            settings.EMBEDDING_API_KEY = ""
            chunk_ids = set(KnowledgeChunk.objects.values_list("pk", flat=True))
            assert services.chunks_reembed_stale() == len(chunk_ids)
            assert set(KnowledgeChunk.objects.values_list("embedding_model", "embedding_dims")) == {
                (LOCAL_MODEL_ID, 384)}
            assert set(KnowledgeChunk.objects.values_list("pk", flat=True)) == chunk_ids
            assert kb_search(query="rent a bike weekend price", k=1)[0].title == "Can I rent a bike?"
