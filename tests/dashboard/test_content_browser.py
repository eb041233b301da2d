"""In Chromium: an owner asks in the playground and reads the analytics; axe-core on the pages.

A real daphne process serves the tenant; the owner logs in through the login page, so the session,
htmx and the inline charts are what a person's browser gets.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from chat.knowledge.services import faq_upsert, sources_index_now
from tests.browser.conftest import (  # noqa: F401  (fixtures used by name)
    _orm_beside_playwright,
    _passwords_the_server_checks,
    browser,
    log_in,
    page_errors,
    playwright,
    server_env,
    web,
)
from tests.dashboard.conftest import OWNER_PASSWORD, Business
from tests.dashboard.test_inbox_browser import page_axe_violations
from tests.support.processes import WebServer

pytestmark = pytest.mark.browser


def test_owner_uses_the_playground_and_analytics_and_the_pages_pass_axe(
        web: WebServer, business: Business, browser: Browser, artifacts_dir: Path) -> None:  # noqa: F811
    with schema_context(business.tenant.schema_name):
        dogs = faq_upsert(question="Can I bring my dog?",
                          answer="Absolutely, well-behaved dogs are welcome inside and on the terrace.")
        sources_index_now(source_ids=[dogs.source_id])
    email = business.owner.username
    base = f"http://{business.domain}:{web.port}"
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    try:
        page = context.new_page()
        page.on("pageerror", lambda error: page_errors(page).append(str(error)))
        log_in(page, base, email, OWNER_PASSWORD)

        page.goto(f"{base}/app/knowledge/")
        expect(page.get_by_role("heading", name="Knowledge", exact=True)).to_be_visible()
        assert page_axe_violations(page) == []

        # When the owner asks the playground what a customer would ask
        page.goto(f"{base}/app/playground/")
        page.get_by_label("Ask as a customer would").fill("can i bring my dog?")
        page.get_by_role("button", name="Ask").click()
        # Then the answer, its source and the confidence appear without a page load (htmx)
        answer = page.locator("#playground-answer")
        expect(answer).to_contain_text("dogs are welcome")
        expect(answer).to_contain_text("Can I bring my dog?")
        expect(answer).to_contain_text("Confidence")
        assert page_axe_violations(page) == []
        page.screenshot(path=str(artifacts_dir / "dashboard-playground.png"), full_page=True)

        page.goto(f"{base}/app/analytics/")
        expect(page.locator("svg.chart")).to_have_count(4)
        assert page_axe_violations(page) == []
        page.screenshot(path=str(artifacts_dir / "dashboard-analytics.png"), full_page=True)
        assert page_errors(page) == []
    finally:
        context.close()
