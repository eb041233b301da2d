"""The per-tenant in-process cache: rebuilt on a new content version, bounded in tenants."""

from __future__ import annotations

from django.db import connection

from config.tenant_cache import PerTenantCache


def _in(schema: str) -> None:
    connection.schema_name = schema  # the attribute django-tenants sets for the request's tenant


def test_a_tenant_gets_its_own_value_rebuilt_only_when_its_version_changes() -> None:
    built: list[str] = []
    cache: PerTenantCache[str] = PerTenantCache(tenants=4)
    before = connection.schema_name
    try:
        for schema, version in (("a", 1), ("b", 1), ("a", 1), ("a", 2), ("b", 1)):
            _in(schema)
            assert cache.get(version, lambda s=schema, v=version: built.append(f"{s}{v}") or f"{s}{v}") == \
                f"{schema}{version}"
    finally:
        _in(before)
    assert built == ["a1", "b1", "a2"]  # another tenant's value is never returned, a new version rebuilds


def test_only_the_most_recently_used_tenants_are_kept() -> None:
    built: list[str] = []
    cache: PerTenantCache[str] = PerTenantCache(tenants=2)
    before = connection.schema_name
    try:
        for schema in ("a", "b", "a", "c", "a", "b"):
            _in(schema)
            cache.get(1, lambda s=schema: built.append(s) or s)
    finally:
        _in(before)
    assert built == ["a", "b", "c", "b"]  # b was dropped for c; a, used last before c, was kept
