"""A product's prices are always in the product's own currency, whatever the shop sends later."""

from __future__ import annotations

from django_tenants.utils import schema_context

from orders.models import Product, Variant
from orders.platforms import woocommerce_product
from orders.services.catalog import product_upsert_from_platform
from tests.orders import payloads


def _variation(price: str, stock: int) -> dict:
    payload = payloads.woocommerce_product(product_id=800, price=price, stock=stock)
    payload.update(parent_id=799, sku="WOO-PREMIUM-M", attributes=[{"name": "Size", "option": "M"}])
    return payload


def test_a_variation_priced_in_another_currency_than_its_product_changes_its_stock_not_its_price(tenant_a) -> None:
    with schema_context(tenant_a.schema_name):
        product_upsert_from_platform(data=woocommerce_product(payloads.woocommerce_product(), currency="EUR"),
                                     currency="EUR")
        product_upsert_from_platform(data=woocommerce_product(_variation("21.99", 4), currency="EUR"), currency="EUR")
        variant = Variant.objects.get(sku="WOO-PREMIUM-M")
        assert (variant.price_minor, variant.stock) == (2199, 4)

        outcome = product_upsert_from_platform(data=woocommerce_product(_variation("3300", 2), currency="JPY"),
                                               currency="JPY")

        variant.refresh_from_db()
        assert (variant.price_minor, variant.stock) == (2199, 2)
        assert "price not applied" in outcome and "JPY" in outcome and "EUR" in outcome
        assert Product.objects.get(pk=variant.product_id).currency == "EUR"
