"""A freshly loaded demo business has a month behind it: conversations on every day of the last thirty,
at the hours customers write, from more than one channel, handed to a person, answered by agents,
rated, resolved and still open, questions the assistant could not answer, orders asked about, and
the month's usage. Written through the services (the clock set back for each event), so the
analytics roll-up equals the live computation over it, and in Chromium every dashboard page a new
owner opens first (inbox, analytics, unanswered questions, usage) shows it.
"""

from __future__ import annotations

import re
import time as clock
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tenants.utils import schema_context, tenant_context
from playwright.sync_api import Browser, expect

from chat.analytics.models import AnalyticsDay
from chat.conversations.models import Author, Conversation, ConversationEvent, ConversationStatus, Message
from chat.dashboard.analytics import Period, analytics_report
from chat.dashboard.knowledge_views import unanswered_questions
from tenants import services as tenant_services
from tenants.demo import DEMO_TENANTS, FIXTURES
from tenants.models import Tenant, UsageEntry
from tests.browser.conftest import (  # noqa: F401  (fixtures used by name)
    _orm_beside_playwright,
    _passwords_the_server_checks,
    browser,
    log_in,
    page_errors,
    playwright,
    server_env,
)
from tests.dashboard.test_content_analytics import _summary
from tests.support.demo import DEMO_HISTORY_LOADER
from tests.support.processes import WebServer

pytestmark = pytest.mark.browser

# make run loads the demo before it serves anything: its history must not hold the start-up back.
HISTORY_SECONDS_AT_MOST = 60


@dataclass
class Loaded:
    tenant: Tenant
    owner: tuple[str, str]
    history_seconds: float


@pytest.fixture(scope="module")
def demo(django_db_setup: None, django_db_blocker: Any) -> Iterator[dict[str, Loaded]]:
    """Each demo business loaded as `demo load` loads it (its owner and agent, then every loader), on a
    slug of its own: other tests in the session may load the demo's own names."""
    loaded = {}
    with django_db_blocker.unblock():
        for business in DEMO_TENANTS:
            slug = f"{business.slug}{uuid.uuid4().hex[:8]}"
            tenant = tenant_services.tenant_create(slug=slug, name=business.name, domain=f"{slug}.test.localhost",
                                                   timezone_name=business.timezone).tenant
            history_seconds = 0.0
            with schema_context(slug):
                for (email, password), role in ((business.owner, tenant_services.ROLE_OWNER),
                                                (business.agent, tenant_services.ROLE_AGENT)):
                    tenant_services.tenant_user_create(email=email, password=password, role=role)
                for path in settings.DESKPILOT_DEMO_LOADERS:
                    began = clock.monotonic()
                    import_string(path)(tenant=tenant, fixtures=FIXTURES / business.slug)
                    if path == DEMO_HISTORY_LOADER:
                        history_seconds = clock.monotonic() - began
            loaded[business.slug] = Loaded(tenant=tenant, owner=business.owner, history_seconds=history_seconds)
        connection.set_schema_to_public()
    yield loaded


@pytest.mark.parametrize("slug", ["cafe", "shop"])
def test_a_loaded_demo_has_a_month_of_every_kind_of_conversation(demo: dict[str, Loaded], slug: str) -> None:
    loaded = demo[slug]
    zone = ZoneInfo(loaded.tenant.timezone)
    print(f"{slug}: history written in {loaded.history_seconds:.1f}s")
    assert loaded.history_seconds < HISTORY_SECONDS_AT_MOST
    today = timezone.now().astimezone(zone).date()
    with schema_context(loaded.tenant.schema_name):
        conversations = list(Conversation.objects.all())
        started = [c.created.astimezone(zone) for c in conversations]
        days = {moment.date() for moment in started}
        assert {today - timedelta(days=n) for n in range(1, 31)} <= days, sorted(days)
        # Nothing in the future: every answer, reply, resolution and rating happened before the load.
        assert not Message.objects.filter(created__gt=timezone.now()).exists()
        assert not Conversation.objects.filter(resolved_at__gt=timezone.now()).exists()
        assert len({moment.hour for moment in started}) >= 12
        assert len({c.channel for c in conversations}) >= 2
        statuses = {c.status for c in conversations}
        assert ConversationStatus.RESOLVED in statuses
        assert statuses & {ConversationStatus.NEEDS_HUMAN, ConversationStatus.HUMAN}, statuses
        assert any(c.rating for c in conversations)
        assert ConversationEvent.objects.filter(kind="handoff_requested").exists()
        assert ConversationEvent.objects.filter(kind="taken_over").exists()
        assert Message.objects.filter(author=Author.AGENT).exists()
        # Every question was answered or is a person's to answer: nothing waits for the assistant.
        assert not Message.objects.filter(answer_state="pending").exists()
        # Each message at its own moment, in order, as the services dated them.
        for conversation in conversations[:20]:
            moments = [m.created for m in conversation.messages.all()]
            assert moments == sorted(moments) and moments[0] == conversation.created
            assert conversation.last_message_at >= moments[-1] - timedelta(seconds=1)
        assert unanswered_questions(since=timezone.now() - timedelta(days=31))
        if slug == "shop":
            assert Message.objects.filter(author=Author.ASSISTANT).exclude(tool_calls=[]).exists()
    assert UsageEntry.objects.filter(tenant=loaded.tenant).exists()


