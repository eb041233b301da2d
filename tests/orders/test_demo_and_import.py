"""Catalog CSV import (all or nothing, errors name the line) and the idempotent demo loader."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from django_tenants.utils import schema_context
from hypothesis import given, settings
from hypothesis import strategies as st

from orders.demo import DemoClock, load_demo
from orders.exceptions import CatalogImportFailed
from orders.models import CommerceSettings, Order, OrderStatusChange, Product, SpecialDay, Variant, WeeklyOpening
from orders.services.catalog import CATALOG_CSV_HEADER, catalog_import_csv, catalog_rows_read
from tenants.demo import FIXTURES

HEADER = ",".join(CATALOG_CSV_HEADER)


def csv_text(*rows: str) -> io.StringIO:
    return io.StringIO("\n".join([HEADER, *rows]) + "\n")


def counts() -> tuple[int, int, int, int]:
    return Product.objects.count(), Variant.objects.count(), Order.objects.count(), OrderStatusChange.objects.count()


def test_demo_loader_loads_everything_and_a_second_run_changes_nothing(shop) -> None:
    with schema_context(shop.schema_name):
        first = counts()
        assert first[0] > 10 and first[1] > first[0] and first[2] >= 10
        assert CommerceSettings.objects.get().currency == "EUR"
        assert WeeklyOpening.objects.count() == 6 and SpecialDay.objects.count() == 4
        assert CommerceSettings.objects.get().show_stock_counts is True  # the shop's profile.json
        hoodie = Variant.objects.get(sku="TL-HOOD-001-NAV-M")
        assert hoodie.price_minor == 5995 and hoodie.stock == 0 and hoodie.product.currency == "EUR"
        # Each of the shop's products has its page in the shop; none has a picture.
        assert hoodie.product.page_url == "https://threadline.example/products/essential-hoodie"
        assert not Product.objects.filter(page_url="").exists()
        assert not Product.objects.exclude(image_url="").exists()
        load_demo(tenant=shop, fixtures=FIXTURES / "shop")
        assert counts() == first
        delivered = Order.objects.get(number="TL-10398")
        assert delivered.status == "delivered" and delivered.total_minor == 6490
        assert [c.to_status for c in delivered.history.all()] == ["pending", "paid", "packed", "shipped", "delivered"]


def test_demo_loader_skips_missing_files(make_tenant, tmp_path) -> None:
    tenant = make_tenant().tenant
    (tmp_path / "profile.json").write_text('{"currency": "GBP"}')
    with schema_context(tenant.schema_name):
        load_demo(tenant=tenant, fixtures=tmp_path)
        assert CommerceSettings.objects.get().currency == "GBP"
        assert counts() == (0, 0, 0, 0)


def test_the_cafe_demo_never_shows_stock_counts_and_its_extras_are_extras(cafe) -> None:
    with schema_context(cafe.schema_name):
        assert CommerceSettings.objects.get().show_stock_counts is False
        extras = set(Product.objects.filter(kind="extra").values_list("category", flat=True))
        assert extras == {"Extras"} and Product.objects.get(sku="SC-EXT-002").name == "Oat Milk"
        assert Product.objects.get(sku="SC-COF-005").kind == "item"


def test_an_optional_kind_column_marks_extras(tenant_a) -> None:
    text = io.StringIO("\n".join([
        HEADER + ",kind",
        "X-1,Oat Milk,Extras,,0.40,EUR,oat,X-1-STD,,,10,extra",
        "X-2,Latte,Coffee,,3.40,EUR,,X-2-REG,Regular,,10,",
    ]) + "\n")
    with schema_context(tenant_a.schema_name):
        catalog_import_csv(stream=text)
        assert dict(Product.objects.filter(sku__in=["X-1", "X-2"]).values_list("sku", "kind")) == {
            "X-1": "extra", "X-2": "item"}
        bad = io.StringIO(HEADER + ",kind\nX-3,Syrup,Extras,,0.50,EUR,,X-3-STD,,,10,topping\n")
        with pytest.raises(CatalogImportFailed, match="kind must be empty, 'item' or 'extra'"):
            catalog_import_csv(stream=bad)
        assert not Product.objects.filter(sku="X-3").exists()


PAGE = "https://shop.example/products/tee"
IMAGE = "https://cdn.shop.example/tee.png"


def test_optional_url_and_image_columns_give_a_product_its_page_and_picture(tenant_a) -> None:
    text = io.StringIO("\n".join([
        HEADER + ",kind,url,image",
        f"U-1,Tee,Tops,,19.99,EUR,,U-1-S,S,White,3,,{PAGE},{IMAGE}",
        f"U-1,Tee,Tops,,19.99,EUR,,U-1-M,M,White,3,,{PAGE},{IMAGE}",
        "U-2,Cap,Hats,,9.99,EUR,,U-2-OS,,Black,1,,,",
    ]) + "\n")
    with schema_context(tenant_a.schema_name):
        catalog_import_csv(stream=text)
        tee, cap = Product.objects.get(sku="U-1"), Product.objects.get(sku="U-2")
        assert (tee.page_url, tee.image_url) == (PAGE, IMAGE)
        assert (cap.page_url, cap.image_url) == ("", "")
        # A file with only the page column leaves the picture out, and a later file sets what it says.
        catalog_import_csv(stream=io.StringIO(HEADER + ",kind,url\nU-2,Cap,Hats,,9.99,EUR,,U-2-OS,,Black,1,,"
                                              "http://shop.example/cap\n"))
        assert Product.objects.get(sku="U-2").page_url == "http://shop.example/cap"


@pytest.mark.parametrize(("column", "address", "message"), [
    ("url", "javascript:alert(document.cookie)", "The product page address must start with https://"),
    ("url", "JAVASCRIPT:alert(1)", "must start with https://"),
    ("url", "java\tscript:alert(1)", "must start with https://"),
    ("url", "/products/tee", "must start with https://"),
    ("url", "shop.example/products/tee", "must start with https://"),
    ("url", "ftp://shop.example/tee", "must start with https://"),
    ("url", "https://user:pw@shop.example/tee", "must start with https://"),
    ("url", "https://shop.example/" + "a" * 2100, "at most 2048 are accepted"),
    ("image", "data:image/svg+xml,<svg onload=alert(1)>", "The image address must start with https://"),
    ("image", "vbscript:msgbox(1)", "The image address must start with https://"),
    ("image", "//cdn.shop.example/tee.png", "The image address must start with https://"),
])
def test_an_address_that_is_not_http_s_is_refused_naming_its_line(tenant_a, column: str, address: str,
                                                                 message: str) -> None:
    url, image = (address, IMAGE) if column == "url" else (PAGE, address)
    text = io.StringIO(HEADER + ",kind,url,image\n"
                       "U-1,Tee,Tops,,19.99,EUR,,U-1-S,S,White,3,,https://shop.example/tee,\n"
                       f'U-3,Cap,Hats,,9.99,EUR,,U-3-OS,,Black,1,,"{url}","{image}"\n')
    with schema_context(tenant_a.schema_name):
        with pytest.raises(CatalogImportFailed) as failure:
            catalog_import_csv(stream=text)
        assert "line 3:" in failure.value.message and message in failure.value.message, failure.value.message
        assert failure.value.details["errors"][0]["line"] == 3
        assert counts() == (0, 0, 0, 0)


def test_import_upserts_by_sku_with_exact_prices(tenant_a) -> None:
    rows = [
        'P-1,Tee,Tops,"Soft, organic",19.99,EUR,t-shirt | tee shirt,P-1-S,S,White,3',
        'P-1,Tee,Tops,"Soft, organic",21.00,EUR,t-shirt | tee shirt,P-1-M,M,White,0',
    ]
    with schema_context(tenant_a.schema_name):
        result = catalog_import_csv(stream=csv_text(*rows))
        assert result.as_dict() == {"products": 1, "variants": 2}
        product = Product.objects.get(sku="P-1")
        assert product.price_minor == 1999 and product.synonyms == ["t-shirt", "tee shirt"]
        assert product.description == "Soft, organic"
        catalog_import_csv(stream=csv_text(rows[0].replace(",3", ",9")))
        assert Variant.objects.get(sku="P-1-S").stock == 9 and Variant.objects.count() == 2


@pytest.mark.parametrize(("row", "message"), [
    ("P-2,Cap,Hats,,-1.00,EUR,,P-2-OS,,Black,1", "must not be negative"),
    ("P-2,Cap,Hats,,0.00,EUR,,P-2-OS,,Black,1", "more than zero"),
    ("P-2,Cap,Hats,,9.999,EUR,,P-2-OS,,Black,1", "more decimals"),
    ("P-2,Cap,Hats,,9.99,XYZ,,P-2-OS,,Black,1", "not a currency"),
    ("P-2,Cap,Hats,,9.99,EUR,,P-2-OS,,Black,-4", "must not be negative"),
    ("P-2,Cap,Hats,,9.99,EUR,,P-2-OS,,Black,lots", "whole number"),
    ("P-2,Cap,Hats,,9.99,EUR,,,,Black,1", "variant_sku is empty"),
    ("P-2,Cap,Hats,,9.99,EUR,,P-1-S,,Black,1", "already used on line 2"),
    ("P-1,Other name,Tops,,9.99,EUR,,P-9,,Black,1", "name differs from line 2"),
    ("P-2,Cap,Hats,9.99,EUR,,P-2-OS,,Black,1", "expected 11 columns"),
])
def test_import_errors_name_the_line_and_leave_nothing(tenant_a, row: str, message: str) -> None:
    good = "P-1,Tee,Tops,,19.99,EUR,,P-1-S,S,White,3"
    with schema_context(tenant_a.schema_name):
        with pytest.raises(CatalogImportFailed) as failure:
            catalog_import_csv(stream=csv_text(good, row))
        assert "line 3:" in failure.value.message and message in failure.value.message
        assert failure.value.details["errors"][0]["line"] == 3
        assert counts() == (0, 0, 0, 0)


@pytest.mark.parametrize(("rows", "message"), [
    (["P-1,Tee,Tops,,19.99,EUR,,P-1-S,S,White,\u00b2"], "stock must be a whole number"),  # was ValueError
    (["P-1,Tee,Tops,,19.99,EUR,,P-1-S,S,White,--3"], "stock must be a whole number"),
    (["P-1,Tee,Tops,,19.99,EUR,,P-1-S,S,White," + "9" * 5000], "stock must be a whole number"),
    (["P-1,Tee,Tops,,1e999999,EUR,,P-1-S,S,White,3"], "too large"),  # was decimal.Overflow
    (["P-1,Tee,Tops,Soft\rcotton,19.99,EUR,,P-1-S,S,White,3"], "new-line character"),  # was csv.Error
])
def test_rows_python_cannot_read_are_errors_on_their_line(rows: list[str], message: str) -> None:
    with pytest.raises(CatalogImportFailed) as failure:
        catalog_rows_read(stream=csv_text(*rows))
    assert "line 2:" in failure.value.message and message in failure.value.message


def test_import_refuses_a_wrong_header(tenant_a) -> None:
    with schema_context(tenant_a.schema_name), pytest.raises(CatalogImportFailed, match="line 1"):
        catalog_import_csv(stream=io.StringIO("sku,name,price\nA,B,1.00\n"))


def test_import_command_reports_lines_and_imports_with_a_progress_bar(tenant_a, tmp_path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([HEADER, "P-1,Tee,Tops,,19.99,EUR,,P-1-S,S,White,3", "P-2,Cap,Hats,,abc,EUR,,P-2,,,1"]))
    errors = io.StringIO()
    with pytest.raises(CommandError, match="line 3"):
        call_command("catalog", "import", "--tenant", tenant_a.schema_name, str(bad), stderr=errors)
    assert "line 3:" in errors.getvalue()
    with schema_context(tenant_a.schema_name):
        assert Product.objects.count() == 0

    out, progress = io.StringIO(), io.StringIO()
    call_command("catalog", "import", "--tenant", tenant_a.schema_name, str(FIXTURES / "cafe" / "menu.csv"),
                 stdout=out, stderr=progress)
    assert "Imported" in out.getvalue() and "variants" in out.getvalue()
    assert "Importing" in progress.getvalue() and "variant" in progress.getvalue()
    with schema_context(tenant_a.schema_name):
        assert Product.objects.filter(name="Flat White").exists()

    with pytest.raises(CommandError, match="no tenant"):
        call_command("catalog", "import", "--tenant", "nosuchtenant", str(bad))


@pytest.mark.parametrize("days_later", [0, 40])
def test_demo_order_dates_tell_the_same_story_on_any_load_day(make_tenant, days_later: int) -> None:
    amsterdam = ZoneInfo("Europe/Amsterdam")
    loaded = timezone.now() + timedelta(days=days_later)
    load_day = loaded.astimezone(amsterdam).date()
    tenant = make_tenant(name="Demo shop", timezone_name="Europe/Amsterdam").tenant
    with schema_context(tenant.schema_name):
        load_demo(tenant=tenant, fixtures=FIXTURES / "shop", now=loaded)
        orders = {order.number: order for order in Order.objects.prefetch_related("history")}

        for order in orders.values():
            moments = [change.at for change in order.history.all()]
            assert order.placed_at <= loaded and moments == sorted(moments) and moments[-1] <= loaded, order.number
            if order.status in ("paid", "packed", "shipped") and order.estimated_delivery:
                assert order.estimated_delivery >= load_day, f"{order.number} is expected in the past"
            if order.status == "delivered":
                assert order.estimated_delivery < load_day, order.number

        # The README's walk-through: placed three days ago, shipped, on its way and expected tomorrow.
        on_its_way = orders["TL-10412"]
        assert on_its_way.status == "shipped"
        assert on_its_way.placed_at.astimezone(amsterdam).date() == load_day - timedelta(days=3)
        assert on_its_way.estimated_delivery == load_day + timedelta(days=1)
        # Just placed: within the hour before loading, whatever the hour of the day.
        just_placed = orders["TL-10424"]
        assert just_placed.status == "pending"
        assert timedelta(0) < loaded - just_placed.placed_at <= timedelta(hours=1)
        # Long delivered: some three weeks ago, at the hour written in the fixture, in Amsterdam.
        delivered = orders["TL-10398"]
        assert delivered.placed_at.astimezone(amsterdam).replace(tzinfo=None) == datetime.combine(
            load_day - timedelta(days=24), time(9, 14))


# Any moment of the year to come, DST changes and the minutes around midnight included.
load_moments = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31),
                            timezones=st.just(UTC))


@settings(max_examples=300, deadline=None)
@given(loaded=load_moments, zone_name=st.sampled_from(["Europe/Amsterdam", "Europe/London", "Pacific/Auckland"]))
def test_whenever_the_demo_is_loaded_its_orders_happened_in_order_and_in_the_past(loaded: datetime,
                                                                                   zone_name: str) -> None:
    clock = DemoClock(now=loaded, zone=ZoneInfo(zone_name))
    for record in json.loads((FIXTURES / "shop" / "orders.json").read_text()):
        moments = [clock.moment(record["created"]), *(clock.moment(step["at"]) for step in record["history"])]
        assert moments == sorted(moments) and moments[-1] <= loaded, record["number"]
        if record["estimated_delivery"] and record["status"] in ("paid", "packed", "shipped"):
            assert clock.day(record["estimated_delivery"]) >= clock.today, record["number"]
