"""Reading the knowledge base: hybrid search, its confidence, and what the dashboard shows.

Search runs in the current tenant's schema only (django-tenants' search_path), so one business's
chunks can never answer another's customers. Two rankings are made and fused per source:

- vector: the nearest chunks by cosine similarity (HNSW, pgvector), among vectors of the model in
  use. An FAQ entry the nearest chunks point to is then scored over all its ways of asking (its
  question and every phrasing, each its own vector): by the closest one, combined with the
  closeness to their centroid and, a little, to the question with its answer, so an entry is found
  through whichever phrasing is nearest to the customer's words while the centroid keeps one odd
  phrasing from winning alone. A document scores by its best passage nudged by its second-best;
- full text: PostgreSQL `english` full-text search (stemming, stopwords) over titles, phrasings and
  answers, with typos corrected first against the tenant's vocabulary. Ranking reads every chunk it
  ranks, so the chunks are looked up by the query's rarest words, as many as together match at most
  TEXT_MATCH_BUDGET chunks (the term statistics say how many each matches): in a knowledge base of
  usual size that is every word and every match; in a large one, the chunks with a rare word of the
  query, plus the vector side's candidates, all ranked by every word of the query.

Fusion adds to a source's vector score a bonus for its full-text score, relative to the best
full-text score of this query. Reciprocal rank fusion was measured too (bench/knowledge_quality.py)
and ranked worse: it throws away how far apart the similarities are, so one shared word could lift
a distant FAQ above a clear paraphrase. The vector side understands paraphrase; the full-text side
rescues exact names, codes and rare words the model does not know.

The score shown is a calibrated confidence: a logistic function of the fused score, fitted on the
labelled set in bench/data (see docs/benchmarks.md), so it falls with rank and reads as the chance
that the result is the right one.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet

from chat.knowledge.embeddings import (
    EmbeddingConfig,
    embedding_config_for_tenant,
    embedding_config_of_model,
    embedding_provider,
)
from chat.knowledge.models import IndexingJob, KnowledgeChunk, KnowledgeSource
from chat.knowledge.query import PreparedQuery, query_prepare, text_lookup, tsquery_text
from config.content_version import ContentCache

logger = logging.getLogger(__name__)

# hybrid: production's; vector and text: either ranking alone, to see why a result ranks where it does
# (`manage.py kb search --mode`, bench/knowledge_quality.py).
MODES = ("hybrid", "vector", "text")
# How much a source's full-text score (relative to this query's best) adds to its vector score.
TEXT_BONUS = 0.06
# Share of a document's vector score that comes from its second-best passage rather than its best.
OVERALL_SHARE = 0.2
# Share of an FAQ entry's vector score that comes from the centroid of its phrasings rather than the
# closest phrasing (measured on real customer queries, see docs/benchmarks.md).
FAQ_CENTROID_SHARE = 0.4
# Share that comes from the question-and-answer chunk: the answer's words, which customers sometimes
# use ("is a helmet included?"). Shares swept on real and hand-written queries (docs/benchmarks.md).
FAQ_ANSWER_SHARE = 0.1
# FAQ entries scored over all their phrasings: the nearest by their closest chunk. Reading every
# phrasing of the 40 candidates' entries cost as much as the rest of a search at 100k chunks; an
# entry that is not among the ten closest is not among the five results.
FAQ_ENTRIES_RESCORED = 10
# The chunks that are ways of asking an FAQ entry's question (the question-and-answer chunk also
# holds the answer's wording, which customers do not use).
PHRASING_ROLES = ("question", "phrasing")
SNIPPET_CHARS = 240
# HNSW candidates pgvector examines per query (raised to the candidates wanted when they are more):
# recall against speed, measured with bench/knowledge_quality.py, not a deployment's choice.
HNSW_EF_SEARCH = 100
# Chunks the full-text side may look up by the query's words (by the term statistics, so also the
# most it reads if they were ever wrong). About 4 ms of ranking at 100k chunks on 2 cores.
TEXT_MATCH_BUDGET = 300
# Confidence = sigmoid(a + b·fused + c·margin), where margin is the fused score minus the best other
# candidate's (so it is positive only for the top result and the confidence falls with rank);
# fitted on bench/data by `bench/knowledge_quality.py --calibrate` (local MiniLM).
CONFIDENCE_COEFFICIENTS = (-2.99, 4.06, 10.20)


@dataclass(frozen=True)
class SearchResult:
    source_id: int
    chunk_id: int
    title: str
    snippet: str
    content: str
    score: float  # calibrated confidence in [0, 1]
    kind: str
    url: str = ""
    heading: str = ""
    relevance: float = 0.0  # the raw fused score the confidence was computed from
    margin: float = 0.0  # relevance minus the best other candidate's: positive only for the top result


@dataclass
class _SourceEvidence:
    source_id: int
    best_similarity: float = -1.0
    best_chunk: int | None = None
    overall_similarity: float | None = None
    second_similarity: float | None = None
    text_rank: float = 0.0
    text_chunk: int | None = None
    fused: float = 0.0
    faq_centroid_similarity: float | None = None  # set when the entry was scored over its phrasings
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def vector_score(self) -> float:
        if self.faq_centroid_similarity is not None:
            whole = FAQ_ANSWER_SHARE if self.overall_similarity is not None else 0.0
            return ((1 - FAQ_CENTROID_SHARE - whole) * self.best_similarity
                    + FAQ_CENTROID_SHARE * self.faq_centroid_similarity + whole * (self.overall_similarity or 0.0))
        overall = self.overall_similarity if self.overall_similarity is not None else self.second_similarity
        if overall is None:
            return self.best_similarity
        return (1 - OVERALL_SHARE) * self.best_similarity + OVERALL_SHARE * overall


@dataclass(frozen=True)
class _VectorCandidate:
    chunk_id: int
    source_id: int
    faq: bool  # a chunk of an FAQ entry, whose text vector is on its question-and-answer chunk


def kb_answer_threshold() -> float:
    return float(settings.KB_ANSWER_THRESHOLD)


def kb_answerable(*, results: list[SearchResult], threshold: float | None = None) -> bool:
    """Whether the best result is confident enough to answer from; below it, say you do not know."""
    limit = kb_answer_threshold() if threshold is None else threshold
    return bool(results) and results[0].score >= limit


def kb_search(*, query: str, k: int = 5, mode: str = "hybrid") -> list[SearchResult]:
    """The `k` best sources for a customer's words, best first, one result per source."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    if not query.strip() or k <= 0:
        return []
    prepared = query_prepare(query[:2000])
    evidence: dict[int, _SourceEvidence] = {}
    candidates = max(settings.KB_SEARCH_CANDIDATES, k)
    vector_chunks: list[_VectorCandidate] | None = []
    if mode in ("hybrid", "vector"):
        vector_chunks = _vector_evidence(prepared, candidates, evidence)
    if vector_chunks is None and mode == "hybrid":
        # No query vector (the embeddings endpoint failed, or no configured model matches the
        # chunks): the answer goes on with full text alone, scored by how much of the question it covers.
        mode, vector_chunks = TEXT_FALLBACK, []
    if mode in ("hybrid", "text", TEXT_FALLBACK):
        _text_evidence(prepared, candidates, evidence, vector_chunks=vector_chunks or [])
    if not evidence:
        return []
    ranked = _fuse(list(evidence.values()), "text" if mode == TEXT_FALLBACK else mode)
    if mode == TEXT_FALLBACK:
        return _results_by_coverage(ranked[:k], prepared)
    return _results(ranked[:k], ranked, mode)


