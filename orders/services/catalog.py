"""Catalog writes: the CSV import, product and stock updates from shops, commerce settings, secrets."""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, TextIO

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from chat.audit.models import AuditAction
from chat.audit.services import audit_record
from config.content_version import content_version_bump
from config.outside_urls import MAX_OUTSIDE_URL_LENGTH, outside_url
from orders.exceptions import CatalogImportFailed, InvalidAmount, UnknownCurrency, ValidationFailed
from orders.models import CommerceSettings, Platform, Product, ProductKind, ShopConnection, Variant
from orders.money import amount_to_minor, currency_normalize
from orders.platforms import InventoryData, ProductData, VariantData
from orders.signals import catalog_changed

logger = logging.getLogger(__name__)

CATALOG_CSV_HEADER = ["product_sku", "name", "category", "description", "price", "currency", "synonyms",
                      "variant_sku", "size", "colour", "stock"]
# Optional last columns, in this order, each may be left out with those after it: "kind" ("extra"
# for add-ons bought with another product (oat milk, an extra shot), empty or "item" for the rest),
# "url" (the product's page in the shop) and "image" (a picture of it), both http(s) addresses.
# Files without them import as before.
CATALOG_CSV_KIND_COLUMN = "kind"
CATALOG_CSV_OPTIONAL_COLUMNS = [CATALOG_CSV_KIND_COLUMN, "url", "image"]
CATALOG_CSV_HEADERS = [CATALOG_CSV_HEADER + CATALOG_CSV_OPTIONAL_COLUMNS[:count]
                       for count in range(len(CATALOG_CSV_OPTIONAL_COLUMNS) + 1)]
SYNONYM_SEPARATOR = "|"
MAX_REPORTED_ERRORS = 50
SAVE_CHUNK = 500
MIN_SECRET_LENGTH = 8


@dataclass(frozen=True)
class CatalogRow:
    line: int
    product_sku: str
    name: str
    category: str
    description: str
    price_minor: int
    currency: str
    synonyms: tuple[str, ...]
    variant_sku: str
    size: str
    colour: str
    stock: int
    kind: str = "item"  # ProductKind
    page_url: str = ""
    image_url: str = ""


@dataclass(frozen=True)
class CatalogImportResult:
    products: int
    variants: int

    def as_dict(self) -> dict[str, int]:
        return {"products": self.products, "variants": self.variants}


# ----------------------------------------------------------------------------- CSV import


def product_address_check(value: str, *, field: str, what: str) -> str:
    """A product's page or picture address as the owner gave it: "" for none, else an absolute
    http(s) address with a host, or a ValidationFailed naming the field. A `javascript:` or `data:`
    address, a relative path or another scheme would be a link or image nobody can trust."""
    text = value.strip()
    if not text:
        return ""
    if len(text) > MAX_OUTSIDE_URL_LENGTH:
        raise ValidationFailed(f"The {what} address is {len(text)} characters long; at most "
                               f"{MAX_OUTSIDE_URL_LENGTH} are accepted.", code="invalid_product",
                               details={"field": field})
    checked = outside_url(text)
    if checked is None:
        raise ValidationFailed(f"The {what} address must start with https:// (or http://) and a host "
                               f"name, not '{text[:80]}'.", code="invalid_product", details={"field": field})
    return checked


