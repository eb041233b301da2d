"""Embedding providers behind one interface: the local MiniLM, or an OpenAI-compatible endpoint.

Every provider returns unit-length float32 rows, so cosine similarity is a dot product and scores
mean the same whichever provider made them. The model's name is recorded with each vector.

The embedding provider is configured apart from the chat provider: many chat endpoints (llama.cpp's
server, most self-hosted ones) have no embeddings, and vectors of one model mean nothing next to
another's. The platform's is EMBEDDING_BASE_URL / EMBEDDING_API_KEY / EMBEDDING_MODEL, the local
model when no key is set; a business that saved an embedding model with its own endpoint
(BusinessProfile.llm_embedding_model) embeds through that endpoint, behind the egress guard.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from django.conf import settings
from django.db import connection
from django_tenants.utils import get_public_schema_name

from chat.knowledge.exceptions import EmbeddingFailed

LOCAL_MODEL_ID = "local/all-MiniLM-L6-v2"


class EmbeddingProvider(Protocol):
    model_id: str

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One unit-length float32 row per text."""
        ...


class LocalMiniLMProvider:
    """all-MiniLM-L6-v2 (384 dimensions) on numpy: no API key, no network."""

    model_id = LOCAL_MODEL_ID

    def __init__(self, *, batch_size: int = 32, threads: int = 1) -> None:
        self.batch_size = batch_size
        self.threads = threads

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        from chat.knowledge.minilm import encoder

        return encoder().encode(list(texts), batch_size=self.batch_size, threads=self.threads)


