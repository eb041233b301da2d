"""What the assistant will call: order lookup (no probing), catalog search and availability."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from config.content_version import content_version_bump
from orders.models import Product, Variant
from orders.selectors import (
    ORDER_NOT_FOUND,
    catalog_search,
    order_lookup,
    phones_match,
    product_availability,
)


def test_order_lookup_with_the_right_email_or_phone_returns_plain_data(shop_readonly) -> None:
    with schema_context(shop_readonly.schema_name):
        found = order_lookup(number="TL-10398", email_or_phone="Maria.Jansen@Example.com ")
        assert found.found and found.order.status == "delivered" and found.order.total == "64.90 EUR"
        assert found.order.carrier == "PostNL" and found.order.tracking_number == "3STHRL0048271"
        assert [step.status for step in found.order.history][-1] == "delivered"
        data = found.as_dict()
        assert json.loads(json.dumps(data))["order"]["items"][0]["sku"] == "TL-HOOD-001-NAV-M"
        assert "email" not in data["order"] and "phone" not in data["order"]
        for phone in ("+31 6 1234 5678", "06 1234 5678", "0031612345678", "06-12345678", "+31 (0)6 12345678"):
            assert order_lookup(number="tl-10398", email_or_phone=phone).found, phone


def test_wrong_contact_detail_gets_exactly_the_missing_order_answer(shop_readonly) -> None:
    with schema_context(shop_readonly.schema_name):
        wrong_email = order_lookup(number="TL-10398", email_or_phone="lucas.peeters@example.com")
        wrong_phone = order_lookup(number="TL-10398", email_or_phone="+31 6 9999 9999")
        missing = order_lookup(number="TL-99999", email_or_phone="maria.jansen@example.com")
        empty = order_lookup(number="TL-10398", email_or_phone="")
        assert wrong_email == wrong_phone == missing == empty == ORDER_NOT_FOUND
        assert wrong_email.as_dict() == missing.as_dict()


def test_orders_of_one_tenant_are_not_found_in_another(shop_readonly, tenant_b) -> None:
    with schema_context(tenant_b.schema_name):
        assert order_lookup(number="TL-10398", email_or_phone="maria.jansen@example.com") == ORDER_NOT_FOUND


def test_phone_matching_is_by_digits_but_not_loose() -> None:
    assert phones_match("+31 6 1234 5678", "0612345678")
    assert not phones_match("+31 6 1234 5678", "5678")
    assert not phones_match("+31 6 1234 5678", "06 1234 5679")
    assert not phones_match("", "0612345678")


def test_catalog_search_tolerates_typos_and_synonyms(shop_readonly) -> None:
    with schema_context(shop_readonly.schema_name):
        hoddie = catalog_search(query="hoddie", limit=5)
        assert hoddie.found and all("Hoodie" in match.name for match in hoddie.matches[:3])
        jeans = catalog_search(query="straigt leg jeens", limit=3)
        assert jeans.matches[0].name == "Straight Leg Jeans"
        assert catalog_search(query="hoody", limit=3).matches[0].category == "Hoodies & sweats"
        nothing = catalog_search(query="motorbike helmet", limit=5)
        assert not nothing.found and nothing.as_dict() == {"query": "motorbike helmet", "found": False, "matches": []}


def test_catalog_search_uses_descriptions_through_full_text(shop_readonly) -> None:
    with schema_context(shop_readonly.schema_name):
        result = catalog_search(query="kangaroo pocket", limit=3)
        assert result.matches and result.matches[0].name == "Essential Hoodie"


def test_cafe_search_handles_accents_and_misspellings(cafe) -> None:
    with schema_context(cafe.schema_name):
        assert catalog_search(query="capuccino", limit=1).matches[0].name == "Cappuccino"
        assert catalog_search(query="latté", limit=1).matches[0].name == "Latte"
        assert catalog_search(query="flat wite", limit=1).matches[0].name == "Flat White"


def test_availability_of_the_blue_hoodie_in_m(shop_readonly) -> None:
    with schema_context(shop_readonly.schema_name):
        result = product_availability(query="the blue hoodie in M")
        best = result.products[0]
        assert best.name == "Harbour Hoodie"
        assert [(v.size, v.colour, v.stock) for v in best.variants] == [("M", "Blue", 11)]
        assert best.available and best.variants[0].price == "64.95 EUR"
        assert json.loads(json.dumps(result.as_dict()))["products"][0]["variants"][0]["sku"] == "TL-HOOD-002-BLU-M"

        separate = product_availability(query="blue hoodie", variant="L")
        assert separate.products[0].variants[0].stock == 0 and not separate.products[0].available

        navy = product_availability(query="essential hoodie", variant="navy medium")
        assert [(v.sku, v.available) for v in navy.products[0].variants] == [("TL-HOOD-001-NAV-M", False)]

        absent = product_availability(query="essential hoodie", variant="XXS")
        assert absent.products[0].name == "Essential Hoodie"
        assert not absent.products[0].variant_found and absent.products[0].variants == ()


def test_availability_without_a_variant_lists_them_all(shop_readonly) -> None:
    with schema_context(shop_readonly.schema_name):
        product = product_availability(query="Zip Hoodie").products[0]
        assert product.name == "Zip Hoodie"
        assert len(product.variants) == Variant.objects.filter(product__name="Zip Hoodie").count()


@pytest.mark.parametrize("call", [
    lambda: catalog_search(query="blue hoddie", limit=10),
    lambda: product_availability(query="blue hoodie in M"),
    lambda: order_lookup(number="TL-10398", email_or_phone="maria.jansen@example.com"),
])
def test_selectors_use_a_fixed_number_of_queries(shop, call) -> None:
    with schema_context(shop.schema_name):
        content_version_bump()  # nothing cached yet, as after the products written below
        with CaptureQueriesContext(connection) as small:
            call()
        # Ten times the catalog must not mean more queries.
        template = Product.objects.get(sku="TL-HOOD-001")
        for index in range(40):
            copy = Product.objects.create(sku=f"COPY-{index}", name=f"Copy Hoodie {index}", price_minor=100,
                                          currency="EUR", synonyms=["hoodie"], category=template.category)
            Variant.objects.bulk_create(Variant(product=copy, sku=f"COPY-{index}-{size}", size=size, colour="Blue",
                                                price_minor=100, stock=1) for size in ("S", "M", "L"))
        content_version_bump()  # written here past the services, which would have bumped it
        with CaptureQueriesContext(connection) as large:
            call()
        def real(context: CaptureQueriesContext) -> list[str]:
            return [q["sql"] for q in context.captured_queries if not q["sql"].startswith("SET search_path")]

        assert len(real(large)) == len(real(small)) <= 5, real(large)
        # Once the catalog index is built, a search reads only the version, full text and live stock.
        with CaptureQueriesContext(connection) as warm:
            call()
        assert len(real(warm)) <= 3, real(warm)


def test_search_sees_stock_changes_at_once(shop) -> None:
    with schema_context(shop.schema_name):
        assert product_availability(query="blue hoodie", variant="L").products[0].variants[0].stock == 0
        Variant.objects.filter(sku="TL-HOOD-002-BLU-L").update(stock=4)
        fresh = product_availability(query="blue hoodie", variant="L").products[0]
        assert fresh.variants[0].stock == 4 and fresh.available
