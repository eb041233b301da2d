"""Commerce fixtures: tenants in real time zones, the demo shop's catalog, webhook secrets."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from tenants.demo import FIXTURES
from tests.support.processes import WebServer

SHOPIFY_SECRET = "shpss_test_secret_for_tenant_a"
WOO_SECRET = "wc-secret-for-tenant-a"


def demo_tenant(folder: str, timezone_name: str) -> object:
    """A fresh tenant with one demo business's catalog, orders, hours and currency."""
    from orders.demo import load_demo
    from tenants.services import tenant_create

    slug = f"t{uuid.uuid4().hex[:12]}"
    tenant = tenant_create(slug=slug, name=f"Demo {folder}", domain=f"{slug}.test.localhost",
                           timezone_name=timezone_name).tenant
    connection.set_schema_to_public()
    with schema_context(slug):
        load_demo(tenant=tenant, fixtures=FIXTURES / folder)
    return tenant


@pytest.fixture
def shop() -> object:
    """The demo shop (Amsterdam) for a test that changes it."""
    return demo_tenant("shop", "Europe/Amsterdam")


@pytest.fixture(scope="module")
def shop_readonly(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> object:
    """The demo shop shared by a module's tests that only read it."""
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        return demo_tenant("shop", "Europe/Amsterdam")


@pytest.fixture(scope="module")
def cafe(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> object:
    """The demo café (London), shared by a module's tests; they only read it."""
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        return demo_tenant("cafe", "Europe/London")


def shop_connect(schema: str, *, currency: str, platforms: Sequence[str] = ("shopify", "woocommerce")) -> None:
    """The tenant in `schema` sells in `currency` and has the webhook secret of each of `platforms` set
    (SHOPIFY_SECRET, WOO_SECRET)."""
    from orders.services.catalog import commerce_currency_set, shop_secret_set

    secrets = {"shopify": SHOPIFY_SECRET, "woocommerce": WOO_SECRET}
    with schema_context(schema):
        commerce_currency_set(currency=currency)
        for platform in platforms:
            shop_secret_set(platform=platform, secret=secrets[platform])


@dataclass
class Shop:
    """A shop with an owner who logs in to its dashboard with `owner_email` (and the test's password)."""

    tenant: Any
    domain: str
    owner_email: str


def shop_with_owner(make_tenant: Callable[..., Any], *, name: str, timezone_name: str, currency: str,
                    platforms: Sequence[str], owner_password: str) -> Shop:
    """A new tenant connected as a shop (shop_connect), with an owner named Owner."""
    from tenants.services import ROLE_OWNER, tenant_user_create

    created = make_tenant(name=name, timezone_name=timezone_name)
    shop_connect(created.tenant.schema_name, currency=currency, platforms=platforms)
    email = f"owner-{uuid.uuid4().hex[:6]}@example.test"
    with schema_context(created.tenant.schema_name):
        tenant_user_create(email=email, password=owner_password, role=ROLE_OWNER, name="Owner")
    return Shop(tenant=created.tenant, domain=created.domain.domain, owner_email=email)


@pytest.fixture
def connected(make_tenant: Callable[..., object]) -> object:
    """A shop in Amsterdam selling in EUR with both platforms' webhook secrets set."""
    tenant = make_tenant(name="Connected shop", timezone_name="Europe/Amsterdam").tenant  # type: ignore[attr-defined]
    shop_connect(tenant.schema_name, currency="EUR")
    return tenant


@pytest.fixture(scope="module")
def web() -> Iterator[WebServer]:
    server = WebServer()
    yield server
    server.stop()


def domain_of(tenant: object) -> str:
    return tenant.get_primary_domain().domain  # type: ignore[attr-defined]


def fixtures_dir(slug: str) -> Path:
    return FIXTURES / slug
