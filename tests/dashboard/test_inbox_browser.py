"""In two browsers: a customer asks for a person in the shop's widget while an agent watches the inbox.

The agent sees the conversation arrive and ask for a person without reloading, takes it over and
replies; the customer sees the reply live, and the assistant says nothing more.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, Page, expect

from chat.conversations.models import Author, Message
from chat.dashboard.models import CannedResponse
from tenants.services import ROLE_AGENT, tenant_user_create
from tests.browser.conftest import (  # noqa: F401  (fixtures used by name)
    CHROMIUM_ARGS,
    Widget,
    _orm_beside_playwright,
    _passwords_the_server_checks,
    browser,
    demo_url,
    domain_of,
    log_in,
    page_errors,
    playwright,
    server_env,
    web,
)
from tests.support.processes import WebServer

pytestmark = pytest.mark.browser

AGENT_PASSWORD = "browser-agent-pass-1"


def page_axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core over the whole page; serious and critical violations only."""
    import axe_playwright_python

    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through the driver: the dashboard's Content-Security-Policy refuses an inline <script>.
        page.evaluate((Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text())
    results = page.evaluate("""async () => {
        const results = await axe.run(document, { resultTypes: ['violations'] });
        return results.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
                                               nodes: v.nodes.map(n => n.target) }));
    }""")
    return [violation for violation in results if violation["impact"] in ("serious", "critical")]


def test_an_agent_sees_a_handoff_live_takes_over_and_the_customer_sees_the_reply(
        web: WebServer, demo_copies: dict[str, Any], browser: Browser, artifacts_dir: Path) -> None:  # noqa: F811
    shop = demo_copies["shop"]
    email = f"anna-{uuid.uuid4().hex[:6]}@shop.example"
    with schema_context(shop.schema_name):
        tenant_user_create(email=email, password=AGENT_PASSWORD, role=ROLE_AGENT, name="Anna")
        CannedResponse.objects.get_or_create(title="Greeting", defaults={"text": "Hello, Anna here."})
    base = f"http://{domain_of(shop)}:{web.port}"

    agent_context = browser.new_context(viewport={"width": 1280, "height": 860})
    customer_context = browser.new_context(viewport={"width": 1280, "height": 860})
    for context in (agent_context, customer_context):
        context.set_default_timeout(20_000)
    try:
        # Given an agent logged in to the dashboard, looking at the inbox
        agent = agent_context.new_page()
        agent.on("pageerror", lambda error: page_errors(agent).append(str(error)))
        log_in(agent, base, email, AGENT_PASSWORD)
        agent.wait_for_function("() => document.documentElement.dataset.live === 'on'")
        assert page_axe_violations(agent) == []

        # When a customer writes in the widget and asks for a person
        customer = customer_context.new_page()
        customer.goto(demo_url(web, shop))
        widget = Widget(customer).open()
        widget.say("hi")
        widget.wait_settled()
        widget.footer.get_by_role("button", name="Talk to a person").click()
        expect(widget.footer.get_by_role("button", name="A person has been asked to join")).to_be_disabled()
        client_id = customer.evaluate(
            "() => window.Deskpilot._debug.frames.find(f => f[0] === 'out' && f[1].type === 'message')[1].client_id")
        with schema_context(shop.schema_name):
            conversation_id = Message.objects.get(client_id=client_id).conversation_id

        # Then the agent's inbox shows it, waiting for a person, without a reload
        row = agent.locator(f'.conversation-row[data-conversation-id="{conversation_id}"]')
        expect(row).to_have_attribute("data-status", "needs_human")
        expect(agent.locator(".conversation-row").first).to_have_attribute("data-status", "needs_human")
        agent.screenshot(path=str(artifacts_dir / "inbox.png"), full_page=True)

        # When the agent opens it, takes over and replies
        row.get_by_role("link").click()
        expect(agent).to_have_url(re.compile(rf"/app/inbox/{conversation_id}/$"))
        expect(agent.locator("#transcript")).to_contain_text("hi")
        assert page_axe_violations(agent) == []
        # Taking over is a form post that reloads the page; the live refresh may show "Human" on the
        # old page first, so the reload is waited for before using the reply form
        with agent.expect_navigation():
            agent.get_by_role("button", name="Take over").click()
        expect(agent.locator("#conversation-status")).to_have_text("Human")
        expect(widget.log.locator(".msg.system", has_text="joined")).to_be_visible()
        assistant_answers = widget.log.locator(".msg.assistant:not([data-kind=greeting]) .bubble").count()

        agent.get_by_label("Insert a canned response").select_option(label="Greeting")
        expect(agent.get_by_role("textbox", name="Message")).to_have_value("Hello, Anna here.")
        agent.get_by_role("textbox", name="Message").press_sequentially(" How can I help?")
        agent.get_by_role("button", name="Send").click()
        expect(agent.get_by_role("textbox", name="Message")).to_have_value("")

        # Then the customer sees the reply live
        expect(widget.log.locator(".msg.agent .bubble").last).to_contain_text("Hello, Anna here.")

        # And the customer's next message reaches the agent live while the assistant stays silent
        widget.say("My parcel is late")
        expect(agent.locator("#transcript")).to_contain_text("My parcel is late")
        customer.wait_for_timeout(2000)
        assert widget.log.locator(".msg.assistant:not([data-kind=greeting]) .bubble").count() == assistant_answers
        with schema_context(shop.schema_name):
            last = Message.objects.filter(conversation_id=conversation_id).order_by("-id").first()
            assert last is not None and last.author == Author.CUSTOMER

        # On a phone the inbox fits the screen: nothing scrolls sideways
        agent.set_viewport_size({"width": 390, "height": 844})
        # (its own status: the tenant is shared with other tests, and the conversations waiting for a
        # person come first, a page of them could hide this one under "all")
        agent.goto(f"{base}/app/inbox/?status=human")
        expect(agent.locator(f'.conversation-row[data-conversation-id="{conversation_id}"]')).to_be_visible()
        assert agent.evaluate("() => document.documentElement.scrollWidth") <= 390
        assert page_errors(agent) == []
    finally:
        agent_context.close()
        customer_context.close()