def _vector_evidence(prepared: PreparedQuery, candidates: int,
                     evidence: dict[int, _SourceEvidence]) -> list[_VectorCandidate] | None:
    """Adds the nearest chunks' similarities to their sources' evidence; returns those chunks, or
    None when the query could not be embedded with the chunks' model."""
    config: EmbeddingConfig | None = None
    try:
        config = search_embedding()
        if config is None:
            return None
        vector = _query_vector(config, prepared.text)
    except Exception as error:
        # Whatever the endpoint or its settings did (an error status, a timeout, a chat-only server,
        # nonsense), a customer's answer must not fail with it.
        embedding_failure_count(model_id=config.model_id if config else "(settings)", error=error)
        return None
    model_id = config.model_id
    dims = int(vector.shape[0])
    literal = "[" + ",".join(f"{value:.7f}" for value in vector.tolist()) + "]"
    # `dims` is an int from the model, never user input; the cast matches the partial HNSW index.
    distance = f"(embedding::vector({dims})) <=> %s::vector({dims})"
    with connection.cursor() as cursor:
        _ensure_ef_search(cursor, max(HNSW_EF_SEARCH, candidates))
        cursor.execute(
            f"SELECT id, source_id, role, 1 - ({distance}) AS similarity FROM chat_knowledgechunk "
            f"WHERE embedding_dims = {dims} AND embedding_model = %s ORDER BY {distance} LIMIT %s",
            [literal, model_id, literal, candidates * 2],
        )
        rows = cursor.fetchall()
    for chunk_id, source_id, role, similarity in rows:
        item = evidence.setdefault(source_id, _SourceEvidence(source_id=source_id))
        similarity = float(similarity)
        if role == "qa":
            item.overall_similarity = max(item.overall_similarity or -1.0, similarity)
        if similarity > item.best_similarity:
            if item.best_similarity > -1.0:
                item.second_similarity = max(item.second_similarity or -1.0, item.best_similarity)
            item.best_similarity, item.best_chunk = similarity, chunk_id
        elif item.second_similarity is None or similarity > item.second_similarity:
            item.second_similarity = similarity
    faq_roles = {KnowledgeChunk.Role.QUESTION, KnowledgeChunk.Role.PHRASING, KnowledgeChunk.Role.QUESTION_ANSWER}
    faq_sources = {source_id for _chunk_id, source_id, role, _similarity in rows if role in faq_roles}
    if faq_sources:
        nearest = sorted(faq_sources, key=lambda source_id: evidence[source_id].best_similarity, reverse=True)
        _phrasing_evidence(literal, dims, model_id, nearest[:FAQ_ENTRIES_RESCORED], evidence)
        for source_id in nearest[FAQ_ENTRIES_RESCORED:]:
            # Not scored on the same scale as those that were: full text alone may still bring it up.
            item = evidence[source_id]
            item.best_similarity, item.best_chunk = -1.0, None
            item.overall_similarity = item.second_similarity = None
    return [_VectorCandidate(chunk_id=chunk_id, source_id=source_id, faq=role in faq_roles)
            for chunk_id, source_id, role, _similarity in rows]


