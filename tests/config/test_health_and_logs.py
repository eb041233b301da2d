"""Health endpoints on every domain, readiness that follows the data stores, and log context."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from django.contrib.auth.models import User
from django_tenants.utils import schema_context

from config.logging import JsonFormatter, LogContextFilter, log_context
from tests.support.owner_session import owner_dashboard
from tests.support.processes import ROOT, WebServer, child_env, wait_until


def test_healthz_and_readyz_answer_on_platform_tenant_and_unknown_domains(tenant_a) -> None:
    server = WebServer()
    try:
        for host in ("localhost", tenant_a.get_primary_domain().domain, "unknown.example.test"):
            with server.client(host) as client:
                assert client.get("/healthz").json() == {"status": "ok"}
                ready = client.get("/readyz")
                assert ready.status_code == 200
                checks = ready.json()["checks"]
                assert {name: check["ok"] for name, check in checks.items()} == {
                    "database": True, "redis": True, "disk": True, "migrations": True}
    finally:
        server.stop()


def test_request_id_is_taken_from_the_header_or_generated_and_returned() -> None:
    server = WebServer()
    try:
        with server.client("localhost") as client:
            echoed = client.get("/healthz", headers={"X-Request-ID": "trace-42"})
            assert echoed.headers["X-Request-ID"] == "trace-42"
            generated = client.get("/healthz")
            assert len(generated.headers["X-Request-ID"]) == 32
            # A hostile id (spaces and quotes, e.g. to forge log fields) is replaced, never echoed.
            hostile = client.get("/healthz", headers={"X-Request-ID": 'x" user="admin'})
            assert hostile.headers["X-Request-ID"] != 'x" user="admin'
            assert len(hostile.headers["X-Request-ID"]) == 32
    finally:
        server.stop()


@pytest.fixture
def private_stores() -> Iterator[dict[str, str]]:
    """A PostgreSQL and Redis of this test's own, so stopping them disturbs no other test."""
    data_dir = tempfile.mkdtemp(prefix="deskpilot-readyz-")
    env = {**child_env(), "DESKPILOT_DATA_DIR": data_dir}
    env.pop("DATABASE_URL")
    env.pop("REDIS_URL")
    urls = subprocess.run([sys.executable, "-m", "config.embedded", "up"], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True).stdout.split()
    env["DATABASE_URL"], env["REDIS_URL"] = urls
    subprocess.run([sys.executable, "manage.py", "migrate_all"], cwd=ROOT, env=env, check=True, capture_output=True)
    yield env
    subprocess.run([sys.executable, "-m", "config.embedded", "down"], cwd=ROOT, env=env, check=False)


def _store(env: dict[str, str], action: str, which: str) -> None:
    subprocess.run([sys.executable, "-m", "config.embedded", action, which], cwd=ROOT, env=env, check=True,
                   capture_output=True)


def _ready_status(client: httpx.Client) -> tuple[int, dict[str, bool]]:
    response = client.get("/readyz")
    return response.status_code, {name: check["ok"] for name, check in response.json()["checks"].items()}


def test_readyz_turns_503_when_a_store_stops_and_200_when_it_is_back(private_stores: dict[str, str]) -> None:
    server = WebServer(env=private_stores)
    try:
        with server.client("localhost") as client:
            assert _ready_status(client)[0] == 200

            _store(private_stores, "down", "redis")
            status, checks = _ready_status(client)
            assert status == 503 and checks["redis"] is False and checks["database"] is True
            _store(private_stores, "up", "redis")
            wait_until(lambda: _ready_status(client)[0] == 200, message="ready after Redis is back")

            _store(private_stores, "down", "postgres")
            status, checks = _ready_status(client)
            assert status == 503 and checks["database"] is False and checks["redis"] is True
            assert client.get("/healthz").status_code == 200  # the process itself is still up
            # A page or a shop's webhook now is told to come back later, in the one error shape, not a 500.
            refused = client.post("/webhooks/shopify/", content=b"{}")
            assert refused.status_code == 503
            assert refused.json()["error"]["code"] == "store_unavailable"
            _store(private_stores, "up", "postgres")
            wait_until(lambda: _ready_status(client)[0] == 200, message="ready after PostgreSQL is back")
    finally:
        server.stop()


