"""What it costs to ask whether a tenant's content changed: the content version against the two
checks it replaced (issue #20), on a catalog of N products with three variants each.

    .venv/bin/python bench/content_version.py [--products 10000] [--reads 500]

Printed, median and p95 of `--reads` reads each, in the tenant's schema:
- the content version (config.content_version.content_version_get: one Redis script call);
- the answer cache's former key, `count(*)` and `sum(xmin)` over the eight content tables (the
  SQL is copied here, since the code is gone);
- the catalog indexes' former check, product and variant counts and the products' `max(updated)`.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _django  # noqa: E402

_CONTENT_TABLES = ("chat_knowledgesource", "orders_product", "orders_variant", "orders_commercesettings",
                   "orders_weeklyopening", "orders_specialday", "orders_specialdayopening", "chat_businessprofile")
FINGERPRINT_SQL = "SELECT concat_ws(';', {})".format(", ".join(
    f"(SELECT count(*) || '/' || coalesce(sum(xmin::text::bigint), 0) FROM {table})" for table in _CONTENT_TABLES))
CATALOG_COUNTS_SQL = ("SELECT (SELECT count(*) FROM orders_product), (SELECT max(updated) FROM orders_product),"
                      " (SELECT count(*) FROM orders_variant)")


def _timed(read: Callable[[], object], reads: int) -> tuple[float, float]:
    read()
    timings = []
    for _ in range(reads):
        started = time.perf_counter()
        read()
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return timings[len(timings) // 2], timings[int(len(timings) * 0.95)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--reads", type=int, default=500)
    arguments = parser.parse_args()
    _django.setup()
    from django.db import connection
    from django_tenants.utils import schema_context

    from config.content_version import content_version_get
    from orders.services.catalog import CatalogRow, catalog_rows_save
    from tenants.services import tenant_create

    slug = f"bench{uuid.uuid4().hex[:8]}"
    tenant_create(slug=slug, name="Content version bench", domain=f"{slug}.bench.localhost")
    with schema_context(slug):
        rows = [CatalogRow(line=index, product_sku=f"P{index // 3}", name=f"Product {index // 3}", category="c",
                           description="", price_minor=1000, currency="EUR", synonyms=(),
                           variant_sku=f"P{index // 3}-{index % 3}", size="SML"[index % 3], colour="", stock=5)
                 for index in range(arguments.products * 3)]
        catalog_rows_save(rows=rows)

        def query(sql: str) -> Callable[[], object]:
            def read() -> object:
                with connection.cursor() as cursor:
                    cursor.execute(sql)
                    return cursor.fetchone()
            return read

        for name, read in (("content version (Redis)", content_version_get),
                           ("former answer-cache key: sum(xmin) over 8 tables", query(FINGERPRINT_SQL)),
                           ("former catalog check: counts and max(updated)", query(CATALOG_COUNTS_SQL))):
            p50, p95 = _timed(read, arguments.reads)
            print(f"{name}: p50 {p50:.3f} ms, p95 {p95:.3f} ms ({arguments.products:,} products)", flush=True)


if __name__ == "__main__":
    main()