def _phrasing_evidence(literal: str, dims: int, model_id: str, source_ids: list[int],
                       evidence: dict[int, _SourceEvidence]) -> None:
    """Scores FAQ entries over every one of their phrasings, not only those among the nearest chunks:
    the closest phrasing, the centroid of them all (pgvector's avg; cosine ignores its length) and
    the question-and-answer chunk."""
    with connection.cursor() as cursor:
        # Each distance computed once per chunk; `dims` is an int from the model, never user input.
        cursor.execute(
            "SELECT source_id, (array_agg(id ORDER BY distance) FILTER (WHERE asking))[1], "
            "       1 - min(distance) FILTER (WHERE asking), "
            f"      1 - (avg(embedded) FILTER (WHERE asking) <=> %s::vector({dims})), "
            "       1 - min(distance) FILTER (WHERE role = 'qa') "
            f"FROM (SELECT id, source_id, role, role = ANY(%s) AS asking, embedding::vector({dims}) AS embedded, "
            f"             embedding::vector({dims}) <=> %s::vector({dims}) AS distance "
            "      FROM chat_knowledgechunk WHERE source_id = ANY(%s) "
            f"       AND embedding_dims = {dims} AND embedding_model = %s) AS chunk GROUP BY source_id",
            [literal, list(PHRASING_ROLES), literal, source_ids, model_id],
        )
        rows = cursor.fetchall()
    for source_id, chunk_id, closest, centroid, whole in rows:
        if closest is None:
            continue
        item = evidence[source_id]
        item.best_similarity, item.best_chunk = float(closest), chunk_id
        item.faq_centroid_similarity = float(centroid)
        item.overall_similarity = float(whole) if whole is not None else None


