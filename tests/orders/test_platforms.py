"""Platform payloads to commerce facts: exact money, status mapping, shop-side catalog changes."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django_tenants.utils import schema_context

from orders.exceptions import InvalidAmount, InvalidPayload, UnknownCurrency
from orders.models import Product, ShopConnection, Variant
from orders.money import amount_to_minor, minor_to_display
from orders.platforms import (
    json_loads_exact,
    shopify_fulfillment,
    shopify_inventory_level,
    shopify_order,
    woocommerce_order,
    woocommerce_product,
)
from orders.services.catalog import product_upsert_from_platform, variant_stock_set_from_platform
from tests.orders import payloads


def test_money_is_exact_for_strings_and_json_numbers() -> None:
    assert json_loads_exact(b'{"p": 19.99}')["p"] == Decimal("19.99")
    assert amount_to_minor(json_loads_exact(b"[0.29]")[0], currency="EUR") == 29  # 0.29 * 100 as float is 28.999...
    assert amount_to_minor("19.99", currency="EUR") == 1999
    assert amount_to_minor("1200", currency="JPY") == 1200
    assert amount_to_minor("1.234", currency="KWD") == 1234
    assert minor_to_display(1234, currency="KWD") == "1.234 KWD"
    with pytest.raises(InvalidAmount):
        amount_to_minor(19.99, currency="EUR")  # a float already lost precision somewhere
    with pytest.raises(InvalidAmount):
        amount_to_minor("12.5", currency="JPY")
    with pytest.raises(UnknownCurrency):
        amount_to_minor("1.00", currency="EURO")


@pytest.mark.parametrize("amount", ["1e999999", "1E+999998", "1e300000", "99999999999999999999999"])
def test_absurdly_large_amounts_are_refused(amount: str) -> None:
    with pytest.raises(InvalidAmount, match="too large"):  # was decimal.Overflow, or seconds building an int
        amount_to_minor(amount, currency="EUR")


@pytest.mark.parametrize("available", ["\u00b2", "--5", "9" * 5000, Decimal("1e300000")])
def test_a_whole_number_int_cannot_read_is_a_clear_payload_error(available: object) -> None:
    with pytest.raises(InvalidPayload, match="whole number"):  # was ValueError, or seconds in int()
        shopify_inventory_level({"inventory_item_id": 1, "available": available})
    assert shopify_inventory_level({"inventory_item_id": 1, "available": "\uff11\uff12"}).available == 12


@pytest.mark.parametrize("price", ["NaN", "Infinity", "1e999999", "1e40"])
def test_a_woocommerce_line_price_decimal_cannot_round_is_a_payload_error(price: str) -> None:
    with pytest.raises(InvalidPayload, match="not a number"):  # was decimal.InvalidOperation / Overflow
        woocommerce_order(json_loads_exact(payloads.body(payloads.woocommerce_order(price=price))))


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"p": 1e99999999999999999999}'])
def test_json_the_parser_cannot_hold_is_invalid_json(body: bytes) -> None:
    with pytest.raises(ValueError, match="unusable JSON"):  # was RecursionError / decimal.InvalidOperation
        json_loads_exact(body)


def test_shopify_statuses_map_onto_the_lifecycle() -> None:
    def status(**kwargs: object) -> str | None:
        return shopify_order(json_loads_exact(payloads.body(payloads.shopify_order(**kwargs)))).status

    assert status(financial_status="pending") == "pending"
    assert status(financial_status="paid") == "paid"
    assert status(financial_status="paid", fulfillment_status="partial") == "packed"
    assert status(financial_status="paid", fulfillment_status="fulfilled") == "shipped"
    assert status(financial_status="refunded") == "refunded"
    assert status(cancelled_at="2026-11-02T12:00:00-05:00") == "cancelled"
    delivered = [{"status": "success", "shipment_status": "delivered", "tracking_company": "DHL"}]
    assert status(fulfillment_status="fulfilled", fulfillments=delivered) == "delivered"
    assert shopify_fulfillment(payloads.shopify_fulfillment(shipment_status="delivered")).status == "delivered"


def test_woocommerce_order_reads_billing_contact_and_exact_totals() -> None:
    data = woocommerce_order(json_loads_exact(payloads.body(payloads.woocommerce_order(price=21.99))))
    assert (data.status, data.email, data.total_minor, data.shipping_minor) == ("paid", "john.doe@example.com",
                                                                                  2935, 736)
    assert data.items[0].unit_price_minor == 2199 and data.updated_at.tzinfo is not None
    with pytest.raises(InvalidPayload) as missing:
        woocommerce_order({"id": 1, "currency": "EUR"})
    assert set(missing.value.details["missing"]) == {"status", "line_items", "total"}


def test_shop_product_and_stock_updates(tenant_a) -> None:
    with schema_context(tenant_a.schema_name):
        product_upsert_from_platform(data=woocommerce_product(payloads.woocommerce_product(), currency="EUR"),
                                     currency="EUR")
        variation = {"id": 801, "parent_id": 799, "sku": "WOO-PREMIUM-M", "price": "23.50", "manage_stock": True,
                     "stock_quantity": 4, "attributes": [{"id": 1, "name": "Size", "option": "M"}]}
        outcome = product_upsert_from_platform(data=woocommerce_product(variation, currency="EUR"), currency="EUR")
        assert "updated" in outcome
        assert Variant.objects.get(sku="WOO-PREMIUM-M").size == "M"
        assert Product.objects.get(sku="WOO-PREMIUM").variants.count() == 2

        product_upsert_from_platform(data=woocommerce_product(payloads.woocommerce_product(price="", stock=None),
                                                              currency="EUR"), currency="EUR")
        assert Variant.objects.get(sku="WOO-PREMIUM-STD").price_minor == 2199  # no price sent: ours kept

        from orders.platforms import shopify_product

        product_upsert_from_platform(data=shopify_product(payloads.shopify_product(), currency="EUR"), currency="EUR")
        oversold = shopify_inventory_level(payloads.shopify_inventory_level(available=-3))
        variant_stock_set_from_platform(data=oversold)
        assert Variant.objects.get(sku="SH-HARB-BLU-M").stock == 0  # oversold is sold out, not negative
        unknown = shopify_inventory_level(payloads.shopify_inventory_level(inventory_item_id=1))
        assert "not in our catalog" in variant_stock_set_from_platform(data=unknown)


PLANTED_ADDRESSES = ["javascript:alert(1)", "JAVASCRIPT:alert(1)", "java\tscript:alert(1)", " javascript:alert(1)",
                     "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)", "/product/premium-quality/",
                     "ftp://example.com/tee.jpg", "https://example.com/" + "a" * 2100]


def test_a_shop_s_product_page_and_picture_are_kept_when_they_are_http_s(tenant_a) -> None:
    from orders.platforms import shopify_product

    woo = woocommerce_product(payloads.woocommerce_product(), currency="EUR")
    assert woo.page_url == "https://example.com/product/premium-quality/"
    assert woo.image_url == "https://example.com/wp-content/uploads/2026/11/T_2_front.jpg"
    shopify = shopify_product(payloads.shopify_product(), currency="EUR")
    # Shopify sends the handle, not the storefront's address: a picture, no page.
    assert shopify.page_url == ""
    assert shopify.image_url.startswith("https://cdn.shopify.com/") and shopify.image_url.endswith("harbour-hoodie.jpg")
    with schema_context(tenant_a.schema_name):
        product_upsert_from_platform(data=woo, currency="EUR")
        stored = Product.objects.get(sku="WOO-PREMIUM")
        assert (stored.page_url, stored.image_url) == (woo.page_url, woo.image_url)
        # A later snapshot without them keeps the ones we have.
        bare = payloads.woocommerce_product()
        del bare["permalink"], bare["images"]
        product_upsert_from_platform(data=woocommerce_product(bare, currency="EUR"), currency="EUR")
        assert Product.objects.get(sku="WOO-PREMIUM").page_url == woo.page_url


@pytest.mark.parametrize("planted", PLANTED_ADDRESSES)
def test_a_planted_product_address_is_dropped_and_the_product_kept(tenant_a, planted: str) -> None:
    from orders.platforms import shopify_product

    payload = payloads.woocommerce_product()
    payload["permalink"], payload["images"] = planted, [{"id": 1, "src": planted}]
    woo = woocommerce_product(payload, currency="EUR")
    assert (woo.page_url, woo.image_url) == ("", "") and woo.name == "Premium Quality"
    shop_payload = payloads.shopify_product()
    shop_payload["image"], shop_payload["images"] = {"src": planted}, [{"src": planted}]
    assert shopify_product(shop_payload, currency="EUR").image_url == ""
    with schema_context(tenant_a.schema_name):
        product_upsert_from_platform(data=woo, currency="EUR")
        assert Product.objects.filter(sku="WOO-PREMIUM", page_url="", image_url="").exists()


def test_shop_secret_command(tenant_a) -> None:
    out = io.StringIO()
    call_command("shop", "secret", "--tenant", tenant_a.schema_name, "--platform", "shopify", stdout=out)
    assert "not set" in out.getvalue()
    call_command("shop", "secret", "--tenant", tenant_a.schema_name, "--platform", "shopify", "--set",
                 "a-long-enough-secret", stdout=out)
    with schema_context(tenant_a.schema_name):
        assert ShopConnection.objects.get(platform="shopify").webhook_secret == "a-long-enough-secret"
    with pytest.raises(CommandError, match="at least 8"):
        call_command("shop", "secret", "--tenant", tenant_a.schema_name, "--platform", "shopify", "--set", "short")
    call_command("shop", "secret", "--tenant", tenant_a.schema_name, "--platform", "shopify", "--clear", stdout=out)
    with schema_context(tenant_a.schema_name):
        assert not ShopConnection.objects.exists()
    with pytest.raises(CommandError, match="no tenant"):
        call_command("shop", "secret", "--tenant", "nosuchtenant", "--platform", "shopify")
