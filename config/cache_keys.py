"""Cache keys always start with the tenant's schema, so no cache entry is shared across tenants."""

from __future__ import annotations

from django.db import connection


def tenant_cache_key(key: str, key_prefix: str, version: int) -> str:
    schema = getattr(connection, "schema_name", "public") or "public"
    return f"{schema}:{key_prefix}:{version}:{key}"
