"""The demo businesses' data read straight from the fixture files, for computing expected facts."""

from __future__ import annotations

import csv
import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orders.money import amount_to_minor, minor_to_text
from tenants.demo import FIXTURES

CATALOG_FILES = {"shop": "products.csv", "cafe": "menu.csv"}


@dataclass(frozen=True)
class Variant:
    sku: str
    size: str
    colour: str
    price_minor: int
    currency: str
    stock: int

    @property
    def price_text(self) -> str:
        return minor_to_text(self.price_minor, currency=self.currency)


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    category: str
    description: str
    synonyms: tuple[str, ...]
    variants: tuple[Variant, ...]
    kind: str = "item"  # "extra": an add-on priced on top of another product (the catalog's kind column)

    def variant(self, *, size: str = "", colour: str = "") -> Variant:
        """The one variant with exactly this size and colour (case ignored); KeyError when none."""
        for candidate in self.variants:
            if candidate.size.lower() == size.lower() and candidate.colour.lower() == colour.lower():
                return candidate
        raise KeyError(f"{self.name} has no variant size={size!r} colour={colour!r}")

    @property
    def in_stock(self) -> tuple[Variant, ...]:
        return tuple(v for v in self.variants if v.stock > 0)

    @property
    def sold_out(self) -> tuple[Variant, ...]:
        return tuple(v for v in self.variants if v.stock == 0)

    @property
    def colours(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v.colour for v in self.variants if v.colour))

    @property
    def sizes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v.size for v in self.variants if v.size))

    def nearest_available(self, variant: Variant) -> tuple[Variant, ...]:
        """Variants one can buy instead of `variant`: its size in other colours, its colour in other sizes."""
        return tuple(v for v in self.in_stock
                     if (v.size == variant.size) != (v.colour == variant.colour))


@functools.cache
def catalog(tenant: str) -> dict[str, Product]:
    """The tenant's products by name, from its fixture catalog."""
    rows: dict[str, list[dict[str, str]]] = {}
    with (FIXTURES / tenant / CATALOG_FILES[tenant]).open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            rows.setdefault(row["name"], []).append(row)
    products: dict[str, Product] = {}
    for name, product_rows in rows.items():
        first = product_rows[0]
        variants = tuple(
            Variant(sku=row["variant_sku"], size=row["size"], colour=row["colour"],
                    price_minor=amount_to_minor(row["price"], currency=row["currency"]), currency=row["currency"],
                    stock=int(row["stock"]))
            for row in product_rows)
        products[name] = Product(sku=first["product_sku"], name=name, category=first["category"],
                                 description=first["description"],
                                 synonyms=tuple(s.strip() for s in first["synonyms"].split("|") if s.strip()),
                                 variants=variants, kind=first.get("kind") or "item")
    return products


def product(tenant: str, name: str) -> Product:
    return catalog(tenant)[name]


def shows_stock_counts(tenant: str) -> bool:
    return bool(profile(tenant).get("show_stock_counts"))


def money(tenant: str, amount_minor: int) -> str:
    return minor_to_text(amount_minor, currency=profile(tenant)["currency"])


@functools.cache
def profile(tenant: str) -> dict[str, Any]:
    return json.loads((FIXTURES / tenant / "profile.json").read_text(encoding="utf-8"))


@functools.cache
def hours(tenant: str) -> dict[str, Any]:
    return json.loads((FIXTURES / tenant / "hours.json").read_text(encoding="utf-8"))


@functools.cache
def orders(tenant: str) -> dict[str, dict[str, Any]]:
    """The shop's orders by number, as written in the fixture (dates in its 'today±Nd' notation)."""
    path: Path = FIXTURES / tenant / "orders.json"
    if not path.exists():
        return {}
    return {order["number"]: order for order in json.loads(path.read_text(encoding="utf-8"))}


@functools.cache
def faq(tenant: str) -> list[dict[str, str]]:
    with (FIXTURES / tenant / "faq.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))
