"""Browser fixtures: Debian's Chromium through Playwright, real web servers (`make run`'s), the demo page.

Chromium resolves every `*.localhost` name to this machine, so each tenant's demo page is opened on
its own domain (`http://<slug>.test.localhost:<port>/demo/`): the page's origin is the tenant's
domain, as on a real site embedding its own widget.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, BrowserContext, Locator, Page, Playwright, expect, sync_playwright

from tests.support.owner_session import session_cookie_for, team_member_create
from tests.support.processes import WebServer, make_run_env

CHROMIUM = os.environ.get("DESKPILOT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--no-first-run",
    "--host-resolver-rules=MAP *.localhost 127.0.0.1",
]
# Shown by the widget's shadow root; used to find what a person sees inside it.
WIDGET = "deskpilot-widget"
ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"


@pytest.fixture(scope="module", autouse=True)
def _orm_beside_playwright() -> Iterator[None]:
    """Playwright's sync API keeps an event loop running in this thread, and Django refuses ORM calls
    while one runs. The tests' own ORM calls (setting up tenants, checking what was stored) are plain
    synchronous code, so the guard does not apply to them. Both Playwright and this last only as long
    as a browser module: tests that run after it in the same process keep Django's guard, and the
    servers the tests start never inherit it (server_env)."""
    previous = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    yield
    if previous is None:
        os.environ.pop(ASYNC_UNSAFE, None)
    else:
        os.environ[ASYNC_UNSAFE] = previous


@pytest.fixture(scope="module", autouse=True)
def _passwords_the_server_checks() -> Iterator[None]:
    """The servers run the local settings (as `make run` does), whose password hashers are Django's
    defaults: users a browser module creates get passwords those servers can check (the test settings'
    fast MD5 hasher is unknown to them)."""
    from django.conf import global_settings
    from django.test import override_settings

    with override_settings(PASSWORD_HASHERS=global_settings.PASSWORD_HASHERS):
        yield


def server_env(**extra: str) -> dict[str, str]:
    """The product as `make run` serves it (settings, server), on this test's own stores."""
    env = make_run_env(**extra)
    env.pop(ASYNC_UNSAFE, None)
    return env


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run 'make browser' (apt-get install chromium)")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


def desktop_context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh desktop-sized browser context (no stored token, no cookies), closed after the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(20_000)
    yield context
    context.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh visitor: no stored token, no cookies."""
    yield from desktop_context(browser)


@pytest.fixture
def desktop(browser: Browser) -> Iterator[BrowserContext]:
    """A second fresh desktop context, for a test that opens its own pages beside (or instead of) `page`."""
    yield from desktop_context(browser)


@pytest.fixture
def page(context: BrowserContext) -> Page:
    page = context.new_page()
    page.on("pageerror", lambda error: page_errors(page).append(str(error)))
    return page


def page_errors(page: Page) -> list[str]:
    if not hasattr(page, "_deskpilot_errors"):
        page._deskpilot_errors = []  # type: ignore[attr-defined]
    return page._deskpilot_errors  # type: ignore[attr-defined, no-any-return]


@pytest.fixture(scope="module")
def web() -> Iterator[WebServer]:
    """The product in offline mode (no LLM key): answers stream from the offline assistant."""
    server = WebServer(env=server_env(OPENAI_API_KEY=""))
    yield server
    server.stop()


def log_in(page: Page, base: str, email: str, password: str) -> None:
    """Log in to the dashboard at `base` as a person does, and land on the inbox."""
    page.goto(f"{base}/app/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/app/inbox/")


def agent_cookie(tenant: Any) -> str:
    """A new agent of this tenant (named Sam), signed in: the dashboard's session cookie."""
    agent = team_member_create(tenant.schema_name, role="agent", email=f"sam-{uuid.uuid4().hex[:6]}@example.test",
                               password="pw-agent-1", name="Sam")
    return session_cookie_for(tenant.schema_name, agent)


def domain_of(tenant: Any) -> str:
    return str(tenant.get_primary_domain().domain)


def demo_url(server: WebServer, tenant: Any) -> str:
    return f"http://{domain_of(tenant)}:{server.port}/demo/"


def widget_settings_update(tenant: Any, **fields: Any) -> None:
    from chat.widget.services import widget_settings_get

    with schema_context(tenant.schema_name):
        widget = widget_settings_get()
        for name, value in fields.items():
            setattr(widget, name, value)
        widget.save()


class Widget:
    """The chat widget on a page, seen the way a person sees it (Playwright pierces open shadow roots)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.host = page.locator(WIDGET)
        self.launcher = self.host.locator("button.launcher")
        self.panel = self.host.locator("[role=dialog]")
        self.log = self.host.locator("[role=log]")
        self.input = self.host.get_by_label("Your message")
        self.send_button = self.host.get_by_role("button", name="Send", exact=True)
        self.footer = self.host.locator(".foot")

    def wait_loaded(self) -> Widget:
        self.launcher.wait_for(state="visible")
        return self

    def open(self) -> Widget:
        self.wait_loaded()
        if not self.panel.is_visible():
            self.launcher.click()
        self.panel.wait_for(state="visible")
        return self

    def say(self, text: str) -> None:
        self.input.fill(text)
        self.send_button.click()

    def answers(self) -> Locator:
        """The assistant's and agents' bubbles, the greeting excluded."""
        return self.log.locator(".msg.assistant:not([data-kind=greeting]) .bubble, .msg.agent .bubble")

    def last_answer(self) -> Locator:
        return self.answers().last

    def wait_answer_containing(self, text: str, timeout: float = 30_000) -> Locator:
        bubble = self.log.locator(".msg:not(.customer) .bubble", has_text=text).last
        bubble.wait_for(state="visible", timeout=timeout)
        return bubble

    def wait_settled(self, timeout: float = 30_000) -> None:
        """Until no answer is streaming and every customer message was acknowledged."""
        self.page.wait_for_function(
            "() => { const d = window.Deskpilot && window.Deskpilot._debug;"
            " return d && d.state.welcomed && d.outbox().length === 0"
            " && !d.root().querySelector('[aria-busy=true]'); }", timeout=timeout)

    def shadow_eval(self, expression: str) -> Any:
        """Evaluate `(root) => ...` against the widget's shadow root."""
        return self.page.evaluate(f"(() => {{ const root = document.querySelector('{WIDGET}').shadowRoot;"
                                  f" return ({expression})(root); }})()")


def axe_violations(page: Page, *, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict[str, Any]]:
    """axe-core's violations inside the widget (its shadow root included), of these impacts."""
    import axe_playwright_python

    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(Path(axe_playwright_python.__file__).parent / "axe.min.js"))
    results = page.evaluate("""async (widget) => {
        const results = await axe.run({ include: [[widget]] }, { resultTypes: ['violations'] });
        return results.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
                                               nodes: v.nodes.map(n => n.target) }));
    }""", WIDGET)
    return [violation for violation in results if violation["impact"] in impacts]


def axe_checked_nodes(page: Page) -> int:
    """How many nodes inside the widget axe looked at: proof that it saw into the shadow root."""
    return int(page.evaluate("""async (widget) => {
        const results = await axe.run({ include: [[widget]] }, { resultTypes: ['passes'] });
        return results.passes.reduce((n, p) => n + p.nodes.filter(node => Array.isArray(node.target[0])
                                                                  || node.target.length > 1).length, 0);
    }""", WIDGET))
