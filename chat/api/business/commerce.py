"""Catalog and stock (read, upsert, bulk), orders (read, upsert) and opening hours. Scope: `catalog`.

Money is in minor units of the currency (cents for EUR): `price_minor: 1995` is 19.95 EUR.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from chat.api.business.conversations import PAGE_PARAMS, OrderOut
from chat.api.conventions import ApiView, StrictSerializer, query_params_check
from chat.api.models import Scope
from config.outside_urls import MAX_OUTSIDE_URL_LENGTH, validate_outside_url
from orders import selectors as order_selectors
from orders.models import OrderItem, OrderStatus, OrderStatusChange, Platform, Product, ProductKind, Variant
from orders.money import currency_normalize
from orders.platforms import ItemData, OrderData, TrackingData
from orders.services.catalog import CatalogImportResult, CatalogRow, catalog_rows_save, variant_stock_set
from orders.services.hours import opening_hours_set_from_json
from orders.services.orders import order_upsert

MAX_MINOR = 10**12  # a trillion minor units: far above any real price, far below the column's limit
MAX_STOCK = 10**9
BULK_MAX_PRODUCTS = 500
BULK_MAX_STOCK = 1000
SKU_MAX = 64


# ------------------------------------------------------------------------------ shapes


class VariantOut(serializers.ModelSerializer):
    class Meta:
        model = Variant
        fields = ["sku", "size", "colour", "price_minor", "stock", "is_sellable", "updated"]


class ProductOut(serializers.ModelSerializer):
    variants = VariantOut(many=True)

    class Meta:
        model = Product
        fields = ["sku", "name", "category", "description", "synonyms", "kind", "currency", "price_minor",
                  "is_sellable", "page_url", "image_url", "variants", "updated"]


class VariantIn(StrictSerializer):
    sku = serializers.CharField(max_length=SKU_MAX)
    size = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    colour = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    price_minor = serializers.IntegerField(min_value=1, max_value=MAX_MINOR)
    stock = serializers.IntegerField(min_value=0, max_value=MAX_STOCK)


class ProductIn(StrictSerializer):
    name = serializers.CharField(max_length=200)
    category = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    description = serializers.CharField(max_length=20000, required=False, allow_blank=True, default="")
    synonyms = serializers.ListField(child=serializers.CharField(max_length=100), max_length=50, required=False,
                                     default=list)
    kind = serializers.ChoiceField(choices=ProductKind.choices, default=ProductKind.ITEM)
    # Absolute http(s) addresses only: a javascript: or data: address would become a customer's link.
    page_url = serializers.CharField(max_length=MAX_OUTSIDE_URL_LENGTH, required=False, allow_blank=True, default="",
                                     validators=[validate_outside_url],
                                     help_text="The product's page in the shop (http or https); shown as a link.")
    image_url = serializers.CharField(max_length=MAX_OUTSIDE_URL_LENGTH, required=False, allow_blank=True,
                                      default="", validators=[validate_outside_url],
                                      help_text="A picture of the product (http or https).")
    currency = serializers.CharField(max_length=3, min_length=3)
    variants = VariantIn(many=True, allow_empty=False, max_length=200)

    def validate_currency(self, value: str) -> str:
        return currency_normalize(value)

    def validate_variants(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        skus = [variant["sku"] for variant in value]
        if len(set(skus)) != len(skus):
            raise serializers.ValidationError("Each variant needs its own SKU.")
        return value


class ProductWithSkuIn(ProductIn):
    sku = serializers.CharField(max_length=SKU_MAX)


class ProductsBulkIn(StrictSerializer):
    products = ProductWithSkuIn(many=True, allow_empty=False, max_length=BULK_MAX_PRODUCTS)

    def validate_products(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        skus = [product["sku"] for product in value]
        variant_skus = [variant["sku"] for product in value for variant in product["variants"]]
        if len(set(skus)) != len(skus) or len(set(variant_skus)) != len(variant_skus):
            raise serializers.ValidationError("Each product and each variant needs its own SKU.")
        return value


class ImportResultOut(serializers.Serializer):
    products = serializers.IntegerField()
    variants = serializers.IntegerField()


class StockIn(StrictSerializer):
    stock = serializers.IntegerField(min_value=0, max_value=MAX_STOCK)


class StockLevelIn(StockIn):
    sku = serializers.CharField(max_length=SKU_MAX)


class StockBulkIn(StrictSerializer):
    levels = StockLevelIn(many=True, allow_empty=False, max_length=BULK_MAX_STOCK)


class StockSetOut(serializers.Serializer):
    updated = serializers.IntegerField()


class ProductFilters(serializers.Serializer):
    category = serializers.CharField(max_length=100, required=False)


def _rows(sku: str, product: dict[str, Any], first_line: int) -> list[CatalogRow]:
    return [CatalogRow(line=first_line + index, product_sku=sku, name=product["name"], category=product["category"],
                       description=product["description"], price_minor=variant["price_minor"],
                       currency=product["currency"], synonyms=tuple(product["synonyms"]), variant_sku=variant["sku"],
                       size=variant["size"], colour=variant["colour"], stock=variant["stock"], kind=product["kind"],
                       page_url=product["page_url"], image_url=product["image_url"])
            for index, variant in enumerate(product["variants"])]


def _valid(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# ------------------------------------------------------------------------------ catalog


class ProductListApi(ApiView):
    api_scope = str(Scope.CATALOG)
    serializer_class = ProductOut

    @extend_schema(parameters=[ProductFilters], responses=ProductOut(many=True), summary="List products with stock")
    def get(self, request: Request) -> Response:
        query_params_check(request, allowed=PAGE_PARAMS | {"category"})
        page = self.paginate_queryset(order_selectors.product_list(**_valid(ProductFilters, request.query_params)))
        return self.get_paginated_response(ProductOut(page, many=True).data)

    @extend_schema(request=ProductsBulkIn, responses=ImportResultOut,
                   summary=f"Create or update up to {BULK_MAX_PRODUCTS} products at once, all or none")
    def post(self, request: Request) -> Response:
        rows: list[CatalogRow] = []
        for product in _valid(ProductsBulkIn, request.data)["products"]:
            rows += _rows(product["sku"], product, len(rows) + 1)
        result: CatalogImportResult = catalog_rows_save(rows=rows)
        return Response(ImportResultOut(result.as_dict()).data)


class ProductApi(ApiView):
    api_scope = str(Scope.CATALOG)
    serializer_class = ProductOut

    @extend_schema(summary="Read a product with its variants and stock")
    def get(self, request: Request, sku: str) -> Response:
        return Response(ProductOut(order_selectors.product_get_by_sku(sku=sku)).data)

    @extend_schema(request=ProductIn, responses=ProductOut,
                   summary="Create or update a product and its variants (variants not named are kept)")
    def put(self, request: Request, sku: str) -> Response:
        product = _valid(ProductIn, request.data)
        catalog_rows_save(rows=_rows(sku, product, 1))
        return Response(ProductOut(order_selectors.product_get_by_sku(sku=sku)).data)


class StockApi(ApiView):
    api_scope = str(Scope.CATALOG)

    @extend_schema(request=StockIn, responses=StockSetOut, summary="Set one variant's stock")
    def put(self, request: Request, sku: str) -> Response:
        stock = _valid(StockIn, request.data)["stock"]
        return Response({"updated": variant_stock_set(levels={sku: stock})})


class StockBulkApi(ApiView):
    api_scope = str(Scope.CATALOG)

    @extend_schema(request=StockBulkIn, responses=StockSetOut,
                   summary=f"Set the stock of up to {BULK_MAX_STOCK} variants at once, all or none")
    def post(self, request: Request) -> Response:
        levels = _valid(StockBulkIn, request.data)["levels"]
        skus = [level["sku"] for level in levels]
        if len(set(skus)) != len(skus):
            raise serializers.ValidationError({"levels": ["Each SKU at most once."]})
        return Response({"updated": variant_stock_set(levels={level["sku"]: level["stock"] for level in levels})})


# ------------------------------------------------------------------------------ orders


class OrderItemOut(serializers.ModelSerializer):
    class Meta:
        model = OrderItem
        fields = ["sku", "name", "quantity", "unit_price_minor"]


class OrderHistoryOut(serializers.ModelSerializer):
    class Meta:
        model = OrderStatusChange
        fields = ["from_status", "to_status", "at", "source"]


class OrderDetailOut(OrderOut):
    items = OrderItemOut(many=True)
    history = OrderHistoryOut(many=True)

    class Meta(OrderOut.Meta):
        fields = [*OrderOut.Meta.fields, "items", "history"]


class OrderItemIn(StrictSerializer):
    sku = serializers.CharField(max_length=SKU_MAX, required=False, allow_blank=True, default="")
    name = serializers.CharField(max_length=300)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_STOCK)
    unit_price_minor = serializers.IntegerField(min_value=0, max_value=MAX_MINOR)


class TrackingIn(StrictSerializer):
    carrier = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    tracking_number = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    tracking_url = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")
    estimated_delivery = serializers.DateField(required=False, allow_null=True, default=None)


class OrderIn(StrictSerializer):
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True, default="")
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    currency = serializers.CharField(max_length=3, min_length=3)
    status = serializers.ChoiceField(choices=OrderStatus.choices, required=False, allow_null=True, default=None)
    items = OrderItemIn(many=True, max_length=500)
    subtotal_minor = serializers.IntegerField(min_value=0, max_value=MAX_MINOR)
    shipping_minor = serializers.IntegerField(min_value=0, max_value=MAX_MINOR, default=0)
    total_minor = serializers.IntegerField(min_value=0, max_value=MAX_MINOR)
    placed_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                           help_text="When your system last changed it; older updates are ignored.")
    tracking = TrackingIn(required=False, allow_null=True, default=None)

    def validate_currency(self, value: str) -> str:
        return currency_normalize(value)


class OrderFilters(serializers.Serializer):
    status = serializers.ChoiceField(choices=OrderStatus.choices, required=False)
    email = serializers.CharField(max_length=254, required=False)


class OrderListApi(ApiView):
    api_scope = str(Scope.CATALOG)
    serializer_class = OrderOut

    @extend_schema(parameters=[OrderFilters], responses=OrderOut(many=True), summary="List orders")
    def get(self, request: Request) -> Response:
        query_params_check(request, allowed=PAGE_PARAMS | {"status", "email"})
        page = self.paginate_queryset(order_selectors.order_list(**_valid(OrderFilters, request.query_params)))
        return self.get_paginated_response(OrderOut(page, many=True).data)


class OrderApi(ApiView):
    api_scope = str(Scope.CATALOG)
    serializer_class = OrderDetailOut

    @extend_schema(summary="Read an order with its items and status history")
    def get(self, request: Request, number: str) -> Response:
        return Response(OrderDetailOut(order_selectors.order_get_by_number(number=number)).data)

    @extend_schema(request=OrderIn, responses=OrderDetailOut,
                   summary="Create or update an order by its number (statuses only move forward)")
    def put(self, request: Request, number: str) -> Response:
        data = _valid(OrderIn, request.data)
        tracking = data["tracking"]
        order_upsert(data=OrderData(
            platform=str(Platform.IMPORT), external_ref=number, number=number, email=data["email"].lower(),
            phone=data["phone"], currency=data["currency"], status=data["status"],
            items=[ItemData(sku=item["sku"], name=item["name"], quantity=item["quantity"],
                            unit_price_minor=item["unit_price_minor"]) for item in data["items"]],
            subtotal_minor=data["subtotal_minor"], shipping_minor=data["shipping_minor"],
            total_minor=data["total_minor"], placed_at=data["placed_at"],
            updated_at=data["updated_at"] or timezone.now(),
            tracking=TrackingData(**tracking) if tracking else None), source="api")
        return Response(OrderDetailOut(order_selectors.order_get_by_number(number=number)).data)


# ------------------------------------------------------------------------------ opening hours

def _ranges(**options: Any) -> serializers.ListField:
    """[["09:00", "12:30"], ["13:30", "17:00"]]: opening and closing times, 24:00 for midnight."""
    clock = serializers.RegexField(r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$", max_length=5)
    return serializers.ListField(child=serializers.ListField(child=clock, min_length=2, max_length=2), max_length=12,
                                 **options)


class WeeklyHours(StrictSerializer):
    mon = _ranges()
    tue = _ranges()
    wed = _ranges()
    thu = _ranges()
    fri = _ranges()
    sat = _ranges()
    sun = _ranges()


class SpecialDayHours(StrictSerializer):
    date = serializers.DateField()
    closed = serializers.BooleanField(default=False)
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    ranges = _ranges(required=False, default=list)


class OpeningHours(StrictSerializer):
    weekly = WeeklyHours()
    exceptions = SpecialDayHours(many=True, required=False, max_length=400)


class OpeningHoursApi(ApiView):
    api_scope = str(Scope.CATALOG)
    serializer_class = OpeningHours

    @extend_schema(responses=OpeningHours, summary="Read the opening hours (the business's own time zone)")
    def get(self, request: Request) -> Response:
        return Response(order_selectors.opening_hours_document())

    @extend_schema(request=OpeningHours, responses=OpeningHours,
                   summary="Replace the opening hours: the weekly schedule and the special days")
    def put(self, request: Request) -> Response:
        data = _valid(OpeningHours, request.data)
        document = {"weekly": dict(data["weekly"]),
                    "exceptions": [{**day, "date": day["date"].isoformat()} for day in data.get("exceptions", [])]}
        opening_hours_set_from_json(data=document)
        return Response(order_selectors.opening_hours_document())
