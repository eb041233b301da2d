"""Product discovery: quality on the labelled questions, and search latency at catalog scale.

    python bench/product_search.py [--scales 1000,100000] [--no-scale] [--queries N]

Quality: the labelled set (tests/orders/data/discovery_questions.jsonl, >= 100 questions over the
two demo catalogs and a generated 300-product outdoor shop), each question searched vector only,
full text only and with the shipped hybrid (each with the question's filters); prints nDCG@5 and
the share of questions whose first product fits.

Latency: a generated outdoor catalog of each scale in a fresh tenant. Up to 1,000 products are
embedded with the configured model; beyond that each further product gets the vector of product
(i mod 1,000) with a little noise (embedding 100k texts would take the benchmark an hour on two
cores, and what is measured is the index, not the model). The outdoor questions are searched with
their vectors made beforehand (p50/p95 of `product_search`, which reads the tenant's content version
from Redis for the cached catalog facts); again as inside a customer's turn, which reads the content
version once before its answer and holds it (`content_version_held`); then the CPU time one search
takes in this process and in its database backend (read from /proc, so only with the embedded
PostgreSQL): on a shared machine, a figure the other processes' load does not change as much; and
once more including the question's embedding as a customer's turn does it (the per-process vector
cache cleared before each).
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import uuid
from pathlib import Path
from statistics import mean

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
import _django  # noqa: E402

MODES = ("vector", "text", "hybrid")
LABELS = {"vector": "vector only (with filters)", "text": "full text only (with filters)",
          "hybrid": "hybrid (shipped)"}
EMBEDDED_AT_MOST = 1000


def _tenant(name: str) -> object:
    from django.db import connection

    from tenants.services import tenant_create

    slug = f"b{uuid.uuid4().hex[:12]}"
    tenant = tenant_create(slug=slug, name=name, domain=f"{slug}.bench.localhost",
                           timezone_name="Europe/Amsterdam").tenant
    connection.set_schema_to_public()
    return tenant


def _demo(folder: str) -> object:
    from django_tenants.utils import schema_context

    from chat.knowledge.product_vectors import product_vectors_refresh
    from orders.demo import load_demo
    from tenants.demo import FIXTURES

    tenant = _tenant(folder)
    with schema_context(tenant.schema_name):
        load_demo(tenant=tenant, fixtures=FIXTURES / folder)
        product_vectors_refresh()
    return tenant


def _outdoor(count: int) -> object:
    from django_tenants.utils import schema_context

    from chat.knowledge.product_vectors import product_vectors_refresh
    from orders.services.catalog import catalog_import_csv
    from tests.support.discovery_catalog import outdoor_catalog_csv, outdoor_products

    tenant = _tenant(f"outdoor {count}")
    with schema_context(tenant.schema_name):
        catalog_import_csv(stream=io.StringIO(outdoor_catalog_csv(outdoor_products(count))))
        product_vectors_refresh()
    return tenant


def quality() -> None:
    from django_tenants.utils import schema_context

    from chat.knowledge.product_vectors import product_discovery
    from tests.support.discovery_catalog import OUTDOOR_PRODUCTS_FOR_TESTS, outdoor_products
    from tests.support.discovery_eval import first_fits, labelled_questions, ndcg_at_5

    tenants = {"shop": _demo("shop"), "cafe": _demo("cafe"), "outdoor": _outdoor(OUTDOOR_PRODUCTS_FOR_TESTS)}
    questions = labelled_questions(outdoor_products(OUTDOOR_PRODUCTS_FOR_TESTS))
    print(f"labelled questions: {len(questions)} "
          f"({', '.join(f'{name} {sum(q.catalog == name for q in questions)}' for name in tenants)})")
    print(f"{'mode':32} {'nDCG@5':>7} {'first fits':>10} {'found nothing':>13}")
    for mode in MODES:
        ndcg, first, empty = [], [], 0
        for question in questions:
            with schema_context(tenants[question.catalog].schema_name):  # type: ignore[attr-defined]
                ranked = [p.sku for p in product_discovery(query=question.text, mode=mode, limit=5).products]
            ndcg.append(ndcg_at_5(ranked, question.acceptable))
            first.append(first_fits(ranked, question.acceptable))
            empty += not ranked
        print(f"{LABELS[mode]:32} {mean(ndcg):7.3f} {mean(first):10.1%} {empty:13d}")


def _copy_vectors(count: int) -> None:
    """Products beyond the first EMBEDDED_AT_MOST get a noisy copy of an embedded one's vector."""
    import numpy as np
    from django.db import connection

    from orders.discovery import _text_hash, product_embedding_text, product_search_prefixes
    from orders.models import Product, ProductEmbedding

    embedded = list(ProductEmbedding.objects.order_by("product_id").values_list("embedding", "embedding_model"))
    base = np.asarray([row[0] for row in embedded], dtype=np.float32)
    model = embedded[0][1]
    rng = np.random.default_rng(25)
    done = set(ProductEmbedding.objects.values_list("product_id", flat=True))
    # Read before the COPY: the connection cannot run a query while it copies.
    texts = [(product.pk, product_embedding_text(product=product, variants=list(product.variants.all())))
             for product in Product.objects.exclude(pk__in=done).prefetch_related("variants").order_by("id")
             .iterator(chunk_size=2000)]
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy("COPY orders_productembedding (product_id, text, text_hash, search_prefixes, embedding, "
                      "embedding_model, embedding_dims, updated) FROM STDIN") as copy:
            for index, (pk, text) in enumerate(texts):
                vector = base[index % len(base)] + rng.normal(0, 0.02, base.shape[1]).astype(np.float32)
                vector /= np.linalg.norm(vector)
                copy.write_row((pk, text, _text_hash(text), product_search_prefixes(text),
                                "[" + ",".join(f"{v:.6f}" for v in vector) + "]", model, int(base.shape[1]), "now"))
    print(f"  {count - len(done)} vectors copied with noise from the {len(done)} embedded")


