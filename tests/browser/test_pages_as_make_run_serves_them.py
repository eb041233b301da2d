"""What a new business sees in Chromium, from a server started exactly as `make run` starts it
(config.settings.local, the daphne command of config/devrun.py) on the test's own stores.

Every main page of the dashboard, the admin's login and index, the business's root address and its demo
page load every stylesheet, script, image and icon they reference (each answers 200, nothing fails, the
console stays clean); the root address leads to the dashboard login and the demo page; opening hours
have one place; the analytics labels are readable; the rating card fits in the chat; the admin shows a
plan's price as money. Screenshots of the main pages are kept under test-artifacts/.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, BrowserContext, Page, Request, Response, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from chat.conversations.models import Message
from chat.widget.services import widget_settings_get
from tenants import services as tenant_services
from tenants.models import Plan
from tests.browser.conftest import (
    Widget,
    agent_cookie,
    axe_violations,
    demo_url,
    domain_of,
    log_in,
    page_errors,
)
from tests.dashboard.test_inbox_browser import page_axe_violations
from tests.support.processes import WebServer
from tests.support.ws import WidgetSocket

pytestmark = pytest.mark.browser

OWNER_PASSWORD = "owner-browser-pass-1"
ADMIN_PASSWORD = "platform-browser-pass-1"
# Smallest label a person reads comfortably on a dashboard (WCAG has no figure; 11 px is the usual floor).
MIN_LABEL_PX = 11
# Every asset a page references: stylesheets, icons, scripts, images; and the icon a browser asks for
# whatever the page says. Only this server's own addresses (nothing else is referenced).
REFERENCED_ASSETS = """() => {
    const urls = new Set([new URL('/favicon.ico', location.href).href]);
    document.querySelectorAll('link[rel~="stylesheet"], link[rel~="icon"]').forEach(l => urls.add(l.href));
    document.querySelectorAll('script[src]').forEach(s => urls.add(s.src));
    document.querySelectorAll('img[src]').forEach(i => urls.add(i.currentSrc || i.src));
    return [...urls];
}"""

# The page itself asks (Chromium maps *.localhost to this machine; Playwright's own HTTP client does not).
ASK_AGAIN = """async (url) => {
    const response = await fetch(url, { cache: 'no-store', credentials: 'same-origin' });
    const head = [...new Uint8Array(await response.arrayBuffer()).slice(0, 4)];
    return { status: response.status, type: response.headers.get('content-type'), head };
}"""


def owner_of(tenant: Any) -> str:
    email = f"owner-{uuid.uuid4().hex[:6]}@example.test"
    with schema_context(tenant.schema_name):
        tenant_services.tenant_user_create(email=email, password=OWNER_PASSWORD, role="owner", name="Olivia")
    return email


class Loads:
    """Opens a page and reports every asset of it that did not load."""

    def __init__(self, page: Page, artifacts_dir: Path) -> None:
        self.page = page
        self.artifacts_dir = artifacts_dir

    def __call__(self, url: str, name: str) -> list[str]:
        page = self.page
        answered: dict[str, int] = {}
        failed: list[str] = []
        console: list[str] = []

        def on_response(response: Response) -> None:
            answered[response.url] = response.status

        def on_failed(request: Request) -> None:
            # A request the previous page left running is cut off by the navigation: not this page's.
            if "ERR_ABORTED" not in (request.failure or ""):
                failed.append(f"{request.url} failed: {request.failure}")

        def on_console(message: Any) -> None:
            # Any error Chromium reports: an asset it could not load (the missing icon's 404 included), a
            # frame it refused to show (the widget settings' preview), a script or policy error.
            if message.type == "error":
                console.append(f"console: {message.text}")

        page.on("response", on_response)
        page.on("requestfailed", on_failed)
        page.on("console", on_console)
        try:
            page.goto(url)
            page.wait_for_load_state("load")
            problems = [f"{asset} answered {status}" for asset, status in answered.items() if status >= 400]
            for asset in page.evaluate(REFERENCED_ASSETS):
                # Seen on an earlier page, an asset may come from the browser's cache without a response
                # event, and headless Chromium does not always ask for the icon: then the page asks.
                status = answered.get(asset) or page.evaluate(ASK_AGAIN, asset)["status"]
                if status not in (200, 304):
                    problems.append(f"{asset} answered {status}")
            page.screenshot(path=str(self.artifacts_dir / f"page-{name}.png"), full_page=True)
        finally:
            page.remove_listener("response", on_response)
            page.remove_listener("requestfailed", on_failed)
            page.remove_listener("console", on_console)
        return sorted(set(problems + failed + console))


def styled(page: Page, selector: str, prop: str) -> str:
    return str(page.locator(selector).first.evaluate(f"e => getComputedStyle(e).{prop}"))


def customer_writes(web: WebServer, tenant: Any, text: str) -> int:
    """A customer's message over a real widget socket, as the widget on the demo page sends it."""
    with schema_context(tenant.schema_name):
        key = widget_settings_get().public_key
    domain = domain_of(tenant)
    socket = WidgetSocket(web.port, domain, f"/ws/widget/?key={key}", origin=f"http://{domain}:{web.port}")
    try:
        socket.recv_until("welcome")
        socket.send({"type": "message", "client_id": f"c-{uuid.uuid4().hex[:8]}", "text": text})
        message_id = socket.recv_until("ack")["message_id"]
        socket.recv_until("answer.end")
    finally:
        socket.close()
    with schema_context(tenant.schema_name):
        return int(Message.objects.get(pk=message_id).conversation_id)