def _row_parse(line: int, values: list[str], header: list[str] = CATALOG_CSV_HEADER) -> CatalogRow:
    if len(values) != len(header):
        raise ValidationFailed(f"expected {len(header)} columns, found {len(values)}")
    cells = dict(zip(header, (value.strip() for value in values), strict=True))
    kind = cells.get(CATALOG_CSV_KIND_COLUMN, "").lower() or "item"
    if kind not in ProductKind.values:
        raise ValidationFailed(f"kind must be empty, 'item' or 'extra', not '{cells[CATALOG_CSV_KIND_COLUMN]}'")
    for required in ("product_sku", "name", "price", "currency", "variant_sku", "stock"):
        if not cells[required]:
            raise ValidationFailed(f"{required} is empty")
    currency = currency_normalize(cells["currency"])
    price_minor = amount_to_minor(cells["price"], currency=currency, field="price")
    if price_minor <= 0:
        raise ValidationFailed(f"price must be more than zero, not '{cells['price']}'")
    try:
        # isdigit() alone let "²", "--1" and 5,000 digits through to a ValueError from int().
        stock = int(cells["stock"]) if cells["stock"].lstrip("-").isdigit() else None
    except ValueError:
        stock = None
    if stock is None:
        raise ValidationFailed(f"stock must be a whole number, not '{cells['stock']}'")
    if stock < 0:
        raise ValidationFailed(f"stock must not be negative ({stock})")
    synonyms = tuple(s.strip() for s in cells["synonyms"].split(SYNONYM_SEPARATOR) if s.strip())
    page_url = product_address_check(cells.get("url", ""), field="url", what="product page")
    image_url = product_address_check(cells.get("image", ""), field="image", what="image")
    return CatalogRow(line=line, product_sku=cells["product_sku"], name=cells["name"], category=cells["category"],
                      description=cells["description"], price_minor=price_minor, currency=currency,
                      synonyms=synonyms, variant_sku=cells["variant_sku"], size=cells["size"],
                      colour=cells["colour"], stock=stock, kind=kind, page_url=page_url, image_url=image_url)


def _rows_until_csv_error(reader: Any, errors: list[dict[str, object]]) -> Iterator[list[str]]:
    """The reader's rows. One the csv module cannot read (a lone carriage return in an unquoted field,
    a field over its size limit) ends them as an error naming its line, instead of a csv.Error."""
    try:
        yield from reader
    except csv.Error as exc:
        errors.append({"line": reader.line_num, "message": str(exc)})


