"""Recommended products as cards in the widget, as a visitor (and a screen reader) meets them."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Widget, axe_violations, demo_url, page_errors
from tests.support.processes import WebServer

pytestmark = pytest.mark.browser


def test_a_discovery_answer_shows_product_cards_that_stay_after_a_reload(
        web: WebServer, demo_copies: dict[str, Any], page: Page) -> None:
    # Given the shop's demo page, when a customer asks for something of a kind
    page.goto(demo_url(web, demo_copies["shop"]))
    widget = Widget(page).open()
    widget.say("something for when it rains")
    widget.wait_answer_containing("Packable Rain Jacket")
    widget.wait_settled()

    # Then the answer has a list of product cards a screen reader announces by its name
    cards = widget.log.get_by_role("list", name="Suggested products")
    expect(cards).to_have_count(1)
    first = cards.get_by_role("listitem").first
    expect(first).to_contain_text("Packable Rain Jacket")
    expect(first).to_contain_text("€89.95")
    expect(first).to_contain_text("In stock")
    assert cards.get_by_role("listitem").count() <= 4
    assert axe_violations(page) == []

    # And after a reload the stored answer brings the same cards back
    page.reload()
    widget = Widget(page)
    widget.panel.wait_for(state="visible")
    widget.wait_answer_containing("Packable Rain Jacket")
    expect(widget.log.get_by_role("list", name="Suggested products").get_by_role("listitem").first).to_contain_text(
        "€89.95")
    assert not page_errors(page)
