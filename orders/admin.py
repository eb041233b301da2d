"""Commerce data in the tenant's admin: read mostly; writes go through the services and webhooks."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from config.content_version import content_version_bump
from orders import models
from orders.money import minor_to_staff_label


class ContentAdmin(admin.ModelAdmin):
    """What is edited here is what the assistant answers from: each edit bumps the content version."""

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)  # after the row and its inlines
        content_version_bump()

    def delete_model(self, request: HttpRequest, obj: Model) -> None:
        super().delete_model(request, obj)
        content_version_bump()

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        super().delete_queryset(request, queryset)
        content_version_bump()


class VariantInline(admin.TabularInline):
    model = models.Variant
    extra = 0
    fields = ["sku", "size", "colour", "price_minor", "stock", "is_sellable"]


@admin.register(models.Product)
class ProductAdmin(ContentAdmin):
    list_display = ["sku", "name", "category", "price", "is_sellable"]
    search_fields = ["sku", "name", "category"]
    inlines = [VariantInline]

    @admin.display(description="Price from", ordering="price_minor")
    def price(self, product: models.Product) -> str:
        return minor_to_staff_label(product.price_minor, currency=product.currency)


class OrderItemInline(admin.TabularInline):
    model = models.OrderItem
    extra = 0
    can_delete = False


class StatusChangeInline(admin.TabularInline):
    model = models.OrderStatusChange
    extra = 0
    can_delete = False
    readonly_fields = ["from_status", "to_status", "at", "source", "recorded"]

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(models.Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["number", "status", "email", "total", "placed_at"]
    list_filter = ["status", "platform"]
    search_fields = ["number", "email", "tracking_number"]
    # Status changes go through orders.services.orders.order_transition, never a free edit.
    readonly_fields = ["status", "lookup_key", "source_updated_at"]
    inlines = [OrderItemInline, StatusChangeInline]

    @admin.display(description="Total", ordering="total_minor")
    def total(self, order: models.Order) -> str:
        return minor_to_staff_label(order.total_minor, currency=order.currency)


@admin.register(models.WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["platform", "topic", "delivery_id", "state", "attempts", "received", "processed"]
    list_filter = ["platform", "state"]
    search_fields = ["delivery_id", "topic"]
    exclude = ["body"]
    readonly_fields = ["platform", "delivery_id", "topic", "headers", "state", "outcome", "attempts", "received",
                       "processed"]


admin.site.register(models.SpecialDay, ContentAdmin)
admin.site.register(models.WeeklyOpening, ContentAdmin)
