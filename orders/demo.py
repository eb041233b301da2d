"""Loads the demo tenants' catalog, orders, opening hours and currency (see tenants.demo).

Idempotent: the catalog is upserted by SKU, hours are replaced as a whole, orders that exist are
left alone. A fixture folder may lack any file: that part is skipped.
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime
from pathlib import Path
from typing import Any

from config.outside_urls import outside_url_or_empty
from orders.models import Platform
from orders.money import amount_to_minor, currency_normalize
from orders.platforms import ItemData, OrderData, TrackingData
from orders.selectors import commerce_currency
from orders.services.catalog import catalog_import_csv, commerce_currency_set
from orders.services.hours import opening_hours_set_from_json
from orders.services.orders import HistoryEntry, order_import
from tenants.models import Tenant

logger = logging.getLogger(__name__)

CATALOG_FILES = ("menu.csv", "products.csv")


def _order_record(record: dict[str, Any], *, default_currency: str) -> tuple[OrderData, list[HistoryEntry]]:
    currency = currency_normalize(record.get("currency") or default_currency)
    items = [ItemData(sku=item.get("sku", ""), name=item["name"], quantity=int(item["quantity"]),
                      unit_price_minor=amount_to_minor(item["unit_price"], currency=currency, field="unit_price"))
             for item in record.get("items", [])]
    subtotal = sum(item.quantity * item.unit_price_minor for item in items)
    created = datetime.fromisoformat(record["created"])
    history = [HistoryEntry(status=step["status"], at=datetime.fromisoformat(step["at"]))
               for step in record.get("history", [])]
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
                              estimated_delivery=date.fromisoformat(estimated) if estimated else None),
    )
    return data, history


def load_demo(*, tenant: Tenant, fixtures: Path) -> None:
    profile_path = fixtures / "profile.json"
    if profile_path.exists():
        currency = json.loads(profile_path.read_text()).get("currency")
        if currency:
            commerce_currency_set(currency=currency)
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
        created = 0
        for record in json.loads(orders_path.read_text()):
            data, history = _order_record(record, default_currency=default_currency)
            created += order_import(data=data, history=history, source="demo")
        logger.info("demo orders for %s: %d created", tenant.schema_name, created)
