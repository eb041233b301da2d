"""Property: whatever payload parsing accepts, the apply step can store (hypothesis).

Payloads are the platforms' sample shapes with fields replaced by drawn values: any text (NUL,
astral characters, long strings), integers far past any column, amounts with many digits, dates at
the ends of the calendar. Each is parsed as the web process parses it; when parsing accepts it, it is
stored as a delivery and applied through the worker's own service, inside a transaction that is
rolled back. Nothing parse accepts may fail there for want of room (a DataError, a NUL refused).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction
from django_tenants.utils import schema_context
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from config.errors import ApplicationError
from orders.models import Product, Variant, WebhookDelivery
from orders.platforms import json_loads_exact, payload_parse
from orders.services.webhooks import webhook_delivery_apply
from tests.orders import payloads

# Mostly values a column could hold, near its edges, and some that no column can.
texts = st.one_of(st.text(st.characters(exclude_characters="\x00"), min_size=1, max_size=70),
                  st.text(max_size=320))
big_ints = st.one_of(st.integers(min_value=1, max_value=2**31 - 1), st.integers(min_value=-(2**70), max_value=2**70))
amounts = st.one_of(st.decimals(min_value=0, max_value=10**17, places=2).map(str), big_ints,
                    st.sampled_from(["99999999999999999.99", "92233720368547758.07", "0.01", "1e30"]))
moments = st.sampled_from(["2026-11-02T10:00:00-05:00", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
                           "2026-11-02T10:00:00", "1970-01-01T00:00:00Z"])


class Rollback(Exception):
    """Leaves the transaction an example ran in, undoing what it stored."""


@st.composite
def shopify_orders(draw: st.DrawFn) -> dict[str, Any]:
    order = payloads.shopify_order(name=draw(st.one_of(texts, st.just("#8001"))),
                                   email=draw(texts), price=draw(amounts), total=draw(amounts),
                                   fulfillments=[{"status": "success", "tracking_company": draw(texts),
                                                  "tracking_number": draw(texts), "tracking_url": draw(texts)}])
    order["id"] = draw(st.one_of(big_ints, texts))
    order["created_at"] = draw(moments)
    order["phone"] = draw(texts)
    line = order["line_items"][0]
    line.update(quantity=draw(big_ints), sku=draw(texts), name=draw(texts))
    if draw(st.booleans()):
        del order["subtotal_price"]
    return order


@st.composite
def shopify_products(draw: st.DrawFn) -> dict[str, Any]:
    product = payloads.shopify_product(product_id=draw(big_ints), price=draw(amounts))
    product.update(title=draw(texts), body_html=draw(texts), product_type=draw(texts), tags=draw(texts))
    for variant in product["variants"]:
        variant.update(sku=draw(texts), inventory_quantity=draw(big_ints), option1=draw(texts),
                       option2=draw(texts), inventory_item_id=draw(st.one_of(big_ints, texts)))
    return product


@st.composite
def woocommerce_products(draw: st.DrawFn) -> dict[str, Any]:
    product = payloads.woocommerce_product(product_id=draw(big_ints), price=draw(amounts), stock=draw(big_ints))
    product.update(name=draw(texts), sku=draw(texts), short_description=draw(texts))
    return product


@st.composite
def woocommerce_orders(draw: st.DrawFn) -> dict[str, Any]:
    order = payloads.woocommerce_order(order_id=draw(big_ints), email=draw(texts), total=draw(amounts),
                                       price=draw(amounts))
    order["number"] = draw(texts)
    order["shipping_total"] = draw(amounts)
    order["billing"]["phone"] = draw(texts)
    order["line_items"][0].update(quantity=draw(big_ints), sku=draw(texts), name=draw(texts),
                                  subtotal=draw(amounts))
    if draw(st.booleans()):
        del order["line_items"][0]["price"]  # the unit price is then the subtotal over the quantity
    order["meta_data"] = [{"key": "_wc_shipment_tracking_items",
                           "value": [{"tracking_provider": draw(texts), "tracking_number": draw(texts),
                                      "custom_tracking_link": draw(texts)}]}]
    return order


def _storable(tenant: object, platform: str, topic: str, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    with schema_context(tenant.schema_name):  # type: ignore[attr-defined]
        try:
            payload_parse(platform=platform, topic=topic, payload=json_loads_exact(body), currency="EUR")
        except ApplicationError as refusal:
            event(f"refused: {refusal.code}")
            return  # refused at the door, with a reason: fine
        event("accepted, then stored")
        try:
            with transaction.atomic():
                delivery = WebhookDelivery.objects.create(platform=platform, delivery_id="property", topic=topic,
                                                          body=body)
                webhook_delivery_apply(delivery_id=delivery.pk)
                raise Rollback
        except Rollback:
            pass


@pytest.fixture
def eur_shop(make_tenant: Callable[..., object]) -> object:
    from orders.services.catalog import commerce_currency_set

    tenant = make_tenant(name="Property shop").tenant  # type: ignore[attr-defined]
    with schema_context(tenant.schema_name):
        commerce_currency_set(currency="EUR")
        # The inventory item the sample inventory level names, so its stock is really written.
        product = Product.objects.create(sku="SH-HARB", name="Harbour Hoodie", price_minor=6495, currency="EUR")
        Variant.objects.create(product=product, sku="SH-HARB-BLU-M", price_minor=6495, stock=7,
                               inventory_ref="39072856")
    return tenant


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@PROPERTY
@given(payload=shopify_orders())
def test_every_shopify_order_parse_accepts_can_be_stored(eur_shop, payload) -> None:
    _storable(eur_shop, "shopify", "orders/create", payload)


@PROPERTY
@given(payload=shopify_products())
def test_every_shopify_product_parse_accepts_can_be_stored(eur_shop, payload) -> None:
    _storable(eur_shop, "shopify", "products/update", payload)


@PROPERTY
@given(payload=woocommerce_products())
def test_every_woocommerce_product_parse_accepts_can_be_stored(eur_shop, payload) -> None:
    _storable(eur_shop, "woocommerce", "product.updated", payload)


@PROPERTY
@given(payload=woocommerce_orders())
def test_every_woocommerce_order_parse_accepts_can_be_stored(eur_shop, payload) -> None:
    _storable(eur_shop, "woocommerce", "order.created", payload)


@PROPERTY
@given(available=big_ints)
def test_every_shopify_inventory_level_parse_accepts_can_be_stored(eur_shop, available) -> None:
    _storable(eur_shop, "shopify", "inventory_levels/update", payloads.shopify_inventory_level(available=available))