class OpenAIEmbeddingProvider:
    """Any endpoint speaking OpenAI's embeddings protocol: the `openai` client for the operator's
    endpoint; for a business's own (`egress_guarded`), the same protocol over an httpx client whose
    every connection goes through the egress guard (the `openai` client's HTTP stack cannot take
    that transport)."""

    def __init__(self, *, api_key: str, model: str, base_url: str | None = None, timeout: float = 30.0,
                 batch_size: int = 64, egress_guarded: bool = False) -> None:
        from openai import OpenAI

        self.model = model
        self.model_id = remote_model_id(model)
        self.batch_size = batch_size
        self.guarded: tuple[str, str, float] | None = None
        if egress_guarded:
            self.guarded = ((base_url or "").rstrip("/"), api_key, timeout)
        # Retries are the indexing task's business (backoff, dead letters), not the client's.
        self.client = OpenAI(api_key=api_key, base_url=base_url or None, timeout=timeout, max_retries=0)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = [text or " " for text in texts[start:start + self.batch_size]]
            ordered = self._guarded_batch(batch) if self.guarded else self._client_batch(batch)
            if len(ordered) != len(batch):
                raise EmbeddingFailed(f"The embeddings endpoint returned {len(ordered)} vectors for {len(batch)} texts.")
            rows.extend(ordered)
        if not rows:
            return np.zeros((0, 0), dtype=np.float32)
        matrix = np.asarray(rows, dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.maximum(norms, 1e-12)

    def _client_batch(self, batch: list[str]) -> list[list[float]]:
        import openai

        try:
            response = self.client.embeddings.create(model=self.model, input=batch)
        except openai.OpenAIError as exc:
            raise EmbeddingFailed(f"The embeddings endpoint failed: {exc}") from exc
        return [item.embedding for item in sorted(response.data, key=lambda item: item.index)]

    def _guarded_batch(self, batch: list[str]) -> list[list[float]]:
        import httpx

        from config.egress import EgressRefused, guarded_httpx_transport

        assert self.guarded is not None
        base_url, api_key, timeout = self.guarded
        try:
            with httpx.Client(transport=guarded_httpx_transport(), timeout=timeout, trust_env=False,
                              follow_redirects=False) as client:
                response = client.post(f"{base_url}/embeddings", json={"model": self.model, "input": batch},
                                       headers={"Authorization": f"Bearer {api_key}"})
            if response.status_code != 200:
                raise EmbeddingFailed(f"The embeddings endpoint failed: Error code: {response.status_code}")
            data = response.json()["data"]
            return [item["embedding"] for item in sorted(data, key=lambda item: item["index"])]
        except (httpx.HTTPError, EgressRefused, ValueError, KeyError, TypeError) as exc:
            raise EmbeddingFailed(f"The embeddings endpoint failed: {exc}") from exc


def remote_model_id(model: str) -> str:
    return f"openai/{model}"


@dataclass(frozen=True)
class EmbeddingConfig:
    """Which model embeds, and where: `base_url` and `api_key` are empty for the local model."""

    model: str
    base_url: str = ""
    api_key: str = field(default="", repr=False)
    egress_guarded: bool = False

    @property
    def is_local(self) -> bool:
        return not self.api_key

    @property
    def model_id(self) -> str:
        return LOCAL_MODEL_ID if self.is_local else remote_model_id(self.model)


LOCAL_CONFIG = EmbeddingConfig(model=LOCAL_MODEL_ID)


def embedding_config_platform() -> EmbeddingConfig:
    """The platform's embeddings from settings: the local model unless a key is configured.

    KB_EMBEDDING_PROVIDER "openai" also accepts the chat provider's key and base URL, as before the
    settings were split; "auto" only uses an endpoint given its own EMBEDDING_API_KEY.
    """
    choice = settings.KB_EMBEDDING_PROVIDER
    if choice == "local":
        return LOCAL_CONFIG
    api_key = settings.EMBEDDING_API_KEY
    base_url = settings.EMBEDDING_BASE_URL
    if choice == "openai" and not api_key:
        api_key, base_url = settings.OPENAI_API_KEY, base_url or settings.OPENAI_BASE_URL
        if not api_key:
            raise EmbeddingFailed("KB_EMBEDDING_PROVIDER is 'openai' but neither EMBEDDING_API_KEY nor "
                                  "OPENAI_API_KEY is set.")
    if not api_key:
        return LOCAL_CONFIG
    # The operator's own endpoint, like its OPENAI_BASE_URL: trusted, not guarded.
    return EmbeddingConfig(model=settings.EMBEDDING_MODEL, base_url=base_url or "",
                           api_key=api_key)


def embedding_config_for_tenant() -> EmbeddingConfig:
    """The current tenant's embeddings: its own endpoint when it saved an embedding model with its
    own key, the platform's otherwise (also on the public schema, where there is no business)."""
    if connection.schema_name == get_public_schema_name():
        return embedding_config_platform()
    from chat.conversations.models import BusinessProfile

    row = BusinessProfile.objects.filter(pk=1).only("llm_api_key", "llm_base_url", "llm_embedding_model").first()
    if row is not None and row.llm_api_key and row.llm_embedding_model:
        from chat.assistant.llm import OPENAI_DEFAULT_BASE_URL

        return EmbeddingConfig(model=row.llm_embedding_model, base_url=row.llm_base_url or OPENAI_DEFAULT_BASE_URL,
                               api_key=row.llm_api_key, egress_guarded=True)
    return embedding_config_platform()


# Texts per embedding call, the local model's batch or an endpoint's request: large enough to keep
# the matrix products efficient, small enough for any provider's request size limit.
EMBEDDING_BATCH_SIZE = 32
# BLAS threads per process for the local model: parallelism comes from worker processes, and more
# threads than cores per process only make the processes on one machine fight over them.
EMBEDDING_THREADS = 1
_provider_lock = threading.Lock()


@functools.cache
def _cached_provider(config: EmbeddingConfig, batch_size: int, threads: int, timeout: float) -> EmbeddingProvider:
    if not config.is_local:
        return OpenAIEmbeddingProvider(api_key=config.api_key, model=config.model, base_url=config.base_url or None,
                                       timeout=timeout, batch_size=batch_size, egress_guarded=config.egress_guarded)
    return LocalMiniLMProvider(batch_size=batch_size, threads=threads)


def embedding_provider(config: EmbeddingConfig | None = None, *, timeout: float | None = None) -> EmbeddingProvider:
    """The provider for `config`, by default the current tenant's (one instance per configuration
    and process); `timeout` for an endpoint's calls, KB_EMBEDDING_TIMEOUT_SECONDS by default."""
    config = config or embedding_config_for_tenant()
    with _provider_lock:
        return _cached_provider(config, EMBEDDING_BATCH_SIZE, EMBEDDING_THREADS, float(settings.KB_EMBEDDING_TIMEOUT_SECONDS if timeout is None else timeout))


def current_model_id() -> str:
    """The model the current tenant's chunks are (or are being) embedded with, without loading it."""
    return embedding_config_for_tenant().model_id


def embedding_config_of_model(model_id: str, *, tenant: EmbeddingConfig | None = None) -> EmbeddingConfig | None:
    """A configuration that embeds with `model_id` for the current tenant (whose own configuration is
    `tenant`, read when not given), or None when none does any more: vectors of a model no longer
    configured can only be searched by a query of the same model, so without one those chunks are
    found by full text until they are embedded again."""
    if model_id == LOCAL_MODEL_ID:
        return LOCAL_CONFIG
    for config in (tenant or embedding_config_for_tenant(), embedding_config_platform()):
        if config.model_id == model_id:
            return config
    return None
