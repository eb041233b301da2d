"""Recommended products as cards in the widget, as a visitor (and a screen reader) meets them."""

from __future__ import annotations

from typing import Any

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import Page, expect

from chat.conversations.models import Message
from tests.browser.conftest import Widget, axe_violations, demo_url, page_errors
from tests.support.processes import WebServer

pytestmark = pytest.mark.browser

# A shop's picture host, played by the browser itself: the widget loads pictures from wherever the
# catalog says, never through our server.
PICTURE = "https://img.threadline.example/packable-rain-jacket.svg"
PICTURE_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="480" height="320" viewBox="0 0 480 320">'
               '<rect width="480" height="320" fill="#2f6f5e"/></svg>')


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

    # And its name is a link to the product's page in the shop, opening in a new tab, that a
    # keyboard reaches and a screen reader names
    link = first.get_by_role("link", name="View Packable Rain Jacket (opens in a new tab)")
    expect(link).to_have_attribute("href", "https://threadline.example/products/packable-rain-jacket")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(link).to_have_text("Packable Rain Jacket")
    link.focus()
    expect(link).to_be_focused()
    expect(first.locator("img")).to_have_count(0)  # the demo catalog has no pictures

    # And after a reload the stored answer brings the same cards back
    page.reload()
    widget = Widget(page)
    widget.panel.wait_for(state="visible")
    widget.wait_answer_containing("Packable Rain Jacket")
    expect(widget.log.get_by_role("list", name="Suggested products").get_by_role("listitem").first).to_contain_text(
        "€89.95")
    assert not page_errors(page)


def test_a_card_shows_the_catalog_s_picture_at_a_fixed_size_and_never_a_planted_address(
        web: WebServer, demo_copies: dict[str, Any], page: Page) -> None:
    # Given an answer with cards, whose stored products then carry a picture, and one a planted
    # address (a row written by a path that forgot the check)
    tenant = demo_copies["shop"]
    page.route(PICTURE, lambda route: route.fulfill(status=200, content_type="image/svg+xml", body=PICTURE_SVG))
    page.goto(demo_url(web, tenant))
    widget = Widget(page).open()
    widget.say("something warm for winter")
    widget.wait_answer_containing("Recycled Puffer Jacket")
    widget.wait_settled()
    with schema_context(tenant.schema_name):
        # This test's answer: the newest of the shared demo shop's (tests in one process run one by one).
        message = Message.objects.filter(author="assistant", text__contains="Recycled Puffer Jacket").latest("pk")
        answer_id, calls = message.pk, message.tool_calls
        for call in calls:
            if call.get("name") == "product_search":
                found = call["result"]["products"]
                assert len(found) >= 2, found
                found[0]["image"] = PICTURE
                found[1]["url"], found[1]["image"] = "javascript:alert(document.domain)", "data:image/svg+xml,<svg/>"
                pictured, planted_name = found[0]["name"], found[1]["name"]
        Message.objects.filter(pk=answer_id).update(tool_calls=calls)

    # When the customer comes back to the conversation
    page.reload()
    widget = Widget(page)
    widget.panel.wait_for(state="visible")
    cards = widget.log.get_by_role("list", name="Suggested products").last
    expect(cards.get_by_role("listitem").first).to_contain_text(pictured)

    # Then the first card shows the picture, named by the product, in its fixed 48-pixel box
    picture = cards.get_by_role("listitem").first.get_by_role("img", name=pictured)
    expect(picture).to_have_attribute("src", PICTURE)
    expect(picture).to_have_attribute("loading", "lazy")
    expect(picture).to_have_attribute("width", "48")
    expect(picture).to_have_attribute("height", "48")
    picture.scroll_into_view_if_needed()
    page.wait_for_function("e => e.complete && e.naturalWidth > 0", arg=picture.element_handle())
    box = picture.bounding_box()
    assert box is not None and (round(box["width"]), round(box["height"])) == (48, 48)
    expect(cards.get_by_role("listitem").first.get_by_role("link")).to_have_attribute(
        "href", f"https://threadline.example/products/{pictured.lower().replace(' ', '-')}")

    # And the planted card is its name as plain text: no link, no picture, nothing a click runs
    planted = cards.get_by_role("listitem").nth(1)
    expect(planted).to_contain_text(planted_name)
    expect(planted.locator("a")).to_have_count(0)
    expect(planted.locator("img")).to_have_count(0)
    addresses = widget.log.locator("[href], [src]").evaluate_all(
        "nodes => nodes.map(n => n.getAttribute('href') || n.getAttribute('src'))")
    assert not [address for address in addresses if address.lower().startswith(("javascript:", "data:"))]
    assert axe_violations(page) == []
    assert not page_errors(page)
