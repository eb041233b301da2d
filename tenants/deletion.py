"""Deleting a business: asked for, suspended at once, purged after a grace period.

The grace period is for the business that changes its mind (or the operator who typed the wrong
slug): until it ends the deletion can be cancelled and nothing is lost. Purging drops the schema
(every conversation, contact, document, embedding and setting), the tenant's Redis keys (caches,
usage counters, rate limits, live answers), its files under MEDIA_ROOT and its usage and dead-letter
records on the platform.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.redis import redis_client, tenant_key
from tenants.exceptions import TenantError
from tenants.models import DeadLetter, Tenant
from tenants.services import tenant_get

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeletionScheduled:
    tenant: Tenant
    purge_after: datetime


def deletion_grace() -> timedelta:
    return timedelta(days=settings.TENANT_DELETION_GRACE_DAYS)


def tenant_delete_request(*, slug: str, confirm: str) -> DeletionScheduled:
    """Suspend tenant `slug` and schedule its purge. `confirm` must repeat the slug."""
    if confirm != slug:
        raise TenantError(f"To delete '{slug}', confirm with its slug exactly.", code="confirmation_mismatch")
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().get(pk=tenant_get(slug=slug).pk)
        if tenant.deletion_requested_at is None:
            tenant.deletion_requested_at = timezone.now()
        tenant.status = Tenant.Status.SUSPENDED
        tenant.save(update_fields=["deletion_requested_at", "status"])
    logger.warning("deletion of tenant %s requested; purge after %s", slug,
                   tenant.deletion_requested_at + deletion_grace())
    return DeletionScheduled(tenant=tenant, purge_after=tenant.deletion_requested_at + deletion_grace())


def tenant_delete_cancel(*, slug: str) -> Tenant:
    """Cancel a scheduled deletion and let the tenant's customers in again."""
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().get(pk=tenant_get(slug=slug).pk)
        if tenant.deletion_requested_at is None:
            raise TenantError(f"No deletion of '{slug}' is scheduled.", code="no_deletion_scheduled")
        tenant.deletion_requested_at = None
        tenant.status = Tenant.Status.ACTIVE
        tenant.save(update_fields=["deletion_requested_at", "status"])
    logger.warning("deletion of tenant %s cancelled", slug)
    return tenant


def tenants_purge_due(*, now: datetime | None = None) -> list[str]:
    """Purge every tenant whose deletion was asked for longer ago than the grace period."""
    now = now or timezone.now()
    due = list(Tenant.objects.filter(deletion_requested_at__lte=now - deletion_grace())
               .values_list("schema_name", flat=True))
    for schema_name in due:
        tenant_purge(schema_name=schema_name, now=now)
    return due


def tenant_purge(*, schema_name: str, now: datetime) -> None:
    tenant = Tenant.objects.get(schema_name=schema_name)
    if tenant.deletion_requested_at is None or tenant.deletion_requested_at > now - deletion_grace():
        raise TenantError(f"'{schema_name}' is not due for deletion.", code="deletion_not_due")
    with transaction.atomic():
        DeadLetter.objects.filter(schema_name=schema_name).delete()
        # Usage entries and notices go with the tenant row (on_delete=CASCADE); the schema is dropped.
        tenant.delete(force_drop=True)
    _redis_keys_delete(schema_name)
    shutil.rmtree(settings.MEDIA_ROOT / schema_name, ignore_errors=True)
    logger.warning("tenant %s purged", schema_name)


def _redis_keys_delete(schema_name: str) -> int:
    """Every key of the tenant: ours start with `tenant_key(schema)`, Django's cache's with the schema."""
    client = redis_client()
    deleted = 0
    for pattern in (tenant_key(schema_name, "*"), f"{schema_name}:*"):
        batch = []
        for key in client.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                deleted += client.unlink(*batch)
                batch = []
        if batch:
            deleted += client.unlink(*batch)
    return deleted
