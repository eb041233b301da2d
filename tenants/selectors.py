"""Reads about tenants for ops commands and the platform admin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, QuerySet, Sum
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from tenants.models import DeadLetter, Tenant, UsageEntry


def month_start(now: datetime | None = None) -> datetime:
    now = timezone.localtime(now or timezone.now(), timezone.get_default_timezone())
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class TenantRow:
    slug: str
    name: str
    status: str
    plan: str
    domains: list[str]
    messages_this_month: int
    created: datetime


def tenant_list() -> list[TenantRow]:
    tenants = (
        Tenant.objects.exclude(schema_name=get_public_schema_name())
        .select_related("plan")
        .prefetch_related("domains")
        .order_by("schema_name")
    )
    usage = dict(
        UsageEntry.objects.filter(kind=UsageEntry.Kind.MESSAGE, created__gte=month_start())
        .values_list("tenant_id")
        .annotate(total=Sum("quantity"))
        .values_list("tenant_id", "total")
    )
    return [
        TenantRow(
            slug=tenant.schema_name,
            name=tenant.name,
            status=tenant.status,
            plan=tenant.plan.code if tenant.plan else "-",
            domains=[domain.domain for domain in tenant.domains.all()],
            messages_this_month=int(usage.get(tenant.pk) or 0),
            created=tenant.created,
        )
        for tenant in tenants
    ]


def active_tenant_schemas() -> list[str]:
    return list(
        Tenant.objects.exclude(schema_name=get_public_schema_name())
        .filter(status=Tenant.Status.ACTIVE)
        .values_list("schema_name", flat=True)
    )


def deadletter_list(*, include_replayed: bool = False) -> QuerySet[DeadLetter]:
    letters = DeadLetter.objects.all()
    if not include_replayed:
        letters = letters.filter(replayed_at__isnull=True)
    return letters


def deadletter_counts_by_task() -> list[dict[str, object]]:
    return list(DeadLetter.objects.values("task_name").annotate(count=Count("id")).order_by("-count"))
