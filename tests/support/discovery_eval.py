"""The labelled discovery questions (tests/orders/data/discovery_questions.jsonl) and how a ranking
of products is scored against them: nDCG@5 and whether the first product fits.

A question of a demo catalog lists its acceptable products by SKU; one of the generated outdoor
catalog says which facts fit (`where`: categories, attributes, price bounds in minor units, a size),
and its acceptable products are those of the generated catalog with those facts.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from tests.support.discovery_catalog import GeneratedProduct

QUESTIONS = Path(__file__).resolve().parent.parent / "orders" / "data" / "discovery_questions.jsonl"


@dataclass(frozen=True)
class LabelledQuestion:
    catalog: str
    text: str
    acceptable: frozenset[str]


def _fits(product: GeneratedProduct, where: dict[str, object]) -> bool:
    categories = where.get("category")
    if categories and product.category not in categories:  # type: ignore[operator]
        return False
    if not set(where.get("attributes", [])) <= product.attributes:  # type: ignore[arg-type]
        return False
    if "max" in where and product.price_minor > int(where["max"]):  # type: ignore[arg-type]
        return False
    if "min" in where and product.price_minor < int(where["min"]):  # type: ignore[arg-type]
        return False
    return not ("size" in where and where["size"] not in product.sizes)


def labelled_questions(outdoor: list[GeneratedProduct]) -> list[LabelledQuestion]:
    questions = []
    for line in QUESTIONS.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        if "ok" in row:
            acceptable = frozenset(row["ok"])
        else:
            acceptable = frozenset(product.sku for product in outdoor if _fits(product, row["where"]))
        questions.append(LabelledQuestion(catalog=row["catalog"], text=row["q"], acceptable=acceptable))
    return questions


def ndcg_at_5(ranked: list[str], acceptable: frozenset[str]) -> float:
    gains = sum(1 / math.log2(position + 2) for position, sku in enumerate(ranked[:5]) if sku in acceptable)
    ideal = sum(1 / math.log2(position + 2) for position in range(min(5, len(acceptable))))
    return gains / ideal if ideal else 0.0


def first_fits(ranked: list[str], acceptable: frozenset[str]) -> bool:
    return bool(ranked) and ranked[0] in acceptable