def latency(count: int, queries: int) -> None:
    from django.db import connection
    from django_tenants.utils import schema_context

    from chat.knowledge import selectors as kb_selectors
    from chat.knowledge.product_vectors import product_discovery, product_query_vector
    from config.content_version import content_version_get, content_version_held
    from orders.discovery import product_search
    from orders.services.catalog import catalog_import_csv
    from tests.support.discovery_catalog import outdoor_catalog_csv, outdoor_products
    from tests.support.discovery_eval import QUESTIONS

    started = time.perf_counter()
    tenant = _tenant(f"outdoor {count}")
    products = outdoor_products(count, max_variants=3)
    with schema_context(tenant.schema_name):  # type: ignore[attr-defined]
        csv_text = outdoor_catalog_csv(products)
        catalog_import_csv(stream=io.StringIO(csv_text))
        from chat.knowledge.product_vectors import product_vectors_refresh
        from orders.discovery import ProductToEmbed, product_embeddings_store, products_to_embed

        if count <= EMBEDDED_AT_MOST:
            product_vectors_refresh()
        else:
            from chat.knowledge.embeddings import embedding_config_for_tenant, embedding_provider

            config = embedding_config_for_tenant()
            first: list[ProductToEmbed] = products_to_embed(model_id=config.model_id, limit=EMBEDDED_AT_MOST)
            vectors = embedding_provider(config).embed([item.text for item in first])
            product_embeddings_store(items=first, vectors=vectors, model_id=config.model_id)
            _copy_vectors(count)
        with connection.cursor() as cursor:
            # As autovacuum does soon after a large import: statistics, and the full-text index's
            # pending list merged into it (until then every search scans that list).
            for table in ("orders_productembedding", "orders_product", "orders_variant"):
                cursor.execute(f"VACUUM ANALYZE {table}")
        print(f"  catalog of {count} products ready in {time.perf_counter() - started:.0f} s")
        import json

        texts = [json.loads(line)["q"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines()
                 if '"outdoor"' in line]
        texts = (texts * (queries // len(texts) + 1))[:queries]
        vectors = {text: product_query_vector(text) for text in set(texts)}
        for text in texts[:10]:  # warm the connection, the caches and the index pages
            model_id, vector = vectors[text]  # type: ignore[misc]
            product_search(query=text, query_vector=vector, model_id=model_id)
        search_ms, held_ms, turn_ms = [], [], []
        for text in texts:
            model_id, vector = vectors[text]  # type: ignore[misc]
            start = time.perf_counter()
            product_search(query=text, query_vector=vector, model_id=model_id)
            search_ms.append((time.perf_counter() - start) * 1000)
        for text in texts:
            model_id, vector = vectors[text]  # type: ignore[misc]
            with content_version_held(schema_name=tenant.schema_name, version=content_version_get()):
                start = time.perf_counter()
                product_search(query=text, query_vector=vector, model_id=model_id)
                held_ms.append((time.perf_counter() - start) * 1000)
        backend_before, client_before = _backend_cpu_seconds(), time.process_time()
        for text in texts:
            model_id, vector = vectors[text]  # type: ignore[misc]
            with content_version_held(schema_name=tenant.schema_name, version=content_version_get()):
                product_search(query=text, query_vector=vector, model_id=model_id)
        client_cpu = (time.process_time() - client_before) * 1000 / len(texts)
        backend_after = _backend_cpu_seconds()
        backend_cpu = "n/a" if backend_before is None or backend_after is None else \
            f"{(backend_after - backend_before) * 1000 / len(texts):.1f} ms"
        for text in texts[: min(len(texts), 100)]:
            kb_selectors._query_vector.cache_clear()
            start = time.perf_counter()
            product_discovery(query=text)
            turn_ms.append((time.perf_counter() - start) * 1000)
    print(f"  {count:>7} products: search p50 {_django.percentile(search_ms, 50):6.1f} ms, "
          f"p95 {_django.percentile(search_ms, 95):6.1f} ms ({len(search_ms)} searches); in a turn (content "
          f"version held) p50 {_django.percentile(held_ms, 50):6.1f} ms, p95 {_django.percentile(held_ms, 95):6.1f} "
          f"ms; CPU a search {client_cpu:.1f} ms here + {backend_cpu} in the database; with the question's "
          f"embedding p95 {_django.percentile(turn_ms, 95):6.1f} ms")


def _backend_cpu_seconds() -> float | None:
    """CPU time (user and system) this connection's PostgreSQL backend has used, when it runs here."""
    import os

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="1000,100000")
    parser.add_argument("--no-scale", action="store_true", help="quality only")
    parser.add_argument("--no-quality", action="store_true", help="latency only")
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    _django.setup()
    if not args.no_quality:
        quality()
    if not args.no_scale:
        print("latency (search only, and with the question's embedding):")
        for count in (int(value) for value in args.scales.split(",")):
            latency(count, args.queries)


if __name__ == "__main__":
    main()
