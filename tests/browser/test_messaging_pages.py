"""The messaging channel pages and the inbox in Chromium, from the server as `make run` starts it,
against the fake Graph API and Bot API: an owner connects a Telegram bot and sends a test message, a
bad WhatsApp token is refused on the form, and a WhatsApp customer's conversation shows its channel
and its 24-hour window in the inbox."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import Page, expect

from chat.messaging.services import channel_whatsapp_connect
from tenants.services import ROLE_OWNER
from tests.browser.conftest import log_in, page_errors, server_env
from tests.dashboard.test_inbox_browser import page_axe_violations
from tests.messaging import payloads
from tests.support.fake_messaging import FakeMessagingServer
from tests.support.owner_session import team_member_create
from tests.support.processes import WebServer

pytestmark = pytest.mark.browser
PASSWORD = "owner-channels-pass-1"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeMessagingServer]:
    server = FakeMessagingServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def channels_web(fake: FakeMessagingServer) -> Iterator[WebServer]:
    server = WebServer(env=server_env(OPENAI_API_KEY="", WHATSAPP_GRAPH_BASE_URL=fake.url,
                                      TELEGRAM_API_BASE_URL=fake.url, EGRESS_ALLOWED_NETWORKS="127.0.0.1"))
    yield server
    server.stop()


def test_an_owner_connects_a_bot_sends_a_test_message_and_sees_the_channel_in_the_inbox(
        page: Page, channels_web: WebServer, fake: FakeMessagingServer, tenant_a, settings, artifacts_dir) -> None:
    schema = tenant_a.schema_name
    domain = f"{schema}.test.localhost"
    base = f"http://{domain}:{channels_web.port}"
    email = f"owner-{uuid.uuid4().hex[:6]}@example.test"
    team_member_create(schema, role=ROLE_OWNER, email=email, password=PASSWORD, name="Olga")
    token = f"{uuid.uuid4().int % 10**9}:AAtest{uuid.uuid4().hex}"
    fake.bot_add(token=token, bot_id=4242, username="sunrise_help_bot")
    log_in(page, base, email, PASSWORD)

    page.get_by_role("link", name="WhatsApp & Telegram").click()
    expect(page.get_by_role("heading", name="WhatsApp & Telegram", level=1)).to_be_visible()
    # A WhatsApp token the Graph API refuses: said on the form, nothing saved.
    whatsapp = page.locator("#whatsapp-connect")
    whatsapp.get_by_label("Phone number id").fill("106540352242922")
    whatsapp.get_by_label("WhatsApp business account id").fill("102290129340398")
    whatsapp.get_by_label("Access token (a system user's, permanent)").fill("EAAGwrong")
    whatsapp.get_by_label("App secret (signs the webhooks)").fill("app-secret")
    whatsapp.get_by_role("button", name="Connect WhatsApp").click()
    expect(page.get_by_text("Invalid OAuth access token")).to_be_visible()
    expect(page.get_by_text("No channel yet")).to_be_visible()

    telegram = page.locator("#telegram-connect")
    telegram.get_by_label("Bot token (from @BotFather)").fill(token)
    telegram.get_by_role("button", name="Connect Telegram").click()
    expect(page.get_by_role("heading", name="Telegram @sunrise_help_bot")).to_be_visible()
    expect(page.locator("#channel-state")).to_have_text("Connected")
    expect(page.locator("#pending-updates")).to_have_text("0")
    hook = fake.state.bots[token]["webhook"]
    assert hook["url"].endswith("/webhooks/telegram/1/") and token not in hook["url"]
    page.get_by_label("Send to (phone number with country code, or Telegram chat id)").fill("31337")
    page.get_by_role("button", name="Send a test message").click()
    expect(page.locator("#test-sent")).to_contain_text("Sent (platform message id")
    assert [r.body["chat_id"] for r in fake.state.sent("telegram")] == ["31337"]
    page.screenshot(path=str(artifacts_dir / "channels-telegram.png"), full_page=True)
    assert page_axe_violations(page) == []

    # A WhatsApp customer writes; the inbox names the channel, the conversation its number and window.
    settings.WHATSAPP_GRAPH_BASE_URL = fake.url
    settings.EGRESS_ALLOWED_NETWORKS = ["127.0.0.1"]
    fake.whatsapp_number_add(phone_number_id="106540352242922", token="EAAGgood")
    with schema_context(schema):
        channel = channel_whatsapp_connect(phone_number_id="106540352242922", business_account_id="102290129340398",
                                           access_token="EAAGgood", app_secret="s3cret")
    raw = payloads.body(payloads.whatsapp_text("106540352242922", "Do you deliver on Saturdays?",
                                               message_id=f"wamid.{uuid.uuid4().hex}"))
    response = httpx.post(f"{channels_web.base_url}/webhooks/whatsapp/{channel.pk}/", content=raw,
                          headers={"Host": domain, "X-Hub-Signature-256": payloads.signature("s3cret", raw)})
    assert response.json()["stored"] == 1
    page.goto(f"{base}/app/inbox/")
    row = page.get_by_role("region", name="Conversations").get_by_role("link", name="Kerry Fisher")
    expect(row).to_contain_text("WhatsApp")
    row.click()
    expect(page.locator("#conversation-channel")).to_contain_text("WhatsApp")
    expect(page.locator("#whatsapp-window")).to_contain_text("open until")
    page.screenshot(path=str(artifacts_dir / "inbox-whatsapp-conversation.png"), full_page=True)
    assert page_errors(page) == []
