"""No tenant ever sees another's data: through the ORM, over HTTP, and in the admin."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django_tenants.utils import schema_context

from tenants import services
from tenants.demo import PLATFORM_ADMIN
from tests.support.processes import WebServer


@pytest.fixture(scope="module")
def web() -> Iterator[WebServer]:
    server = WebServer()
    yield server
    server.stop()


def test_rows_created_in_tenant_a_are_invisible_from_tenant_b_through_the_orm(tenant_a, tenant_b) -> None:
    with schema_context(tenant_a.schema_name):
        services.tenant_user_create(email="only-a@example.test", password="pw-123456", role="agent")
        assert User.objects.filter(username="only-a@example.test").exists()
    with schema_context(tenant_b.schema_name):
        assert not User.objects.filter(username="only-a@example.test").exists()
        assert User.objects.count() == 0


class _Undo(Exception):
    pass


def test_a_rolled_back_schema_switch_never_leaves_queries_in_the_previous_tenant(tenant_a, tenant_b) -> None:
    # The search path is set once per connection and schema (TENANT_LIMIT_SET_CALLS). PostgreSQL undoes
    # a SET made inside a transaction or savepoint that rolls back, so the connection would silently be
    # back on the previous tenant if the backend kept trusting what it had set.
    with schema_context(tenant_a.schema_name):
        services.tenant_user_create(email="rollback-a@example.test", password="pw-123456", role="agent")
    with schema_context(tenant_b.schema_name):
        assert not User.objects.filter(username="rollback-a@example.test").exists()  # the path is now B
    with schema_context(tenant_a.schema_name):
        with pytest.raises(_Undo), transaction.atomic():
            assert User.objects.filter(username="rollback-a@example.test").exists()  # SET to A, inside
            raise _Undo
        assert User.objects.filter(username="rollback-a@example.test").exists()

    with transaction.atomic():
        with schema_context(tenant_b.schema_name):
            assert User.objects.count() == 0  # B, set inside the outer transaction
        with schema_context(tenant_a.schema_name):
            with pytest.raises(_Undo), transaction.atomic():  # a savepoint
                assert User.objects.filter(username="rollback-a@example.test").exists()
                raise _Undo
            assert User.objects.filter(username="rollback-a@example.test").exists()


def test_each_domain_serves_its_own_tenant_and_unknown_hosts_get_404(web: WebServer, tenant_a, tenant_b) -> None:
    domain_a = tenant_a.get_primary_domain().domain
    domain_b = tenant_b.get_primary_domain().domain
    with web.client(domain_a) as client:
        page = client.get("/")
        assert page.status_code == 200 and "Business A" in page.text and "Business B" not in page.text
    with web.client(domain_b) as client:
        page = client.get("/")
        assert page.status_code == 200 and "Business B" in page.text and "Business A" not in page.text
    with web.client("nobody.example.test") as client:
        missing = client.get("/")
        assert missing.status_code == 404
        assert "Business" not in missing.text


def test_malformed_host_header_is_a_400(web: WebServer) -> None:
    with web.client("bad host!") as client:
        assert client.get("/").status_code == 400


def test_suspended_tenant_domain_answers_403_with_a_clear_page(web: WebServer, tenant_a) -> None:
    services.tenant_set_status(slug=tenant_a.schema_name, status="suspended")
    with web.client(tenant_a.get_primary_domain().domain) as client:
        page = client.get("/")
    assert page.status_code == 403
    assert "Business A" in page.text and "suspended" in page.text
    services.tenant_set_status(slug=tenant_a.schema_name, status="active")
    with web.client(tenant_a.get_primary_domain().domain) as client:
        assert client.get("/").status_code == 200


def test_admin_lives_on_the_platform_domain_only_and_tenant_users_cannot_use_it(web: WebServer, tenant_a) -> None:
    from tenants.demo import demo_load  # noqa: F401  (the platform admin login comes from the demo)

    email, password = PLATFORM_ADMIN
    if not User.objects.filter(username=email).exists():
        User.objects.create_superuser(username=email, email=email, password=password)
    with schema_context(tenant_a.schema_name):
        services.tenant_user_create(email="owner-a@example.test", password="owner-pass-1", role="owner")

    with web.client(tenant_a.get_primary_domain().domain) as client:
        assert client.get("/admin/").status_code == 404

    with web.client("localhost") as client:
        assert _admin_login(client, "owner-a@example.test", "owner-pass-1") is False
    with web.client("localhost") as client:
        assert _admin_login(client, email, password) is True
        tenants_page = client.get("/admin/tenants/tenant/")
        assert tenants_page.status_code == 200
        assert "Business A" in tenants_page.text
        # Tenant users live in their tenant's schema: the platform's user list never shows them.
        users_page = client.get("/admin/auth/user/")
        assert "owner-a@example.test" not in users_page.text


def _admin_login(client, username: str, password: str) -> bool:
    login_page = client.get("/admin/login/")
    token = client.cookies.get("csrftoken")
    assert login_page.status_code == 200 and token
    response = client.post("/admin/login/?next=/admin/",
                           data={"username": username, "password": password, "csrfmiddlewaretoken": token},
                           headers={"Referer": "http://localhost/admin/login/"})
    return response.status_code == 302 and response.headers.get("location") == "/admin/"
