"""Loads the demo tenants' catalog, orders, opening hours and currency (see tenants.demo).

Idempotent: the catalog is upserted by SKU, hours are replaced as a whole, orders that exist are
left alone. A fixture folder may lack any file: that part is skipped.

Order dates are written relative to the moment the demo is loaded, so the story each order tells
(placed an hour ago, on its way and expected tomorrow, delivered last week) holds on whatever day
the demo is loaded, in the business's time zone:

- a day: `today`, `today+1d`, `today-23d`;
- a moment on a day, at a local wall-clock time: `today-3d 15:08`;
- a moment shortly before loading: `now-30m`, `now-2h45m` (today's events, which a fixed time of day
  could put in the future).
"""

from __future__ import annotations

import json
import logging
import re
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from config.outside_urls import outside_url_or_empty
from orders.models import Platform
from orders.money import amount_to_minor, currency_normalize
from orders.platforms import ItemData, OrderData, TrackingData
from orders.selectors import commerce_currency, tenant_zone
from orders.services.catalog import catalog_import_csv, commerce_currency_set, commerce_stock_counts_set
from orders.services.hours import opening_hours_set_from_json
from orders.services.orders import HistoryEntry, order_import
from tenants.models import Tenant

logger = logging.getLogger(__name__)

CATALOG_FILES = ("menu.csv", "products.csv")


_DAY = re.compile(r"today(?:(?P<days>[+-]\d+)d)?")
_MOMENT_ON_DAY = re.compile(r"today(?:(?P<days>[+-]\d+)d)? (?P<hour>\d{2}):(?P<minute>\d{2})")
_MOMENT_AGO = re.compile(r"now-(?=\d)(?:(?P<hours>\d+)h)?(?:(?P<minutes>\d+)m)?")


class DemoClock:
    """Reads the fixtures' relative dates against one moment: the demo's load."""

    def __init__(self, *, now: datetime, zone: ZoneInfo) -> None:
        self.now = now
        self.zone = zone
        self.today = now.astimezone(zone).date()

    def day(self, text: str) -> date:
        match = _DAY.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"demo day {text!r} is not written as today, today+Nd or today-Nd")
        return self.today + timedelta(days=int(match["days"] or 0))

    def moment(self, text: str) -> datetime:
        text = text.strip()
        ago = _MOMENT_AGO.fullmatch(text)
        if ago is not None:
            return self.now - timedelta(hours=int(ago["hours"] or 0), minutes=int(ago["minutes"] or 0))
        on_day = _MOMENT_ON_DAY.fullmatch(text)
        if on_day is None:
            raise ValueError(f"demo moment {text!r} is not written as today-Nd HH:MM or now-XhYm")
        day = self.today + timedelta(days=int(on_day["days"] or 0))
        local = datetime.combine(day, time(int(on_day["hour"]), int(on_day["minute"])), tzinfo=self.zone)
        # A wall-clock time later today has not happened yet: an order is never placed in the future.
        return min(local, self.now)


def _order_record(record: dict[str, Any], *, default_currency: str,
                  clock: DemoClock) -> tuple[OrderData, list[HistoryEntry]]:
    currency = currency_normalize(record.get("currency") or default_currency)
    items = [ItemData(sku=item.get("sku", ""), name=item["name"], quantity=int(item["quantity"]),
                      unit_price_minor=amount_to_minor(item["unit_price"], currency=currency, field="unit_price"))
             for item in record.get("items", [])]
    subtotal = sum(item.quantity * item.unit_price_minor for item in items)
    created = clock.moment(record["created"])
    history = [HistoryEntry(status=step["status"], at=clock.moment(step["at"])) for step in record.get("history", [])]
    estimated = record.get("estimated_delivery")
    data = OrderData(
        platform=Platform.IMPORT, external_ref="", number=record["number"], email=record.get("email", "").lower(),
        phone=record.get("phone", ""), currency=currency, status=record.get("status"), items=items,
        subtotal_minor=subtotal,
        shipping_minor=amount_to_minor(record.get("shipping") or "0", currency=currency, field="shipping"),
        total_minor=amount_to_minor(record["total"], currency=currency, field="total"),
        placed_at=created, updated_at=history[-1].at if history else created,
        tracking=TrackingData(carrier=record.get("carrier") or "", tracking_number=record.get("tracking_number") or "",
                              tracking_url=outside_url_or_empty(record.get("tracking_url"),
                                                                field="imported order tracking_url"),
                              estimated_delivery=clock.day(estimated) if estimated else None),
    )
    return data, history


def load_demo(*, tenant: Tenant, fixtures: Path, now: datetime | None = None) -> None:
    """Load the fixtures into the current schema; relative order dates count from `now` (the clock's
    now unless given)."""
    profile_path = fixtures / "profile.json"
    if profile_path.exists():
        profile = json.loads(profile_path.read_text())
        if profile.get("currency"):
            commerce_currency_set(currency=profile["currency"])
        if "show_stock_counts" in profile:
            commerce_stock_counts_set(shown=bool(profile["show_stock_counts"]))
    for name in CATALOG_FILES:
        path = fixtures / name
        if path.exists():
            with path.open(newline="", encoding="utf-8-sig") as stream:
                catalog_import_csv(stream=stream)
    hours_path = fixtures / "hours.json"
    if hours_path.exists():
        hours = json.loads(hours_path.read_text())
        if hours.get("timezone") and hours["timezone"] != tenant.timezone:
            logger.warning("demo hours for %s are written for %s but the tenant is in %s", tenant.schema_name,
                           hours["timezone"], tenant.timezone)
        opening_hours_set_from_json(data=hours)
    orders_path = fixtures / "orders.json"
    if orders_path.exists():
        default_currency = commerce_currency()
        clock = DemoClock(now=now or timezone.now(), zone=tenant_zone())
        created = 0
        for record in json.loads(orders_path.read_text()):
            data, history = _order_record(record, default_currency=default_currency, clock=clock)
            created += order_import(data=data, history=history, source="demo")
        logger.info("demo orders for %s: %d created", tenant.schema_name, created)
