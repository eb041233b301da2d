"""Webhook bodies shaped like the platforms' documented examples (Shopify REST webhooks, WooCommerce v3).

Only the fields are trimmed; names, nesting and value types (prices as strings, ids as integers)
follow the platforms' own sample payloads.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any


def sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def shopify_headers(secret: str, body: bytes, topic: str, delivery_id: str | None = None) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(secret, body),
        "X-Shopify-Shop-Domain": "threadline.myshopify.com",
        "X-Shopify-API-Version": "2024-10",
        "X-Shopify-Webhook-Id": delivery_id or str(uuid.uuid4()),
    }


def woocommerce_headers(secret: str, body: bytes, topic: str, delivery_id: str | None = None) -> dict[str, str]:
    resource, event = topic.split(".")
    return {
        "Content-Type": "application/json",
        "X-WC-Webhook-Source": "https://shop.example/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Signature": sign(secret, body),
        "X-WC-Webhook-ID": "3",
        "X-WC-Webhook-Delivery-ID": delivery_id or uuid.uuid4().hex,
    }


def body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def shopify_order(*, order_id: int = 820982911946154508, name: str = "#1001", email: str = "jon@example.com",
                  financial_status: str = "paid", fulfillment_status: str | None = None,
                  updated_at: str = "2026-11-02T10:15:00-05:00", cancelled_at: str | None = None,
                  currency: str = "EUR", price: Any = "59.95", total: Any = "64.90",
                  fulfillments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": name,
        "order_number": int(name.lstrip("#")) if name.lstrip("#").isdigit() else 1001,
        "email": email,
        "contact_email": email,
        "phone": "+31 6 1234 5678",
        "created_at": "2026-11-02T10:00:00-05:00",
        "updated_at": updated_at,
        "cancelled_at": cancelled_at,
        "cancel_reason": "customer" if cancelled_at else None,
        "currency": currency,
        "presentment_currency": currency,
        "financial_status": financial_status,
        "fulfillment_status": fulfillment_status,
        "subtotal_price": price,
        "total_price": total,
        "total_tax": "0.00",
        "total_shipping_price_set": {"shop_money": {"amount": "4.95", "currency_code": currency},
                                     "presentment_money": {"amount": "4.95", "currency_code": currency}},
        "customer": {"id": 115310627314723954, "email": email, "first_name": "Jon", "last_name": "Snow",
                     "phone": None},
        "shipping_address": {"first_name": "Jon", "address1": "123 Amoebobacterieae St", "city": "Ottawa",
                             "country_code": "CA", "phone": "555-625-1199"},
        "line_items": [
            {"id": 866550311766439020, "variant_id": 808950810, "product_id": 632910392, "title": "Essential Hoodie",
             "variant_title": "Navy / M", "name": "Essential Hoodie - Navy / M", "sku": "TL-HOOD-001-NAV-M",
             "quantity": 1, "price": price, "fulfillment_status": None},
        ],
        "fulfillments": fulfillments or [],
    }


def shopify_fulfillment(*, order_id: int = 820982911946154508, status: str = "success",
                        shipment_status: str | None = None,
                        updated_at: str = "2026-11-02T16:55:00-05:00") -> dict[str, Any]:
    return {
        "id": 123456,
        "order_id": order_id,
        "status": status,
        "created_at": "2026-11-02T16:50:00-05:00",
        "updated_at": updated_at,
        "service": "manual",
        "tracking_company": "PostNL",
        "shipment_status": shipment_status,
        "location_id": 905684977,
        "email": "jon@example.com",
        "tracking_number": "3STHRL0048271",
        "tracking_numbers": ["3STHRL0048271"],
        "tracking_url": "https://postnl.example/track/3STHRL0048271",
        "tracking_urls": ["https://postnl.example/track/3STHRL0048271"],
        "name": "#1001.1",
        "line_items": [{"id": 866550311766439020, "sku": "TL-HOOD-001-NAV-M", "quantity": 1, "price": "59.95"}],
    }


def shopify_product(*, product_id: int = 632910392, price: Any = "64.95") -> dict[str, Any]:
    return {
        "id": product_id,
        "title": "Harbour Hoodie",
        "body_html": "<p>Heavyweight garment-dyed hoodie in a <strong>washed blue</strong>.</p>",
        "vendor": "Threadline",
        "product_type": "Hoodies & sweats",
        "handle": "harbour-hoodie",
        "tags": "blue hoodie, heavyweight",
        "status": "active",
        "updated_at": "2026-11-02T10:00:00-05:00",
        "image": {"id": 850703190, "product_id": product_id, "position": 1,
                  "src": "https://cdn.shopify.com/s/files/1/0006/9093/3842/products/harbour-hoodie.jpg"},
        "images": [{"id": 850703190, "product_id": product_id, "position": 1,
                    "src": "https://cdn.shopify.com/s/files/1/0006/9093/3842/products/harbour-hoodie.jpg"}],
        "options": [{"id": 594680422, "product_id": product_id, "name": "Size", "position": 1, "values": ["M", "L"]},
                    {"id": 594680423, "product_id": product_id, "name": "Color", "position": 2, "values": ["Blue"]}],
        "variants": [
            {"id": 808950810, "product_id": product_id, "title": "M / Blue", "price": price, "sku": "SH-HARB-BLU-M",
             "position": 1, "option1": "M", "option2": "Blue", "option3": None, "inventory_item_id": 39072856,
             "inventory_quantity": 7},
            {"id": 808950811, "product_id": product_id, "title": "L / Blue", "price": price, "sku": "SH-HARB-BLU-L",
             "position": 2, "option1": "L", "option2": "Blue", "option3": None, "inventory_item_id": 39072857,
             "inventory_quantity": 0},
        ],
    }


def shopify_inventory_level(*, inventory_item_id: int = 39072856, available: int = 3) -> dict[str, Any]:
    return {"inventory_item_id": inventory_item_id, "location_id": 24826418, "available": available,
            "updated_at": "2026-11-02T11:00:00-05:00",
            "admin_graphql_api_id": f"gid://shopify/InventoryLevel/24826418?inventory_item_id={inventory_item_id}"}


def woocommerce_order(*, order_id: int = 727, status: str = "processing", email: str = "john.doe@example.com",
                      total: Any = "29.35", price: Any = 21.99,
                      modified_gmt: str = "2026-11-02T10:00:00") -> dict[str, Any]:
    return {
        "id": order_id,
        "parent_id": 0,
        "number": str(order_id),
        "order_key": "wc_order_58d2d042d1d",
        "created_via": "checkout",
        "version": "9.3.0",
        "status": status,
        "currency": "EUR",
        "date_created": "2026-11-02T11:00:00",
        "date_created_gmt": "2026-11-02T10:00:00",
        "date_modified": "2026-11-02T11:00:00",
        "date_modified_gmt": modified_gmt,
        "discount_total": "0.00",
        "shipping_total": "7.36",
        "total": total,
        "total_tax": "0.00",
        "prices_include_tax": False,
        "customer_id": 0,
        "billing": {"first_name": "John", "last_name": "Doe", "address_1": "969 Market", "city": "San Francisco",
                    "country": "US", "email": email, "phone": "(555) 555-5555"},
        "shipping": {"first_name": "John", "last_name": "Doe", "address_1": "969 Market", "city": "San Francisco",
                     "country": "US"},
        "payment_method": "bacs",
        "line_items": [
            {"id": 315, "name": "Woo Single #1", "product_id": 93, "variation_id": 0, "quantity": 1,
             "tax_class": "", "subtotal": "21.99", "total": "21.99", "sku": "WOO-SINGLE-1", "price": price},
        ],
        "meta_data": [],
    }


def woocommerce_product(*, product_id: int = 799, price: Any = "21.99", stock: int | None = 5) -> dict[str, Any]:
    return {
        "id": product_id,
        "name": "Premium Quality",
        "slug": "premium-quality",
        "permalink": "https://example.com/product/premium-quality/",
        "type": "simple",
        "status": "publish",
        "description": "<p>Pellentesque habitant morbi tristique senectus.</p>",
        "short_description": "<p>A premium quality tee.</p>",
        "sku": "WOO-PREMIUM",
        "price": price,
        "regular_price": price,
        "manage_stock": stock is not None,
        "stock_quantity": stock,
        "stock_status": "instock",
        "date_modified_gmt": "2026-11-02T10:00:00",
        "categories": [{"id": 9, "name": "Clothing", "slug": "clothing"}],
        "images": [{"id": 792, "src": "https://example.com/wp-content/uploads/2026/11/T_2_front.jpg",
                    "name": "", "alt": ""}],
        "tags": [],
        "attributes": [],
        "variations": [],
    }
