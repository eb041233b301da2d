"""REST API fixtures: one web server per module (the `make run` command), tenants made once per
module, and keys made through the product's own service."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from django.db import connection
from django_tenants.utils import schema_context

from tests.support.processes import WebServer, child_env


@dataclass(frozen=True)
class ApiTenant:
    tenant: Any
    domain: str

    @property
    def schema(self) -> str:
        return self.tenant.schema_name


OWNER_EMAIL = "owner@business.test"


def api_tenant_create(name: str = "API business", *, demo: str | None = None) -> ApiTenant:
    """A tenant with its owner (OWNER_EMAIL); `demo` ("shop", "cafe") loads that demo business's
    catalog, orders and opening hours."""
    from tenants.demo import FIXTURES
    from tenants.services import tenant_create

    slug = f"t{uuid.uuid4().hex[:12]}"
    domain = f"{slug}.test.localhost"
    tenant = tenant_create(slug=slug, name=name, domain=domain, owner_email=OWNER_EMAIL,
                           timezone_name="Europe/Amsterdam").tenant
    connection.set_schema_to_public()
    if demo is not None:
        from orders.demo import load_demo

        with schema_context(slug):
            load_demo(tenant=tenant, fixtures=FIXTURES / demo)
    return ApiTenant(tenant=tenant, domain=domain)


def api_key_for(tenant: ApiTenant, *, scopes: list[str] | None = None, name: str = "test key") -> str:
    from chat.api.services import api_key_create

    with schema_context(tenant.schema):
        return api_key_create(name=name, scopes=scopes).key


# One server for the package's modules (test_schema starts its own, without a rate limit): a low rate
# limit and body size that test_conventions reaches on purpose, and that no other test comes near (the
# scope probe of test_business sends one request per operation with each key: above their number).
RATE_LIMIT = 100
MAX_BODY_BYTES = 20000


@pytest.fixture(scope="package")
def web() -> Iterator[WebServer]:
    server = WebServer(env=child_env(OPENAI_API_KEY="", API_RATE_LIMIT_PER_MINUTE=str(RATE_LIMIT),
                                     API_MAX_BODY_BYTES=str(MAX_BODY_BYTES)))
    yield server
    server.stop()


@pytest.fixture(scope="package")
def biz_a(django_db_setup: None, django_db_blocker: Any) -> ApiTenant:
    with django_db_blocker.unblock():
        return api_tenant_create("Business A")


@pytest.fixture(scope="package")
def biz_b(django_db_setup: None, django_db_blocker: Any) -> ApiTenant:
    with django_db_blocker.unblock():
        return api_tenant_create("Business B")


@pytest.fixture(scope="package")
def shop(django_db_setup: None, django_db_blocker: Any) -> ApiTenant:
    """The demo shop (catalog, orders, hours); tests add what they need and never remove its content."""
    with django_db_blocker.unblock():
        return api_tenant_create("Demo shop", demo="shop")


def api_client(web: WebServer, tenant: ApiTenant, key: str | None) -> httpx.Client:
    headers = {"Host": tenant.domain}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return httpx.Client(base_url=f"{web.base_url}/api/v1", headers=headers, timeout=30, follow_redirects=False)
