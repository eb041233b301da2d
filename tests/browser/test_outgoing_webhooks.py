"""An owner adds an outgoing webhook in Chromium, on the product as `make run` serves it: the secret is
on the page once, the list shows it masked, and the endpoint's page sends a test event."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, expect

from chat.webhooks.models import WebhookDelivery, WebhookEndpoint
from tenants.services import ROLE_OWNER, tenant_user_create
from tests.browser.conftest import domain_of, log_in, page_errors, server_env
from tests.support.processes import WebServer

pytestmark = pytest.mark.browser

OWNER_PASSWORD = "hooks-owner-pass-1"


@pytest.fixture(scope="module")
def hooks_web() -> Iterator[WebServer]:
    # The endpoint below stands for the business's server on the internet: its loopback address is allowed.
    server = WebServer(env=server_env(OPENAI_API_KEY="", EGRESS_ALLOWED_NETWORKS="127.0.0.1/32"))
    yield server
    server.stop()


def test_an_owner_adds_an_endpoint_copies_its_secret_once_and_sends_a_test_event(
        hooks_web: WebServer, make_tenant: Any, browser: Browser) -> None:
    tenant = make_tenant(name="Hooked Shop").tenant
    email = f"owner-{uuid.uuid4().hex[:6]}@example.test"
    with schema_context(tenant.schema_name):
        tenant_user_create(email=email, password=OWNER_PASSWORD, role=ROLE_OWNER, name="Hana")
    base = f"http://{domain_of(tenant)}:{hooks_web.port}"
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    try:
        page = context.new_page()
        page.on("pageerror", lambda error: page_errors(page).append(str(error)))
        log_in(page, base, email, OWNER_PASSWORD)
        page.get_by_role("link", name="Outgoing webhooks").click()
        page.get_by_label("Endpoint URL").fill("http://127.0.0.1:9/deskpilot-events")
        for event in ("message.created", "contact.created", "contact.updated", "conversation.assigned",
                      "rating.created", "order.updated", "conversation.status_changed"):
            page.locator(f"input[name=events][value='{event}']").uncheck()
        page.get_by_role("button", name="Add the endpoint").click()
        secret = page.locator("#webhook-secret")
        expect(secret).to_have_text(re.compile(r"^whsec_[A-Za-z0-9+/=]{40,}$"))
        shown = secret.inner_text()
        expect(page.get_by_text("will not be shown again")).to_be_visible()

        page.get_by_role("link", name="Outgoing webhooks").click()
        row = page.get_by_role("row", name=re.compile("deskpilot-events"))
        expect(row).to_contain_text("conversation.created, handoff.requested")
        expect(row).not_to_contain_text(shown)
        row.get_by_role("link").click()
        page.get_by_role("button", name="Send a test event").click()
        expect(page.get_by_role("status")).to_have_text("A test event is on its way.")
        expect(page.get_by_role("button", name="Send again")).to_be_visible()
        assert page_errors(page) == []
    finally:
        context.close()
    with schema_context(tenant.schema_name):
        endpoint = WebhookEndpoint.objects.get()
        assert endpoint.secret == shown and endpoint.events == ["conversation.created", "handoff.requested"]
        assert WebhookDelivery.objects.filter(endpoint=endpoint, message__type="webhook.test").count() == 1
