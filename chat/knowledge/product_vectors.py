"""Product vectors through the knowledge base's embedding interface: the same provider, model
records and background work as the knowledge chunks, for the catalog's discovery search.

`product_vectors_refresh` embeds every product whose text changed or whose vector another model made
(run by the `kb_products_embed` task, promised through the outbox whenever the catalog changes);
`product_discovery` embeds a customer's question with the model the products' vectors have and asks
orders.discovery for the products that fit.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
from django.db import connection

from chat.knowledge.embeddings import (
    EmbeddingConfig,
    embedding_config_for_tenant,
    embedding_config_of_model,
    embedding_provider,
)
from chat.knowledge.exceptions import EmbeddingFailed
from chat.knowledge.selectors import _query_vector, embedding_failure_count
from config.content_version import ContentCache
from orders.discovery import ProductSearchResult, product_embeddings_store, product_search, products_to_embed

logger = logging.getLogger(__name__)

# Products per embedding round: one provider call's worth of texts, stored before the next.
REFRESH_BATCH = 64


def product_vectors_refresh() -> int:
    """Embed the current tenant's products that need it; returns how many were embedded. Running it
    twice embeds nothing more. When the provider fails, the texts are stored without vectors (full
    text finds them meanwhile) and the error is raised for the task's retry."""
    config = embedding_config_for_tenant()
    provider = embedding_provider(config)
    stale = products_to_embed(model_id=config.model_id)
    embedded = 0
    for start in range(0, len(stale), REFRESH_BATCH):
        items = stale[start:start + REFRESH_BATCH]
        try:
            vectors = provider.embed([item.text for item in items])
        except Exception as exc:
            product_embeddings_store(items=stale[start:], vectors=None, model_id=config.model_id)
            raise EmbeddingFailed(f"Product vectors could not be made with {config.model_id}: {exc}") from exc
        embedded += product_embeddings_store(items=items, vectors=np.asarray(vectors, dtype=np.float32),
                                             model_id=config.model_id)
    return embedded


# The models the products' vectors are of, most vectors first, per tenant. Counting them reads every
# product's vector row, on every discovery question, and the answer changes only while the catalog is
# embedded again with another model: a process keeps it PRODUCTS_MODELS_SECONDS (or until the
# content changes), never an empty answer (the first vectors are made in the background).
PRODUCTS_MODELS_SECONDS = 60
_products_models: ContentCache[tuple[float, list[str]]] = ContentCache(entries=256)


def _products_model_ids() -> list[str]:
    def build() -> tuple[float, list[str]]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT embedding_model, count(*) FROM orders_productembedding "
                           "WHERE embedding_model <> '' GROUP BY embedding_model ORDER BY count(*) DESC")
            models = [str(row[0]) for row in cursor.fetchall()]
        return time.monotonic() + PRODUCTS_MODELS_SECONDS, models

    return _products_models.get(build, usable=lambda held: bool(held[1]) and held[0] > time.monotonic())[1]


def _products_model() -> EmbeddingConfig | None:
    """The model whose vectors the products have most of, when it can still embed a question."""
    tenant = embedding_config_for_tenant()
    for model_id in _products_model_ids():
        config = tenant if model_id == tenant.model_id else embedding_config_of_model(model_id, tenant=tenant)
        if config is not None:
            return config
    return None


def product_query_vector(text: str) -> tuple[str, np.ndarray] | None:
    """The question's vector in the products' model (with its id), or None: no product has a vector
    yet, or the provider failed (then the search goes on by full text and filters)."""
    config: EmbeddingConfig | None = None
    try:
        config = _products_model()
        if config is None:
            return None
        return config.model_id, _query_vector(config, text)
    except Exception as error:
        embedding_failure_count(model_id=config.model_id if config else "(settings)", error=error)
        return None


def product_discovery(*, query: str, mode: str = "hybrid", limit: int = 4, **options: Any) -> ProductSearchResult:
    """The products that fit a customer's discovery question, in the current tenant's catalog."""
    embedded = product_query_vector(query[:500]) if mode in ("hybrid", "vector") else None
    model_id, vector = embedded if embedded is not None else ("", None)
    return product_search(query=query, query_vector=vector, model_id=model_id, mode=mode, limit=limit, **options)
