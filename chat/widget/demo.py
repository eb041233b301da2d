"""The demo tenants' widget, and the demo page: a sample website of the business, its widget on it.

Each kind of business gets a page that looks like one (a café's menu and hours, a shop's favourites),
with the prices of the business's own catalog, written as the assistant writes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from chat.conversations.services import business_profile_get
from chat.widget.services import widget_settings_get
from orders.models import Product, WeeklyOpening
from orders.money import minor_to_text
from tenants.models import Tenant

DEMO_PAGE_SHOP = "shop"
DEMO_PAGE_CAFE = "cafe"
# How many of the catalog's items a page shows: a sample, not the catalog.
SHOP_FAVOURITES = 3
CAFE_ITEMS_PER_SECTION = 4
CAFE_SECTIONS = 4
# The page samples the start of the catalog: a shop with thousands of products is read no further.
CATALOG_ITEMS_READ = 200
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def load_demo(*, tenant: Tenant, fixtures: Path) -> None:
    widget = widget_settings_get()
    if not widget.display_name:
        profile = business_profile_get()
        widget.display_name = profile.name
        widget.greeting = f"Hi! I'm {profile.name}'s assistant. Ask me about orders, opening hours or anything else."
        widget.language = (profile.languages or ["en"])[0]
    path = fixtures / "profile.json"
    widget.demo_page = (json.loads(path.read_text()) if path.exists() else {}).get("demo_page", DEMO_PAGE_SHOP)
    widget.save()


@dataclass(frozen=True)
class DemoItem:
    name: str
    description: str
    price: str  # '£3.40': the catalog's price in its own currency


@dataclass(frozen=True)
class DemoSection:
    title: str
    items: list[DemoItem]


@dataclass(frozen=True)
class DemoHours:
    day: str
    hours: str  # '07:30–17:00, 18:30–22:00' or 'Closed'


@dataclass(frozen=True)
class DemoPage:
    template: str
    name: str
    tagline: str
    address: str
    phone: str
    sections: list[DemoSection]
    hours: list[DemoHours]


def _item(product: Product) -> DemoItem:
    return DemoItem(name=product.name, description=product.description,
                    price=minor_to_text(product.price_minor, currency=product.currency))


def _sections(*, per_section: int, sections: int) -> list[DemoSection]:
    """The catalog's first categories, a few sellable items of each, in catalog order."""
    found: dict[str, list[DemoItem]] = {}
    products = (Product.objects.filter(is_sellable=True).order_by("pk")
                .only("name", "description", "category", "price_minor", "currency")[:CATALOG_ITEMS_READ])
    for product in products:
        items = found.get(product.category or "Favourites")
        if items is None:
            if len(found) == sections:
                continue
            items = found[product.category or "Favourites"] = []
        if len(items) < per_section:
            items.append(_item(product))
    return [DemoSection(title=title, items=items) for title, items in found.items()]


def _weekly_hours() -> list[DemoHours]:
    ranges: dict[int, list[str]] = {}
    for row in WeeklyOpening.objects.order_by("weekday", "opens"):
        ranges.setdefault(row.weekday, []).append(f"{row.opens:%H:%M}–{row.closes:%H:%M}")
    return [DemoHours(day=name, hours=", ".join(ranges.get(weekday, [])) or "Closed")
            for weekday, name in enumerate(WEEKDAYS)]


def demo_page_get() -> DemoPage:
    """What the current tenant's demo page shows."""
    profile = business_profile_get()
    kind = widget_settings_get().demo_page
    if kind == DEMO_PAGE_CAFE:
        sections = _sections(per_section=CAFE_ITEMS_PER_SECTION, sections=CAFE_SECTIONS)
    else:
        sections = _sections(per_section=SHOP_FAVOURITES, sections=1)
        sections = [DemoSection(title="This week's favourites", items=sections[0].items)] if sections else []
    return DemoPage(template=f"demo/{kind if kind in (DEMO_PAGE_SHOP, DEMO_PAGE_CAFE) else DEMO_PAGE_SHOP}.html",
                    name=profile.name, tagline=profile.tagline, address=profile.address, phone=profile.phone,
                    sections=sections, hours=_weekly_hours())
