"""Embedding providers behind one interface: the local MiniLM, or an OpenAI-compatible endpoint.

Every provider returns unit-length float32 rows, so cosine similarity is a dot product and scores
mean the same whichever provider made them. The model's name is recorded with each vector.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from typing import Protocol

import numpy as np
from django.conf import settings

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
    """Any endpoint speaking OpenAI's embeddings protocol, through the `openai` client."""

    def __init__(self, *, api_key: str, model: str, base_url: str | None = None, timeout: float = 30.0,
                 batch_size: int = 64) -> None:
        from openai import OpenAI

        self.model = model
        self.model_id = f"openai/{model}"
        self.batch_size = batch_size
        # Retries are the indexing task's business (backoff, dead letters), not the client's.
        self.client = OpenAI(api_key=api_key, base_url=base_url or None, timeout=timeout, max_retries=0)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import openai

        rows: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = [text or " " for text in texts[start:start + self.batch_size]]
            try:
                response = self.client.embeddings.create(model=self.model, input=batch)
            except openai.OpenAIError as exc:
                raise EmbeddingFailed(f"The embeddings endpoint failed: {exc}") from exc
            ordered = sorted(response.data, key=lambda item: item.index)
            if len(ordered) != len(batch):
                raise EmbeddingFailed(f"The embeddings endpoint returned {len(ordered)} vectors for {len(batch)} texts.")
            rows.extend(item.embedding for item in ordered)
        if not rows:
            return np.zeros((0, 0), dtype=np.float32)
        matrix = np.asarray(rows, dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.maximum(norms, 1e-12)


_provider_lock = threading.Lock()


@functools.cache
def _cached_provider(kind: str, model: str, base_url: str, api_key: str, batch_size: int, threads: int,
                     timeout: float) -> EmbeddingProvider:
    if kind == "openai":
        return OpenAIEmbeddingProvider(api_key=api_key, model=model, base_url=base_url or None, timeout=timeout,
                                       batch_size=batch_size)
    return LocalMiniLMProvider(batch_size=batch_size, threads=threads)


def embedding_provider() -> EmbeddingProvider:
    """The provider the settings ask for (one instance per configuration and process)."""
    choice = settings.KB_EMBEDDING_PROVIDER
    api_key = settings.OPENAI_API_KEY
    if choice == "openai" and not api_key:
        raise EmbeddingFailed("KB_EMBEDDING_PROVIDER is 'openai' but OPENAI_API_KEY is not set.")
    kind = "openai" if choice == "openai" or (choice == "auto" and api_key) else "local"
    with _provider_lock:
        return _cached_provider(kind, settings.OPENAI_EMBEDDING_MODEL, settings.OPENAI_BASE_URL or "", api_key,
                                settings.KB_EMBEDDING_BATCH_SIZE, settings.KB_EMBEDDING_THREADS,
                                settings.KB_EMBEDDING_TIMEOUT_SECONDS)


def current_model_id() -> str:
    """The model whose vectors the search reads, without loading the model."""
    choice = settings.KB_EMBEDDING_PROVIDER
    if choice == "openai" or (choice == "auto" and settings.OPENAI_API_KEY):
        return f"openai/{settings.OPENAI_EMBEDDING_MODEL}"
    return LOCAL_MODEL_ID
