"""Dashboard pages for the shop: catalog, orders and the shop's webhooks.

Agents read the catalog and the orders (customers ask them about both); owners edit products,
variants and stock, import a catalog CSV, and manage the webhook secrets, which are shown masked.
The pages live in the dashboard, which calls the orders app's services and selectors; the orders
app knows nothing of the dashboard.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from chat.dashboard.permissions import agent_required, owner_required, user_is_owner
from config.errors import form_submit
from config.outside_urls import MAX_OUTSIDE_URL_LENGTH
from config.secrets_at_rest import secret_masked
from orders import selectors
from orders.models import OrderStatus, Platform, Product
from orders.money import minor_to_display
from orders.services.catalog import (
    catalog_import_csv_file,
    product_update,
    shop_secret_clear,
    shop_secret_set,
    variant_update,
)

PAGE_SIZE = 50
DELIVERIES_SHOWN = 30
SHOP_PLATFORMS = (Platform.SHOPIFY, Platform.WOOCOMMERCE)


# --------------------------------------------------------------------------------------- forms


class ProductForm(forms.Form):
    name = forms.CharField(max_length=200)
    category = forms.CharField(max_length=100, required=False)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4, "cols": 70}))
    synonyms = forms.CharField(required=False, label="Other names customers use (comma separated)")
    # Checked by the service (http or https only), which names the field in its error.
    page_url = forms.CharField(required=False, max_length=MAX_OUTSIDE_URL_LENGTH, label="Product page address",
                               widget=forms.URLInput(attrs={"placeholder": "https://"}))
    image_url = forms.CharField(required=False, max_length=MAX_OUTSIDE_URL_LENGTH, label="Image address",
                                widget=forms.URLInput(attrs={"placeholder": "https://"}))
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
    page = Paginator(selectors.product_list_for_dashboard(query=query), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "dashboard/catalog/list.html", {
        "page": page, "query": query, "is_owner": _is_owner(request), "currency": selectors.commerce_currency(),
        "upload_form": CatalogUploadForm(), "imported": request.GET.get("imported", ""),
        "rows": _product_rows(page.object_list),
    })


def _product_or_404(product_id: int) -> Product:
    product = selectors.product_get(product_id=product_id)
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
                                             "page_url": product.page_url, "image_url": product.image_url,
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
    submitted = form_submit(form, lambda data: product_update(
        product=product, name=data["name"], category=data["category"], description=data["description"],
        synonyms=data["synonyms"].split(","), is_sellable=data["is_sellable"], page_url=data["page_url"],
        image_url=data["image_url"]))
    if not submitted.accepted:
        return _product_page(request, product, form=form, status=submitted.status)
    return redirect(reverse("dashboard:catalog-product", args=[product.pk]) + "?saved=1")


@owner_required
@require_POST
def variant_edit(request: HttpRequest, variant_id: int) -> HttpResponse:
    variant = selectors.variant_get(variant_id=variant_id)
    if variant is None:
        raise Http404("There is no such variant.")
    form = VariantForm(request.POST, prefix=f"v{variant.pk}")
    submitted = form_submit(form, lambda data: variant_update(
        variant=variant, price=data["price"], stock=data["stock"], is_sellable=data["is_sellable"]))
    if not submitted.accepted:
        # The variants' small forms sit in a table without room for messages: the page says it above.
        error = submitted.error.message if submitted.error else "Give a price and a stock of 0 or more."
        return _product_page(request, variant.product, error=error, status=submitted.status)
    return redirect(reverse("dashboard:catalog-product", args=[variant.product_id]) + "?saved=1")


@owner_required
@require_POST
def catalog_upload(request: HttpRequest) -> HttpResponse:
    form = CatalogUploadForm(request.POST, request.FILES)
    submitted = form_submit(form, lambda data: catalog_import_csv_file(file=data["file"], size=data["file"].size))
    if submitted.accepted and submitted.result is not None:
        return redirect(reverse("dashboard:catalog") + f"?imported={submitted.result.products} products, "
                                                       f"{submitted.result.variants} variants")
    page = Paginator(selectors.product_list_for_dashboard(), PAGE_SIZE).get_page(1)
    return render(request, "dashboard/catalog/list.html", {
        "page": page, "query": "", "is_owner": True, "currency": selectors.commerce_currency(), "upload_form": form,
        "error": "" if submitted.error else "Choose a CSV file.", "rows": _product_rows(page.object_list),
    }, status=submitted.status)


@agent_required
def order_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    status = request.GET.get("status", "")
    orders = selectors.order_list_for_dashboard(query=query, status=status)
    page = Paginator(orders, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "dashboard/orders/list.html", {
        "page": page, "query": query, "status": status, "statuses": OrderStatus.choices,
        "rows": [(order, minor_to_display(order.total_minor, currency=order.currency))
                 for order in page.object_list],
    })


@agent_required
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    order = selectors.order_get_with_items(order_id=order_id)
    if order is None:
        raise Http404("There is no such order.")
    return render(request, "dashboard/orders/detail.html", {
        "order": order, "total": minor_to_display(order.total_minor, currency=order.currency),
        "items": [(item, minor_to_display(item.unit_price_minor, currency=order.currency))
                  for item in order.items.all()],
    })


def _webhooks_context(request: HttpRequest) -> dict[str, Any]:
    secrets = selectors.shop_connections_by_platform()
    scheme = "https" if request.is_secure() else "http"
    host = request.get_host()
    endpoints = [{"platform": platform.label, "value": platform.value,
                  "url": f"{scheme}://{host}" + reverse(f"orders:{platform.value}-webhook"),
                  "secret": secret_masked(secrets[platform].webhook_secret) if platform in secrets else "",
                  "updated": secrets[platform].updated if platform in secrets else None}
                 for platform in SHOP_PLATFORMS]
    return {"endpoints": endpoints, "deliveries": selectors.webhook_delivery_list_recent(limit=DELIVERIES_SHOWN),
            "form": SecretForm(), "saved": request.GET.get("saved")}


@owner_required
def webhooks_page(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "dashboard/orders/webhooks.html", _webhooks_context(request))
    form = SecretForm(request.POST)
    submitted = form_submit(form, lambda data: shop_secret_clear(platform=data["platform"]) if data["clear"]
                            else shop_secret_set(platform=data["platform"], secret=data["secret"]))
    if not submitted.accepted:
        return render(request, "dashboard/orders/webhooks.html", {
            **_webhooks_context(request), "form": form, "error": "" if submitted.error else "Choose a platform."},
            status=submitted.status)
    return redirect(reverse("dashboard:webhooks") + "?saved=1")
