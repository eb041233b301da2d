"""Shared by the commerce commands: resolve --tenant to a schema or fail with a clear message."""

from __future__ import annotations

from django.core.management.base import CommandError
from django.db import connection

from tenants.models import Tenant


def tenant_schema(slug: str) -> str:
    connection.set_schema_to_public()
    tenant = Tenant.objects.filter(schema_name=slug).exclude(schema_name="public").first()
    if tenant is None:
        raise CommandError(f"There is no tenant '{slug}'.")
    return tenant.schema_name
