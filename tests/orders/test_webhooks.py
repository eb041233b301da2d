"""Shop webhooks through a real daphne process and a real Celery worker.

Every bad input gets a clear answer in the one error shape and stores nothing; a delivery is stored
once however many copies arrive; the worker applies it (order status, tracking, stock) end to end.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest
from django.db import connection
from django_tenants.utils import schema_context

from config.outbox.models import OutboxMessage
from config.redis import redis_client
from orders.models import Order, Product, Variant, WebhookDelivery
from orders.services.catalog import shop_secret_set
from orders.services.webhooks import webhook_receive
from tenants.models import DeadLetter
from tests.orders import payloads
from tests.orders.conftest import SHOPIFY_SECRET, WOO_SECRET, domain_of
from tests.support.processes import WebServer, Worker, wait_until

SHOPIFY = "/webhooks/shopify/"
WOO = "/webhooks/woocommerce/"


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    """One worker for the module, started on empty queues (this test process's own Redis database)."""
    redis_client().flushdb()
    process = Worker(queues="high", concurrency=2)
    yield process
    process.stop()


def post_shopify(web: WebServer, tenant: object, payload: dict, topic: str, *, secret: str = SHOPIFY_SECRET,
                 delivery_id: str | None = None) -> httpx.Response:
    raw = payloads.body(payload)
    with web.client(domain_of(tenant)) as client:
        return client.post(SHOPIFY, content=raw,
                           headers=payloads.shopify_headers(secret, raw, topic, delivery_id))


def post_woo(web: WebServer, tenant: object, payload: dict, topic: str) -> httpx.Response:
    raw = payloads.body(payload)
    with web.client(domain_of(tenant)) as client:
        return client.post(WOO, content=raw, headers=payloads.woocommerce_headers(WOO_SECRET, raw, topic))


def deliveries(tenant: object) -> int:
    with schema_context(tenant.schema_name):  # type: ignore[attr-defined]
        return WebhookDelivery.objects.count()


def order_in(tenant: object, **lookup: object) -> Order | None:
    with schema_context(tenant.schema_name):  # type: ignore[attr-defined]
        return Order.objects.filter(**lookup).first()


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"} and error["code"] == code and error["message"]
    return error


# ----------------------------------------------------------------------------- refused at the door


def test_wrong_or_missing_signature_is_401_and_stores_nothing(web, connected) -> None:
    raw = payloads.body(payloads.shopify_order())
    headers = payloads.shopify_headers("not-the-secret-at-all", raw, "orders/create")
    with web.client(domain_of(connected)) as client:
        assert_error(client.post(SHOPIFY, content=raw, headers=headers), 401, "invalid_signature")
        del headers["X-Shopify-Hmac-Sha256"]
        assert_error(client.post(SHOPIFY, content=raw, headers=headers), 401, "invalid_signature")
        tampered = payloads.shopify_headers(SHOPIFY_SECRET, raw, "orders/create")
        assert_error(client.post(SHOPIFY, content=raw.replace(b"59.95", b"0.01"), headers=tampered), 401,
                     "invalid_signature")
    assert deliveries(connected) == 0


def test_a_tenant_without_a_secret_refuses_everything(web, tenant_a) -> None:
    response = post_shopify(web, tenant_a, payloads.shopify_order(), "orders/create")
    assert_error(response, 401, "invalid_signature")
    assert deliveries(tenant_a) == 0


def test_tenant_a_secret_cannot_write_into_tenant_b(web, connected, make_tenant) -> None:
    other = make_tenant(name="Other shop").tenant
    with schema_context(other.schema_name):
        shop_secret_set(platform="shopify", secret="a-different-secret-for-b")
    response = post_shopify(web, other, payloads.shopify_order(), "orders/create", secret=SHOPIFY_SECRET)
    assert_error(response, 401, "invalid_signature")
    assert deliveries(other) == 0 and deliveries(connected) == 0


def test_body_that_is_not_json_is_400(web, connected) -> None:
    raw = b"<xml>not json</xml>"
    with web.client(domain_of(connected)) as client:
        response = client.post(SHOPIFY, content=raw, headers=payloads.shopify_headers(SHOPIFY_SECRET, raw,
                                                                                      "orders/create"))
    assert_error(response, 400, "invalid_json")
    assert deliveries(connected) == 0


def test_unknown_topic_is_200_and_ignored(web, connected) -> None:
    response = post_shopify(web, connected, {"id": 1}, "carts/create")
    assert response.status_code == 200 and response.json()["status"] == "ignored"
    assert deliveries(connected) == 0


def test_payload_missing_fields_is_400_naming_them(web, connected) -> None:
    incomplete = payloads.shopify_order()
    del incomplete["line_items"], incomplete["currency"]
    error = assert_error(post_shopify(web, connected, incomplete, "orders/create"), 400, "invalid_payload")
    assert set(error["details"]["missing"]) == {"line_items", "currency"}
    zero = payloads.shopify_order()
    zero["line_items"][0]["quantity"] = 0
    assert_error(post_shopify(web, connected, zero, "orders/create"), 400, "invalid_payload")
    assert deliveries(connected) == 0


def test_unknown_currency_and_inexact_prices_are_refused(web, connected) -> None:
    error = assert_error(post_shopify(web, connected, payloads.shopify_order(currency="XXY"), "orders/create"),
                         400, "unknown_currency")
    assert "XXY" in error["message"]
    assert_error(post_shopify(web, connected, payloads.shopify_order(price="19.999"), "orders/create"), 400,
                 "invalid_amount")
    assert_error(post_shopify(web, connected, payloads.shopify_order(price="lots"), "orders/create"), 400,
                 "invalid_amount")
    assert deliveries(connected) == 0


def test_a_body_over_the_limit_is_413(web, connected) -> None:
    raw = b'{"padding": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    with web.client(domain_of(connected)) as client:
        response = client.post(SHOPIFY, content=raw, headers=payloads.shopify_headers(SHOPIFY_SECRET, raw,
                                                                                      "orders/create"))
    error = assert_error(response, 413, "payload_too_large")
    assert error["details"]["limit_bytes"] == 1_048_576
    assert deliveries(connected) == 0


def test_get_is_not_allowed(web, connected) -> None:
    with web.client(domain_of(connected)) as client:
        assert client.get(SHOPIFY).status_code == 405


# ----------------------------------------------------------------------------- once, however many copies


def test_twenty_copies_in_parallel_threads_store_one_delivery(connected) -> None:
    raw = payloads.body(payloads.shopify_order(name="#2001", order_id=2001))
    headers = payloads.shopify_headers(SHOPIFY_SECRET, raw, "orders/create", "same-delivery-in-process")
    barrier = threading.Barrier(20)
    results: list[str] = []

    def deliver() -> None:
        try:
            with schema_context(connected.schema_name):
                barrier.wait()
                results.append(webhook_receive(platform="shopify", headers=headers, body=raw).status)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["accepted"] + ["duplicate"] * 19
    assert deliveries(connected) == 1


def test_twenty_identical_deliveries_over_http_make_one_change(web, worker, connected) -> None:
    created = post_shopify(web, connected, payloads.shopify_order(name="#3001", order_id=3001,
                                                                  financial_status="pending"), "orders/create")
    assert created.status_code == 200 and created.json()["status"] == "accepted"
    wait_until(lambda: order_in(connected, number="#3001"), message="order created by the worker")

    raw = payloads.body(payloads.shopify_order(name="#3001", order_id=3001, financial_status="paid",
                                               updated_at="2026-11-02T11:00:00-05:00"))
    headers = payloads.shopify_headers(SHOPIFY_SECRET, raw, "orders/updated", "paid-delivery-3001")
    barrier = threading.Barrier(20)
    statuses: list[tuple[int, str]] = []

    def deliver() -> None:
        with web.client(domain_of(connected)) as client:
            barrier.wait()
            response = client.post(SHOPIFY, content=raw, headers=headers)
            statuses.append((response.status_code, response.json()["status"]))

    threads = [threading.Thread(target=deliver) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [(200, "accepted")] + [(200, "duplicate")] * 19
    wait_until(lambda: order_in(connected, number="#3001").status == "paid", message="order paid")
    with schema_context(connected.schema_name):
        assert WebhookDelivery.objects.filter(delivery_id="paid-delivery-3001").count() == 1
        wait_until(lambda: WebhookDelivery.objects.filter(state="processed").count() == 2, message="processed")
        history = [(c.from_status, c.to_status) for c in Order.objects.get(number="#3001").history.all()]
    assert history == [("", "pending"), ("pending", "paid")]


# ----------------------------------------------------------------------------- end to end


def test_shopify_order_fulfillment_and_stock_end_to_end(web, worker, connected) -> None:
    order = payloads.shopify_order(name="#4001", order_id=4001, price=19.99, total="24.94")
    created = post_shopify(web, connected, order, "orders/create", delivery_id="create-4001")
    assert created.json() == {"status": "accepted", "topic": "orders/create", "delivery_id": "create-4001"}
    placed = wait_until(lambda: order_in(connected, number="#4001"), message="order created")
    assert placed.status == "paid" and placed.total_minor == 2494 and placed.shipping_minor == 495
    with schema_context(connected.schema_name):
        assert placed.items.get().unit_price_minor == 1999  # 19.99 as a JSON number, read exactly
    # The shop retries a delivery it thinks failed: the replay is recognised and changes nothing.
    replay = post_shopify(web, connected, order, "orders/create", delivery_id="create-4001")
    assert replay.status_code == 200 and replay.json()["status"] == "duplicate"
    assert deliveries(connected) == 1

    shipped = payloads.shopify_fulfillment(order_id=4001)
    assert post_shopify(web, connected, shipped, "fulfillments/create").status_code == 200
    wait_until(lambda: order_in(connected, number="#4001").status == "shipped", message="order shipped")
    tracked = order_in(connected, number="#4001")
    assert tracked.carrier == "PostNL" and tracked.tracking_number == "3STHRL0048271"
    assert tracked.tracking_url == "https://postnl.example/track/3STHRL0048271"

    # An orders/updated older than what we know arrives late: nothing moves back.
    late = payloads.shopify_order(name="#4001", order_id=4001, price=19.99, total="24.94",
                                  updated_at="2026-11-02T10:05:00-05:00")
    post_shopify(web, connected, late, "orders/updated", delivery_id="late-4001")
    delivered = payloads.shopify_fulfillment(order_id=4001, shipment_status="delivered",
                                             updated_at="2026-11-03T09:00:00-05:00")
    post_shopify(web, connected, delivered, "fulfillments/update")
    wait_until(lambda: order_in(connected, number="#4001").status == "delivered", message="order delivered")
    with schema_context(connected.schema_name):
        wait_until(lambda: WebhookDelivery.objects.filter(delivery_id="late-4001", state="processed").exists(),
                   message="late delivery processed")
        assert "stale" in WebhookDelivery.objects.get(delivery_id="late-4001").outcome
        assert [c.to_status for c in Order.objects.get(number="#4001").history.all()] == [
            "pending", "paid", "shipped", "delivered"]

    post_shopify(web, connected, payloads.shopify_product(), "products/update")
    with schema_context(connected.schema_name):
        product = wait_until(lambda: Product.objects.filter(external_ref="632910392").first(),
                             message="product created")
        assert product.currency == "EUR" and product.price_minor == 6495 and "washed blue" in product.description
        assert product.image_url.startswith("https://cdn.shopify.com/") and product.page_url == ""
        assert Variant.objects.get(sku="SH-HARB-BLU-M").stock == 7
    post_shopify(web, connected, payloads.shopify_inventory_level(available=2), "inventory_levels/update")
    with schema_context(connected.schema_name):
        wait_until(lambda: Variant.objects.get(sku="SH-HARB-BLU-M").stock == 2, message="stock updated")


def test_woocommerce_order_and_product_end_to_end(web, worker, connected) -> None:
    assert post_woo(web, connected, payloads.woocommerce_order(), "order.created").json()["status"] == "accepted"
    placed = wait_until(lambda: order_in(connected, number="727"), message="woo order created")
    assert placed.status == "paid" and placed.total_minor == 2935 and placed.email == "john.doe@example.com"
    with schema_context(connected.schema_name):
        assert placed.items.get().unit_price_minor == 2199
    completed = payloads.woocommerce_order(status="completed", modified_gmt="2026-11-03T08:00:00")
    post_woo(web, connected, completed, "order.updated")
    wait_until(lambda: order_in(connected, number="727").status == "shipped", message="woo order completed")

    post_woo(web, connected, payloads.woocommerce_product(price="21.99", stock=5), "product.updated")
    with schema_context(connected.schema_name):
        variant = wait_until(lambda: Variant.objects.filter(sku="WOO-PREMIUM-STD").first(), message="woo product")
        assert variant.price_minor == 2199 and variant.stock == 5 and variant.product.category == "Clothing"
        assert variant.product.page_url == "https://example.com/product/premium-quality/"
        assert variant.product.image_url == "https://example.com/wp-content/uploads/2026/11/T_2_front.jpg"


def test_a_delivery_that_keeps_failing_lands_in_the_dead_letter_store(web, worker, connected) -> None:
    orphan = payloads.shopify_fulfillment(order_id=999999)
    response = post_shopify(web, connected, orphan, "fulfillments/create", delivery_id="orphan-fulfillment")
    assert response.json()["status"] == "accepted"
    letter = wait_until(lambda: DeadLetter.objects.filter(task_name="orders.tasks.webhook_delivery_process",
                                                          schema_name=connected.schema_name).first(),
                        timeout=60, message="dead letter")
    assert "OrderNotFound" in letter.error and letter.attempts == 3
    with schema_context(connected.schema_name):
        delivery = WebhookDelivery.objects.get(delivery_id="orphan-fulfillment")
        assert delivery.state == "failed" and "999999" in delivery.outcome and delivery.attempts == 3
        assert not Order.objects.filter(external_ref="999999").exists()
        # Its outbox row gave up with it: the relay does not send a dead-lettered delivery again.
        promise = wait_until(lambda: OutboxMessage.objects.filter(given_up_at__isnull=False).first(),
                             message="outbox row given up")
        assert promise.done_at is None and "OrderNotFound" in promise.last_error
