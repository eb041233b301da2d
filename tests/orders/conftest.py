"""Commerce fixtures: tenants in real time zones, the demo shop's catalog, webhook secrets."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django_tenants.utils import schema_context

from tenants.demo import FIXTURES
from tests.support.processes import WebServer

SHOPIFY_SECRET = "shpss_test_secret_for_tenant_a"
WOO_SECRET = "wc-secret-for-tenant-a"


@pytest.fixture
def shop(make_tenant: Callable[..., object]) -> object:
    """A tenant in Amsterdam with the demo shop's catalog, orders, hours and currency."""
    from orders.demo import load_demo

    tenant = make_tenant(name="Threadline test", timezone_name="Europe/Amsterdam").tenant  # type: ignore[attr-defined]
    with schema_context(tenant.schema_name):
        load_demo(tenant=tenant, fixtures=FIXTURES / "shop")
    return tenant


@pytest.fixture
def cafe(make_tenant: Callable[..., object]) -> object:
    from orders.demo import load_demo

    tenant = make_tenant(name="Cafe test", timezone_name="Europe/London").tenant  # type: ignore[attr-defined]
    with schema_context(tenant.schema_name):
        load_demo(tenant=tenant, fixtures=FIXTURES / "cafe")
    return tenant


@pytest.fixture
def connected(shop: object) -> object:
    """The demo shop with both platforms' webhook secrets set."""
    from orders.services.catalog import shop_secret_set

    with schema_context(shop.schema_name):  # type: ignore[attr-defined]
        shop_secret_set(platform="shopify", secret=SHOPIFY_SECRET)
        shop_secret_set(platform="woocommerce", secret=WOO_SECRET)
    return shop


@pytest.fixture(scope="module")
def web() -> Iterator[WebServer]:
    server = WebServer()
    yield server
    server.stop()


def domain_of(tenant: object) -> str:
    return tenant.get_primary_domain().domain  # type: ignore[attr-defined]


def fixtures_dir(slug: str) -> Path:
    return FIXTURES / slug
