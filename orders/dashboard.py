"""Dashboard pages for the shop: catalog, orders and the shop's webhooks.

Agents read the catalog and the orders (customers ask them about both); owners edit products,
variants and stock, import a catalog CSV, and manage the webhook secrets, which are shown masked.
The catalog edits are two small services here beside their only callers; a product is saved with
every edit so the assistant's cached catalog index (keyed by the products' last update) is rebuilt.
"""

from __future__ import annotations

import io
from typing import Any

from django import forms
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from chat.dashboard.permissions import agent_required, owner_required, user_is_owner
from chat.dashboard.settings_views import secret_masked
from config.content_version import content_version_bump
from config.errors import ApplicationError, ValidationFailed
from orders.models import Order, OrderStatus, Platform, Product, ShopConnection, Variant, WebhookDelivery
from orders.money import amount_to_minor, minor_to_display
from orders.selectors import commerce_currency
from orders.services.catalog import catalog_import_csv, shop_secret_clear, shop_secret_set

PAGE_SIZE = 50
DELIVERIES_SHOWN = 30
CSV_MAX_BYTES = 10 * 1024 * 1024
SHOP_PLATFORMS = (Platform.SHOPIFY, Platform.WOOCOMMERCE)


# ------------------------------------------------------------------------------------ services


def product_update(*, product: Product, name: str, category: str, description: str, synonyms: list[str],
                   is_sellable: bool) -> Product:
    name = " ".join(name.split())
    if not name:
        raise ValidationFailed("A product needs a name.", code="invalid_product")
    product.name, product.category, product.description = name, category.strip(), description.strip()
    product.synonyms = list(dict.fromkeys(word.strip() for word in synonyms if word.strip()))
    product.is_sellable = is_sellable and product.variants.filter(is_sellable=True).exists()
    product.save()
    content_version_bump()
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


# --------------------------------------------------------------------------------------- forms


class ProductForm(forms.Form):
    name = forms.CharField(max_length=200)
    category = forms.CharField(max_length=100, required=False)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4, "cols": 70}))
    synonyms = forms.CharField(required=False, label="Other names customers use (comma separated)")
    is_sellable = forms.BooleanField(required=False, label="For sale")


class VariantForm(forms.Form):
    price = forms.CharField(max_length=20)
    stock = forms.IntegerField(min_value=0)
    is_sellable = forms.BooleanField(required=False, label="For sale")


class CatalogUploadForm(forms.Form):
    file = forms.FileField(label="Catalog CSV (one row per variant)")


class SecretForm(forms.Form):
    platform = forms.ChoiceField(choices=[(platform.value, platform.label) for platform in SHOP_PLATFORMS])
    secret = forms.CharField(max_length=255, required=False, widget=forms.PasswordInput(attrs={"autocomplete": "off"}))
    clear = forms.BooleanField(required=False, label="Remove the secret")


# --------------------------------------------------------------------------------------- pages


def _is_owner(request: HttpRequest) -> bool:
    return user_is_owner(request.user)


def _product_rows(products: Any) -> list[tuple[Product, str]]:
    return [(product, minor_to_display(product.price_minor, currency=product.currency)) for product in products]


@agent_required
def catalog_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    products = Product.objects.annotate(variant_count=Count("variants")).order_by("name", "id")
    if query:
        products = products.filter(Q(name__icontains=query) | Q(sku__iexact=query)
                                   | Q(variants__sku__iexact=query)).distinct()
    page = Paginator(products, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "dashboard/catalog/list.html", {
        "page": page, "query": query, "is_owner": _is_owner(request), "currency": commerce_currency(),
        "upload_form": CatalogUploadForm(), "imported": request.GET.get("imported", ""),
        "rows": _product_rows(page.object_list),
    })


def _product_or_404(product_id: int) -> Product:
    product = Product.objects.filter(pk=product_id).first()
    if product is None:
        raise Http404("There is no such product.")
    return product


def _product_page(request: HttpRequest, product: Product, *, form: ProductForm | None = None, error: str = "",
                  status: int = 200) -> HttpResponse:
    variants = list(product.variants.order_by("sku"))
    return render(request, "dashboard/catalog/product.html", {
        "product": product, "is_owner": _is_owner(request), "error": error, "saved": request.GET.get("saved"),
        "form": form or ProductForm(initial={"name": product.name, "category": product.category,
                                             "description": product.description, "is_sellable": product.is_sellable,
                                             "synonyms": ", ".join(product.synonyms or [])}),
        "variants": [(variant, minor_to_display(variant.price_minor, currency=product.currency),
                      VariantForm(prefix=f"v{variant.pk}", initial={
                          "price": minor_to_display(variant.price_minor, currency=product.currency).split()[0],
                          "stock": variant.stock, "is_sellable": variant.is_sellable}))
                     for variant in variants],
    }, status=status)


@agent_required
def product_detail(request: HttpRequest, product_id: int) -> HttpResponse:
    return _product_page(request, _product_or_404(product_id))


