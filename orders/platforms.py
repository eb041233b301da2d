"""What Shopify and WooCommerce send, turned into plain, validated commerce facts.

Parsing is pure (no database): the web process runs it before storing a delivery so a malformed
payload gets a clear 400 at once, and the worker runs it again to apply the delivery.
Every amount is read with Decimal from the JSON text itself (`json_loads_exact`): never a float.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connection, models
from django.utils.html import strip_tags

from config.db import BIGINT_MAX
from config.outside_urls import outside_url_or_empty
from orders.exceptions import InvalidPayload
from orders.models import Order, OrderItem, OrderStatus, Platform, Product, Variant
from orders.money import MINOR_DIGITS, amount_to_minor, currency_normalize


@dataclass(frozen=True)
class ItemData:
    sku: str
    name: str
    quantity: int
    unit_price_minor: int


@dataclass(frozen=True)
class TrackingData:
    carrier: str = ""
    tracking_number: str = ""
    tracking_url: str = ""
    estimated_delivery: date | None = None


@dataclass(frozen=True)
class OrderData:
    platform: str
    external_ref: str
    number: str
    email: str
    phone: str
    currency: str
    status: str | None  # None: the platform's status says nothing we track
    items: list[ItemData]
    subtotal_minor: int
    shipping_minor: int
    total_minor: int
    placed_at: datetime
    updated_at: datetime
    tracking: TrackingData | None = None


@dataclass(frozen=True)
class FulfillmentData:
    platform: str
    order_external_ref: str
    status: str | None
    tracking: TrackingData
    updated_at: datetime


@dataclass(frozen=True)
class VariantData:
    sku: str
    size: str
    colour: str
    price_minor: int | None  # None: the platform sent no price, keep ours
    stock: int | None  # None: stock not tracked there, keep ours
    external_ref: str = ""
    inventory_ref: str = ""


@dataclass(frozen=True)
class ProductData:
    platform: str
    external_ref: str
    sku: str  # may be empty: Shopify products have no product-level SKU
    name: str | None  # None on a WooCommerce variation: only the variant changes
    description: str
    category: str
    synonyms: list[str]
    variants: list[VariantData] = field(default_factory=list)
    parent_external_ref: str = ""
    page_url: str = ""  # only an http(s) address; "" when the shop sent none we can trust
    image_url: str = ""

    @property
    def new_product_sku(self) -> str:
        """The SKU a product created from this snapshot gets (Shopify products have none of their own)."""
        return self.sku or f"{self.platform.upper()}-{self.external_ref}"


@dataclass(frozen=True)
class InventoryData:
    platform: str
    inventory_ref: str
    available: int
    updated_at: datetime | None


Parsed = OrderData | FulfillmentData | ProductData | InventoryData


def json_loads_exact(body: bytes) -> Any:
    """JSON with every non-integer number as Decimal, exactly as written."""
    try:
        return json.loads(body, parse_float=Decimal)
    except (RecursionError, ArithmeticError) as exc:
        # Nesting deeper than the parser's recursion limit, or a number Decimal cannot hold
        # ("1e99999999999999999999"): refused like any other invalid JSON (callers catch ValueError).
        raise ValueError(f"unusable JSON: {type(exc).__name__}") from exc


# ----------------------------------------------------------------------------- shared helpers


def _require(payload: Any, fields: list[str], *, where: str) -> None:
    if not isinstance(payload, dict):
        raise InvalidPayload(f"The {where} must be a JSON object.", details={"where": where})
    missing = [name for name in fields if payload.get(name) in (None, "")]
    if missing:
        raise InvalidPayload(f"The {where} is missing {', '.join(missing)}.", details={"missing": missing, "where": where})


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _quantity(value: Any, *, field_name: str) -> int:
    quantity = _int(value, field_name=field_name)
    if quantity <= 0:
        raise InvalidPayload(f"{field_name} must be at least 1, not {quantity}.", details={"field": field_name})
    return quantity


def _int(value: Any, *, field_name: str) -> int:
    if isinstance(value, bool):
        raise InvalidPayload(f"{field_name} must be a whole number.", details={"field": field_name})
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value == value.to_integral_value() and -BIGINT_MAX <= value <= BIGINT_MAX:
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        try:
            return int(value.strip())
        except ValueError:  # isdigit() passes "²", "--1" and 5,000 digits, which int() refuses
            pass
    raise InvalidPayload(f"{field_name} must be a whole number, not {value!r}.", details={"field": field_name})


def _datetime(value: Any, *, field_name: str, naive_is_utc: bool = True) -> datetime:
    text = _text(value)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidPayload(f"{field_name} '{text}' is not an ISO 8601 date and time.",
                             details={"field": field_name}) from exc
    if moment.tzinfo is None:
        if not naive_is_utc:
            raise InvalidPayload(f"{field_name} '{text}' has no time zone.", details={"field": field_name})
        moment = moment.replace(tzinfo=UTC)
    try:
        moment.astimezone(UTC)
    except OverflowError as exc:  # "0001-01-01T00:00+01:00" is stored as year 0, which nothing can read back
        raise InvalidPayload(f"{field_name} '{text}' is out of range.", details={"field": field_name}) from exc
    return moment


def _date_or_none(value: Any) -> date | None:
    """A day as the business counts it: a moment with a zone ("…T23:30:00Z" from Shopify) falls on
    the business's calendar day, so Amsterdam's customer hears the 27th, not UTC's 26th."""
    from orders.selectors import tenant_zone  # selectors -> services.orders -> this module

    text = _text(value)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return moment.astimezone(tenant_zone()).date() if moment.tzinfo is not None else moment.date()
    except ValueError:
        try:
            return date.fromisoformat(text[:10])
        except ValueError:
            return None


