"""The demo businesses' data read straight from the fixture files, for computing expected facts."""

from __future__ import annotations

import csv
import functools
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from orders.demo import DemoClock
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


# ----------------------------------------------------------------------------- days, dates and hours
# (conversation scenarios: orders in context, hours sentences, both languages)

WEEKDAY_NAMES = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "nl": ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"),
}
MONTH_NAMES = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
    "nl": ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
           "november", "december"),
}
_WEEKLY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def zone(tenant: str) -> ZoneInfo:
    return ZoneInfo(profile(tenant)["timezone"])


def load_day(tenant: str) -> date:
    """The tenant's calendar day now: the day the session's demo copies were loaded, which the
    orders' 'today±Nd' dates count from."""
    return datetime.now(zone(tenant)).date()


def demo_day(tenant: str, text: str) -> date:
    """A fixture day written 'today', 'today+1d', 'today-23d', in the tenant's zone."""
    return DemoClock(now=datetime.now(zone(tenant)), zone=zone(tenant)).day(text)


def demo_moment_day(tenant: str, text: str) -> date:
    """The tenant's calendar day of a fixture moment ('today-3d 15:08', 'now-2h')."""
    clock = DemoClock(now=datetime.now(zone(tenant)), zone=zone(tenant))
    return clock.moment(text).astimezone(zone(tenant)).date()


def days_after_load(tenant: str, days: int, *, hour: int = 11) -> datetime:
    """A moment `days` after the demo's load day, at `hour` in the tenant's zone."""
    return datetime.combine(load_day(tenant) + timedelta(days=days), time(hour), tzinfo=zone(tenant))


def day_text(day: date, language: str = "en") -> str:
    """'Thursday 26 November' / 'donderdag 26 november'."""
    return f"{WEEKDAY_NAMES[language][day.weekday()]} {day.day} {MONTH_NAMES[language][day.month - 1]}"


def opening_ranges(tenant: str, day: date) -> list[tuple[str, str]]:
    """The day's opening ranges from hours.json (an exception for the date, else the weekly schedule);
    empty when closed all day."""
    schedule = hours(tenant)
    for exception in schedule["exceptions"]:
        if exception["date"] == day.isoformat():
            return [] if exception.get("closed") else [tuple(r) for r in exception["ranges"]]  # type: ignore[misc]
    return [tuple(r) for r in schedule["weekly"][_WEEKLY_KEYS[day.weekday()]]]  # type: ignore[misc]


def ranges_text(ranges: list[tuple[str, str]], language: str = "en") -> str:
    """'07:30–17:00 and 18:30–22:00' / '… en …'."""
    joiner = " and " if language == "en" else " en "
    return joiner.join(f"{opens}–{closes}" for opens, closes in ranges)


def next_weekday(after: date, weekday: int) -> date:
    """The first day on or after `after` with that weekday (0 Monday)."""
    return after + timedelta(days=(weekday - after.weekday()) % 7)


def order_item_names(tenant: str, number: str) -> list[str]:
    return [item["name"] for item in orders(tenant)[number]["items"]]


def order_total_text(tenant: str, number: str) -> str:
    order = orders(tenant)[number]
    return minor_to_text(amount_to_minor(order["total"], currency=order["currency"]), currency=order["currency"])


def order_delivered_day(tenant: str, number: str) -> date:
    steps = [step for step in orders(tenant)[number]["history"] if step["status"] == "delivered"]
    return demo_moment_day(tenant, steps[-1]["at"])


def faq_answer(tenant: str, question: str) -> str:
    """The answer of the FAQ entry with this question."""
    return next(row["answer"] for row in faq(tenant) if row["question"] == question)


def faq_opening(tenant: str, question: str, words: int = 6) -> str:
    """The first words of an FAQ entry's answer: what an answer quoting that entry starts with."""
    return " ".join(faq_answer(tenant, question).split()[:words])


def tuesday_afternoon(tenant: str) -> datetime:
    """A Tuesday afternoon in November in the business's zone: both businesses open, no holiday near."""
    return datetime(2026, 11, 24, 14, 0, tzinfo=ZoneInfo(profile(tenant)["timezone"]))


SHOP_TUESDAY = tuesday_afternoon("shop")
CAFE_TUESDAY = tuesday_afternoon("cafe")
# The Sunday after: the shop closed, the café open.
SUNDAY = date(2026, 11, 29)
