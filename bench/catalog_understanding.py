"""How long reading a product question against the catalog takes (no database: the index is built
from the demo fixtures, then from a synthetic catalog of N products).

    python bench/catalog_understanding.py [--products 10000]

The questions are the product scenario turns (tests/assistant/scenarios/products_*.py).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _django  # noqa: E402


def _per_question_ms(index: object, questions: list[str], rounds: int = 5) -> tuple[float, float]:
    from orders.catalog_understanding import request_understand

    timings = []
    for _ in range(rounds):
        for question in questions:
            started = time.perf_counter()
            request_understand(index, question)  # type: ignore[arg-type]
            timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return timings[len(timings) // 2], timings[int(len(timings) * 0.95)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=10_000)
    arguments = parser.parse_args()
    _django.setup()
    from orders.catalog_understanding import catalog_index_build
    from tests.assistant.scenarios import products_cafe, products_nl, products_shop
    from tests.assistant.scenarios.fixture_data import catalog

    for tenant, module in (("shop", products_shop), ("cafe", products_cafe)):
        products = [(number, item.sku, item.name, item.category, item.kind, list(item.synonyms))
                    for number, item in enumerate(catalog(tenant).values(), start=1)]
        variants = [(number * 1000 + offset, number, v.size, v.colour)
                    for number, item in enumerate(catalog(tenant).values(), start=1)
                    for offset, v in enumerate(item.variants)]
        index = catalog_index_build(products, variants)
        questions = [turn.says[-1] for turn in module.TURNS]
        if tenant == "shop":
            questions += [turn.says[-1] for turn in products_nl.TURNS]
        p50, p95 = _per_question_ms(index, questions)
        print(f"{tenant}: {len(products)} products, {len(questions)} questions: p50 {p50:.2f} ms, p95 {p95:.2f} ms")

    # A large catalog: the shop's products again and again under made-up brand names.
    random.seed(18)
    shop = list(catalog("shop").values())
    brands = ["".join(random.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(7)) for _ in range(3000)]
    products, variants = [], []
    for number in range(1, arguments.products + 1):
        item = shop[number % len(shop)]
        products.append((number, f"P{number}", f"{random.choice(brands)} {item.name}", item.category, "item",
                         list(item.synonyms)))
        variants += [(number * 10 + offset, number, v.size, v.colour) for offset, v in enumerate(item.variants[:4])]
    started = time.perf_counter()
    index = catalog_index_build(products, variants)
    built = time.perf_counter() - started
    p50, p95 = _per_question_ms(index, [turn.says[-1] for turn in products_shop.TURNS], rounds=1)
    print(f"synthetic: {arguments.products} products, index built in {built:.1f} s; per question p50 {p50:.1f} ms, "
          f"p95 {p95:.1f} ms")


if __name__ == "__main__":
    main()