def _money(value: Any, *, currency: str, field_name: str, default: int | None = None) -> int:
    if value in (None, ""):
        if default is None:
            raise InvalidPayload(f"{field_name} is missing.", details={"missing": [field_name]})
        return default
    return amount_to_minor(value, currency=currency, field=field_name)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _first_image(images: Any, *, field: str) -> str:
    """The first picture's address in a shop's `images` list ([{"src": ...}]), if it is http(s).
    A product is kept without it otherwise: a bad picture must not cost the shop its catalog update."""
    for image in _list(images):
        if isinstance(image, dict) and image.get("src"):
            return outside_url_or_empty(image["src"], field=field)
    return ""


def _option_kind(name: str) -> str | None:
    lowered = name.strip().lower()
    if lowered in {"size", "maat", "größe", "grosse", "taille", "talla", "pa_size", "pa_maat"}:
        return "size"
    if lowered in {"color", "colour", "kleur", "farbe", "couleur", "pa_color", "pa_colour", "pa_kleur"}:
        return "colour"
    return None


# ----------------------------------------------------------------------------- Shopify


def _shopify_order_status(payload: dict[str, Any]) -> str | None:
    if payload.get("cancelled_at"):
        return OrderStatus.CANCELLED
    financial = _text(payload.get("financial_status")).lower()
    if financial == "refunded":
        return OrderStatus.REFUNDED
    fulfillment = _text(payload.get("fulfillment_status")).lower()
    fulfillments = payload.get("fulfillments") or []
    if any(_text(f.get("shipment_status")).lower() == "delivered" for f in fulfillments if isinstance(f, dict)):
        return OrderStatus.DELIVERED
    if fulfillment == "fulfilled":
        return OrderStatus.SHIPPED
    if fulfillment == "partial":
        return OrderStatus.PACKED
    if financial in {"paid", "partially_refunded"}:
        return OrderStatus.PAID
    if financial in {"pending", "authorized", "partially_paid", "", "voided"}:
        return OrderStatus.PENDING
    return None


def _shopify_tracking(fulfillments: Any) -> TrackingData | None:
    shipped = [f for f in fulfillments or [] if isinstance(f, dict) and _text(f.get("status")).lower() == "success"]
    if not shipped:
        return None
    return _shopify_fulfillment_tracking(shipped[-1])