def test_json_log_lines_carry_request_tenant_and_user() -> None:
    record = logging.LogRecord("deskpilot.test", logging.INFO, __file__, 1, "order %s looked up", ("TL-1",), None)
    with log_context(request_id="abc123", user="owner@cafe.test", schema="cafe"):
        LogContextFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "order TL-1 looked up"
    assert (line["request_id"], line["tenant"], line["user"]) == ("abc123", "cafe", "owner@cafe.test")


def test_production_settings_refuse_to_start_without_their_secrets() -> None:
    env = {key: value for key, value in os.environ.items()
           if key not in {"DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DJANGO_ALLOWED_HOSTS"}}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.production"
    with tempfile.TemporaryDirectory() as empty:
        # An empty working directory: no .env file can supply the secrets.
        result = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
                                 "import django; django.setup()"], cwd=empty, env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr and "DATABASE_URL" in result.stderr


def test_production_settings_start_with_their_secrets() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.production", "DJANGO_SECRET_KEY": "x" * 50,
           "DATABASE_URL": "postgres://u@127.0.0.1:1/db", "REDIS_URL": "redis://127.0.0.1:1",
           "DJANGO_ALLOWED_HOSTS": ".deskpilot.example", "DESKPILOT_SECRETS_KEYS": Fernet.generate_key().decode()}
    result = subprocess.run([sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
                             "print(settings.LOGGING['handlers']['console']['formatter'], settings.DEBUG)"],
                            cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["json", "False"]
    assert Path(ROOT / ".env.example").read_text().count("DJANGO_SECRET_KEY") >= 1


def _log_lines_of(server: WebServer, path: str) -> list[str]:
    return [line for line in server.output().splitlines() if path in line]


def test_a_not_found_request_logs_its_request_id_and_its_tenant(tenant_a) -> None:
    """Django logs "Not Found: /path" once the middleware is done with the request (and, under
    daphne, on another thread): that line too names the request and its business."""
    server = WebServer()
    try:
        with server.client(tenant_a.get_primary_domain().domain) as client:
            response = client.get("/no-such-page-on-a-tenant/")
        assert response.status_code == 404
        request_id = response.headers["X-Request-ID"]
        line = wait_until(lambda: _log_lines_of(server, "Not Found: /no-such-page-on-a-tenant/"), message="the 404's log line")
        assert len(line) == 1, line
        assert f"req={request_id} tenant={tenant_a.schema_name} user=-]" in line[0], line
        # Every line about the request carries them, its access line included (none of the server's own)
        access = wait_until(lambda: _log_lines_of(server, "GET /no-such-page-on-a-tenant/ 404"),
                            message="the 404's access line")
        assert f"req={request_id} tenant={tenant_a.schema_name} user=-]" in access[0], access
        lines = _log_lines_of(server, "/no-such-page-on-a-tenant/")
        assert len(lines) == 2 and all(f"req={request_id} " in line for line in lines), lines

        # A signed-in owner's not-found page names the owner too
        with owner_dashboard(server, schema=tenant_a.schema_name, domain=tenant_a.get_primary_domain().domain) as owner:
            response = owner.get("/app/no-such-page-for-the-owner/")
            assert response.status_code == 404
            request_id = response.headers["X-Request-ID"]
            with schema_context(tenant_a.schema_name):
                owner_name = User.objects.order_by("-pk").first().get_username()
        line = wait_until(lambda: _log_lines_of(server, "Not Found: /app/no-such-page-for-the-owner/"),
                          message="the owner's 404's log line")
        assert f"req={request_id} tenant={tenant_a.schema_name} user={owner_name}]" in line[0], line

        # On a host no business has, the tenant is the platform's own (public), and the id is there too
        with server.client("nobody-has-this.test.localhost") as client:
            response = client.get("/no-such-page-on-no-tenant/")
        assert response.status_code == 404
        request_id = response.headers["X-Request-ID"]
        line = wait_until(lambda: _log_lines_of(server, "Not Found: /no-such-page-on-no-tenant/"), message="the 404's log line")
        assert f"req={request_id} tenant=public " in line[0], line
    finally:
        server.stop()