def catalog_rows_read(*, stream: TextIO) -> list[CatalogRow]:
    """Every row checked; all problems reported together, each naming its line."""
    reader = csv.reader(stream)
    try:
        header = next(reader)
    except StopIteration:
        raise CatalogImportFailed("The file is empty: line 1 must be the header.",
                                  details={"errors": [{"line": 1, "message": "missing header"}]}) from None
    except csv.Error as exc:
        raise CatalogImportFailed(f"line 1: {exc}", details={"errors": [{"line": 1, "message": str(exc)}]}) from exc
    header = [name.strip().lstrip("\ufeff") for name in header]
    if header not in CATALOG_CSV_HEADERS:
        message = (f"line 1: the header must be exactly {','.join(CATALOG_CSV_HEADER)} "
                   f"(optionally followed by ,{CATALOG_CSV_KIND_COLUMN}, then ,url and ,image)")
        raise CatalogImportFailed(message, details={"errors": [{"line": 1, "message": message}]})
    rows: list[CatalogRow] = []
    errors: list[dict[str, object]] = []
    first_of_product: dict[str, CatalogRow] = {}
    line_of_variant: dict[str, int] = {}
    for values in _rows_until_csv_error(reader, errors):
        line = reader.line_num
        if not any(value.strip() for value in values):
            continue
        try:
            row = _row_parse(line, values, header)
            first = first_of_product.setdefault(row.product_sku, row)
            for attribute in ("name", "category", "description", "currency", "synonyms", "kind", "page_url",
                              "image_url"):
                if getattr(first, attribute) != getattr(row, attribute):
                    raise ValidationFailed(f"{attribute} differs from line {first.line} for product {row.product_sku}")
            if row.variant_sku in line_of_variant:
                raise ValidationFailed(f"variant_sku {row.variant_sku} already used on line "
                                       f"{line_of_variant[row.variant_sku]}")
            line_of_variant[row.variant_sku] = line
            rows.append(row)
        except (ValidationFailed, UnknownCurrency, InvalidAmount) as exc:
            errors.append({"line": line, "message": exc.message})
            if len(errors) >= MAX_REPORTED_ERRORS:
                break
    if errors:
        summary = "; ".join(f"line {error['line']}: {error['message']}" for error in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise CatalogImportFailed(f"Nothing was imported. {summary}{more}", details={"errors": errors})
    return rows


def catalog_import_csv(*, stream: TextIO, progress: Callable[[int], None] | None = None) -> CatalogImportResult:
    """Import a catalog CSV (one row per variant): all of it in one transaction, or none of it."""
    rows = catalog_rows_read(stream=stream)
    return catalog_rows_save(rows=rows, progress=progress)


CSV_UPLOAD_MAX_BYTES = 10 * 1024 * 1024


def catalog_import_csv_file(*, file: IO[bytes], size: int) -> CatalogImportResult:
    """An uploaded catalog CSV: refused unread when it is too large, and when it is not UTF-8 text."""
    if size > CSV_UPLOAD_MAX_BYTES:
        raise CatalogImportFailed(f"The file is larger than {CSV_UPLOAD_MAX_BYTES // (1024 * 1024)} MB.")
    try:
        text = file.read().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CatalogImportFailed("The file is not UTF-8 text.") from exc
    return catalog_import_csv(stream=io.StringIO(text))


def catalog_rows_save(*, rows: list[CatalogRow], progress: Callable[[int], None] | None = None) -> CatalogImportResult:
    by_product: dict[str, list[CatalogRow]] = {}
    for row in rows:
        by_product.setdefault(row.product_sku, []).append(row)
    with transaction.atomic():
        products = [
            Product(sku=sku, name=group[0].name, category=group[0].category, description=group[0].description,
                    synonyms=list(group[0].synonyms), currency=group[0].currency,
                    price_minor=min(row.price_minor for row in group), is_sellable=True, kind=group[0].kind,
                    page_url=group[0].page_url, image_url=group[0].image_url)
            for sku, group in by_product.items()
        ]
        for start in range(0, len(products), SAVE_CHUNK):
            Product.objects.bulk_create(
                products[start:start + SAVE_CHUNK], update_conflicts=True, unique_fields=["sku"],
                update_fields=["name", "category", "description", "synonyms", "currency", "price_minor",
                               "is_sellable", "kind", "page_url", "image_url", "updated"])
        product_ids = dict(Product.objects.filter(sku__in=by_product).values_list("sku", "id"))
        variants = [
            Variant(product_id=product_ids[row.product_sku], sku=row.variant_sku, size=row.size, colour=row.colour,
                    price_minor=row.price_minor, stock=row.stock, is_sellable=True)
            for row in rows
        ]
        for start in range(0, len(variants), SAVE_CHUNK):
            chunk = variants[start:start + SAVE_CHUNK]
            Variant.objects.bulk_create(
                chunk, update_conflicts=True, unique_fields=["sku"],
                update_fields=["product", "size", "colour", "price_minor", "stock", "is_sellable", "updated"])
            if progress is not None:
                progress(len(chunk))
        content_version_bump()
        catalog_changed.send(sender=Product)
    logger.info("catalog import: %d products, %d variants", len(products), len(variants))
    return CatalogImportResult(products=len(products), variants=len(variants))


# ----------------------------------------------------------------------------- from shops


def _variant_apply(variant: Variant, data: VariantData) -> None:
    variant.sku = data.sku
    if data.size:
        variant.size = data.size
    if data.colour:
        variant.colour = data.colour
    if data.price_minor is not None:
        variant.price_minor = data.price_minor
    if data.stock is not None:
        variant.stock = max(data.stock, 0)  # platforms allow overselling; we only say "sold out"
    variant.is_sellable = variant.price_minor > 0
    if data.external_ref:
        variant.external_ref = data.external_ref
    if data.inventory_ref:
        variant.inventory_ref = data.inventory_ref


def _product_price_refresh(product: Product) -> None:
    prices = [v.price_minor for v in product.variants.all() if v.is_sellable]
    product.price_minor = min(prices) if prices else 0
    product.is_sellable = bool(prices)


def _product_find(data: ProductData) -> Product | None:
    condition = Q(external_ref=data.external_ref) if data.external_ref else Q(pk__in=[])
    if data.sku:
        condition |= Q(sku=data.sku)
    variant_skus = [variant.sku for variant in data.variants]
    if variant_skus:
        condition |= Q(variants__sku__in=variant_skus)
    first_id = Product.objects.filter(condition).order_by("id").values_list("id", flat=True).first()
    return None if first_id is None else Product.objects.select_for_update().get(pk=first_id)


def product_upsert_from_platform(*, data: ProductData, currency: str) -> str:
    """Apply a shop's product (or variation) snapshot to our catalog; returns what happened."""
    with transaction.atomic(savepoint=False):
        if data.name is None:
            return _variation_upsert(data=data, currency=currency)
        product = _product_find(data)
        created = product is None
        if product is None:
            product = Product(sku=data.new_product_sku, currency=currency, price_minor=0, is_sellable=False)
        product.name = data.name
        # The snapshot carries every variant's price in the shop's currency now: the product is in
        # that currency too, or 1000 read as yen would be shown as 10.00 euros.
        product.currency = currency
        product.description = data.description or product.description
        product.category = data.category or product.category
        product.synonyms = list(dict.fromkeys([*product.synonyms, *data.synonyms]))
        product.external_ref = data.external_ref or product.external_ref
        # The parser kept only http(s) addresses; a snapshot without one keeps ours.
        product.page_url = data.page_url or product.page_url
        product.image_url = data.image_url or product.image_url
        product.save()
        existing = {v.sku: v for v in Variant.objects.select_for_update().filter(
            Q(product=product) | Q(sku__in=[d.sku for d in data.variants]))}
        by_ref = {v.external_ref: v for v in existing.values() if v.external_ref}
        for variant_data in data.variants:
            variant = by_ref.get(variant_data.external_ref) or existing.get(variant_data.sku)
            if variant is None:
                variant = Variant(product=product, sku=variant_data.sku, price_minor=0, stock=0)
            variant.product = product
            _variant_apply(variant, variant_data)
            variant.save()
        _product_price_refresh(product)
        product.save(update_fields=["price_minor", "is_sellable", "updated"])
        content_version_bump()
        catalog_changed.send(sender=Product)
    return f"product {product.sku} {'created' if created else 'updated'}"


def _variation_upsert(*, data: ProductData, currency: str) -> str:
    variant_data = data.variants[0]
    variant = Variant.objects.select_for_update().filter(
        Q(external_ref=variant_data.external_ref) | Q(sku=variant_data.sku)).order_by("id").first()
    product = variant.product if variant else Product.objects.filter(external_ref=data.parent_external_ref).first()
    if product is None:
        return f"variation {variant_data.sku} skipped: its product {data.parent_external_ref} is unknown here"
    if variant is None:
        variant = Variant(product=product, sku=variant_data.sku, price_minor=0, stock=0)
    note = ""
    if variant_data.price_minor is not None and product.currency != currency:
        # One variation cannot move its product to another currency (its siblings' prices would be
        # read in the wrong unit): the stock is applied, the price waits for the product's snapshot.
        variant_data = dataclasses.replace(variant_data, price_minor=None)
        note = f", price not applied: the shop sells in {currency}, the product is in {product.currency}"
        logger.warning("variation %s: price in %s, product %s in %s", variant_data.sku, currency, product.sku,
                       product.currency)
    _variant_apply(variant, variant_data)
    variant.save()
    _product_price_refresh(product)
    product.save(update_fields=["price_minor", "is_sellable", "updated"])
    content_version_bump()
    catalog_changed.send(sender=Product)
    return f"variant {variant.sku} updated{note}"


def variant_stock_set_from_platform(*, data: InventoryData) -> str:
    updated = Variant.objects.filter(inventory_ref=data.inventory_ref).update(
        stock=max(data.available, 0), updated=timezone.now())
    if not updated:
        return f"inventory item {data.inventory_ref} is not in our catalog; nothing changed"
    content_version_bump()
    return f"stock of inventory item {data.inventory_ref} set to {max(data.available, 0)}"


def variant_stock_set(*, levels: dict[str, int]) -> int:
    """Set the stock of variants by SKU, all or none: an unknown SKU or a negative count changes
    nothing. Returns how many variants were set."""
    negative = sorted(sku for sku, stock in levels.items() if stock < 0)
    if negative:
        raise ValidationFailed(f"Stock cannot be negative ({', '.join(negative)}).", code="invalid_variant",
                               details={"skus": negative})
    with transaction.atomic():
        variants = {variant.sku: variant for variant in Variant.objects.select_for_update().filter(sku__in=levels)}
        unknown = sorted(set(levels) - set(variants))
        if unknown:
            raise ValidationFailed(f"No variant has the SKU {', '.join(unknown)}.", code="unknown_sku",
                                   details={"skus": unknown})
        now = timezone.now()
        for sku, variant in variants.items():
            variant.stock, variant.updated = levels[sku], now
        Variant.objects.bulk_update(variants.values(), ["stock", "updated"])
        content_version_bump()
    return len(variants)


# ----------------------------------------------------------------------------- settings


def commerce_stock_counts_set(*, shown: bool) -> CommerceSettings:
    """Whether the assistant tells customers how many of a variant are left (else: in stock / sold out)."""
    settings_row, _ = CommerceSettings.objects.get_or_create(pk=1)
    settings_row.show_stock_counts = shown
    settings_row.save(update_fields=["show_stock_counts", "updated"])
    content_version_bump()
    audit_record(action=AuditAction.SETTINGS_CHANGE, target="stock counts shown to customers",
                 details={"shown": shown})
    return settings_row


def commerce_currency_set(*, currency: str) -> CommerceSettings:
    code = currency_normalize(currency)
    settings_row, _ = CommerceSettings.objects.update_or_create(pk=1, defaults={"currency": code})
    content_version_bump()
    return settings_row


def shop_secret_set(*, platform: str, secret: str) -> ShopConnection:
    """Set the secret the business's shop signs its webhooks with (replacing any earlier one)."""
    if platform not in (Platform.SHOPIFY, Platform.WOOCOMMERCE):
        raise ValidationFailed(f"'{platform}' is not a shop platform we take webhooks from (shopify, woocommerce).")
    secret = secret.strip()
    if len(secret) < MIN_SECRET_LENGTH:
        raise ValidationFailed(f"A webhook secret needs at least {MIN_SECRET_LENGTH} characters.")
    with transaction.atomic():
        connection, _ = ShopConnection.objects.update_or_create(platform=platform,
                                                                defaults={"webhook_secret": secret})
        audit_record(action=AuditAction.KEY_CHANGE, target=f"{platform} webhook secret", details={"op": "set"})
    logger.info("webhook secret for %s set", platform)
    return connection


def shop_secret_clear(*, platform: str) -> bool:
    with transaction.atomic():
        deleted, _ = ShopConnection.objects.filter(platform=platform).delete()
        if deleted:
            audit_record(action=AuditAction.KEY_CHANGE, target=f"{platform} webhook secret",
                         details={"op": "removed"})
    return bool(deleted)


# The dashboard's edits. A product is saved with every edit so the assistant's cached catalog index
# (keyed by the products' last update) is rebuilt.

def product_update(*, product: Product, name: str, category: str, description: str, synonyms: list[str],
                   is_sellable: bool, page_url: str, image_url: str) -> Product:
    name = " ".join(name.split())
    if not name:
        raise ValidationFailed("A product needs a name.", code="invalid_product")
    page_url = product_address_check(page_url, field="page_url", what="product page")
    image_url = product_address_check(image_url, field="image_url", what="image")
    product.name, product.category, product.description = name, category.strip(), description.strip()
    product.page_url, product.image_url = page_url, image_url
    product.synonyms = list(dict.fromkeys(word.strip() for word in synonyms if word.strip()))
    product.is_sellable = is_sellable and product.variants.filter(is_sellable=True).exists()
    product.save()
    content_version_bump()
    catalog_changed.send(sender=Product)
    return product


def variant_update(*, variant: Variant, price: str, stock: int, is_sellable: bool) -> Variant:
    """Price (in the shop's major units, '19.95'), stock and sellability of one variant."""
    if stock < 0:
        raise ValidationFailed("Stock cannot be negative.", code="invalid_variant")
    product = variant.product
    with transaction.atomic():
        variant.price_minor = amount_to_minor(price.strip(), currency=product.currency, field="price")
        if variant.price_minor < 0:
            raise ValidationFailed("A price cannot be negative.", code="invalid_variant")
        variant.stock = stock
        variant.is_sellable = is_sellable and variant.price_minor > 0
        variant.save()
        prices = list(product.variants.filter(is_sellable=True).values_list("price_minor", flat=True))
        product.price_minor = min(prices) if prices else 0
        product.is_sellable = bool(prices)
        product.save(update_fields=["price_minor", "is_sellable", "updated"])
        content_version_bump()
    return variant