def test_the_history_rolled_up_equals_the_live_computation(demo: dict[str, Loaded]) -> None:
    tenant = demo["shop"].tenant
    zone = ZoneInfo(tenant.timezone)
    today = timezone.now().astimezone(zone).date()
    period = Period(first=today - timedelta(days=30), last=today - timedelta(days=1), zone=zone)
    with tenant_context(tenant):

        def report(now: datetime) -> dict[str, Any]:
            return _summary(analytics_report(period=period, tenant_id=tenant.pk, schema_name=tenant.schema_name,
                                             now=now))

        live = report(datetime.combine(period.first, time(9), tzinfo=zone))
        assert live["totals"]["conversations"] > 50
        middle = report(datetime.combine(period.first + timedelta(days=15), time(9), tzinfo=zone))
        rolled = report(timezone.now())
        assert AnalyticsDay.objects.filter(stale=False, day__range=(period.first, period.last)).count() == 30
        stored = report(timezone.now())
    assert middle == live
    assert rolled == live
    assert stored == live


@pytest.fixture(scope="module")
def web() -> Iterator[WebServer]:
    server = WebServer(env=server_env(OPENAI_API_KEY=""))
    yield server
    server.stop()


@pytest.mark.parametrize("slug", ["cafe", "shop"])
def test_every_first_look_page_shows_the_history(
        demo: dict[str, Loaded], web: WebServer, browser: Browser, artifacts_dir: Path, slug: str) -> None:  # noqa: F811
    loaded = demo[slug]
    base = f"http://{loaded.tenant.get_primary_domain().domain}:{web.port}"
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        log_in(page, base, loaded.owner[0], loaded.owner[1])

        # The inbox: conversations waiting for the team, and every one of the month under "all".
        expect(page.locator(".conversation-row").first).to_be_visible()
        page.screenshot(path=str(artifacts_dir / f"demo-history-{slug}-inbox.png"), full_page=True)
        page.goto(f"{base}/app/inbox/?status=all")
        assert page.locator(".conversation-row").count() >= 20

        page.goto(f"{base}/app/analytics/")
        assert int(page.locator("#stat-conversations").inner_text()) > 50
        expect(page.locator(".chart-grid svg").first).to_be_visible()  # the charts are drawn
        page.screenshot(path=str(artifacts_dir / f"demo-history-{slug}-analytics.png"), full_page=True)

        page.goto(f"{base}/app/knowledge/unanswered/")
        expect(page.get_by_role("link", name="Answer as an FAQ").first).to_be_visible()
        page.screenshot(path=str(artifacts_dir / f"demo-history-{slug}-unanswered.png"), full_page=True)

        page.goto(f"{base}/app/usage/")
        # "Messages: 123 of 2000": the month's answers so far (the history's part in this month).
        used = re.findall(r": ([\d,]+) of", page.locator("[aria-labelledby=plan-heading]").inner_text())
        assert used and int(used[0].replace(",", "")) > 0, used
        page.screenshot(path=str(artifacts_dir / f"demo-history-{slug}-usage.png"), full_page=True)
        assert page_errors(page) == []
    finally:
        context.close()
