"""Platform tables, in the public schema: plans, tenants, their domains, usage and dead letters."""

from __future__ import annotations

from django.db import models
from django_tenants.models import DomainMixin, TenantMixin


class Plan(models.Model):
    """Monthly limits a tenant's subscription grants."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    monthly_messages = models.PositiveIntegerField(help_text="Customer messages answered per month.")
    monthly_tokens = models.PositiveBigIntegerField(default=2_000_000, help_text="LLM tokens per month.")
    knowledge_sources = models.PositiveIntegerField(help_text="Knowledge-base sources at most.")
    agent_seats = models.PositiveIntegerField(help_text="Dashboard users at most.")
    price_minor = models.PositiveIntegerField(default=0, help_text="Monthly price in minor units.")
    currency = models.CharField(max_length=3, default="EUR")

    class Meta:
        ordering = ["price_minor", "code"]

    def __str__(self) -> str:
        return self.name


class Tenant(TenantMixin):
    """One business. Its slug is its PostgreSQL schema name."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    name = models.CharField(max_length=200)
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, null=True, blank=True, related_name="tenants")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    timezone = models.CharField(max_length=64, default="UTC")
    created = models.DateTimeField(auto_now_add=True)
    # Set once `manage.py demo load` has loaded this tenant's demo content: from then on the catalog,
    # hours and the rest are the business's own, and a later `make run` leaves them alone.
    demo_loaded_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Set by `manage.py tenants delete`: the tenant is suspended at once and purged, schema and all,
    # once the grace period (TENANT_DELETION_GRACE_DAYS) has passed, unless the deletion is cancelled.
    deletion_requested_at = models.DateTimeField(null=True, blank=True, editable=False)

    # tenants.services.tenant_create copies the schema from the template itself (tenants.schemas).
    auto_create_schema = False
    auto_drop_schema = True

    class Meta:
        ordering = ["schema_name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.schema_name})"

    @property
    def slug(self) -> str:
        return self.schema_name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class Domain(DomainMixin):
    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain


class UsageEntry(models.Model):
    """Append-only ledger of what each tenant used; monthly totals are sums over it."""

    class Kind(models.TextChoices):
        MESSAGE = "message", "Customer message answered"
        LLM_CALL = "llm_call", "LLM call"
        EMBEDDING = "embedding", "Embedding call"
        # The owner trying the assistant (the dashboard's playground, `manage.py assistant ask`): its
        # cost is kept, but it is no customer's message and counts toward no plan limit.
        PLAYGROUND = "playground", "Playground question answered (not counted toward the plan)"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="usage_entries")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    quantity = models.PositiveIntegerField(default=1)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    cost_minor = models.PositiveIntegerField(default=0, help_text="Estimated cost in minor units.")
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["tenant", "created"])]
        verbose_name_plural = "usage entries"

    def __str__(self) -> str:
        return f"{self.kind} × {self.quantity} for {self.tenant_id}"


class DeadLetter(models.Model):
    """A task that exhausted its retries, kept so ops can inspect and replay it."""

    task_name = models.CharField(max_length=200)
    task_id = models.CharField(max_length=64, db_index=True)
    schema_name = models.CharField(max_length=63, blank=True, help_text="Tenant the task was sent for.")
    queue = models.CharField(max_length=20, blank=True)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    error = models.TextField()
    traceback = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=1)
    first_failed_at = models.DateTimeField()
    last_failed_at = models.DateTimeField()
    replayed_at = models.DateTimeField(null=True, blank=True)
    replay_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-last_failed_at"]

    def __str__(self) -> str:
        return f"{self.task_name} [{self.schema_name or 'no tenant'}]"


class UsageNotice(models.Model):
    """That a tenant's owners were told their plan reached a level this month.

    The unique constraint is the once-a-month guarantee: answers crossing the line at the same
    moment all try to insert, and only one row (and so one e-mail) survives.
    """

    class Level(models.TextChoices):
        WARNING = "warning", "Most of the plan used"
        EXHAUSTED = "exhausted", "Plan used up"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="usage_notices")
    month = models.DateField(help_text="First day of the month the notice is about.")
    level = models.CharField(max_length=20, choices=Level.choices)
    created = models.DateTimeField(auto_now_add=True)
    # Set once the owners' e-mail went out, so a task delivered twice does not send it twice.
    emailed = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["month", "created"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "month", "level"], name="usage_notice_once_per_month"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.month:%Y-%m} {self.level}"
