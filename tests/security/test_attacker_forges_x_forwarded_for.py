"""An attacker writes X-Forwarded-For to get a fresh address per request, to dodge the widget's
per-address message limit and the dashboard's login lockout.

The web server runs as production runs it (`gunicorn -c config/gunicorn_conf.py config.asgi:application`,
two uvicorn workers, connections from 127.0.0.1, which uvicorn's own proxy handling would trust), with
real sockets and real requests. With TRUSTED_PROXY_COUNT=0 the header is ignored; with 1 only its
right-most entry (the one our load balancer wrote) counts.
"""

from __future__ import annotations

import json
import socket
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django_tenants.utils import schema_context
from websockets.sync.client import connect

from chat.widget.services import widget_settings_get
from tenants.services import ROLE_OWNER, tenant_user_create
from tests.support.processes import WebServer, child_env, free_port

PER_IP_LIMIT = 3
OWNER_PASSWORD = "owner-pass-1234"


def production_web_command(port: int) -> list[str]:
    """The production web command (config/gunicorn_conf.py), on loopback and a free port."""
    return [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn_conf.py", "config.asgi:application"]


def image_web_server(**env: str) -> WebServer:
    port = free_port()
    return WebServer(port=port, command=production_web_command,
                     env=child_env(OPENAI_API_KEY="", HOST="127.0.0.1", PORT=str(port), WEB_CONCURRENCY="2", **env))


@pytest.fixture(scope="module")
def web_without_proxy() -> Iterator[WebServer]:
    server = image_web_server(TRUSTED_PROXY_COUNT="0")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def web_behind_one_proxy() -> Iterator[WebServer]:
    server = image_web_server(TRUSTED_PROXY_COUNT="1")
    yield server
    server.stop()


@pytest.fixture
def shop(make_tenant: Any) -> Any:
    tenant = make_tenant(name="Forwarded shop").tenant
    with schema_context(tenant.schema_name):
        widget = widget_settings_get()
        widget.messages_per_minute_per_ip = PER_IP_LIMIT
        widget.messages_per_minute_per_visitor = 100
        widget.save()
        tenant.widget_key = widget.public_key
        tenant.owner_email = f"owner-{uuid.uuid4().hex[:6]}@example.test"
        tenant_user_create(email=tenant.owner_email, password=OWNER_PASSWORD, role=ROLE_OWNER)
    return tenant


def widget_message(web: WebServer, tenant: Any, forwarded_for: str) -> str:
    """A new visitor's socket sends one message: "ack" or the error code it got."""
    domain = tenant.get_primary_domain().domain
    sock = socket.create_connection(("127.0.0.1", web.port), timeout=10)
    with connect(f"ws://{domain}:{web.port}/ws/widget/?key={tenant.widget_key}", sock=sock, open_timeout=10,
                 additional_headers={"X-Forwarded-For": forwarded_for}) as widget:
        widget.send(json.dumps({"type": "message", "client_id": uuid.uuid4().hex, "text": "hello there"}))
        while True:
            frame = json.loads(widget.recv(timeout=20))
            if frame["type"] == "ack":
                return "ack"
            if frame["type"] == "error":
                return str(frame["code"])


def login(web: WebServer, tenant: Any, password: str, forwarded_for: str) -> int:
    domain = tenant.get_primary_domain().domain
    headers = {"Host": domain, "X-Forwarded-For": forwarded_for}
    with httpx.Client(base_url=f"http://127.0.0.1:{web.port}", headers=headers, timeout=30) as client:
        assert client.get("/app/login/").status_code == 200
        answer = client.post("/app/login/", data={"username": tenant.owner_email, "password": password,
                                                  "csrfmiddlewaretoken": client.cookies["csrftoken"]})
        return answer.status_code


def test_without_a_proxy_a_forged_header_does_not_escape_the_widget_limit(web_without_proxy, shop) -> None:
    sent = [widget_message(web_without_proxy, shop, f"198.51.100.{index}") for index in range(PER_IP_LIMIT + 1)]
    assert sent == ["ack"] * PER_IP_LIMIT + ["rate_limited"]


def test_without_a_proxy_a_forged_header_does_not_escape_the_login_lockout(web_without_proxy, shop) -> None:
    # The fifth failure is the one that locks (AXES_FAILURE_LIMIT).
    assert [login(web_without_proxy, shop, "not-it", f"198.51.100.{index}") for index in range(5)] == [200] * 4 + [429]
    assert login(web_without_proxy, shop, OWNER_PASSWORD, "203.0.113.250") == 429


def test_behind_one_proxy_only_the_address_it_saw_counts_for_the_widget(web_behind_one_proxy, shop) -> None:
    sent = [widget_message(web_behind_one_proxy, shop, f"198.51.100.{index}, 203.0.113.7")
            for index in range(PER_IP_LIMIT + 1)]
    assert sent == ["ack"] * PER_IP_LIMIT + ["rate_limited"]
    # Another customer behind the same load balancer has an allowance of their own.
    assert widget_message(web_behind_one_proxy, shop, "203.0.113.8") == "ack"


def test_behind_one_proxy_only_the_address_it_saw_counts_for_the_login_lockout(web_behind_one_proxy, shop) -> None:
    failures = [login(web_behind_one_proxy, shop, "not-it", f"198.51.100.{index}, 203.0.113.7") for index in range(5)]
    assert failures == [200] * 4 + [429]
    assert login(web_behind_one_proxy, shop, OWNER_PASSWORD, "10.9.9.9, 203.0.113.7") == 429
    assert login(web_behind_one_proxy, shop, OWNER_PASSWORD, "203.0.113.9") == 302