def test_every_main_page_loads_its_styles_scripts_images_and_icon(
        web: WebServer, demo_copies: dict[str, Any], desktop: BrowserContext, artifacts_dir: Path) -> None:
    shop = demo_copies["shop"]
    base = f"http://{domain_of(shop)}:{web.port}"
    customer_writes(web, shop, "Where is my order?")
    page = desktop.new_page()
    loads = Loads(page, artifacts_dir)

    # The business's public pages, before anyone logs in
    assert loads(f"{base}/", "root") == []
    assert loads(f"{base}/demo/", "demo") == []
    Widget(page).wait_loaded()
    assert loads(f"{base}/app/login/", "login") == []
    assert styled(page, ".topbar", "backgroundColor") == "rgb(17, 24, 39)"  # dashboard.css is in force

    # Every page of the dashboard's navigation, and a conversation, an order and a product
    email = owner_of(shop)
    log_in(page, base, email, OWNER_PASSWORD)
    nav = page.locator("#sidenav a").evaluate_all("links => links.map(a => [a.textContent.trim(), a.href])")
    assert len(nav) >= 10, nav
    for label, url in nav:
        assert loads(url, re.sub(r"[^a-z]+", "-", label.lower()).strip("-")) == [], label
        assert styled(page, ".sidenav", "borderRightStyle") == "solid", label
    for listing, row, name in (("/app/inbox/?status=all", ".conversation-row a", "conversation"),
                               ("/app/orders/", "main table a", "order"), ("/app/catalog/", "main table a", "product")):
        page.goto(base + listing)
        detail = page.locator(row).first.get_attribute("href")
        assert detail, f"no {name} to open on {listing}"
        assert loads(base + detail, name) == [], name
    icon = page.evaluate(ASK_AGAIN, f"{base}/favicon.ico")
    assert icon == {"status": 200, "type": "image/x-icon", "head": [0, 0, 1, 0]}, icon  # an ICO file
    assert page_errors(page) == []


