"""Once a customer says who they are (the pre-chat form) or proves it (an order's number and e-mail), an
agent's open conversation page shows their name and address, how much that address is worth, and a link
to their order. Chromium for both sides, served as `make run` serves it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from chat.conversations.models import Contact, EmailStatus, Message
from orders.demo import load_demo as load_demo_orders
from orders.models import Order
from tenants.demo import FIXTURES
from tenants.services import ROLE_AGENT, tenant_user_create
from tests.browser.conftest import Widget, demo_url, domain_of, log_in, page_errors, widget_settings_update
from tests.dashboard.test_inbox_browser import page_axe_violations
from tests.support.processes import WebServer

pytestmark = pytest.mark.browser

# From tenants/fixtures/demo/shop/orders.json.
ORDER_NUMBER, ORDER_EMAIL = "TL-10412", "lotte.visser@example.com"
AGENT_PASSWORD = "identity-agent-pass-1"


def test_a_customer_who_proves_an_order_is_theirs_shows_by_name_and_address_in_the_inbox(
        web: WebServer, make_tenant: Callable[..., Any], browser: Browser, artifacts_dir: Path) -> None:
    # Given a shop with the demo's orders, a pre-chat form, and an agent
    tenant = make_tenant(name="Threadline Identity").tenant
    with schema_context(tenant.schema_name):
        load_demo_orders(tenant=tenant, fixtures=FIXTURES / "shop")
        order = Order.objects.get(number=ORDER_NUMBER)
    widget_settings_update(tenant, prechat_enabled=True, prechat_require_email=False)
    agent_email = f"agent-{uuid.uuid4().hex[:6]}@staff.example"
    with schema_context(tenant.schema_name):
        tenant_user_create(email=agent_email, password=AGENT_PASSWORD, role=ROLE_AGENT, name="Mila")
    base = f"http://{domain_of(tenant)}:{web.port}"
    customer_context = browser.new_context(viewport={"width": 1280, "height": 900})
    staff_context = browser.new_context(viewport={"width": 1280, "height": 900})
    customer_context.set_default_timeout(30_000)
    staff_context.set_default_timeout(20_000)
    try:
        # When the customer gives a name and an address in the pre-chat form, and claims another one
        page = customer_context.new_page()
        page.goto(demo_url(web, tenant))
        widget = Widget(page).open()
        widget.host.get_by_label("Name").fill("Lotte Visser")
        widget.host.get_by_label("E-mail").fill("lotte@elsewhere.example")
        widget.host.get_by_role("button", name="Start chat").click()
        first = f"Hi, I am boss@{uuid.uuid4().hex[:6]}.example"
        widget.say(first)
        widget.wait_settled()
        with schema_context(tenant.schema_name):
            conversation_id = Message.objects.get(text=first).conversation_id

        # Then the agent's conversation page shows them, the address as given, not verified
        staff = staff_context.new_page()
        staff.on("pageerror", lambda error: page_errors(staff).append(str(error)))
        log_in(staff, base, agent_email, AGENT_PASSWORD)
        expect(staff.locator(f'.conversation-row[data-conversation-id="{conversation_id}"]')).to_contain_text(
            "Lotte Visser")
        staff.goto(f"{base}/app/inbox/{conversation_id}/")
        staff.wait_for_function("() => document.documentElement.dataset.live === 'on'")
        expect(staff.locator("#customer-name")).to_have_text("Lotte Visser")
        expect(staff.locator("#customer-email")).to_have_text("lotte@elsewhere.example")
        expect(staff.locator("#customer-email-status")).to_have_text("(given, not verified)")
        expect(staff.locator(".customer-orders")).to_have_count(0)

        # When the customer checks an order with its number and the e-mail it was placed with
        widget.say("Where is my order?")
        widget.wait_answer_containing("What's your order number?")
        widget.say(ORDER_NUMBER)
        widget.wait_answer_containing("e-mail address or phone number")
        widget.say(ORDER_EMAIL)
        widget.wait_answer_containing(f"Order {ORDER_NUMBER} is shipped.")

        # Then the open page shows the proven address, live, with a link to the order
        expect(staff.locator("#customer-email")).to_have_text(ORDER_EMAIL)
        expect(staff.locator("#customer-email-status")).to_have_text("(verified by an order)")
        expect(staff.locator("#customer-name")).to_have_text("Lotte Visser")
        link = staff.locator(".customer-orders").get_by_role("link", name=f"Order {ORDER_NUMBER}")
        expect(link).to_have_attribute("href", f"/app/orders/{order.pk}/")
        # (and its transcript kept up with every message, the answer with the order's status last)
        expect(staff.locator("#transcript li").last).to_contain_text(f"Order {ORDER_NUMBER} is shipped.")
        assert page_axe_violations(staff) == []
        staff.screenshot(path=str(artifacts_dir / "inbox-verified-customer.png"), full_page=True)
        link.click()
        expect(staff).to_have_url(f"{base}/app/orders/{order.pk}/")
        expect(staff.get_by_role("heading", level=1)).to_contain_text(ORDER_NUMBER)
        assert page_errors(staff) == []
    finally:
        customer_context.close()
        staff_context.close()
    with schema_context(tenant.schema_name):
        contact = Contact.objects.get(conversations__pk=conversation_id)
        assert (contact.email, contact.email_status) == (ORDER_EMAIL, EmailStatus.VERIFIED)