@functools.lru_cache(maxsize=4096)
def _query_vector(config: EmbeddingConfig, text: str) -> np.ndarray:
    """Customers ask the same few things over and over: their vectors are kept per process.

    A customer is waiting: an endpoint gets KB_QUERY_EMBEDDING_TIMEOUT_SECONDS, not the indexing
    tasks' patience, before the search goes on by full text."""
    vector = embedding_provider(config, timeout=settings.KB_QUERY_EMBEDDING_TIMEOUT_SECONDS).embed([text])[0]
    vector.setflags(write=False)
    return vector


# The search mode of a hybrid search whose query could not be embedded.
TEXT_FALLBACK = "text-fallback"
# A full-text-only result's confidence: the share of the question's words its passage has, at most
# this (so a passage with every word can be answered from, one with a third of them cannot).
TEXT_FALLBACK_FULL_COVERAGE = 0.9


def search_embedding() -> EmbeddingConfig | None:
    """The embedding model (with where it runs) whose vectors this tenant's search compares the
    query with, or None when no configured model can embed a query comparable to its chunks.

    The configured model when the tenant's chunks are embedded with it; while they are being embedded
    again after a model change (in the background), the model that most of them still have, if it can
    still embed a query, so search goes on finding them as before. Vectors of two models are never mixed.
    """
    tenant = embedding_config_for_tenant()
    configured = tenant.model_id
    models = _chunk_models()
    if not models or set(models) == {configured}:
        return tenant
    _schedule_reembed_if_stale(configured)
    usable = {model: count for model, count in models.items()
              if model == configured or embedding_config_of_model(model, tenant=tenant) is not None}
    if not usable:
        return None
    best = max(usable, key=lambda model: (usable[model], model == configured))
    return tenant if best == configured else embedding_config_of_model(best, tenant=tenant)


_chunk_models_cache: ContentCache[dict[str, int]] = ContentCache()


def _chunk_models() -> dict[str, int]:
    """How many of the current tenant's chunks each embedding model made, cached per process until
    the tenant's content changes (every write of chunks bumps its version after commit)."""
    return _chunk_models_cache.get(_chunk_models_count)


def _chunk_models_count() -> dict[str, int]:
    with connection.cursor() as cursor:
        # The model's index alone answers this (an index-only scan), without reading the chunks.
        cursor.execute("SELECT embedding_model, count(*) FROM chat_knowledgechunk GROUP BY embedding_model")
        return {str(model): int(count) for model, count in cursor.fetchall()}


def embedding_failure_count(*, model_id: str, error: BaseException) -> None:
    """Log and count a query that could not be embedded (kb_embedding_failures reads the count)."""
    from config.redis import redis_client, tenant_key

    schema = str(connection.schema_name)
    logger.warning("tenant %s: the question could not be embedded with %s (%s: %s); searching full text only",
                   schema, model_id, type(error).__name__, str(error)[:300])
    try:
        key = tenant_key(schema, "kb", "embedding-failures")
        pipeline = redis_client().pipeline()
        pipeline.hincrby(key, "count", 1)
        pipeline.hset(key, mapping={"last_error": f"{type(error).__name__}: {error}"[:500],
                                    "last_at": str(int(time.time())), "model": model_id})
        pipeline.execute()
    except Exception:
        logger.exception("could not count an embedding failure of %s", schema)


