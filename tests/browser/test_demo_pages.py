"""The demo pages in Chromium, served as `make run` serves them: each business's page looks like its kind
of business, with its own catalog's prices; the widget settings' live preview frames it; no other site may.
"""

from __future__ import annotations

import http.server
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import BrowserContext, expect

from orders.models import Product
from orders.money import minor_to_text
from tests.browser.conftest import Widget, axe_violations, demo_url, domain_of, log_in, page_errors
from tests.browser.test_pages_as_make_run_serves_them import OWNER_PASSWORD, owner_of
from tests.dashboard.test_inbox_browser import page_axe_violations
from tests.support.processes import WebServer, free_port

pytestmark = pytest.mark.browser


def console_errors_of(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    return errors


def sellable_prices(tenant: Any) -> dict[str, str]:
    """Each sellable item of the tenant's catalog and its price, as the assistant writes it."""
    with schema_context(tenant.schema_name):
        return {product.name: minor_to_text(product.price_minor, currency=product.currency)
                for product in Product.objects.filter(is_sellable=True)}


def test_the_cafe_demo_page_is_a_cafes_with_its_own_menu_prices_and_hours(
        web: WebServer, demo_copies: dict[str, Any], desktop: BrowserContext, artifacts_dir: Path) -> None:
    cafe = demo_copies["cafe"]
    prices = sellable_prices(cafe)
    assert prices and all(price.startswith("£") for price in prices.values())
    page = desktop.new_page()
    errors = console_errors_of(page)
    page.goto(demo_url(web, cafe))
    Widget(page).wait_loaded()

    # A café's page: its menu, with the prices of its own catalog in pounds
    expect(page.get_by_role("heading", level=1)).to_contain_text("Coffee")
    expect(page.get_by_role("heading", name="Our menu")).to_be_visible()
    items = page.locator(".menu li")
    assert items.count() >= 8
    shown = {items.nth(i).locator(".item-name").inner_text(): items.nth(i).locator(".price").inner_text()
             for i in range(items.count())}
    assert shown == {name: prices[name] for name in shown}, shown
    expect(page.locator(".menu li", has_text="Flat White").locator(".price")).to_have_text(prices["Flat White"])

    # ... its opening hours (Sunday's, from its own schedule), table service, a café's questions
    expect(page.get_by_role("row", name="Sunday")).to_contain_text("09:00–15:00")
    expect(page.get_by_role("row", name="Friday")).to_contain_text("07:30–17:00, 18:30–22:00")
    expect(page.get_by_text("Order at the counter")).to_be_visible()
    expect(page.locator("#help")).to_contain_text("Are you open on Sunday?")
    expect(page.locator("#help")).to_contain_text("Do you have oat milk?")

    # ... and nothing of a web shop's
    text = page.locator("body").inner_text().lower()
    for word in ("basket", "shipping", "€"):
        assert word not in text, word
    page.screenshot(path=str(artifacts_dir / "demo-cafe.png"), full_page=True)
    assert page_axe_violations(page) == []
    Widget(page).open()
    assert axe_violations(page) == []
    assert errors == [] and page_errors(page) == []


def test_the_shop_demo_page_shows_its_own_catalogs_prices(
        web: WebServer, demo_copies: dict[str, Any], desktop: BrowserContext, artifacts_dir: Path) -> None:
    shop = demo_copies["shop"]
    prices = sellable_prices(shop)
    page = desktop.new_page()
    errors = console_errors_of(page)
    page.goto(demo_url(web, shop))
    Widget(page).wait_loaded()

    cards = page.locator(".card")
    expect(cards).to_have_count(3)
    for i in range(3):
        name = cards.nth(i).get_by_role("heading").inner_text()
        expect(cards.nth(i).locator(".price")).to_have_text(prices[name])
        assert prices[name].startswith("€")
        expect(cards.nth(i).get_by_role("button", name="Add to basket")).to_be_visible()
    expect(page.locator("#help")).to_contain_text("How much is shipping?")
    page.screenshot(path=str(artifacts_dir / "demo-shop.png"), full_page=True)
    assert page_axe_violations(page) == []
    Widget(page).open()
    assert axe_violations(page) == []
    assert errors == [] and page_errors(page) == []


def test_the_widget_settings_preview_shows_the_demo_page_with_the_widget(
        web: WebServer, demo_copies: dict[str, Any], desktop: BrowserContext, artifacts_dir: Path) -> None:
    shop = demo_copies["shop"]
    base = f"http://{domain_of(shop)}:{web.port}"
    page = desktop.new_page()
    errors = console_errors_of(page)
    log_in(page, base, owner_of(shop), OWNER_PASSWORD)
    page.goto(f"{base}/app/settings/widget/")

    preview = page.frame_locator("iframe.widget-preview")
    expect(preview.get_by_role("heading", level=1)).to_be_visible()
    expect(preview.get_by_role("button", name="Ask us anything")).to_be_visible()
    expect(preview.locator("deskpilot-widget button.launcher")).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "page-widget-settings-preview.png"), full_page=True)
    assert errors == [] and page_errors(page) == []


class _FramingSite(http.server.BaseHTTPRequestHandler):
    """Another website (another origin) that puts a business's demo page in a frame of its own."""

    target = ""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = (f'<!doctype html><title>Someone else</title><h1>Not the business</h1>'
                f'<iframe id="stolen" src="{self.target}" width="800" height="600"></iframe>').encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_another_site_may_not_frame_the_demo_page(
        web: WebServer, demo_copies: dict[str, Any], desktop: BrowserContext) -> None:
    shop = demo_copies["shop"]
    target = demo_url(web, shop)
    with httpx.Client(base_url=web.base_url, headers={"Host": f"{domain_of(shop)}:{web.port}"}) as client:
        headers = client.get("/demo/").headers
    assert headers["X-Frame-Options"] == "SAMEORIGIN"
    assert headers["Content-Security-Policy"] == "frame-ancestors 'self'"

    handler = type("Site", (_FramingSite,), {"target": target})
    site = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        page = desktop.new_page()
        # Chromium refuses to show it, and says why
        with page.expect_console_message(lambda message: "frame-ancestors" in message.text) as refusal:
            page.goto(f"http://127.0.0.1:{site.server_address[1]}/")
        assert refusal.value.type == "error"
        expect(page.get_by_role("heading", name="Not the business")).to_be_visible()
        # ... and the frame holds nothing of the business: no page, no widget
        framed = next(frame for frame in page.frames if frame != page.main_frame)
        framed.wait_for_load_state()
        assert framed.url.startswith("chrome-error://"), framed.url  # Chromium's own "refused" page
        assert framed.evaluate("() => document.querySelectorAll('deskpilot-widget, .card').length") == 0
        assert shop.name not in framed.evaluate("() => document.body.innerText")
    finally:
        site.shutdown()
        site.server_close()
