"""Customers see team members by their display name (and avatar), never by the e-mail address they log in
with; and while a person has the conversation, the widget's banner says who is here instead of "we're closed".

Chromium on the demo shop's page, served as `make run` serves it, with the clock frozen on a Sunday the
shop is closed; the agent acts over the real agent socket, or in the dashboard in Chromium.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, Page, expect

from chat.conversations.models import Message
from chat.dashboard.services import team_member_profile_save
from chat.widget.services import away_state
from tenants.services import ROLE_AGENT
from tests.browser.conftest import Widget, axe_violations, demo_url, domain_of, log_in, page_errors, server_env
from tests.dashboard.test_inbox_browser import page_axe_violations
from tests.support.owner_session import session_cookie_for, team_member_create
from tests.support.processes import WebServer
from tests.support.ws import WidgetSocket

pytestmark = pytest.mark.browser

# A Sunday noon in Amsterdam: the demo shop (tenants/fixtures/demo/shop/hours.json) is closed all day.
SUNDAY_NOON = "2026-11-15T12:00:00+01:00"
EMAIL_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
AGENT_PASSWORD = "team-names-agent-pass-1"
# The smallest PNG: one transparent pixel.
ONE_PIXEL_PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                              "0000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082")


@pytest.fixture(scope="module")
def web() -> Iterator[WebServer]:
    server = WebServer(env=server_env(OPENAI_API_KEY=""), clock_at=SUNDAY_NOON)
    yield server
    server.stop()


def new_agent(tenant: Any, *, display_name: str | None = None) -> User:
    user = team_member_create(tenant.schema_name, role=ROLE_AGENT, email=f"agent-{uuid.uuid4().hex[:6]}@staff.example",
                              password=AGENT_PASSWORD)
    if display_name is not None:
        with schema_context(tenant.schema_name):
            team_member_profile_save(user=user, display_name=display_name)
    return user


def session_cookie(tenant: Any, user: User) -> str:
    return session_cookie_for(tenant.schema_name, user)


def agent_socket(web: WebServer, tenant: Any, cookie: str) -> WidgetSocket:
    domain = domain_of(tenant)
    socket = WidgetSocket(web.port, domain, "/ws/agent/", origin=f"http://{domain}:{web.port}", cookie=cookie)
    socket.recv_until("welcome")
    return socket


def customer_asks_for_a_person(page: Page, web: WebServer, tenant: Any, client_text: str) -> tuple[Widget, int]:
    page.goto(demo_url(web, tenant))
    widget = Widget(page).open()
    widget.say(client_text)
    widget.wait_settled()
    widget.footer.get_by_role("button", name="Talk to a person").click()
    expect(widget.footer.get_by_role("button", name="A person has been asked to join")).to_be_disabled()
    with schema_context(tenant.schema_name):
        conversation_id = Message.objects.get(text=client_text).conversation_id
    return widget, conversation_id


def team_login_addresses_in(text: str) -> set[str]:
    """The log-in addresses of any team member that appear in `text`. The business's own public contact
    address may be shown (the assistant gives it when asked how to reach the shop); a person's log-in
    address never may."""
    shown = {address.lower() for address in EMAIL_ADDRESS.findall(text)}
    logins = {email.lower() for email in User.objects.exclude(email="").values_list("email", flat=True)}
    return shown & logins


def widget_text_and_markup(widget: Widget) -> str:
    """Everything the customer's widget holds: its shadow root's text, attributes and markup."""
    return str(widget.shadow_eval("(root) => root.innerHTML + ' ' + root.textContent"))


def test_customers_see_the_agents_name_never_their_email(web: WebServer, demo_copies: dict[str, Any],
                                                         page: Page) -> None:
    shop = demo_copies["shop"]
    agent_user = new_agent(shop, display_name="Mila")
    text = f"Where is my parcel? {uuid.uuid4().hex[:6]}"
    widget, conversation_id = customer_asks_for_a_person(page, web, shop, text)
    agent = agent_socket(web, shop, session_cookie(shop, agent_user))
    try:
        # When an agent takes over, types and replies over the agent socket
        agent.send({"type": "subscribe", "conversation_id": conversation_id})
        agent.recv_until("subscribed")
        agent.send({"type": "take_over", "conversation_id": conversation_id})
        expect(widget.log.locator(".msg.system", has_text="joined")).to_have_text("Mila joined the conversation.")
        agent.send({"type": "typing", "conversation_id": conversation_id, "on": True})
        expect(widget.host.locator(".typing")).to_have_text("Mila is typing…")
        agent.send({"type": "message", "conversation_id": conversation_id, "text": "Hello, let me check.",
                    "client_id": "m1"})
        reply = widget.log.locator(".msg.agent").last
        expect(reply.locator(".bubble")).to_have_text("Hello, let me check.")
        # Then the customer sees the agent's name, and nowhere their e-mail address
        expect(reply.locator(".who")).to_have_text("Mila")
        assert team_login_addresses_in(widget_text_and_markup(widget)) == set()
        assert team_login_addresses_in(page.locator("body").inner_text()) == set()

        # And after a reload, the history the widget gets again says the same
        page.reload()
        widget = Widget(page).open()
        expect(widget.log.locator(".msg.agent .who").last).to_have_text("Mila")
        expect(widget.log.locator(".msg.system", has_text="joined")).to_have_text("Mila joined the conversation.")
        assert team_login_addresses_in(widget_text_and_markup(widget)) == set()
        assert agent_user.email not in str(page.evaluate("() => JSON.stringify(window.Deskpilot._debug.frames)"))
    finally:
        agent.close()
    assert not page_errors(page)


def test_an_agent_without_a_name_is_the_business_team(web: WebServer, demo_copies: dict[str, Any],
                                                      page: Page) -> None:
    shop = demo_copies["shop"]
    agent_user = new_agent(shop)  # no name given anywhere: not even the first part of the e-mail may show
    text = f"Can someone help? {uuid.uuid4().hex[:6]}"
    widget, conversation_id = customer_asks_for_a_person(page, web, shop, text)
    agent = agent_socket(web, shop, session_cookie(shop, agent_user))
    try:
        agent.send({"type": "take_over", "conversation_id": conversation_id})
        agent.send({"type": "message", "conversation_id": conversation_id, "text": "Hi!", "client_id": "m1"})
        expect(widget.log.locator(".msg.agent .who").last).to_have_text("Threadline team")
        assert agent_user.email.split("@")[0] not in widget_text_and_markup(widget)
    finally:
        agent.close()


def test_an_agent_sets_their_name_and_avatar_in_the_dashboard_and_customers_see_them(
        web: WebServer, demo_copies: dict[str, Any], browser: Browser, artifacts_dir: Path) -> None:
    shop = demo_copies["shop"]
    agent_user = new_agent(shop)
    base = f"http://{domain_of(shop)}:{web.port}"
    staff = browser.new_context(viewport={"width": 1280, "height": 900})
    customer = browser.new_context(viewport={"width": 1280, "height": 900})
    staff.set_default_timeout(20_000)
    customer.set_default_timeout(20_000)
    agent = None
    try:
        # Given an agent logged in to the dashboard
        page = staff.new_page()
        page.on("pageerror", lambda error: page_errors(page).append(str(error)))
        log_in(page, base, agent_user.email, AGENT_PASSWORD)

        # When they open their profile and give their name, an e-mail address refused
        page.get_by_role("link", name="Your profile").click()
        expect(page.locator("#me-shown-name")).to_have_text("Threadline team")
        page.get_by_label("Name customers see").fill(agent_user.email)
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("alert")).to_contain_text("not an e-mail address")
        page.get_by_label("Name customers see").fill("Sam Baker")
        page.get_by_label("Or upload an avatar (optional)").set_input_files(
            files=[{"name": "me.png", "mimeType": "image/png", "buffer": ONE_PIXEL_PNG}])
        page.get_by_role("button", name="Save").click()
        expect(page.locator("#me-shown-name")).to_have_text("Sam Baker")
        expect(page.get_by_alt_text("Your avatar")).to_be_visible()
        page.wait_for_function("() => { const img = document.querySelector('.avatar-preview');"
                               " return img.complete && img.naturalWidth === 1; }")
        assert page_axe_violations(page) == []
        page.screenshot(path=str(artifacts_dir / "dashboard-your-profile.png"), full_page=True)
        assert page_errors(page) == []

        # Then a customer they answer sees that name, with the avatar beside it
        customer_page = customer.new_page()
        text = f"Hello there {uuid.uuid4().hex[:6]}"
        widget, conversation_id = customer_asks_for_a_person(customer_page, web, shop, text)
        cookie = "; ".join(f"{c['name']}={c['value']}" for c in staff.cookies() if c["name"] == "sessionid")
        agent = agent_socket(web, shop, cookie)
        agent.send({"type": "take_over", "conversation_id": conversation_id})
        agent.send({"type": "message", "conversation_id": conversation_id, "text": "Sam here, hi!", "client_id": "m1"})
        who = widget.log.locator(".msg.agent .who").last
        expect(who).to_have_text("Sam Baker")
        avatar = who.locator("img")
        expect(avatar).to_have_attribute("src", re.compile(rf"^http://{re.escape(domain_of(shop))}:\d+/widget/avatars/"))
        customer_page.wait_for_function(
            "() => { const img = document.querySelector('deskpilot-widget').shadowRoot"
            ".querySelector('.msg.agent .who img'); return img && img.complete && img.naturalWidth === 1; }")
        assert team_login_addresses_in(widget_text_and_markup(widget)) == set()
        assert axe_violations(customer_page) == []
        customer_page.screenshot(path=str(artifacts_dir / "widget-agent-name.png"))
    finally:
        if agent is not None:
            agent.close()
        staff.close()
        customer.close()


def test_the_closed_banner_says_who_is_here_while_a_person_has_the_conversation(
        web: WebServer, demo_copies: dict[str, Any], page: Page, artifacts_dir: Path) -> None:
    shop = demo_copies["shop"]
    with time_machine.travel(SUNDAY_NOON, tick=False), schema_context(shop.schema_name):
        closed = away_state("en")["message"]
    assert "tomorrow at 09:00" in closed
    agent_user = new_agent(shop, display_name="Mila")
    text = f"Anyone there on Sunday? {uuid.uuid4().hex[:6]}"
    widget, conversation_id = customer_asks_for_a_person(page, web, shop, text)
    banner = widget.host.locator(".away")
    # Given the shop is closed and the banner says so
    expect(banner).to_have_text(closed)
    agent = agent_socket(web, shop, session_cookie(shop, agent_user))
    try:
        # When an agent takes the conversation over, the banner says who is here instead
        agent.send({"type": "take_over", "conversation_id": conversation_id})
        expect(banner).to_have_text("Mila from Threadline is here")
        expect(banner).to_have_attribute("role", "status")
        assert axe_violations(page) == []
        page.screenshot(path=str(artifacts_dir / "widget-person-here-while-closed.png"))
        # And after a reload too
        page.reload()
        widget = Widget(page).open()
        banner = widget.host.locator(".away")
        expect(banner).to_have_text("Mila from Threadline is here")

        # When the agent hands it back to the assistant, the closed message returns
        agent.send({"type": "hand_back", "conversation_id": conversation_id})
        expect(banner).to_have_text(closed)
        # And when a person takes over again and resolves it, still closed: the away message again
        agent.send({"type": "take_over", "conversation_id": conversation_id})
        expect(banner).to_have_text("Mila from Threadline is here")
        agent.send({"type": "resolve", "conversation_id": conversation_id})
        expect(banner).to_have_text(closed)
    finally:
        agent.close()
    assert not page_errors(page)
