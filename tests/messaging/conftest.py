"""Messaging fixtures: the fake Graph API and Bot API, one web server and one worker for the
messaging tests (stopped when they are done: a worker left running would take later modules' tasks
from this test process's queues), tenants with a connected WhatsApp number and Telegram bot."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from django_tenants.utils import schema_context

from chat.messaging.models import MessagingChannel
from chat.messaging.services import channel_telegram_connect, channel_whatsapp_connect
from config.redis import redis_client
from tests.messaging import payloads
from tests.support.fake_messaging import FakeMessagingServer
from tests.support.processes import WebServer, Worker, child_env


@pytest.fixture(scope="session")
def fake() -> Iterator[FakeMessagingServer]:
    server = FakeMessagingServer().start()
    yield server
    server.stop()


def platform_env(fake: FakeMessagingServer) -> dict[str, str]:
    # The fake platforms are on loopback, which the egress guard refuses unless allowed: exactly it.
    return {"WHATSAPP_GRAPH_BASE_URL": fake.url, "TELEGRAM_API_BASE_URL": fake.url,
            "EGRESS_ALLOWED_NETWORKS": "127.0.0.1"}


@pytest.fixture(autouse=True)
def _platforms_here(settings: pytest.FixtureRequest, fake: FakeMessagingServer) -> None:
    """This test process's own calls (connecting a channel, the health page's reads) reach the fakes."""
    settings.WHATSAPP_GRAPH_BASE_URL = fake.url  # type: ignore[attr-defined]
    settings.TELEGRAM_API_BASE_URL = fake.url  # type: ignore[attr-defined]
    settings.EGRESS_ALLOWED_NETWORKS = ["127.0.0.1"]  # type: ignore[attr-defined]


@pytest.fixture(scope="package")
def web(fake: FakeMessagingServer, django_db_setup: None) -> Iterator[WebServer]:
    server = WebServer(env=child_env(**platform_env(fake)))
    yield server
    server.stop()


@pytest.fixture(scope="package")
def worker(fake: FakeMessagingServer, django_db_setup: None) -> Iterator[Worker]:
    redis_client().flushdb()
    process = Worker(queues="critical,high", concurrency=2, env=child_env(**platform_env(fake)))
    yield process
    process.stop()


@dataclass
class WhatsAppSetup:
    tenant: object
    channel: MessagingChannel
    app_secret: str
    domain: str

    @property
    def path(self) -> str:
        return f"/webhooks/whatsapp/{self.channel.pk}/"

    def post(self, web: WebServer, payload: dict, *, secret: str | None = None, signed: bool = True
             ) -> httpx.Response:
        raw = payloads.body(payload)
        headers = {"Content-Type": "application/json"}
        if signed:
            headers["X-Hub-Signature-256"] = payloads.signature(secret or self.app_secret, raw)
        with web.client(self.domain) as client:
            return client.post(self.path, content=raw, headers=headers)


@dataclass
class TelegramSetup:
    tenant: object
    channel: MessagingChannel
    token: str
    bot_id: int
    username: str
    domain: str

    @property
    def path(self) -> str:
        return f"/webhooks/telegram/{self.channel.pk}/"

    def post(self, web: WebServer, update: dict, *, secret: str | None = None) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        token = self.channel.webhook_secret if secret is None else secret
        if token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = token
        with web.client(self.domain) as client:
            return client.post(self.path, content=payloads.body(update), headers=headers)


def domain_of(tenant: object) -> str:
    return f"{tenant.schema_name}.test.localhost"  # type: ignore[attr-defined]


@pytest.fixture
def whatsapp_for(fake: FakeMessagingServer) -> Callable[..., WhatsAppSetup]:
    def connect(tenant: object, *, template: str = "", app_secret: str | None = None,
                phone_number_id: str | None = None) -> WhatsAppSetup:
        number = phone_number_id or str(uuid.uuid4().int)[:15]
        token = f"EAAG{uuid.uuid4().hex}"
        secret = app_secret or uuid.uuid4().hex
        fake.whatsapp_number_add(phone_number_id=number, token=token)
        with schema_context(tenant.schema_name):  # type: ignore[attr-defined]
            channel = channel_whatsapp_connect(phone_number_id=number, business_account_id="102290129340398",
                                               access_token=token, app_secret=secret, template_name=template)
        return WhatsAppSetup(tenant, channel, secret, domain_of(tenant))

    return connect


@pytest.fixture
def telegram_for(fake: FakeMessagingServer) -> Callable[..., TelegramSetup]:
    def connect(tenant: object) -> TelegramSetup:
        bot_id = int(str(uuid.uuid4().int)[:9])
        token = f"{bot_id}:AA{uuid.uuid4().hex}"
        username = f"shop{bot_id}_bot"
        fake.bot_add(token=token, bot_id=bot_id, username=username)
        with schema_context(tenant.schema_name):  # type: ignore[attr-defined]
            channel = channel_telegram_connect(bot_token=token, webhook_base_url=f"https://{domain_of(tenant)}")
        return TelegramSetup(tenant, channel, token, bot_id, username, domain_of(tenant))

    return connect