def _shopify_fulfillment_tracking(fulfillment: dict[str, Any]) -> TrackingData:
    numbers = fulfillment.get("tracking_numbers") or []
    urls = fulfillment.get("tracking_urls") or []
    return TrackingData(
        carrier=_text(fulfillment.get("tracking_company")),
        tracking_number=_text(fulfillment.get("tracking_number") or (numbers[0] if numbers else "")),
        tracking_url=outside_url_or_empty(fulfillment.get("tracking_url") or (urls[0] if urls else ""),
                                          field="Shopify tracking_url"),
        estimated_delivery=_date_or_none(fulfillment.get("estimated_delivery_at")),
    )


def shopify_order(payload: Any) -> OrderData:
    _require(payload, ["id", "name", "currency", "created_at", "line_items", "total_price"], where="Shopify order")
    currency = currency_normalize(payload["currency"])
    items = []
    for index, line in enumerate(payload["line_items"] if isinstance(payload["line_items"], list) else []):
        _require(line, ["quantity", "price"], where=f"Shopify order line {index + 1}")
        items.append(ItemData(
            sku=_text(line.get("sku")),
            name=_text(line.get("name") or line.get("title")) or "Item",
            quantity=_quantity(line["quantity"], field_name=f"line_items[{index}].quantity"),
            unit_price_minor=_money(line["price"], currency=currency, field_name=f"line_items[{index}].price"),
        ))
    shipping_set = ((payload.get("total_shipping_price_set") or {}).get("shop_money") or {}).get("amount")
    if shipping_set is None:
        lines = payload.get("shipping_lines") or []
        shipping_minor = sum(_money(line.get("price"), currency=currency, field_name="shipping_lines.price", default=0)
                             for line in lines if isinstance(line, dict))
    else:
        shipping_minor = _money(shipping_set, currency=currency, field_name="total_shipping_price_set")
    customer = payload.get("customer") or {}
    addresses = [payload.get("shipping_address") or {}, payload.get("billing_address") or {}]
    phone = _text(payload.get("phone") or customer.get("phone")
                  or next((a.get("phone") for a in addresses if isinstance(a, dict) and a.get("phone")), ""))
    placed_at = _datetime(payload["created_at"], field_name="created_at")
    return OrderData(
        platform=Platform.SHOPIFY,
        external_ref=_text(payload["id"]),
        number=_text(payload["name"]),
        email=_text(payload.get("email") or payload.get("contact_email") or customer.get("email")).lower(),
        phone=phone,
        currency=currency,
        status=_shopify_order_status(payload),
        items=items,
        subtotal_minor=_money(payload.get("subtotal_price"), currency=currency, field_name="subtotal_price",
                              default=sum(item.quantity * item.unit_price_minor for item in items)),
        shipping_minor=shipping_minor,
        total_minor=_money(payload["total_price"], currency=currency, field_name="total_price"),
        placed_at=placed_at,
        updated_at=_datetime(payload.get("updated_at") or payload["created_at"], field_name="updated_at"),
        tracking=_shopify_tracking(payload.get("fulfillments")),
    )


def shopify_fulfillment(payload: Any) -> FulfillmentData:
    _require(payload, ["id", "order_id", "status"], where="Shopify fulfillment")
    status_text = _text(payload["status"]).lower()
    shipment = _text(payload.get("shipment_status")).lower()
    status: str | None = None
    if status_text == "success":
        status = OrderStatus.DELIVERED if shipment == "delivered" else OrderStatus.SHIPPED
    elif status_text in {"pending", "open"}:
        status = OrderStatus.PACKED
    return FulfillmentData(
        platform=Platform.SHOPIFY,
        order_external_ref=_text(payload["order_id"]),
        status=status,
        tracking=_shopify_fulfillment_tracking(payload),
        updated_at=_datetime(payload.get("updated_at") or payload.get("created_at") or datetime.now(UTC).isoformat(),
                             field_name="updated_at"),
    )


