"""The platform admin (public schema only): tenants, domains, plans, usage and dead letters."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Field, QuerySet, Sum
from django.forms import Field as FormField
from django.http import HttpRequest
from django_tenants.admin import TenantAdminMixin

from config.content_version import content_version_bump
from orders.money import minor_to_staff_label
from tenants import services
from tenants.models import DeadLetter, Domain, Plan, Tenant, UsageEntry
from tenants.selectors import month_start


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "monthly_messages", "monthly_tokens", "knowledge_sources", "agent_seats", "price")
    readonly_fields = ("price",)
    fields = ("name", "code", "monthly_messages", "monthly_tokens", "knowledge_sources", "agent_seats", "currency",
              "price_minor", "price")

    @admin.display(description="Price", ordering="price_minor")
    def price(self, plan: Plan) -> str:
        # Money as people read it, in the plan's own currency (orders.money knows each one's minor units).
        if plan.pk is None:
            return "-"
        return f"{minor_to_staff_label(plan.price_minor, currency=plan.currency)} / month"

    def formfield_for_dbfield(self, db_field: Field, request: HttpRequest, **kwargs: Any) -> FormField | None:
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "price_minor" and formfield is not None:
            formfield.label = "Monthly price in the currency's smallest unit"
            formfield.help_text = "Cents for EUR or USD: 2900 is 29.00 EUR. Shown as money under Price once saved."
        return formfield


@admin.register(Tenant)
class TenantAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ("name", "schema_name", "plan", "status", "timezone", "messages_this_month", "created")
    list_filter = ("status", "plan")
    search_fields = ("name", "schema_name", "domains__domain")
    inlines = [DomainInline]
    actions = ["suspend", "resume"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tenant]:
        return super().get_queryset(request).exclude(schema_name="public").select_related("plan")

    def save_model(self, request: HttpRequest, obj: Tenant, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change:  # its time zone is what its opening hours are read in
            content_version_bump(schema_name=obj.schema_name)

    @admin.display(description="Messages this month")
    def messages_this_month(self, tenant: Tenant) -> int:
        total = tenant.usage_entries.filter(kind=UsageEntry.Kind.MESSAGE, created__gte=month_start()).aggregate(
            total=Sum("quantity")
        )["total"]
        return int(total or 0)

    @admin.action(description="Suspend selected tenants")
    def suspend(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        for tenant in queryset:
            services.tenant_set_status(slug=tenant.schema_name, status=Tenant.Status.SUSPENDED)
        self.message_user(request, f"Suspended {queryset.count()} tenant(s).", messages.SUCCESS)

    @admin.action(description="Resume selected tenants")
    def resume(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        for tenant in queryset:
            services.tenant_set_status(slug=tenant.schema_name, status=Tenant.Status.ACTIVE)
        self.message_user(request, f"Resumed {queryset.count()} tenant(s).", messages.SUCCESS)


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    list_display = ("domain", "tenant", "is_primary")
    search_fields = ("domain", "tenant__name")


@admin.register(UsageEntry)
class UsageEntryAdmin(admin.ModelAdmin):
    list_display = ("created", "tenant", "kind", "quantity", "tokens_in", "tokens_out", "cost_minor")
    list_filter = ("kind", "tenant")
    date_hierarchy = "created"

    # The ledger is append-only: the admin reads it, never edits it.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(DeadLetter)
class DeadLetterAdmin(admin.ModelAdmin):
    list_display = ("id", "task_name", "schema_name", "queue", "attempts", "last_failed_at", "replayed_at")
    list_filter = ("task_name", "schema_name", "queue")
    readonly_fields = [field.name for field in DeadLetter._meta.fields]
    actions = ["replay"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Replay selected dead letters")
    def replay(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        for letter in queryset:
            services.deadletter_replay(letter_id=letter.pk)
        self.message_user(request, f"Replayed {queryset.count()} task(s).", messages.SUCCESS)
