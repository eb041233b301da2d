"""The platform's figures read at each `/metrics` scrape (registered with config.metrics in apps.py):
dead letters, the outbox backlog of every tenant, and this month's model usage from the ledger.

A tenant is a label only in the usage summary, and only the `TOP_TENANTS` largest by this month's
cost: the series stay bounded however many businesses sign up, and the totals cover them all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from django.conf import settings
from django.db.models import Count, Sum
from django_tenants.utils import schema_context
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from config.metrics import TOP_TENANTS
from tenants.models import DeadLetter, Tenant, UsageEntry
from tenants.selectors import active_tenant_schemas, month_start


def deadletters_collect() -> Iterator[Metric]:
    family = GaugeMetricFamily("deskpilot_dead_letters", "Tasks that gave up and were not replayed, by queue.",
                               labels=["queue"])
    for row in DeadLetter.objects.filter(replayed_at__isnull=True).values("queue").annotate(count=Count("pk")):
        family.add_metric([row["queue"] or "unknown"], row["count"])
    yield family


def outbox_collect() -> Iterator[Metric]:
    from config.outbox.selectors import outbox_counts

    totals: Counter[str] = Counter()
    for schema in active_tenant_schemas():
        with schema_context(schema):
            counts = outbox_counts()
        totals.update({"not_queued": counts.not_queued, "under_way": counts.under_way, "overdue": counts.overdue,
                       "given_up": counts.given_up})
    family = GaugeMetricFamily("deskpilot_outbox_backlog", "Promised tasks not finished, every tenant's, by state.",
                               labels=["state"])
    for state in ("not_queued", "under_way", "overdue", "given_up"):
        family.add_metric([state], totals[state])
    yield family


def usage_collect() -> Iterator[Metric]:
    per_usd = settings.LLM_COST_MINOR_UNITS_PER_USD
    month = UsageEntry.objects.filter(created__gte=month_start())
    rows = list(month.values("tenant_id").annotate(tokens_in=Sum("tokens_in"), tokens_out=Sum("tokens_out"),
                                                   cost=Sum("cost_minor")).order_by("-cost"))
    tenants = GaugeMetricFamily("deskpilot_usage_month_tenants", "Tenants with usage this month.")
    tenants.add_metric([], len(rows))
    yield tenants
    tokens = GaugeMetricFamily("deskpilot_usage_month_tokens", "Model tokens this month, every tenant's.",
                               labels=["direction"])
    tokens.add_metric(["in"], sum(row["tokens_in"] or 0 for row in rows))
    tokens.add_metric(["out"], sum(row["tokens_out"] or 0 for row in rows))
    yield tokens
    cost = GaugeMetricFamily("deskpilot_usage_month_cost_usd", "Estimated model cost this month, every tenant's.")
    cost.add_metric([], sum(row["cost"] or 0 for row in rows) / per_usd)
    yield cost
    top = rows[:TOP_TENANTS]
    slugs = dict(Tenant.objects.filter(pk__in=[row["tenant_id"] for row in top]).values_list("pk", "schema_name"))
    top_cost = GaugeMetricFamily("deskpilot_usage_month_top_tenant_cost_usd",
                                 f"This month's estimated model cost of the {TOP_TENANTS} costliest tenants.",
                                 labels=["tenant"])
    top_tokens = GaugeMetricFamily("deskpilot_usage_month_top_tenant_tokens",
                                   f"This month's model tokens of the {TOP_TENANTS} costliest tenants.",
                                   labels=["tenant"])
    for row in top:
        slug = slugs.get(row["tenant_id"], str(row["tenant_id"]))
        top_cost.add_metric([slug], (row["cost"] or 0) / per_usd)
        top_tokens.add_metric([slug], (row["tokens_in"] or 0) + (row["tokens_out"] or 0))
    yield top_cost
    yield top_tokens
