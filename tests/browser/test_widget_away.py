"""Outside opening hours the widget says honestly when a person will be back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django_tenants.utils import schema_context
from playwright.sync_api import Page, expect

from chat.widget.services import away_state
from tests.browser.conftest import Widget, demo_url, server_env
from tests.support.processes import WebServer

pytestmark = pytest.mark.browser

# A Sunday noon in Amsterdam: the demo shop (tenants/fixtures/demo/shop/hours.json) is closed all day.
SUNDAY_NOON = "2026-11-15T12:00:00+01:00"


@pytest.fixture(scope="module")
def sunday_web() -> Iterator[WebServer]:
    server = WebServer(env=server_env(OPENAI_API_KEY=""), clock_at=SUNDAY_NOON)
    yield server
    server.stop()


def test_the_away_message_shows_when_the_business_is_closed(sunday_web: WebServer, demo_copies: dict[str, Any],
                                                           page: Page) -> None:
    shop = demo_copies["shop"]
    with time_machine.travel(SUNDAY_NOON, tick=False), schema_context(shop.schema_name):
        expected = away_state("en")
    assert expected["open"] is False and "tomorrow at 09:00" in expected["message"]

    page.goto(demo_url(sunday_web, shop))
    widget = Widget(page).open()
    away = widget.host.locator(".away")
    expect(away).to_have_text(expected["message"])
    expect(away).to_have_attribute("role", "status")
    # Still open for questions: the assistant answers while people are away
    widget.say("hi")
    widget.wait_answer_containing("What can I do for you?")
    expect(away).to_have_text(expected["message"])
