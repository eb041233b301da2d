"""Catalog, orders and shop webhooks in the dashboard: agents read, owners change."""

from __future__ import annotations

from datetime import UTC, datetime

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from orders.models import Order, Product, ShopConnection, Variant, WebhookDelivery
from orders.selectors import product_availability
from orders.services.catalog import CATALOG_CSV_HEADER, catalog_import_csv
from tests.dashboard.conftest import Business

CATALOG = "\n".join([
    ",".join(CATALOG_CSV_HEADER),
    'P-1,Linen shirt,Tops,"Light, breathable",49.00,EUR,shirt,P-1-S,S,White,3',
    'P-1,Linen shirt,Tops,"Light, breathable",49.00,EUR,shirt,P-1-M,M,White,0',
    "P-2,Canvas tote,Bags,,19.50,EUR,bag,P-2-OS,,Natural,12",
]) + "\n"


def _catalog(business: Business, text: str = CATALOG) -> None:
    import io

    with schema_context(business.tenant.schema_name):
        catalog_import_csv(stream=io.StringIO(text))


def test_owner_imports_a_catalog_and_edits_stock_and_price(business: Business) -> None:
    owner = business.client(business.owner)
    imported = owner.post("/app/catalog/upload/", {"file": SimpleUploadedFile("catalog.csv", CATALOG.encode())})
    assert imported.status_code == 302
    listing = owner.get("/app/catalog/").content.decode()
    assert "Linen shirt" in listing and "49.00 EUR" in listing
    with schema_context(business.tenant.schema_name):
        variant = Variant.objects.get(sku="P-1-M")
        product_id = variant.product_id
    saved = owner.post(f"/app/catalog/variants/{variant.pk}/edit/",
                       {f"v{variant.pk}-price": "39.50", f"v{variant.pk}-stock": "7", f"v{variant.pk}-is_sellable": "on"})
    assert saved.status_code == 302
    owner.post(f"/app/catalog/{product_id}/edit/", {"name": "Linen shirt", "category": "Tops", "description": "",
                                                    "synonyms": "shirt, blouse", "is_sellable": "on",
                                                    "page_url": " https://shop.example/linen-shirt ",
                                                    "image_url": "https://cdn.shop.example/linen.jpg"})
    with schema_context(business.tenant.schema_name):
        variant.refresh_from_db()
        product = Product.objects.get(pk=product_id)
        assert (variant.stock, variant.price_minor) == (7, 3950)
        assert product.price_minor == 3950 and product.synonyms == ["shirt", "blouse"]
        assert (product.page_url, product.image_url) == ("https://shop.example/linen-shirt",
                                                         "https://cdn.shop.example/linen.jpg")
        found = product_availability(query="linen shirt", variant="M")
        assert found.products[0].available and found.products[0].price_from == "39.50 EUR"
    shown = owner.get(f"/app/catalog/{product_id}/").content.decode()
    assert '<a href="https://shop.example/linen-shirt" rel="noopener noreferrer">' in shown
    assert 'value="https://cdn.shop.example/linen.jpg"' in shown


def test_a_bad_catalog_csv_changes_nothing(business: Business) -> None:
    bad = CATALOG.replace("19.50", "-3")
    answer = business.client(business.owner).post("/app/catalog/upload/",
                                                  {"file": SimpleUploadedFile("catalog.csv", bad.encode())})
    assert answer.status_code == 400
    with schema_context(business.tenant.schema_name):
        assert not Product.objects.exists()


def test_agents_read_catalog_and_orders_but_cannot_edit(business: Business) -> None:
    _catalog(business)
    with schema_context(business.tenant.schema_name):
        variant = Variant.objects.get(sku="P-2-OS")
        Order.objects.create(number="A-1001", lookup_key="a1001", email="kim@example.test", currency="EUR",
                             total_minor=1950, placed_at=datetime(2026, 11, 1, tzinfo=UTC))
        order = Order.objects.get()
    agent = business.client(business.agent)
    assert agent.get("/app/catalog/").status_code == 200
    product_page = agent.get(f"/app/catalog/{variant.product_id}/")
    assert product_page.status_code == 200 and "Save" not in product_page.content.decode()
    orders = agent.get("/app/orders/?q=kim@example.test")
    assert orders.status_code == 200 and "A-1001" in orders.content.decode()
    assert agent.get(f"/app/orders/{order.pk}/").status_code == 200
    refused = agent.post(f"/app/catalog/variants/{variant.pk}/edit/",
                         {f"v{variant.pk}-price": "1.00", f"v{variant.pk}-stock": "0"})
    assert refused.status_code == 403
    assert agent.post("/app/catalog/upload/", {}).status_code == 403
    with schema_context(business.tenant.schema_name):
        assert Variant.objects.get(pk=variant.pk).stock == 12


def test_webhook_secrets_are_masked_and_deliveries_listed(business: Business) -> None:
    owner = business.client(business.owner)
    secret = "whsec_supersecret_98765"
    assert owner.post("/app/webhooks/", {"platform": "shopify", "secret": secret}).status_code == 302
    with schema_context(business.tenant.schema_name):
        assert ShopConnection.objects.get(platform="shopify").webhook_secret == secret
        WebhookDelivery.objects.create(platform="shopify", delivery_id="d-1", topic="orders/create", body=b"{}",
                                       state="failed", outcome="unknown product P-9")
    page = owner.get("/app/webhooks/").content.decode()
    assert secret not in page and "8765" in page
    assert f"http://{business.domain}/webhooks/shopify/" in page
    assert f"http://{business.domain}/webhooks/woocommerce/" in page
    assert "orders/create" in page and "unknown product P-9" in page
    short = owner.post("/app/webhooks/", {"platform": "woocommerce", "secret": "short"})
    assert short.status_code == 400


def test_catalog_and_orders_pages_take_the_same_queries_for_more_rows(business: Business) -> None:
    _catalog(business)
    with schema_context(business.tenant.schema_name):
        Order.objects.bulk_create([Order(number=f"S-{n}", lookup_key=f"s{n}", currency="EUR",
                                         placed_at=datetime(2026, 10, 1, tzinfo=UTC)) for n in range(2)])
    owner = business.client(business.owner)

    def queries(path: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert owner.get(path).status_code == 200
        return len(captured)

    small_catalog, small_orders = queries("/app/catalog/"), queries("/app/orders/")
    rows = [",".join(CATALOG_CSV_HEADER)] + [f"X-{n},Thing {n},Misc,,5.00,EUR,,X-{n}-1,,Red,1" for n in range(40)]
    _catalog(business, "\n".join(rows) + "\n")
    with schema_context(business.tenant.schema_name):
        Order.objects.bulk_create([Order(number=f"N-{n}", lookup_key=f"n{n}", currency="EUR",
                                         placed_at=datetime(2026, 11, 1, tzinfo=UTC)) for n in range(40)])
    assert queries("/app/catalog/") == small_catalog
    assert queries("/app/orders/") == small_orders
