"""Shared fixtures: a migrated database for the session, fresh tenants per test, real processes."""

from __future__ import annotations

import fcntl
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection


@pytest.fixture(scope="session")
def django_db_setup(django_db_blocker: pytest.FixtureRequest) -> Iterator[None]:
    """Use the throw-away embedded database as it is: migrated once, shared by parallel processes.

    Tests write for real (servers and workers in other processes must see the data), and each test
    works in tenants of its own, so nothing needs rolling back.
    """
    from config import embedded
    from tenants.services import schemas_migrate_all

    lock_path = embedded.data_dir() / "migrate.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with django_db_blocker.unblock(), open(lock_path, "a+") as lock:  # type: ignore[attr-defined]
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            schemas_migrate_all()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    yield


@pytest.fixture(autouse=True)
def _database_access(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> Iterator[None]:
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        connection.set_schema_to_public()
        yield
        connection.set_schema_to_public()


@pytest.fixture
def make_tenant() -> Callable[..., object]:
    """Create a tenant with a unique slug and domain; returns the CreatedTenant result."""
    from tenants.services import tenant_create

    def _make(name: str = "Test business", owner_email: str | None = None, **kwargs: object) -> object:
        slug = f"t{uuid.uuid4().hex[:12]}"
        created = tenant_create(slug=slug, name=name, domain=f"{slug}.test.localhost", owner_email=owner_email,
                                **kwargs)  # type: ignore[arg-type]
        connection.set_schema_to_public()
        return created

    return _make


@pytest.fixture
def tenant_a(make_tenant: Callable[..., object]) -> object:
    return make_tenant(name="Business A").tenant  # type: ignore[attr-defined]


@pytest.fixture
def tenant_b(make_tenant: Callable[..., object]) -> object:
    return make_tenant(name="Business B").tenant  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = Path(settings.BASE_DIR) / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def demo_copies(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> dict[str, object]:
    """Fresh tenants loaded with the demo businesses' content (profile, catalog, orders, hours, FAQ).

    Session-wide because loading embeds the whole FAQ; tests add conversations to them, never edit
    the content (a test that edits content makes its own tenant).
    """
    from django.utils.module_loading import import_string
    from django_tenants.utils import schema_context

    from tenants.demo import DEMO_TENANTS, FIXTURES
    from tenants.services import tenant_create
    from tests.support.demo import demo_content_loaders

    tenants: dict[str, object] = {}
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        for demo in DEMO_TENANTS:
            slug = f"{demo.slug}{uuid.uuid4().hex[:10]}"
            tenant = tenant_create(slug=slug, name=demo.name, domain=f"{slug}.test.localhost",
                                   timezone_name=demo.timezone).tenant
            with schema_context(slug):
                # The content only: tests add conversations of their own and look for them.
                for loader in demo_content_loaders():
                    import_string(loader)(tenant=tenant, fixtures=FIXTURES / demo.slug)
            tenants[demo.slug] = tenant
        connection.set_schema_to_public()
    return tenants