@dataclass(frozen=True)
class EmbeddingFailures:
    count: int
    last_error: str
    last_at: int | None
    model: str


def kb_embedding_failures() -> EmbeddingFailures:
    """How many questions of the current tenant were searched by full text only because they could
    not be embedded, and the last reason."""
    from config.redis import redis_client, tenant_key

    values = redis_client().hgetall(tenant_key(str(connection.schema_name), "kb", "embedding-failures")) or {}
    text = {(key.decode() if isinstance(key, bytes) else key): (value.decode() if isinstance(value, bytes) else value)
            for key, value in values.items()}
    return EmbeddingFailures(count=int(text.get("count", 0)), last_error=text.get("last_error", ""),
                             last_at=int(text["last_at"]) if text.get("last_at") else None, model=text.get("model", ""))


def _ensure_ef_search(cursor: object, value: int) -> None:
    """Set hnsw.ef_search once per database session rather than in a transaction per query (three
    round trips fewer per search); only HNSW scans read it, and every one of them is ours."""
    if connection.in_atomic_block:
        # A SET made inside a transaction is undone if it rolls back, while the note below would
        # stay: inside one, set it for this transaction only and note nothing.
        cursor.execute(f"SET LOCAL hnsw.ef_search = {int(value)}")  # type: ignore[attr-defined]
        return
    session = connection.connection  # the psycopg connection: a new session is a new object
    if getattr(session, "_kb_ef_search", None) != value:
        cursor.execute(f"SET hnsw.ef_search = {int(value)}")  # type: ignore[attr-defined]
        session._kb_ef_search = value  # type: ignore[union-attr]


def _text_evidence(prepared: PreparedQuery, candidates: int, evidence: dict[int, _SourceEvidence], *,
                   vector_chunks: list[_VectorCandidate]) -> None:
    ranking = tsquery_text(prepared.terms)
    if not ranking:
        return
    lookup = text_lookup(prepared, budget=TEXT_MATCH_BUDGET)
    with connection.cursor() as cursor:
        if lookup.complete:
            # Together the words match at most the budget: every match is ranked.
            cursor.execute(
                "SELECT id, source_id, ts_rank_cd(search_vector, query, 1) AS rank "
                "FROM (SELECT id, source_id, search_vector FROM chat_knowledgechunk "
                "      WHERE search_vector @@ to_tsquery('english', %s) LIMIT %s) AS matched, "
                "to_tsquery('english', %s) AS query ORDER BY rank DESC, id LIMIT %s",
                [ranking, TEXT_MATCH_BUDGET, ranking, candidates * 2],
            )
            rows = cursor.fetchall()
        else:
            # Chunks with the rare words (or, when every word is common, with all of them), and the
            # vector side's candidates with their FAQ's question-and-answer chunk (the one with a text
            # vector), by primary key and source: every word of the query ranks them all. Plain parts
            # joined by UNION ALL: a chunk matching them by `OR` took the planner longer than the search.
            parts = ["(SELECT id, source_id, search_vector FROM chat_knowledgechunk "
                     " WHERE search_vector @@ to_tsquery('english', %s) LIMIT %s)"]
            params: list[object] = [ranking, tsquery_text(lookup.terms, operator="&" if lookup.every else "|"),
                                    TEXT_MATCH_BUDGET]
            chunk_ids = [candidate.chunk_id for candidate in vector_chunks]
            faq_sources = sorted({candidate.source_id for candidate in vector_chunks if candidate.faq})
            if chunk_ids:
                parts.append("SELECT id, source_id, search_vector FROM chat_knowledgechunk WHERE id = ANY(%s)")
                params.append(chunk_ids)
            if faq_sources:
                parts.append("SELECT id, source_id, search_vector FROM chat_knowledgechunk "
                             "WHERE role = 'qa' AND source_id = ANY(%s)")
                params.append(faq_sources)
            # A chunk found twice ranks the same both times; one that matches no word ranks 0.
            cursor.execute(
                "SELECT id, source_id, max(rank) AS rank FROM ("
                "  SELECT id, source_id, ts_rank_cd(search_vector, to_tsquery('english', %s), 1) AS rank "
                f" FROM ({' UNION ALL '.join(parts)}) AS candidate WHERE search_vector IS NOT NULL"
                ") AS ranked GROUP BY id, source_id HAVING max(rank) > 0 ORDER BY rank DESC, id LIMIT %s",
                [*params, candidates * 2],
            )
            rows = cursor.fetchall()
    for chunk_id, source_id, rank in rows:
        item = evidence.setdefault(source_id, _SourceEvidence(source_id=source_id))
        if float(rank) > item.text_rank:
            item.text_rank, item.text_chunk = float(rank), chunk_id


