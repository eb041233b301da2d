"""A signed-in user (or anyone with a crafted link) puts a NUL character in a dashboard search or
filter: PostgreSQL text cannot hold one, and the page failed with a 500. Every such parameter now
gets a 400, on a real server, through real requests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django_tenants.utils import schema_context

from tenants.services import ROLE_OWNER, tenant_user_create
from tests.support.processes import WebServer

PASSWORD = "owner-pass-1234"
# Every dashboard page with a search or filter parameter, and the parameters that reach a query.
PAGES_AND_PARAMETERS = [
    ("/app/inbox/", "q"), ("/app/inbox/", "status"), ("/app/inbox/", "channel"), ("/app/inbox/rows", "q"),
    ("/app/inbox/", "page"), ("/app/orders/", "q"), ("/app/orders/", "status"), ("/app/catalog/", "q"),
    ("/app/catalog/", "page"), ("/app/knowledge/", "done"), ("/app/knowledge/faq/new/", "question"),
    ("/app/analytics/", "from"), ("/app/analytics/", "to"), ("/app/usage/", "from"),
]


@pytest.fixture(scope="module")
def web() -> Iterator[WebServer]:
    server = WebServer()
    yield server
    server.stop()


@pytest.fixture
def owner_client(web: WebServer, make_tenant: Any) -> Iterator[httpx.Client]:
    tenant = make_tenant(name="Searching business").tenant
    email = f"owner-{uuid.uuid4().hex[:6]}@example.test"
    with schema_context(tenant.schema_name):
        tenant_user_create(email=email, password=PASSWORD, role=ROLE_OWNER)
    with web.client(tenant.get_primary_domain().domain) as client:
        client.get("/app/login/")
        signed_in = client.post("/app/login/", data={"username": email, "password": PASSWORD,
                                                     "csrfmiddlewaretoken": client.cookies["csrftoken"]})
        assert signed_in.status_code == 302
        yield client


@pytest.mark.parametrize(("path", "parameter"), PAGES_AND_PARAMETERS)
def test_a_nul_in_a_dashboard_parameter_is_a_400_not_a_500(owner_client: httpx.Client, path: str,
                                                          parameter: str) -> None:
    assert owner_client.get(path).status_code == 200
    answer = owner_client.get(f"{path}?{parameter}=shirt%00")
    assert answer.status_code == 400, (path, parameter, answer.status_code)
    assert answer.json()["error"]["code"] == "invalid"


def test_a_nul_in_a_posted_form_field_is_a_400(owner_client: httpx.Client) -> None:
    answer = owner_client.post("/app/canned-responses/", data={
        "title": "Hi\x00", "text": "Hello", "csrfmiddlewaretoken": owner_client.cookies["csrftoken"]})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid"