def test_the_admin_is_styled_and_shows_a_plans_price_as_money(
        web: WebServer, desktop: BrowserContext, artifacts_dir: Path) -> None:
    username = f"platform-{uuid.uuid4().hex[:6]}@example.test"
    User.objects.create_superuser(username=username, email=username, password=ADMIN_PASSWORD)
    starter = Plan.objects.get(code="starter")
    base = f"http://localhost:{web.port}"
    page = desktop.new_page()
    loads = Loads(page, artifacts_dir)

    assert loads(f"{base}/admin/login/", "admin-login") == []
    assert styled(page, "#header", "backgroundColor") not in ("rgba(0, 0, 0, 0)", "")  # the admin's CSS loaded
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/admin/")
    assert loads(f"{base}/admin/", "admin-index") == []

    # The plans' prices read as money in each plan's currency, per month; never "Price minor 2900"
    assert loads(f"{base}/admin/tenants/plan/", "admin-plans") == []
    expect(page.locator("#result_list thead")).not_to_contain_text("minor", ignore_case=True)
    price = page.locator("#result_list tr", has_text="Starter").locator("td.field-price")
    expect(price).to_have_text(re.compile(r"^\D*29\.00\D*/ month$"))
    assert starter.currency in price.inner_text() or "€" in price.inner_text()
    page.locator("#result_list").get_by_role("link", name="Starter").click()
    expect(page.locator(".field-price .readonly")).to_have_text(re.compile(r"29\.00.* / month"))
    expect(page.get_by_label("Monthly price in the currency's smallest unit")).to_have_value("2900")
    page.screenshot(path=str(artifacts_dir / "page-admin-plan.png"), full_page=True)