def _fuse(items: list[_SourceEvidence], mode: str) -> list[_SourceEvidence]:
    best_text = max((item.text_rank for item in items), default=0.0) or 1.0
    for item in items:
        vector = max(item.vector_score, 0.0) if item.best_chunk is not None else 0.0
        text = item.text_rank / best_text
        if mode == "vector":
            item.fused = vector
        elif mode == "text":
            item.fused = text
        else:
            item.fused = vector + TEXT_BONUS * text
    ranked = [item for item in items if item.fused > 0]
    ranked.sort(key=lambda item: (item.fused, item.vector_score, item.text_rank), reverse=True)
    return ranked


def confidence(*, fused: float, margin: float) -> float:
    a, b, c = CONFIDENCE_COEFFICIENTS
    return 1.0 / (1.0 + math.exp(-(a + b * fused + c * margin)))


class _ResultRow(NamedTuple):
    chunk_id: int
    content: str
    heading: str
    source_id: int
    title: str
    kind: str
    url: str


def _results(top: list[_SourceEvidence], ranked: list[_SourceEvidence], mode: str) -> list[SearchResult]:
    chunk_ids = [item.best_chunk or item.text_chunk for item in top]
    # Only what a result shows (not the vectors, nor a source's stored file or whole text), in SQL:
    # building this query through the ORM took longer than running it.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT chunk.id, chunk.content, chunk.heading, source.id, source.title, source.kind, source.url "
            "FROM chat_knowledgechunk AS chunk JOIN chat_knowledgesource AS source ON source.id = chunk.source_id "
            "WHERE chunk.id = ANY(%s)",
            [chunk_ids],
        )
        chunks = {row[0]: _ResultRow(*row) for row in cursor.fetchall()}
    results = []
    for index, item in enumerate(top):
        chunk = chunks.get(item.best_chunk or item.text_chunk or 0)
        if chunk is None:  # deleted between the two queries
            continue
        best_other = ranked[1].fused if index == 0 and len(ranked) > 1 else (ranked[0].fused if index else 0.0)
        margin = item.fused - best_other
        # Text-only and rank-fusion scores are not on the calibrated scale; they keep their raw value.
        score = (confidence(fused=item.fused, margin=margin) if mode in ("hybrid", "vector")
                 else min(1.0, item.fused))
        results.append(SearchResult(
            source_id=chunk.source_id, chunk_id=chunk.chunk_id, title=chunk.title, snippet=_snippet(chunk.content),
            content=chunk.content, score=round(score, 4), kind=chunk.kind, url=chunk.url, heading=chunk.heading,
            relevance=round(item.fused, 5), margin=round(margin, 5),
        ))
    return results


