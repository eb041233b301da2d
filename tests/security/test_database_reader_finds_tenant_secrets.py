"""Someone who reads the database (a leaked backup, a read-only SQL account) looks for tenants' secrets.

An owner saves the business's own LLM API key through the real dashboard, and a shop webhook
secret is set with the `shop secret` command, both in real processes. Reading the rows with plain
SQL finds neither; the dashboard never shows the key back in full; yet the assistant still calls
the model with the right key and the shop's signed webhooks still verify.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from chat.conversations.models import BusinessProfile
from chat.widget.services import widget_settings_get
from orders.models import ShopConnection
from tests.orders import payloads
from tests.support.fake_openai import FakeOpenAIServer
from tests.support.owner_session import form_post, owner_dashboard
from tests.support.processes import ROOT, WebServer, child_env
from tests.support.ws import WidgetSocket

OWN_KEY = "sk-proj-tenant-own-key-0123456789-wxyz"
WEBHOOK_SECRET = "shpss_tenant_webhook_secret_42abc"


@pytest.fixture(scope="module")
def model() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(default_reply={"text": "Hello from your own model."}) as server:
        yield server


@pytest.fixture(scope="module")
def web() -> Iterator[WebServer]:
    # The tenant's model server is on the operator's private network, allowed by the operator.
    server = WebServer(env=child_env(OPENAI_API_KEY="", EGRESS_ALLOWED_NETWORKS="127.0.0.1/32",
                                     ASSISTANT_CACHE_ENABLED="false"))
    yield server
    server.stop()


def raw_rows(schema: str, table: str) -> str:
    """Every column of every row of a tenant table, as the SQL reader sees them."""
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT coalesce(json_agg(t)::text, \'\') FROM "{schema}"."{table}" t')
        return str(cursor.fetchone()[0])


def ask(web: WebServer, schema: str, domain: str, text: str) -> dict[str, Any]:
    with schema_context(schema):
        key = widget_settings_get().public_key
    customer = WidgetSocket(web.port, domain, f"/ws/widget/?key={key}")
    try:
        customer.recv_until("welcome")
        customer.send({"type": "message", "client_id": "c-1", "text": text})
        return customer.recv_until("answer.end", timeout=60)
    finally:
        customer.close()


def test_the_llm_key_is_not_in_the_database_nor_the_page_yet_the_model_gets_it(
        make_tenant: Any, web: WebServer, model: FakeOpenAIServer) -> None:
    created = make_tenant(name="Harbour Shop")
    schema, domain = created.tenant.schema_name, created.domain.domain
    dashboard = owner_dashboard(web, schema=schema, domain=domain)

    saved = form_post(dashboard, page="/app/settings/profile/", action="/app/settings/profile/llm/",
                      data={"api_key": OWN_KEY, "base_url": model.base_url, "chat_model": "gpt-4o-mini"})
    assert saved.status_code == 302

    stored = raw_rows(schema, BusinessProfile._meta.db_table)
    assert model.base_url in stored, "the row was read"
    assert OWN_KEY not in stored and OWN_KEY[-12:] not in stored
    page = dashboard.get("/app/settings/profile/").text
    assert OWN_KEY not in page and OWN_KEY[:-4] not in page
    assert f"sk-…{OWN_KEY[-4:]}" in page

    # Saving the form with the key left blank keeps the stored key.
    kept = form_post(dashboard, page="/app/settings/profile/", action="/app/settings/profile/llm/",
                     data={"api_key": "", "base_url": model.base_url, "chat_model": "gpt-4o-mini"})
    assert kept.status_code == 302
    dashboard.close()

    answer = ask(web, schema, domain, "Do you ship to Norway?")

    assert answer["message"]["text"] == "Hello from your own model."
    assert model.chat_requests[-1].headers["authorization"] == f"Bearer {OWN_KEY}"


def test_the_webhook_secret_is_not_in_the_database_yet_signed_webhooks_verify(
        make_tenant: Any, web: WebServer) -> None:
    created = make_tenant(name="Harbour Shop")
    schema, domain = created.tenant.schema_name, created.domain.domain

    subprocess.run([sys.executable, "manage.py", "shop", "secret", "--tenant", schema, "--platform", "shopify",
                    "--set", WEBHOOK_SECRET], cwd=ROOT, env=child_env(), check=True, capture_output=True)

    checked = subprocess.run([sys.executable, "manage.py", "shop", "secret", "--tenant", schema, "--platform",
                              "shopify"], cwd=ROOT, env=child_env(), check=True, capture_output=True, text=True)
    assert WEBHOOK_SECRET not in checked.stdout and f"shp…{WEBHOOK_SECRET[-4:]}" in checked.stdout

    stored = raw_rows(schema, ShopConnection._meta.db_table)
    assert "shopify" in stored, "the row was read"
    assert WEBHOOK_SECRET not in stored and WEBHOOK_SECRET[-10:] not in stored

    raw = payloads.body({"id": 1})
    with web.client(domain) as client:
        signed = client.post("/webhooks/shopify/", content=raw,
                             headers=payloads.shopify_headers(WEBHOOK_SECRET, raw, "shop/unknown_topic"))
        forged = client.post("/webhooks/shopify/", content=raw,
                             headers=payloads.shopify_headers("a-guessed-secret-value", raw, "shop/unknown_topic"))
    assert signed.status_code == 200, signed.text
    assert forged.status_code == 401
