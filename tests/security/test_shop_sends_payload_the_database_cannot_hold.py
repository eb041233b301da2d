"""A shop (or someone holding its secret) sends webhooks whose values the database cannot hold.

Quantities and stock past their integer columns, amounts past a bigint, NUL characters and lone
surrogates (which PostgreSQL refuses in text and jsonb), strings longer than their columns, two
variants with one SKU: each used to be answered
`200 accepted` and then fail in the worker until it was dead-lettered, while the shop believed it
delivered. Each is sent over real HTTP to a real daphne process, signed as the shop signs it, with a
real worker serving the queue: the answer is a 400 in the one error shape naming the field and the
reason, and nothing is stored or dead-lettered. The largest values that do fit are applied.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from django_tenants.utils import schema_context

from config.redis import redis_client
from orders.models import Order, Variant, WebhookDelivery
from tenants.models import DeadLetter
from tests.orders import payloads
from tests.orders.conftest import SHOPIFY_SECRET, WOO_SECRET, domain_of, shop_connect
from tests.support.processes import WebServer, Worker, wait_until

INT_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1


@pytest.fixture(scope="module")
def web() -> Iterator[WebServer]:
    server = WebServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    redis_client().flushdb()
    process = Worker(queues="high")
    yield process
    process.stop()


@pytest.fixture
def shop(make_tenant: Callable[..., object]) -> object:
    tenant = make_tenant(name="Shop with odd payloads").tenant  # type: ignore[attr-defined]
    shop_connect(tenant.schema_name, currency="EUR", platforms=["shopify", "woocommerce"])
    return tenant


def post(web: WebServer, tenant: object, platform: str, topic: str, payload: dict[str, Any]) -> httpx.Response:
    raw = payloads.body(payload)
    if platform == "shopify":
        headers, path = payloads.shopify_headers(SHOPIFY_SECRET, raw, topic), "/webhooks/shopify/"
    else:
        headers, path = payloads.woocommerce_headers(WOO_SECRET, raw, topic), "/webhooks/woocommerce/"
    with web.client(domain_of(tenant)) as client:
        return client.post(path, content=raw, headers=headers)


def _order(**changes: Any) -> dict[str, Any]:
    order = payloads.shopify_order(name="#7001", order_id=7001)
    order.update(changes)
    return order


def _order_line(**changes: Any) -> dict[str, Any]:
    order = _order()
    order["line_items"][0].update(changes)
    return order


def _order_without_subtotal(quantity: int, price: str) -> dict[str, Any]:
    order = _order_line(quantity=quantity, price=price)
    del order["subtotal_price"]  # the subtotal is then the sum of the lines
    return order


def _fulfillment(**changes: Any) -> dict[str, Any]:
    fulfillment = payloads.shopify_fulfillment(order_id=7001)
    fulfillment.update(changes)
    return fulfillment


def _product(**changes: Any) -> dict[str, Any]:
    product = payloads.shopify_product()
    product.update(changes)
    return product


def _product_variant(**changes: Any) -> dict[str, Any]:
    product = payloads.shopify_product()
    product["variants"][0].update(changes)
    return product


def _woo_order_line(**changes: Any) -> dict[str, Any]:
    order = payloads.woocommerce_order()
    order["line_items"][0].update(changes)
    return order


CASES = [
    ("quantity past integer", "shopify", "orders/create", _order_line(quantity=INT_MAX + 1),
     "items[0].quantity", "out_of_range"),
    ("quantity past bigint", "shopify", "orders/create", _order_line(quantity=BIGINT_MAX + 1),
     "items[0].quantity", "out_of_range"),
    ("lines summing past bigint", "shopify", "orders/create", _order_without_subtotal(INT_MAX, "99999999999.99"),
     "subtotal_minor", "out_of_range"),
    ("woo unit price past bigint", "woocommerce", "order.created", _woo_order_line(price="99999999999999999999"),
     "items[0].unit_price_minor", "out_of_range"),
    ("stock past integer", "shopify", "inventory_levels/update",
     payloads.shopify_inventory_level(available=INT_MAX + 1), "available", "out_of_range"),
    ("variant stock past integer", "shopify", "products/update", _product_variant(inventory_quantity=INT_MAX + 1),
     "variants[0].stock", "out_of_range"),
    ("woo stock past integer", "woocommerce", "product.updated", payloads.woocommerce_product(stock=INT_MAX + 1),
     "variants[0].stock", "out_of_range"),
    ("NUL in an item name", "shopify", "orders/create", _order_line(name="Hoodie\x00"),
     "line_items[0].name", "nul_character"),
    ("NUL in the order number", "shopify", "orders/create", _order(name="#70\x0001"), "name", "nul_character"),
    ("NUL in a product description", "shopify", "products/update", _product(body_html="<p>soft\x00</p>"),
     "body_html", "nul_character"),
    ("NUL in a field name", "woocommerce", "order.created", {**payloads.woocommerce_order(), "x\x00": 1},
     "x\x00", "nul_character"),
    ("lone surrogate in a title", "shopify", "products/update", _product(title="Hoodie \ud800"), "title",
     "invalid_unicode"),
    ("order number too long", "shopify", "orders/create", _order(name="#" + "7" * 64), "number", "too_long"),
    ("e-mail too long", "shopify", "orders/create", _order(email="a" * 250 + "@example.com"), "email", "too_long"),
    ("tracking number too long", "shopify", "fulfillments/create", _fulfillment(tracking_number="9" * 101),
     "tracking.tracking_number", "too_long"),
    ("product title too long", "shopify", "products/update", _product(title="H" * 201), "name", "too_long"),
    ("variant SKU too long", "shopify", "products/update", _product_variant(sku="S" * 65),
     "variants[0].sku", "too_long"),
    ("product id too long for its SKU", "shopify", "products/update", _product(id=int("9" * 60)), "sku", "too_long"),
    ("order number of spaces", "shopify", "orders/create", _order(name="   "), "number", "empty"),
    ("two variants with one SKU", "shopify", "products/update",
     _product(variants=[{**variant, "sku": "SAME"} for variant in payloads.shopify_product()["variants"]]),
     "variants[1].sku", "duplicate"),
]


@pytest.mark.parametrize(("platform", "topic", "payload", "field", "reason"), [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_a_payload_the_database_cannot_hold_is_refused_naming_the_field(
        web, worker, shop, platform, topic, payload, field, reason) -> None:
    response = post(web, shop, platform, topic, payload)

    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_payload" and error["message"]
    assert error["details"]["field"] == field and error["details"]["reason"] == reason
    with schema_context(shop.schema_name):  # type: ignore[attr-defined]
        assert WebhookDelivery.objects.count() == 0
        assert not Order.objects.exists()
    assert not DeadLetter.objects.filter(schema_name=shop.schema_name).exists()  # type: ignore[attr-defined]


def test_the_largest_values_that_fit_are_accepted_and_applied(web, worker, shop) -> None:
    order = _order(name="#" + "7" * 63, email="b" * 242 + "@example.com")
    order["line_items"][0].update(quantity=INT_MAX, sku="S" * 64, name="N" * 400)
    accepted = post(web, shop, "shopify", "orders/create", order)
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted", accepted.text
    stock = post(web, shop, "shopify", "products/update", _product_variant(inventory_quantity=INT_MAX))
    assert stock.status_code == 200 and stock.json()["status"] == "accepted", stock.text

    with schema_context(shop.schema_name):  # type: ignore[attr-defined]
        stored = wait_until(lambda: Order.objects.filter(number=order["name"]).first(), message="order applied")
        item = stored.items.get()
        assert (item.quantity, item.sku, len(item.name)) == (INT_MAX, "S" * 64, 300)
        assert stored.email == order["email"]
        wait_until(lambda: Variant.objects.filter(sku="SH-HARB-BLU-M", stock=INT_MAX).exists(),
                   message="stock applied")
        assert WebhookDelivery.objects.filter(state="processed").count() == 2
    assert not DeadLetter.objects.filter(schema_name=shop.schema_name).exists()  # type: ignore[attr-defined]