def _results_by_coverage(top: list[_SourceEvidence], prepared: PreparedQuery) -> list[SearchResult]:
    """Full-text-only results, scored by the share of the question's words each passage matches."""
    results = _results(top, top, "text")
    terms = [tsquery_text((term,)) for term in prepared.terms if tsquery_text((term,))]
    if not results or not terms:
        return results
    with connection.cursor() as cursor:
        # Words PostgreSQL's english configuration ignores (its stopwords) count for nothing either way.
        cursor.execute(
            "SELECT chunk.id, count(*) FILTER (WHERE chunk.search_vector @@ query), count(*) "
            "FROM chat_knowledgechunk AS chunk, unnest(%s::text[]) AS term, to_tsquery('english', term) AS query "
            "WHERE chunk.id = ANY(%s) AND numnode(query) > 0 GROUP BY chunk.id",
            [terms, [result.chunk_id for result in results]],
        )
        coverage = {chunk_id: matched / total for chunk_id, matched, total in cursor.fetchall() if total}
    scored = [replace(result, score=round(TEXT_FALLBACK_FULL_COVERAGE * coverage.get(result.chunk_id, 0.0), 4))
              for result in results]
    return sorted(scored, key=lambda result: result.score, reverse=True)


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) <= SNIPPET_CHARS:
        return flat
    cut = flat.rfind(" ", 0, SNIPPET_CHARS)
    return flat[:cut if cut > SNIPPET_CHARS // 2 else SNIPPET_CHARS].rstrip(" ,.;:") + "…"


def _schedule_reembed_if_stale(model_id: str) -> None:
    """Chunks of another model than the one in use: the model changed; re-embed in the background
    (at most once per ten minutes and tenant)."""
    from config.redis import redis_client, tenant_key

    if redis_client().set(tenant_key(str(connection.schema_name), "kb", "reembed-scheduled"), "1", nx=True, ex=600):
        from chat.knowledge.tasks import kb_reembed_stale

        transaction.on_commit(lambda: kb_reembed_stale.delay())
        logger.info("embedding model changed to %s: re-embedding scheduled", model_id)


# ------------------------------------------------------------------------------ status for people


@dataclass(frozen=True)
class SourceStatusCounts:
    pending: int
    indexing: int
    ready: int
    failed: int


def kb_status_counts() -> SourceStatusCounts:
    from django.db.models import Count

    counts = dict(KnowledgeSource.objects.values_list("status").annotate(total=Count("id")).values_list("status", "total"))
    return SourceStatusCounts(pending=counts.get("pending", 0), indexing=counts.get("indexing", 0),
                              ready=counts.get("ready", 0), failed=counts.get("failed", 0))


def kb_failed_sources() -> list[KnowledgeSource]:
    return list(KnowledgeSource.objects.filter(status=KnowledgeSource.Status.FAILED).order_by("-updated"))


def job_get(*, job_id: int) -> IndexingJob | None:
    return IndexingJob.objects.filter(pk=job_id).first()


def source_list_for_dashboard(*, limit: int) -> list[KnowledgeSource]:
    """Sources by kind and title, without their (large) contents."""
    return list(KnowledgeSource.objects.defer("raw", "body", "answer").select_related("job")
                .order_by("kind", "title")[:limit])


def source_get(*, source_id: int) -> KnowledgeSource | None:
    return KnowledgeSource.objects.filter(pk=source_id).first()


def job_list_running(*, limit: int) -> list[IndexingJob]:
    return list(IndexingJob.objects.filter(status=IndexingJob.Status.RUNNING)[:limit])


def job_failed_sources(*, job: IndexingJob, limit: int) -> list[KnowledgeSource]:
    return list(job.sources.filter(status=KnowledgeSource.Status.FAILED).only("title", "error")[:limit])


def source_list(*, status: str | None = None, kind: str | None = None) -> QuerySet[KnowledgeSource]:
    """Sources without their (large) contents, `status` and `kind` as given."""
    sources = KnowledgeSource.objects.defer("raw", "body", "answer")
    if status:
        sources = sources.filter(status=status)
    if kind:
        sources = sources.filter(kind=kind)
    return sources
