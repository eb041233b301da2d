"""An attacker who gets markup into a dashboard or admin page (a stored XSS) wants a script to run in
an agent's browser. The Content-Security-Policy refuses it, while the dashboard itself (htmx, the
inbox's script and socket, the reply form) and the admin work with no violation, and the widget's
demo page stays outside the policy. Production settings pass `check --deploy`, redirect plain HTTP
to HTTPS except the load balancer's health checks, and send HSTS.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from django.contrib.auth.models import User
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from chat.conversations.services import contact_get_or_create, conversation_start, message_receive
from tenants.services import ROLE_OWNER, tenant_user_create
from tests.browser.conftest import (  # noqa: F401  (fixtures used by name)
    _orm_beside_playwright,
    _passwords_the_server_checks,
    browser,
    log_in,
    playwright,
    server_env,
)
from tests.support.processes import ROOT, WebServer

pytestmark = pytest.mark.browser

PASSWORD = "csp-owner-pass-1234"
ADMIN_EMAIL, ADMIN_PASSWORD = "csp-admin@platform.example", "csp-admin-pass-1234"


def production_env(**extra: str) -> dict[str, str]:
    return server_env(DJANGO_SETTINGS_MODULE="config.settings.production", DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
                     DJANGO_ALLOWED_HOSTS="*", OPENAI_API_KEY="",
                     DESKPILOT_SECRETS_KEYS=Fernet.generate_key().decode(), **extra)


@pytest.fixture(scope="module")
def web() -> Iterator[WebServer]:
    server = WebServer(env=server_env(OPENAI_API_KEY="", WHITENOISE_USE_FINDERS="true"))
    yield server
    server.stop()


@pytest.fixture
def business(make_tenant: Any) -> Any:
    tenant = make_tenant(name="CSP business").tenant
    tenant.owner_email = f"owner-{uuid.uuid4().hex[:6]}@example.test"
    with schema_context(tenant.schema_name):
        tenant_user_create(email=tenant.owner_email, password=PASSWORD, role=ROLE_OWNER, name="Olivia")
        contact = contact_get_or_create(visitor_id=f"w-{uuid.uuid4().hex}")
        conversation = conversation_start(contact=contact)
        message_receive(conversation=conversation, text="is my order late?")
        tenant.conversation_id = conversation.pk
    return tenant


def csp_console_errors(page: Page) -> list[str]:
    return [text for text in getattr(page, "_console", []) if "Content Security Policy" in text]


def watch_console(page: Page) -> Page:
    page._console = []  # type: ignore[attr-defined]

    def record(message: ConsoleMessage) -> None:
        page._console.append(f"{page.url} {message.location['url']}: {message.text}")  # type: ignore[attr-defined]

    page.on("console", record)
    return page


def test_production_settings_pass_the_deploy_checks_without_a_warning() -> None:
    env = production_env(DATABASE_URL="postgres://check@127.0.0.1:1/check", REDIS_URL="redis://127.0.0.1:1")
    done = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout, done.stdout + done.stderr


def test_production_redirects_plain_http_but_not_the_load_balancers_health_checks(business: Any) -> None:
    server = WebServer(env=production_env())
    try:
        host = business.get_primary_domain().domain
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", headers={"Host": host}, timeout=30) as client:
            assert client.get("/healthz").status_code == 200
            assert client.get("/readyz").status_code == 200
            plain = client.get("/app/login/")
            assert plain.status_code == 301 and plain.headers["Location"] == f"https://{host}/app/login/"
            secure = client.get("/app/login/", headers={"X-Forwarded-Proto": "https"})
            assert secure.status_code == 200
            assert "max-age=31536000" in secure.headers["Strict-Transport-Security"]
            assert "script-src 'self'" in secure.headers["Content-Security-Policy"]
            assert "secure" in secure.headers["Set-Cookie"].lower()
    finally:
        server.stop()


def test_dashboard_and_admin_pages_carry_the_policy_and_the_widget_demo_does_not(web: WebServer, business: Any) -> None:
    with web.client(business.get_primary_domain().domain) as client:
        policy = client.get("/app/login/").headers.get("Content-Security-Policy", "")
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert "frame-ancestors 'none'" in policy
        # The demo page stands for the business's own website (its own inline code): of a policy it has
        # only who may frame it, the business's own dashboard (the widget settings' preview)
        assert client.get("/demo/").headers["Content-Security-Policy"] == "frame-ancestors 'self'"
        widget_script = client.get("/widget.js")
        assert widget_script.status_code == 200 and widget_script.headers["Access-Control-Allow-Origin"] == "*"
    with web.client("localhost") as client:
        assert "script-src 'self'" in client.get("/admin/login/").headers.get("Content-Security-Policy", "")


def test_an_injected_script_does_not_run_and_the_dashboard_works_without_a_violation(
        web: WebServer, business: Any, browser: Browser) -> None:  # noqa: F811
    base = f"http://{business.get_primary_domain().domain}:{web.port}"
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(20_000)
    try:
        page = watch_console(context.new_page())
        log_in(page, base, business.owner_email, PASSWORD)
        page.wait_for_function("() => document.documentElement.dataset.live === 'on'")  # inbox.js's socket

        page.goto(f"{base}/app/inbox/{business.conversation_id}/")
        page.wait_for_function("() => document.documentElement.dataset.live === 'on'")
        with page.expect_navigation():  # the take-over form post reloads the page
            page.get_by_role("button", name="Take over").click()
        expect(page.locator("#conversation-status")).to_have_text("Human")
        page.get_by_role("textbox", name="Message").fill("On its way today.")
        page.get_by_role("button", name="Send").click()
        expect(page.locator("#transcript")).to_contain_text("On its way today.")
        expect(page.get_by_role("textbox", name="Message")).to_have_value("")
        for path in ("/app/analytics/", "/app/settings/widget/", "/app/knowledge/"):
            page.goto(f"{base}{path}")
        assert csp_console_errors(page) == []

        # What a stored XSS would put in the page: an inline script and an inline event handler.
        page.goto(f"{base}/app/inbox/")
        page.evaluate("""() => {
            const script = document.createElement('script');
            script.textContent = 'window.__stolen = document.cookie || "ran"';
            document.body.appendChild(script);
            const image = document.createElement('img');
            image.setAttribute('onerror', 'window.__handler = "ran"');
            image.src = '/no-such-image.png';
            document.body.appendChild(image);
        }""")
        page.wait_for_function("() => document.querySelector('img[onerror]').complete")
        assert page.evaluate("() => [window.__stolen, window.__handler]") == [None, None]
        assert csp_console_errors(page), "the browser reported no refused script"
    finally:
        context.close()


def test_the_platform_admin_works_without_a_violation(web: WebServer, browser: Browser) -> None:  # noqa: F811
    if not User.objects.filter(username=ADMIN_EMAIL).exists():
        User.objects.create_superuser(username=ADMIN_EMAIL, email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
    base = f"http://localhost:{web.port}"
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    try:
        page = watch_console(context.new_page())
        page.goto(f"{base}/admin/login/")
        page.get_by_label("Username").fill(ADMIN_EMAIL)
        page.get_by_label("Password").fill(ADMIN_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(f"{base}/admin/")
        page.goto(f"{base}/admin/tenants/tenant/")
        expect(page.locator("#result_list")).to_be_visible()
        page.goto(f"{base}/admin/tenants/tenant/add/")
        expect(page.locator("form")).not_to_have_count(0)
        assert csp_console_errors(page) == []
    finally:
        context.close()