def shopify_product(payload: Any, *, currency: str) -> ProductData:
    _require(payload, ["id", "title"], where="Shopify product")
    option_kinds: dict[str, str] = {}
    for option in payload.get("options") or []:
        if isinstance(option, dict) and option.get("position") is not None:
            kind = _option_kind(_text(option.get("name")))
            if kind:
                option_kinds[f"option{_int(option['position'], field_name='options.position')}"] = kind
    variants = []
    for index, variant in enumerate(payload.get("variants") or []):
        _require(variant, ["id"], where=f"Shopify product variant {index + 1}")
        attributes = {kind: _text(variant.get(key)) for key, kind in option_kinds.items()}
        stock = variant.get("inventory_quantity")
        variants.append(VariantData(
            sku=_text(variant.get("sku")) or f"SHOPIFY-{_text(variant['id'])}",
            size=attributes.get("size", ""),
            colour=attributes.get("colour", ""),
            price_minor=_money(variant.get("price"), currency=currency, field_name=f"variants[{index}].price",
                               default=0),
            stock=None if stock is None else _int(stock, field_name=f"variants[{index}].inventory_quantity"),
            external_ref=_text(variant["id"]),
            inventory_ref=_text(variant.get("inventory_item_id")),
        ))
    tags = [tag.strip() for tag in _text(payload.get("tags")).split(",") if tag.strip()]
    return ProductData(
        platform=Platform.SHOPIFY,
        external_ref=_text(payload["id"]),
        sku="",
        name=_text(payload["title"]),
        description=strip_tags(_text(payload.get("body_html"))).strip(),
        category=_text(payload.get("product_type")),
        synonyms=tags,
        variants=variants,
        # Shopify sends the product's handle but not the storefront's address, so no page link here.
        image_url=_first_image([payload.get("image"), *_list(payload.get("images"))], field="Shopify product image"),
    )


def shopify_inventory_level(payload: Any) -> InventoryData:
    _require(payload, ["inventory_item_id"], where="Shopify inventory level")
    if payload.get("available") is None:
        raise InvalidPayload("The Shopify inventory level is missing available.", details={"missing": ["available"]})
    updated = payload.get("updated_at")
    return InventoryData(
        platform=Platform.SHOPIFY,
        inventory_ref=_text(payload["inventory_item_id"]),
        available=_int(payload["available"], field_name="available"),
        updated_at=_datetime(updated, field_name="updated_at") if updated else None,
    )


# ----------------------------------------------------------------------------- WooCommerce

_WOO_STATUS = {
    "pending": OrderStatus.PENDING,
    "on-hold": OrderStatus.PENDING,
    "failed": OrderStatus.PENDING,
    "checkout-draft": OrderStatus.PENDING,
    "processing": OrderStatus.PAID,
    "completed": OrderStatus.SHIPPED,
    "cancelled": OrderStatus.CANCELLED,
    "refunded": OrderStatus.REFUNDED,
    # Common status names added by plugins; ours by the same name.
    "packed": OrderStatus.PACKED,
    "shipped": OrderStatus.SHIPPED,
    "delivered": OrderStatus.DELIVERED,
}