@owner_required
@require_POST
def product_edit(request: HttpRequest, product_id: int) -> HttpResponse:
    product = _product_or_404(product_id)
    form = ProductForm(request.POST)
    if not form.is_valid():
        return _product_page(request, product, form=form, status=400)
    data = form.cleaned_data
    try:
        product_update(product=product, name=data["name"], category=data["category"], description=data["description"],
                       synonyms=data["synonyms"].split(","), is_sellable=data["is_sellable"])
    except ApplicationError as error:
        return _product_page(request, product, form=form, error=error.message, status=error.status)
    return redirect(reverse("dashboard:catalog-product", args=[product.pk]) + "?saved=1")


@owner_required
@require_POST
def variant_edit(request: HttpRequest, variant_id: int) -> HttpResponse:
    variant = Variant.objects.select_related("product").filter(pk=variant_id).first()
    if variant is None:
        raise Http404("There is no such variant.")
    form = VariantForm(request.POST, prefix=f"v{variant.pk}")
    if not form.is_valid():
        return _product_page(request, variant.product, error="Give a price and a stock of 0 or more.", status=400)
    try:
        variant_update(variant=variant, price=form.cleaned_data["price"], stock=form.cleaned_data["stock"],
                       is_sellable=form.cleaned_data["is_sellable"])
    except ApplicationError as error:
        return _product_page(request, variant.product, error=error.message, status=error.status)
    return redirect(reverse("dashboard:catalog-product", args=[variant.product_id]) + "?saved=1")


@owner_required
@require_POST
def catalog_upload(request: HttpRequest) -> HttpResponse:
    form = CatalogUploadForm(request.POST, request.FILES)
    error = ""
    if not form.is_valid():
        error = "Choose a CSV file."
    elif form.cleaned_data["file"].size > CSV_MAX_BYTES:
        error = f"The file is larger than {CSV_MAX_BYTES // (1024 * 1024)} MB."
    else:
        raw = form.cleaned_data["file"].read()
        try:
            result = catalog_import_csv(stream=io.StringIO(raw.decode("utf-8-sig")))
        except UnicodeDecodeError:
            error = "The file is not UTF-8 text."
        except ApplicationError as failure:
            error = failure.message
        else:
            return redirect(reverse("dashboard:catalog") + f"?imported={result.products} products, "
                                                           f"{result.variants} variants")
    page = Paginator(Product.objects.annotate(variant_count=Count("variants")).order_by("name", "id"),
                     PAGE_SIZE).get_page(1)
    return render(request, "dashboard/catalog/list.html", {
        "page": page, "query": "", "is_owner": True, "currency": commerce_currency(), "upload_form": form,
        "error": error, "rows": _product_rows(page.object_list),
    }, status=400)


@agent_required
def order_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    status = request.GET.get("status", "")
    orders = Order.objects.order_by("-placed_at", "-id")
    if status in OrderStatus.values:
        orders = orders.filter(status=status)
    if query:
        orders = orders.filter(Q(number__iexact=query) | Q(email__iexact=query) | Q(number__icontains=query))
    page = Paginator(orders, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "dashboard/orders/list.html", {
        "page": page, "query": query, "status": status, "statuses": OrderStatus.choices,
        "rows": [(order, minor_to_display(order.total_minor, currency=order.currency))
                 for order in page.object_list],
    })


@agent_required
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    order = Order.objects.filter(pk=order_id).prefetch_related("items", "history").first()
    if order is None:
        raise Http404("There is no such order.")
    return render(request, "dashboard/orders/detail.html", {
        "order": order, "total": minor_to_display(order.total_minor, currency=order.currency),
        "items": [(item, minor_to_display(item.unit_price_minor, currency=order.currency))
                  for item in order.items.all()],
    })


def _webhooks_context(request: HttpRequest) -> dict[str, Any]:
    secrets = {connection.platform: connection for connection in ShopConnection.objects.all()}
    scheme = "https" if request.is_secure() else "http"
    host = request.get_host()
    endpoints = [{"platform": platform.label, "value": platform.value,
                  "url": f"{scheme}://{host}" + reverse(f"orders:{platform.value}-webhook"),
                  "secret": secret_masked(secrets[platform].webhook_secret) if platform in secrets else "",
                  "updated": secrets[platform].updated if platform in secrets else None}
                 for platform in SHOP_PLATFORMS]
    deliveries = list(WebhookDelivery.objects.defer("body", "headers").order_by("-received")[:DELIVERIES_SHOWN])
    return {"endpoints": endpoints, "deliveries": deliveries, "form": SecretForm(),
            "saved": request.GET.get("saved")}


@owner_required
def webhooks_page(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "dashboard/orders/webhooks.html", _webhooks_context(request))
    form = SecretForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationFailed("Choose a platform.")
        platform = form.cleaned_data["platform"]
        if form.cleaned_data["clear"]:
            shop_secret_clear(platform=platform)
        else:
            shop_secret_set(platform=platform, secret=form.cleaned_data["secret"])
    except ApplicationError as error:
        return render(request, "dashboard/orders/webhooks.html",
                      {**_webhooks_context(request), "error": error.message}, status=error.status)
    return redirect(reverse("dashboard:webhooks") + "?saved=1")
