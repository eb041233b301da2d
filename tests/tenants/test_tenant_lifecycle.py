"""Creating, listing, suspending and resuming tenants, and refusing bad input without leftovers."""

from __future__ import annotations

import io
import uuid

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection
from django_tenants.utils import schema_context, schema_exists

from tenants import services
from tenants.exceptions import TenantError
from tenants.models import Domain, Tenant


def unique_slug() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


def test_tenant_create_makes_schema_domain_and_owner_only_in_that_tenant() -> None:
    slug = unique_slug()
    created = services.tenant_create(slug=slug, name="Corner Bakery", domain=f"{slug}.example.test",
                                     owner_email="Owner@Bakery.test", timezone_name="Europe/Paris")

    assert schema_exists(slug)
    assert Domain.objects.get(domain=f"{slug}.example.test").tenant == created.tenant
    assert created.tenant.plan is not None and created.tenant.plan.code == "starter"
    with schema_context(slug):
        owner = User.objects.get(username="owner@bakery.test")
        assert owner.check_password(created.owner_password)
        assert list(owner.groups.values_list("name", flat=True)) == ["owner"]
    # The owner exists in the tenant's schema only, not on the platform.
    assert not User.objects.filter(username="owner@bakery.test").exists()


@pytest.mark.parametrize(
    ("slug", "domain", "code"),
    [
        ("Bad-Slug", "ok.example.test", "invalid_slug"),
        ("public", "ok2.example.test", "invalid_slug"),
        ("pg_catalog_x", "ok3.example.test", "invalid_slug"),
        ("x; drop schema public", "ok4.example.test", "invalid_slug"),
        ("a" * 41, "ok5.example.test", "invalid_slug"),
        ("goodslug", "not a domain", "invalid_domain"),
        ("goodslug", "-bad-.example", "invalid_domain"),
    ],
)
def test_tenant_create_refuses_invalid_slug_or_domain_and_creates_nothing(slug: str, domain: str, code: str) -> None:
    # Named uniquely: other test processes create tenants meanwhile, so the total may change.
    name = f"Refused {uuid.uuid4().hex}"
    with pytest.raises(TenantError) as raised:
        services.tenant_create(slug=slug, name=name, domain=domain)
    assert raised.value.code == code
    assert not Tenant.objects.filter(name=name).exists()
    assert not Domain.objects.filter(domain=domain).exists()


def test_duplicate_slug_and_duplicate_domain_are_clear_errors(make_tenant) -> None:
    existing = make_tenant()
    with pytest.raises(TenantError, match="already exists"):
        services.tenant_create(slug=existing.tenant.schema_name, name="Again", domain=f"{unique_slug()}.example.test")
    new_slug = unique_slug()
    with pytest.raises(TenantError, match="already belongs"):
        services.tenant_create(slug=new_slug, name="Again", domain=existing.domain.domain)
    assert not schema_exists(new_slug)


def test_failure_after_the_schema_is_cloned_leaves_nothing_behind(make_tenant, monkeypatch) -> None:
    """A domain taken between validation and insert (a race) rolls back the schema too."""
    existing = make_tenant()
    monkeypatch.setattr(services, "tenant_new_validate", lambda **_: None)
    slug = unique_slug()
    with pytest.raises(TenantError):
        services.tenant_create(slug=slug, name="Racer", domain=existing.domain.domain)
    connection.set_schema_to_public()
    assert not Tenant.objects.filter(schema_name=slug).exists()
    assert not schema_exists(slug)


def test_unknown_plan_and_timezone_are_refused() -> None:
    with pytest.raises(TenantError, match="no plan"):
        services.tenant_create(slug=unique_slug(), name="X", domain=f"{unique_slug()}.example.test", plan_code="gold")
    with pytest.raises(TenantError, match="time zone"):
        services.tenant_create(slug=unique_slug(), name="X", domain=f"{unique_slug()}.example.test",
                               timezone_name="Mars/Olympus")


def test_tenants_command_create_list_suspend_resume() -> None:
    slug = unique_slug()
    out = io.StringIO()
    call_command("tenants", "create", "--slug", slug, "--name", "Flower Stall", "--domain", f"{slug}.example.test",
                 "--owner-email", "flo@stall.test", "--plan", "growth", stdout=out)
    assert f"Created tenant '{slug}'" in out.getvalue()
    assert "Owner login: flo@stall.test / " in out.getvalue()

    listing = io.StringIO()
    call_command("tenants", "list", stdout=listing)
    line = next(row for row in listing.getvalue().splitlines() if row.startswith(slug))
    assert "active" in line and "growth" in line and "Flower Stall" in line

    call_command("tenants", "suspend", slug, stdout=io.StringIO())
    assert Tenant.objects.get(schema_name=slug).status == "suspended"
    call_command("tenants", "resume", slug, stdout=io.StringIO())
    assert Tenant.objects.get(schema_name=slug).status == "active"

    with pytest.raises(CommandError, match="no tenant"):
        call_command("tenants", "suspend", "doesnotexist", stdout=io.StringIO())
    with pytest.raises(CommandError, match="already exists"):
        call_command("tenants", "create", "--slug", slug, "--name", "Dup", "--domain", "dup.example.test",
                     stdout=io.StringIO())