def _woo_unit_price(line: dict[str, Any], *, currency: str, index: int) -> int:
    """WooCommerce's per-unit `price` is computed and can carry many decimals: round it half up, once."""
    raw = line.get("price")
    if raw in (None, ""):
        subtotal = _money(line.get("subtotal"), currency=currency, field_name=f"line_items[{index}].subtotal")
        quantity = _int(line.get("quantity"), field_name=f"line_items[{index}].quantity") or 1
        return int((Decimal(subtotal) / quantity).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if isinstance(raw, float):
        raise InvalidPayload(f"line_items[{index}].price must be exact.", details={"field": f"line_items[{index}].price"})
    try:
        value = Decimal(str(raw))
        # Inside the try too: NaN, Infinity and "1e999999" parse, then fail to scale, round or compare.
        minor = value.scaleb(MINOR_DIGITS[currency]).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        negative = minor < 0
    except ArithmeticError as exc:
        raise InvalidPayload(f"line_items[{index}].price '{raw}' is not a number.") from exc
    if negative:
        raise InvalidPayload(f"line_items[{index}].price must not be negative.")
    return int(minor)


def _woo_tracking(meta: Any) -> TrackingData | None:
    """The Shipment Tracking extension keeps its data in the order's meta_data."""
    for entry in meta or []:
        if isinstance(entry, dict) and entry.get("key") == "_wc_shipment_tracking_items":
            items = entry.get("value") or []
            if items and isinstance(items[-1], dict):
                last = items[-1]
                return TrackingData(
                    carrier=_text(last.get("tracking_provider") or last.get("custom_tracking_provider")),
                    tracking_number=_text(last.get("tracking_number")),
                    tracking_url=outside_url_or_empty(last.get("custom_tracking_link"),
                                                      field="WooCommerce custom_tracking_link"),
                )
    return None


def woocommerce_order(payload: Any) -> OrderData:
    _require(payload, ["id", "currency", "status", "line_items", "total"], where="WooCommerce order")
    if not payload.get("date_created_gmt") and not payload.get("date_created"):
        raise InvalidPayload("The WooCommerce order is missing date_created.", details={"missing": ["date_created"]})
    currency = currency_normalize(payload["currency"])
    items = []
    for index, line in enumerate(payload["line_items"] if isinstance(payload["line_items"], list) else []):
        _require(line, ["quantity"], where=f"WooCommerce order line {index + 1}")
        items.append(ItemData(
            sku=_text(line.get("sku")),
            name=_text(line.get("name")) or "Item",
            quantity=_quantity(line["quantity"], field_name=f"line_items[{index}].quantity"),
            unit_price_minor=_woo_unit_price(line, currency=currency, index=index),
        ))
    billing = payload.get("billing") or {}
    shipping = payload.get("shipping") or {}
    placed_at = _datetime(payload.get("date_created_gmt") or payload["date_created"], field_name="date_created")
    updated_at = _datetime(payload.get("date_modified_gmt") or payload.get("date_modified") or placed_at.isoformat(),
                           field_name="date_modified")
    shipping_minor = _money(payload.get("shipping_total"), currency=currency, field_name="shipping_total", default=0)
    total_minor = _money(payload["total"], currency=currency, field_name="total")
    return OrderData(
        platform=Platform.WOOCOMMERCE,
        external_ref=_text(payload["id"]),
        number=_text(payload.get("number") or payload["id"]),
        email=_text(billing.get("email")).lower(),
        phone=_text(billing.get("phone") or shipping.get("phone")),
        currency=currency,
        status=_WOO_STATUS.get(_text(payload["status"]).lower()),
        items=items,
        subtotal_minor=max(total_minor - shipping_minor, 0),
        shipping_minor=shipping_minor,
        total_minor=total_minor,
        placed_at=placed_at,
        updated_at=updated_at,
        tracking=_woo_tracking(payload.get("meta_data")),
    )


def woocommerce_product(payload: Any, *, currency: str) -> ProductData:
    _require(payload, ["id"], where="WooCommerce product")
    product_id = _text(payload["id"])
    sku = _text(payload.get("sku"))
    price = payload.get("price")
    price_minor = None if price in (None, "") else _money(price, currency=currency, field_name="price")
    stock = payload.get("stock_quantity") if payload.get("manage_stock") else None
    stock_count = None if stock is None else _int(stock, field_name="stock_quantity")
    if stock_count is None and _text(payload.get("stock_status")) == "outofstock":
        stock_count = 0
    parent = _text(payload.get("parent_id"))
    if parent and parent != "0":
        attributes = {}
        for attribute in payload.get("attributes") or []:
            if isinstance(attribute, dict):
                kind = _option_kind(_text(attribute.get("name") or attribute.get("slug")))
                if kind:
                    attributes[kind] = _text(attribute.get("option"))
        variant = VariantData(sku=sku or f"WOO-{product_id}", size=attributes.get("size", ""),
                              colour=attributes.get("colour", ""), price_minor=price_minor, stock=stock_count,
                              external_ref=product_id)
        return ProductData(platform=Platform.WOOCOMMERCE, external_ref="", sku="", name=None, description="",
                           category="", synonyms=[], variants=[variant], parent_external_ref=parent)
    _require(payload, ["name"], where="WooCommerce product")
    categories = [_text(c.get("name")) for c in payload.get("categories") or [] if isinstance(c, dict)]
    tags = [_text(t.get("name")) for t in payload.get("tags") or [] if isinstance(t, dict) and t.get("name")]
    description = strip_tags(_text(payload.get("short_description") or payload.get("description"))).strip()
    product_sku = sku or f"WOO-{product_id}"
    variants: list[VariantData] = []
    if _text(payload.get("type")) != "variable":
        variants.append(VariantData(sku=f"{product_sku}-STD", size="", colour="", price_minor=price_minor,
                                    stock=stock_count, external_ref=product_id))
    return ProductData(
        platform=Platform.WOOCOMMERCE,
        external_ref=product_id,
        sku=product_sku,
        name=_text(payload["name"]),
        description=description,
        category=categories[0] if categories else "",
        synonyms=tags,
        variants=variants,
        page_url=outside_url_or_empty(payload.get("permalink"), field="WooCommerce product permalink"),
        image_url=_first_image(payload.get("images"), field="WooCommerce product image"),
    )


# ----------------------------------------------------------------------------- topics


@dataclass(frozen=True)
class Topic:
    kind: str  # order, fulfillment, product, inventory
    parse: Callable[..., Parsed]
    needs_currency: bool = False


TOPICS: dict[str, dict[str, Topic]] = {
    Platform.SHOPIFY: {
        "orders/create": Topic("order", shopify_order),
        "orders/updated": Topic("order", shopify_order),
        "orders/cancelled": Topic("order", shopify_order),
        "fulfillments/create": Topic("fulfillment", shopify_fulfillment),
        "fulfillments/update": Topic("fulfillment", shopify_fulfillment),
        "products/update": Topic("product", shopify_product, needs_currency=True),
        "inventory_levels/update": Topic("inventory", shopify_inventory_level),
    },
    Platform.WOOCOMMERCE: {
        "order.created": Topic("order", woocommerce_order),
        "order.updated": Topic("order", woocommerce_order),
        "product.updated": Topic("product", woocommerce_product, needs_currency=True),
    },
}


def payload_parse(*, platform: str, topic: str, payload: Any, currency: str) -> Parsed:
    """The commerce facts of a payload, or InvalidPayload & co. naming the field.

    What this returns can be stored: every text fits its column and holds no NUL character, every
    number fits its column's range. The web process answers the shop from this, before storing the
    delivery, so "accepted" is never followed by a failure the shop would not hear about.
    """
    _refuse_unstorable_characters(payload)
    handler = TOPICS[platform][topic]
    parsed = handler.parse(payload, currency=currency) if handler.needs_currency else handler.parse(payload)
    parsed_storable_check(parsed)
    return parsed


# ----------------------------------------------------------------------------- fits the database


def _text_unstorable(text: str) -> str | None:
    """Why PostgreSQL's text and jsonb cannot hold this string, or None when they can."""
    if "\x00" in text:
        return "nul_character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, which JSON's \ud800 escape can carry
        return "invalid_unicode"
    return None


def _refuse_unstorable_characters(payload: Any) -> None:
    """Refuse NUL characters and lone surrogates anywhere in the payload, naming where."""
    stack: list[tuple[str, Any]] = [("", payload)]
    while stack:  # a loop, not recursion: JSON nested as deep as the parser allows is fine here
        path, value = stack.pop()
        if isinstance(value, str):
            reason = _text_unstorable(value)
            if reason:
                raise InvalidPayload(f"{path or 'The body'} holds a character that cannot be stored ({reason}).",
                                     details={"field": path, "reason": reason})
        elif isinstance(value, dict):
            for key, item in value.items():
                where = f"{path}.{key}" if path else str(key)
                reason = _text_unstorable(str(key))
                if reason:
                    raise InvalidPayload(f"A field name holds a character that cannot be stored ({reason}).",
                                         details={"field": where, "reason": reason})
                stack.append((where, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{index}]", item) for index, item in enumerate(value))


# Where each parsed value is stored (model, column): limits are read from the models themselves.
_ORDER_COLUMNS = {
    "external_ref": (Order, "external_ref"), "number": (Order, "number"), "email": (Order, "email"),
    "phone": (Order, "phone"), "subtotal_minor": (Order, "subtotal_minor"),
    "shipping_minor": (Order, "shipping_minor"), "total_minor": (Order, "total_minor"),
}
# An item's name is cut to its column when stored (orders.services.orders), so any length is fine.
_ITEM_COLUMNS = {"sku": (OrderItem, "sku"), "quantity": (OrderItem, "quantity"),
                 "unit_price_minor": (OrderItem, "unit_price_minor")}
_TRACKING_COLUMNS = {"carrier": (Order, "carrier"), "tracking_number": (Order, "tracking_number"),
                     "tracking_url": (Order, "tracking_url")}
_PRODUCT_COLUMNS = {"sku": (Product, "sku"), "name": (Product, "name"),
                    "category": (Product, "category"), "external_ref": (Product, "external_ref")}
# Stock below zero is stored as zero (platforms allow overselling), so only the top of the range counts.
_VARIANT_COLUMNS = {"sku": (Variant, "sku"), "size": (Variant, "size"), "colour": (Variant, "colour"),
                    "price_minor": (Variant, "price_minor"), "stock": (Variant, "stock"),
                    "external_ref": (Variant, "external_ref"), "inventory_ref": (Variant, "inventory_ref")}


def _column_fits(value: object, *, model: type[models.Model], column: str, field_name: str) -> None:
    model_field = model._meta.get_field(column)
    if isinstance(value, str):
        limit = getattr(model_field, "max_length", None)
        if limit is not None and len(value) > limit:
            raise InvalidPayload(f"{field_name} is {len(value)} characters long; at most {limit} can be stored.",
                                 details={"field": field_name, "reason": "too_long", "limit": limit})
    elif isinstance(value, int) and not isinstance(value, bool):
        low, high = connection.ops.integer_field_range(model_field.get_internal_type())
        if (low is not None and value < low) or (high is not None and value > high):
            raise InvalidPayload(f"{field_name} is {value}; it must be between {low} and {high}.",
                                 details={"field": field_name, "reason": "out_of_range", "min": low, "max": high})


def _columns_fit(values: dict[str, object], columns: dict[str, tuple[type[models.Model], str]], *,
                 prefix: str = "") -> None:
    for name, (model, column) in columns.items():
        value = values.get(name)
        if value is not None:
            _column_fits(value, model=model, column=column, field_name=f"{prefix}{name}")


def parsed_storable_check(parsed: Parsed) -> None:
    """InvalidPayload naming the first value its column cannot hold (too long, out of range, empty)."""
    if isinstance(parsed, OrderData):
        if not parsed.number:
            raise InvalidPayload("The order number is empty.", details={"field": "number", "reason": "empty"})
        _columns_fit(vars(parsed), _ORDER_COLUMNS)
        for index, item in enumerate(parsed.items):
            _columns_fit(vars(item), _ITEM_COLUMNS, prefix=f"items[{index}].")
    if isinstance(parsed, OrderData | FulfillmentData) and parsed.tracking is not None:
        _columns_fit(vars(parsed.tracking), _TRACKING_COLUMNS, prefix="tracking.")
    if isinstance(parsed, ProductData):
        _columns_fit({**vars(parsed), "sku": parsed.new_product_sku}, _PRODUCT_COLUMNS)
        seen_skus: set[str] = set()
        for index, variant in enumerate(parsed.variants):
            if variant.sku in seen_skus:  # one row per SKU: the second would break its unique constraint
                raise InvalidPayload(f"variants[{index}].sku '{variant.sku}' is given to two variants.",
                                     details={"field": f"variants[{index}].sku", "reason": "duplicate"})
            seen_skus.add(variant.sku)
            stored = None if variant.stock is None else max(variant.stock, 0)
            _columns_fit({**vars(variant), "stock": stored}, _VARIANT_COLUMNS, prefix=f"variants[{index}].")
    if isinstance(parsed, InventoryData):
        _column_fits(max(parsed.available, 0), model=Variant, column="stock", field_name="available")
