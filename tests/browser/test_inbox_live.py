"""The inbox updates live in Chromium, served as `make run` serves it: an agent's inbox page is open, a
customer writes over a real widget socket, and the conversation and then its new message appear on the
page without a reload (inbox.js and htmx must load for that; under `make run` they once answered 404)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from chat.conversations.models import Message
from chat.widget.services import widget_settings_get
from tenants.services import ROLE_AGENT, tenant_user_create
from tests.browser.conftest import domain_of, log_in, page_errors
from tests.dashboard.test_inbox_browser import page_axe_violations
from tests.support.processes import WebServer
from tests.support.ws import WidgetSocket

pytestmark = pytest.mark.browser

AGENT_PASSWORD = "live-inbox-agent-pass-1"


def widget_socket(web: WebServer, tenant: Any) -> WidgetSocket:
    """What the widget on the business's demo page opens."""
    with schema_context(tenant.schema_name):
        key = widget_settings_get().public_key
    domain = domain_of(tenant)
    socket = WidgetSocket(web.port, domain, f"/ws/widget/?key={key}", origin=f"http://{domain}:{web.port}")
    socket.recv_until("welcome")
    return socket


def test_a_customers_new_conversation_and_message_appear_in_the_open_inbox(
        web: WebServer, make_tenant: Any, browser: Browser, artifacts_dir: Path) -> None:
    tenant = make_tenant(name="Live Bakery").tenant
    email = f"agent-{uuid.uuid4().hex[:6]}@example.test"
    with schema_context(tenant.schema_name):
        tenant_user_create(email=email, password=AGENT_PASSWORD, role=ROLE_AGENT, name="Ada")
    base = f"http://{domain_of(tenant)}:{web.port}"
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(20_000)
    customer = None
    try:
        # Given an agent looking at an empty inbox, its live connection up
        page = context.new_page()
        page.on("pageerror", lambda error: page_errors(page).append(str(error)))
        log_in(page, base, email, AGENT_PASSWORD)
        page.wait_for_function("() => document.documentElement.dataset.live === 'on'")
        expect(page.locator(".conversation-row")).to_have_count(0)
        page.evaluate("() => { window.stillThisPage = true; }")  # gone if the page were loaded again

        # When a customer writes in the widget
        customer = widget_socket(web, tenant)
        customer.send({"type": "message", "client_id": "live-1", "text": "Do you bake sourdough on Sundays?"})
        message_id = customer.recv_until("ack")["message_id"]
        with schema_context(tenant.schema_name):
            conversation_id = Message.objects.get(pk=message_id).conversation_id

        # Then the conversation appears in the open inbox, with what the customer wrote
        row = page.locator(f'.conversation-row[data-conversation-id="{conversation_id}"]')
        expect(row).to_be_visible()
        customer.recv_until("answer.end")
        # And the conversation's newest message shows on the same page, still without a reload
        customer.send({"type": "message", "client_id": "live-2", "text": "And croissants on Mondays?"})
        customer.recv_until("answer.end")
        with schema_context(tenant.schema_name):
            newest = Message.objects.filter(conversation_id=conversation_id).order_by("-id").first()
        assert newest is not None and newest.pk > message_id
        expect(row.locator(".preview")).to_contain_text(newest.text[:60].strip())
        assert page.evaluate("() => window.stillThisPage") is True
        assert page.url == f"{base}/app/inbox/"
        assert page_axe_violations(page) == []
        page.screenshot(path=str(artifacts_dir / "inbox-live.png"), full_page=True)
        assert page_errors(page) == []
    finally:
        if customer is not None:
            customer.close()
        context.close()
