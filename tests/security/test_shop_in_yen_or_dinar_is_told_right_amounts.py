"""A shop selling in yen or in Kuwaiti dinars: its customers and its owner see the amounts it charged.

Orders arrive as signed Shopify webhooks over real HTTP at a real daphne process and are applied by a
real Celery worker; the customer asks the assistant (offline mode, through `manage.py assistant ask`,
the same services and engine a widget visitor reaches); the owner reads the dashboard's order page
over real HTTP after logging in. Before the fix the assistant divided every amount by 100: ¥1000 was
told as "10.00 JPY" and 1.500 KWD as "15.00 KWD".
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.core.management import call_command
from django_tenants.utils import schema_context

from chat.assistant.resilience import circuit_reset
from config.redis import redis_client
from orders.models import Order, Product, WebhookDelivery
from orders.services.catalog import commerce_currency_set
from tests.orders import payloads
from tests.orders.conftest import SHOPIFY_SECRET, Shop, shop_with_owner
from tests.support.fake_openai import FakeOpenAIServer
from tests.support.processes import WebServer, Worker, wait_until

OWNER_PASSWORD = "owner-pass-for-yen-1234"


@pytest.fixture(autouse=True)
def _offline(settings: Any) -> None:
    settings.OPENAI_API_KEY = ""
    settings.ASSISTANT_CACHE_ENABLED = False


@pytest.fixture(scope="module")
def web() -> Iterator[WebServer]:
    server = WebServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    redis_client().flushdb()
    process = Worker(queues="high", concurrency=1)
    yield process
    process.stop()


@pytest.fixture
def make_shop(make_tenant: Any) -> Any:
    def _make(currency: str) -> Shop:
        return shop_with_owner(make_tenant, name=f"Shop in {currency}", timezone_name="Asia/Tokyo", currency=currency,
                               platforms=["shopify"], owner_password=OWNER_PASSWORD)

    return _make


def shopify_order(*, name: str, currency: str, price: str, shipping: str, total: str) -> dict[str, Any]:
    payload = payloads.shopify_order(order_id=int(uuid.uuid4().int % 10**15), name=name, currency=currency,
                                     price=price, total=total)
    payload["total_shipping_price_set"] = {"shop_money": {"amount": shipping, "currency_code": currency},
                                           "presentment_money": {"amount": shipping, "currency_code": currency}}
    return payload


def post_order(web: WebServer, shop: Shop, payload: dict[str, Any]) -> httpx.Response:
    raw = payloads.body(payload)
    with web.client(shop.domain) as client:
        return client.post("/webhooks/shopify/", content=raw,
                           headers=payloads.shopify_headers(SHOPIFY_SECRET, raw, "orders/create"))


def applied_order(shop: Shop, number: str) -> Order:
    def find() -> Order | None:
        with schema_context(shop.tenant.schema_name):
            return Order.objects.filter(number=number).first()

    wait_until(lambda: find() is not None, timeout=60, message=f"order {number} applied by the worker")
    order = find()
    assert order is not None
    return order


def customer_asks(shop: Shop, text: str, *, mode: str = "offline") -> str:
    out = io.StringIO()
    call_command("assistant", "ask", "--tenant", shop.tenant.schema_name, "--json", text, stdout=out)
    answer = json.loads(out.getvalue())
    assert answer["mode"] == mode and answer["replied"], answer
    return str(answer["answer"])


@contextlib.contextmanager
def owner_session(web: WebServer, shop: Shop) -> Iterator[httpx.Client]:
    """The owner logged in through the real login form, as a browser would."""
    with web.client(shop.domain) as client:
        yield _logged_in(client, shop)


def _logged_in(client: httpx.Client, shop: Shop) -> httpx.Client:
    assert client.get("/app/login/").status_code == 200
    token = client.cookies.get("csrftoken")
    response = client.post("/app/login/", data={"username": shop.owner_email, "password": OWNER_PASSWORD,
                                                 "csrfmiddlewaretoken": token},
                           headers={"Referer": f"http://{shop.domain}/app/login/"})
    assert response.status_code == 302, response.text
    return client


def order_page_text(web: WebServer, shop: Shop, order: Order) -> str:
    with owner_session(web, shop) as client:
        page = client.get(f"/app/orders/{order.pk}/")
    assert page.status_code == 200
    return re.sub(r"\s+", " ", page.text)


# ----------------------------------------------------------------------------- orders from the shop


def test_a_yen_order_is_told_and_shown_in_yen(web: WebServer, worker: Worker, make_shop: Any) -> None:
    shop = make_shop("JPY")
    response = post_order(web, shop, shopify_order(name="#3001", currency="JPY", price="1000", shipping="500",
                                                   total="1500"))
    assert response.status_code == 200, response.text
    order = applied_order(shop, "#3001")
    assert (order.currency, order.total_minor, order.shipping_minor) == ("JPY", 1500, 500)

    answer = customer_asks(shop, "Where is my order #3001? My email is jon@example.com")
    assert "Total: ¥1,500." in answer, answer
    assert "15.00" not in answer and "JPY" not in answer

    page = order_page_text(web, shop, order)
    assert "1500 JPY" in page and "1000 JPY" in page
    assert "15.00 JPY" not in page and "10.00 JPY" not in page


def test_a_dinar_order_is_told_and_shown_with_three_decimals(web: WebServer, worker: Worker, make_shop: Any) -> None:
    shop = make_shop("KWD")
    response = post_order(web, shop, shopify_order(name="#3002", currency="KWD", price="1.500", shipping="0.750",
                                                   total="2.250"))
    assert response.status_code == 200, response.text
    order = applied_order(shop, "#3002")
    assert (order.currency, order.total_minor, order.shipping_minor) == ("KWD", 2250, 750)

    answer = customer_asks(shop, "Where is my order #3002? My email is jon@example.com")
    assert "Total: 2.250 KWD." in answer, answer
    assert "22.50" not in answer

    page = order_page_text(web, shop, order)
    assert "2.250 KWD" in page and "1.500 KWD" in page and "22.50" not in page and "15.00" not in page


def test_a_model_that_misplaces_the_dinars_decimal_point_is_caught_before_the_customer_sees_it(
        web: WebServer, worker: Worker, make_shop: Any, settings: Any) -> None:
    """The fact check reads "22.500 KWD" as twenty-two and a half dinars (not a figure it could skip) and the
    order's 2.250 KWD in dinars: the wrong total is refused and the model's corrected answer is sent."""
    shop = make_shop("KWD")
    post_order(web, shop, shopify_order(name="#3006", currency="KWD", price="1.500", shipping="0.750", total="2.250"))
    applied_order(shop, "#3006")
    truth = "Your order #3006 comes to 2.250 KWD."
    with FakeOpenAIServer() as llm:
        asyncio.run(circuit_reset(base_url=llm.base_url))
        settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = "sk-test-money-0123456789", llm.base_url
        settings.OPENAI_CHAT_MODEL = "gpt-4o-mini"
        llm.script_reply(tool_calls=[{"name": "order_lookup",
                                      "arguments": {"number": "#3006", "email_or_phone": "jon@example.com"}}])
        llm.script_reply(text="Your order #3006 comes to 22.500 KWD.")
        llm.script_reply(text=truth)
        answer = customer_asks(shop, "How much was my order #3006? My email is jon@example.com", mode="llm")
        asyncio.run(circuit_reset(base_url=llm.base_url))
    assert answer == truth
    assert "22.500 KWD" in str(llm.chat_requests[-1].json["messages"][-1]["content"]), "the model is told what was wrong"


def test_a_euro_order_keeps_its_cents(web: WebServer, worker: Worker, make_shop: Any) -> None:
    shop = make_shop("EUR")
    response = post_order(web, shop, shopify_order(name="#3003", currency="EUR", price="59.95", shipping="4.95",
                                                   total="64.90"))
    assert response.status_code == 200, response.text
    order = applied_order(shop, "#3003")
    assert order.total_minor == 6490
    assert "Total: €64.90." in customer_asks(shop, "Where is my order #3003? My email is jon@example.com")
    assert "64.90 EUR" in order_page_text(web, shop, order)


def test_a_currency_the_platform_does_not_know_is_refused_at_the_door(web: WebServer, make_shop: Any) -> None:
    shop = make_shop("EUR")
    response = post_order(web, shop, shopify_order(name="#3004", currency="XBT", price="1", shipping="0",
                                                   total="1"))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unknown_currency" and "XBT" in error["message"] and "ISO 4217" in error["message"]
    with schema_context(shop.tenant.schema_name):
        assert not WebhookDelivery.objects.exists() and not Order.objects.exists()


def test_an_amount_finer_than_the_currency_allows_is_refused(web: WebServer, make_shop: Any) -> None:
    """¥10.50 does not exist: the shop sent hundredths of a yen, a bug we do not paper over by rounding."""
    shop = make_shop("JPY")
    response = post_order(web, shop, shopify_order(name="#3005", currency="JPY", price="10.50", shipping="0",
                                                   total="10.50"))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_amount" and "JPY allows (0)" in error["message"]


# ----------------------------------------------------------------------------- the catalog


def _upload(web: WebServer, shop: Shop, csv_text: str) -> httpx.Response:
    with owner_session(web, shop) as client:
        client.get("/app/catalog/")
        return client.post("/app/catalog/upload/",
                           data={"csrfmiddlewaretoken": client.cookies.get("csrftoken")},
                           files={"file": ("catalog.csv", csv_text.encode(), "text/csv")},
                           headers={"Referer": f"http://{shop.domain}/app/catalog/"})


CSV_HEADER = "product_sku,name,category,description,price,currency,synonyms,variant_sku,size,colour,stock\n"


def test_a_yen_catalog_import_is_priced_and_told_in_yen(web: WebServer, make_shop: Any) -> None:
    shop = make_shop("JPY")
    response = _upload(web, shop, CSV_HEADER + "TEA-1,Sencha tea,Tea,Green tea,1000,JPY,,TEA-1-100G,100g,,12\n")
    assert response.status_code == 302, response.text
    with schema_context(shop.tenant.schema_name):
        product = Product.objects.get(sku="TEA-1")
    assert (product.currency, product.price_minor) == ("JPY", 1000)

    with owner_session(web, shop) as client:
        listing = re.sub(r"\s+", " ", client.get("/app/catalog/").text)
    assert "1000 JPY" in listing and "10.00 JPY" not in listing

    answer = customer_asks(shop, "Do you have the sencha tea?")
    assert "¥1,000" in answer and "10.00" not in answer, answer


def test_a_shop_that_moves_to_yen_has_its_products_priced_and_told_in_yen(web: WebServer, worker: Worker,
                                                                         make_shop: Any) -> None:
    """The shop's product snapshots carry prices in its currency of the day: a product first priced in
    euros and then re-sent in yen is in yen, not 9800 read as hundredths of a euro."""
    shop = make_shop("EUR")

    def send_product(price: str) -> None:
        raw = payloads.body(payloads.shopify_product(price=price))
        with web.client(shop.domain) as client:
            response = client.post("/webhooks/shopify/", content=raw,
                                   headers=payloads.shopify_headers(SHOPIFY_SECRET, raw, "products/update"))
        assert response.status_code == 200, response.text

    def priced(currency: str, price_minor: int) -> bool:
        with schema_context(shop.tenant.schema_name):
            return Product.objects.filter(name="Harbour Hoodie", currency=currency, price_minor=price_minor).exists()

    send_product("64.95")
    wait_until(lambda: priced("EUR", 6495), timeout=60, message="the euro product applied")
    with schema_context(shop.tenant.schema_name):
        commerce_currency_set(currency="JPY")
    send_product("9800")
    wait_until(lambda: priced("JPY", 9800), timeout=60, message="the product re-priced in yen")

    answer = customer_asks(shop, "Do you have the harbour hoodie in M?")
    assert "¥9,800" in answer and "98.00" not in answer, answer


def test_a_catalog_in_an_unknown_currency_is_refused_with_a_clear_message(web: WebServer, make_shop: Any) -> None:
    shop = make_shop("EUR")
    response = _upload(web, shop, CSV_HEADER + "TEA-2,Hojicha,Tea,Roasted,1000,XBT,,TEA-2-100G,100g,,3\n")
    assert "XBT" in response.text and "is not a currency we know" in response.text
    with schema_context(shop.tenant.schema_name):
        assert not Product.objects.exists()
