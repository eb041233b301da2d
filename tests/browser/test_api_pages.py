"""The API's pages in a real browser: the docs at /api/v1/docs/ work with nothing fetched from
elsewhere, and an owner manages API keys under Settings (created key shown once, last use, revoke)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import desktop_context, domain_of, log_in
from tests.support.owner_session import team_member_create
from tests.support.processes import WebServer


def test_the_api_docs_load_everything_from_the_businesss_own_domain(web: WebServer, page: Page,
                                                                   tenant_a: Any) -> None:
    base = f"http://{domain_of(tenant_a)}:{web.port}"
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{base}/api/v1/docs/")
    expect(page.get_by_text("Deskpilot API").first).to_be_visible()
    expect(page.get_by_text("/api/v1/conversations/{conversation_id}/take-over")).to_be_visible()
    page.get_by_text("/api/v1/usage").first.click()
    expect(page.get_by_text("This month's usage against the plan").first).to_be_visible()
    assert requested and all(url.startswith(f"{base}/") or url.startswith("data:") for url in requested), requested
    assert any("/static/drf_spectacular_sidecar/" in url for url in requested)


def test_an_owner_creates_a_key_sees_it_once_and_revokes_it(web: WebServer, browser: Browser, tenant_a: Any) -> None:
    email = f"owner-{uuid.uuid4().hex[:6]}@example.test"
    team_member_create(tenant_a.schema_name, role="owner", email=email, password="owner-pass-1234")
    base = f"http://{domain_of(tenant_a)}:{web.port}"
    for context in desktop_context(browser):
        page = context.new_page()
        log_in(page, base, email, "owner-pass-1234")
        page.get_by_role("link", name="API keys").click()
        page.get_by_label("Name").fill("Shop backend")
        page.get_by_label("Knowledge").uncheck()
        page.get_by_role("button", name="Create the key").click()
        key = page.get_by_label("Copy it now: it is shown only this once.").input_value()
        assert re.fullmatch(r"dpk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}", key)
        row = page.get_by_role("row").filter(has_text="Shop backend")
        expect(row).to_contain_text("read, write, conversations, catalog, webhooks")
        expect(row).to_contain_text("never")

        api = httpx.Client(base_url=f"{web.base_url}/api/v1", headers={"Host": domain_of(tenant_a),
                                                                        "Authorization": f"Bearer {key}"})
        assert api.get("/usage").status_code == 200
        page.goto(f"{base}/app/settings/api-keys/")
        assert key not in page.content()  # shown once only
        expect(page.get_by_role("row").filter(has_text="Shop backend")).not_to_contain_text("never")

        page.get_by_role("button", name="Revoke Shop backend").click()
        expect(page.get_by_text("Revoked “Shop backend”: it no longer works.")).to_be_visible()
        assert api.get("/usage").status_code == 401
        api.close()


def test_an_agent_cannot_open_the_api_keys_page(web: WebServer, tenant_a: Any) -> None:
    from tests.support.owner_session import session_key_for

    agent = team_member_create(tenant_a.schema_name, role="agent", email=f"sam-{uuid.uuid4().hex[:6]}@example.test",
                               password="pw-agent-1")
    with web.client(domain_of(tenant_a)) as client:
        client.cookies.set("sessionid", session_key_for(tenant_a.schema_name, agent), domain="127.0.0.1")
        assert client.get("/app/settings/api-keys/").status_code == 403
        assert "API keys" not in client.get("/app/inbox/").text
