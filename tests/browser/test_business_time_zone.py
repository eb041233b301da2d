"""The dashboard speaks the business's time zone in Chromium, served as `make run` serves it: the
Amsterdam shop sees 07:00 for a message its customer sent at 07:00 there (06:00 UTC), and its orders
at the hour they were placed there. The browser itself is in New York, so nothing on the page may
come from the browser's zone or from UTC."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from chat.conversations.models import Author, Contact, Conversation, Message
from orders.models import Order
from tenants.services import ROLE_OWNER, tenant_user_create
from tests.browser.conftest import domain_of, log_in, page_errors
from tests.dashboard.test_inbox_browser import page_axe_violations
from tests.support.processes import WebServer

pytestmark = pytest.mark.browser

OWNER_PASSWORD = "amsterdam-owner-pass-1"
# Winter: Amsterdam is UTC+1. 06:00 UTC on Tuesday 1 December is 07:00 in Amsterdam.
SENT = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
# 23:30 UTC on Sunday 15 November is already Monday 16 November, 00:30, in Amsterdam.
PLACED = datetime(2026, 11, 15, 23, 30, tzinfo=UTC)


def amsterdam_shop(make_tenant: Any) -> tuple[Any, str, int, int]:
    """A shop in Amsterdam with an owner, one customer message sent at SENT and one order placed at PLACED."""
    tenant = make_tenant(name="Grachten Goods", timezone_name="Europe/Amsterdam").tenant
    email = f"owner-{uuid.uuid4().hex[:6]}@example.test"
    with schema_context(tenant.schema_name):
        tenant_user_create(email=email, password=OWNER_PASSWORD, role=ROLE_OWNER, name="Noor")
        contact = Contact.objects.create(visitor_id=f"v-{uuid.uuid4().hex}", name="Daan")
        conversation = Conversation.objects.create(contact=contact, status="human")
        message = Message.objects.create(conversation=conversation, author=Author.CUSTOMER,
                                         text="Is the rain jacket waterproof?")
        Message.objects.filter(pk=message.pk).update(created=SENT)
        Conversation.objects.filter(pk=conversation.pk).update(created=SENT, last_message_at=SENT)
        order = Order.objects.create(number="GG-1001", lookup_key="GG-1001", email="daan@example.test",
                                     currency="EUR", total_minor=8995, placed_at=PLACED)
    return tenant, email, conversation.pk, order.pk


def test_the_amsterdam_shop_sees_its_own_wall_clock_times(
        web: WebServer, make_tenant: Any, browser: Browser, artifacts_dir: Path) -> None:
    tenant, email, conversation_id, order_id = amsterdam_shop(make_tenant)
    base = f"http://{domain_of(tenant)}:{web.port}"
    context = browser.new_context(viewport={"width": 1280, "height": 860}, timezone_id="America/New_York")
    context.set_default_timeout(20_000)
    try:
        page = context.new_page()
        page.on("pageerror", lambda error: page_errors(page).append(str(error)))
        log_in(page, base, email, OWNER_PASSWORD)

        # The inbox: the conversation's last message at 07:00 on 1 December, Amsterdam time
        row = page.locator(f'.conversation-row[data-conversation-id="{conversation_id}"]')
        expect(row.locator("time")).to_have_text("1 Dec, 07:00")
        expect(row.locator("time")).to_have_attribute("title", "1 Dec 2026, 07:00 CET")
        page.screenshot(path=str(artifacts_dir / "time-zone-inbox.png"), full_page=True)

        # The conversation's transcript: the same 07:00
        page.goto(f"{base}/app/inbox/{conversation_id}/")
        message = page.locator("#transcript li.from-customer")
        expect(message).to_contain_text("Is the rain jacket waterproof?")
        expect(message.locator("time")).to_have_text("1 Dec, 07:00")
        page.screenshot(path=str(artifacts_dir / "time-zone-conversation.png"), full_page=True)

        # The orders list and the order page: placed on Monday 16 November at 00:30, not Sunday 23:30
        page.goto(f"{base}/app/orders/")
        expect(page.get_by_role("row", name="GG-1001")).to_contain_text("16 Nov 2026 00:30")
        page.goto(f"{base}/app/orders/{order_id}/")
        expect(page.locator("dt:text-is('Placed') + dd")).to_have_text("16 Nov 2026 00:30")
        assert "23:30" not in page.content()
        assert page_axe_violations(page) == []
        page.screenshot(path=str(artifacts_dir / "time-zone-order.png"), full_page=True)
        assert page_errors(page) == []
    finally:
        context.close()