def test_the_root_address_leads_to_the_dashboard_login_and_the_demo_page(
        web: WebServer, demo_copies: dict[str, Any], desktop: BrowserContext) -> None:
    cafe = demo_copies["cafe"]
    base = f"http://{domain_of(cafe)}:{web.port}"
    page = desktop.new_page()
    page.goto(f"{base}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(cafe.name)
    assert styled(page, ".landing-card", "backgroundColor") == "rgb(255, 255, 255)"
    assert page_axe_violations(page) == []

    page.get_by_role("link", name="Log in to the dashboard").click()
    expect(page).to_have_url(f"{base}/app/login/")
    expect(page.get_by_label("E-mail")).to_be_visible()
    page.go_back()
    page.get_by_role("link", name="Try the chat on the demo page").click()
    expect(page).to_have_url(f"{base}/demo/")
    Widget(page).wait_loaded()


def test_opening_hours_have_one_place_and_the_old_address_leads_there(
        web: WebServer, make_tenant: Any, desktop: BrowserContext, artifacts_dir: Path) -> None:
    tenant = make_tenant(name="Hours Bakery").tenant
    base = f"http://{domain_of(tenant)}:{web.port}"
    page = desktop.new_page()
    log_in(page, base, owner_of(tenant), OWNER_PASSWORD)

    labels = page.locator("#sidenav a").all_inner_texts()
    assert [label for label in labels if "hours" in label.lower()] == ["Profile & hours"]
    page.get_by_role("link", name="Profile & hours").click()
    expect(page.get_by_role("heading", name="Opening hours and time zone")).to_be_visible()
    expect(page.get_by_role("heading", name="How the assistant presents the business")).to_be_visible()
    assert page_axe_violations(page) == []

    # The old address of the hours page leads to the same place
    page.goto(f"{base}/app/settings/hours/")
    expect(page).to_have_url(f"{base}/app/settings/profile/#hours")
    page.get_by_role("textbox", name="Time zone").fill("Europe/Amsterdam")
    page.get_by_label("Monday").fill("08:00-16:00")
    page.get_by_role("button", name="Save the hours").click()
    expect(page.get_by_role("status")).to_have_text("Hours saved.")
    expect(page.get_by_label("Monday")).to_have_value("08:00-16:00")
    page.screenshot(path=str(artifacts_dir / "page-profile-and-hours.png"), full_page=True)


@pytest.mark.parametrize("width", [1280, 390])
def test_the_analytics_chart_labels_are_readable(web: WebServer, demo_copies: dict[str, Any], browser: Browser,
                                                 artifacts_dir: Path, width: int) -> None:
    shop = demo_copies["shop"]
    base = f"http://{domain_of(shop)}:{web.port}"
    customer_writes(web, shop, "hi")
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.set_default_timeout(20_000)
    try:
        page = context.new_page()
        log_in(page, base, owner_of(shop), OWNER_PASSWORD)
        page.goto(f"{base}/app/analytics/")
        expect(page.locator("svg.chart")).to_have_count(4)
        # The size a person sees: the text's font size times the scale its chart is drawn at.
        labels = page.locator("svg.chart text").evaluate_all("""texts => texts.map(t => {
            const chart = t.ownerSVGElement.getBoundingClientRect(), box = t.getBoundingClientRect();
            return { text: t.textContent, px: parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a,
                     inside: box.left >= chart.left - 0.5 && box.right <= chart.right + 0.5
                             && box.top >= chart.top - 0.5 && box.bottom <= chart.bottom + 0.5 };
        })""")
        assert len(labels) >= 8
        small = [label for label in labels if label["px"] < MIN_LABEL_PX]
        assert small == [], small
        cut = [label["text"] for label in labels if not label["inside"]]
        assert cut == [], cut
        assert page_axe_violations(page) == []
        page.screenshot(path=str(artifacts_dir / f"page-analytics-{width}.png"), full_page=True)
    finally:
        context.close()


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 860}, {"width": 390, "height": 844}])
def test_the_rating_card_fits_in_the_chat_after_resolve(web: WebServer, demo_copies: dict[str, Any], browser: Browser,
                                                        artifacts_dir: Path, viewport: dict[str, int]) -> None:
    cafe = demo_copies["cafe"]
    context = browser.new_context(viewport=viewport)
    context.set_default_timeout(20_000)
    agent = None
    try:
        page = context.new_page()
        page.goto(demo_url(web, cafe))
        widget = Widget(page).open()
        # A conversation long enough to scroll
        for text in ("hi", "can I bring my dog?", "do you have vegan cakes?"):
            widget.say(text)
            widget.wait_settled()
        client_id = page.evaluate("() => window.Deskpilot._debug.frames.find("
                                  "f => f[0] === 'out' && f[1].type === 'message')[1].client_id")
        with schema_context(cafe.schema_name):
            conversation_id = Message.objects.get(client_id=client_id).conversation_id
        domain = domain_of(cafe)
        agent = WidgetSocket(web.port, domain, "/ws/agent/", origin=f"http://{domain}:{web.port}",
                             cookie=agent_cookie(cafe))
        agent.recv_until("welcome")
        # A person takes the conversation over (the "Talk to a person" link goes), answers, and resolves it
        agent.send({"type": "subscribe", "conversation_id": conversation_id})
        agent.recv_until("subscribed")
        agent.send({"type": "take_over", "conversation_id": conversation_id})
        expect(widget.log.locator(".msg.system", has_text="joined")).to_be_visible()
        expect(widget.footer.get_by_role("button", name="person")).to_have_count(0)
        agent.send({"type": "message", "conversation_id": conversation_id, "text": "All sorted, enjoy!",
                    "client_id": "a1"})
        widget.wait_answer_containing("All sorted, enjoy!")

        # When a person resolves the conversation
        agent.send({"type": "resolve", "conversation_id": conversation_id})
        rating = widget.host.get_by_role("group", name="How did we do?")
        expect(rating).to_be_visible()

        # Then the whole card, its stars included, is in view inside the chat, without scrolling
        card = widget.log.locator(".rating")
        try:
            page.wait_for_function("""() => {
                const root = document.querySelector('deskpilot-widget').shadowRoot;
                const log = root.querySelector('[role=log]').getBoundingClientRect();
                const card = root.querySelector('.rating').getBoundingClientRect();
                return card.top >= log.top - 0.5 && card.bottom <= log.bottom + 0.5;
            }""", timeout=5_000)
        except PlaywrightTimeout:
            pass  # the assertions below say what is cut off
        log_box, card_box, panel_box = widget.log.bounding_box(), card.bounding_box(), widget.panel.bounding_box()
        assert log_box and card_box and panel_box
        page.screenshot(path=str(artifacts_dir / f"widget-rating-{viewport['width']}.png"))
        assert card_box["y"] >= log_box["y"] - 0.5, (card_box, log_box)
        assert card_box["y"] + card_box["height"] <= log_box["y"] + log_box["height"] + 0.5, (card_box, log_box)
        assert card_box["y"] + card_box["height"] <= panel_box["y"] + panel_box["height"] + 0.5
        expect(rating.get_by_role("button", name="5 out of 5")).to_be_in_viewport(ratio=1)
        assert axe_violations(page) == []
        rating.get_by_role("button", name="5 out of 5").click()
        expect(widget.log).to_contain_text("Thanks for your feedback!")
    finally:
        if agent is not None:
            agent.close()
        context.close()
