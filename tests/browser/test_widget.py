"""The chat widget on a business's demo page, as a visitor sees and uses it (offline assistant)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, Page, expect

from chat.conversations.models import Contact, Conversation, Message
from tests.browser.conftest import (
    Widget,
    agent_cookie,
    axe_checked_nodes,
    axe_violations,
    demo_url,
    domain_of,
    page_errors,
    server_env,
    widget_settings_update,
)
from tests.support.processes import WebServer
from tests.support.ws import WidgetSocket

pytestmark = pytest.mark.browser

# From tenants/fixtures/demo/shop/orders.json.
ORDER_NUMBER, ORDER_EMAIL = "TL-10412", "lotte.visser@example.com"
XSS_TEXT = "<img src=x onerror=window.__xss=1>"
AGENT_TEXT = ("Hi, this is Sam. **Good news**: your parcel is on its way, https://track.example/TL-10412\n"
              "[Claim your discount](javascript:window.__xss=2)\n"
              "<img src=x onerror=window.__xss=3>")


def shadow_count(page: Page, selector: str) -> int:
    return int(page.evaluate(
        "(s) => document.querySelector('deskpilot-widget').shadowRoot.querySelectorAll(s).length", selector))


def sent_frames(page: Page, frame_type: str) -> list[dict[str, Any]]:
    return page.evaluate(  # type: ignore[no-any-return]
        "(t) => window.Deskpilot._debug.frames.filter(f => f[0] === 'out' && f[1].type === t).map(f => f[1])",
        frame_type)


@pytest.fixture(scope="module")
def quick_ping_web() -> Iterator[WebServer]:
    server = WebServer(env=server_env(OPENAI_API_KEY="", WIDGET_PING_INTERVAL_SECONDS="1",
                                      WIDGET_PING_TIMEOUT_SECONDS="3"))
    yield server
    server.stop()


def test_a_customer_checks_an_order_and_sees_the_conversation_again_after_a_reload(
        web: WebServer, demo_copies: dict[str, Any], page: Page) -> None:
    # Given the shop's demo page
    page.goto(demo_url(web, demo_copies["shop"]))
    widget = Widget(page).open()

    # When the customer says hello and picks a suggested reply
    widget.say("hi")
    widget.wait_answer_containing("What can I do for you?")
    quick = widget.host.get_by_role("button", name="Where is my order?")
    quick.click()
    expect(quick).to_have_count(0)  # suggestions go once one is used
    widget.wait_answer_containing("What's your order number?")
    widget.say(ORDER_NUMBER)
    widget.wait_answer_containing("e-mail address or phone number")
    widget.say(ORDER_EMAIL)

    # Then the order's status is shown once the e-mail matches
    widget.wait_answer_containing(f"Order {ORDER_NUMBER} is shipped.")
    widget.wait_settled()
    customer_lines = ["hi", "Where is my order?", ORDER_NUMBER, ORDER_EMAIL]
    expect(widget.log.locator(".msg.customer .bubble")).to_have_text(customer_lines)
    before = widget.log.locator(".msg .bubble").all_inner_texts()

    # When the page is reloaded, the chat is still open and the conversation is all there, once
    page.reload()
    widget = Widget(page)
    widget.panel.wait_for(state="visible")
    widget.wait_answer_containing(f"Order {ORDER_NUMBER} is shipped.")
    expect(widget.log.locator(".msg.customer .bubble")).to_have_text(customer_lines)
    assert widget.log.locator(".msg .bubble").all_inner_texts() == before
    assert not page_errors(page)


def test_a_person_joins_live_and_untrusted_text_stays_text(web: WebServer, demo_copies: dict[str, Any],
                                                         page: Page) -> None:
    shop = demo_copies["shop"]
    page.goto(demo_url(web, shop))
    widget = Widget(page).open()

    # A customer's HTML is shown as they typed it
    widget.say(XSS_TEXT)
    expect(widget.log.locator(".msg.customer .bubble").last).to_have_text(XSS_TEXT)
    widget.wait_settled()
    widget.footer.get_by_role("button", name="Talk to a person").click()
    expect(widget.footer.get_by_role("button", name="A person has been asked to join")).to_be_disabled()

    # An agent takes the conversation over and writes, live
    client_id = sent_frames(page, "message")[0]["client_id"]
    with schema_context(shop.schema_name):
        conversation_id = Message.objects.get(client_id=client_id).conversation_id
    agent = WidgetSocket(web.port, domain_of(shop), "/ws/agent/", origin=f"http://{domain_of(shop)}",
                         cookie=agent_cookie(shop))
    try:
        agent.recv_until("welcome")
        agent.send({"type": "subscribe", "conversation_id": conversation_id})
        agent.recv_until("subscribed")
        widget.input.press_sequentially("one moment", delay=30)
        # The event contract's one typing shape: a customer has no team name.
        assert agent.recv_until("typing") == {"type": "typing", "author": "customer", "on": True, "name": None,
                                              "conversation_id": conversation_id}
        widget.input.fill("")
        agent.send({"type": "take_over", "conversation_id": conversation_id})
        expect(widget.log.locator(".msg.system", has_text="joined")).to_be_visible()
        expect(widget.footer.get_by_role("button", name="person")).to_have_count(0)
        agent.send({"type": "typing", "conversation_id": conversation_id, "on": True})
        expect(widget.host.locator(".typing")).to_contain_text("is typing")
        agent.send({"type": "message", "conversation_id": conversation_id, "text": AGENT_TEXT, "client_id": "a1"})
        bubble = widget.log.locator(".msg.agent .bubble").last
        expect(bubble).to_contain_text("Hi, this is Sam.")
        expect(widget.host.locator(".typing")).to_have_text("")

        # Safe Markdown is formatted; everything else stays text and nothing runs
        expect(bubble.locator("strong")).to_have_text("Good news")
        expect(bubble.get_by_role("link", name="https://track.example/TL-10412")).to_have_attribute(
            "href", "https://track.example/TL-10412")
        expect(bubble.get_by_role("link", name="Claim your discount")).to_have_count(0)
        expect(bubble).to_contain_text("Claim your discount")
        expect(bubble).to_contain_text("<img src=x onerror=window.__xss=3>")
        assert shadow_count(page, "img") == 0
        assert shadow_count(page, "a[href^='javascript' i]") == 0
        assert page.locator("img").count() == 0
        page.wait_for_timeout(300)
        assert page.evaluate("() => window.__xss") is None

        # When the agent resolves the conversation, the customer can rate it
        agent.send({"type": "resolve", "conversation_id": conversation_id})
        rating = widget.host.get_by_role("group", name="How did we do?")
        expect(rating).to_be_visible()
        assert axe_violations(page) == []
        rating.get_by_role("button", name="4 out of 5").click()
        expect(widget.log).to_contain_text("Thanks for your feedback!")
    finally:
        agent.close()
    with schema_context(shop.schema_name):
        assert Conversation.objects.get(pk=conversation_id).rating == 4
        assert Message.objects.get(client_id=client_id).text == XSS_TEXT
    assert not page_errors(page)


def test_the_host_pages_css_does_not_change_the_widget(web: WebServer, demo_copies: dict[str, Any], page: Page,
                                                       artifacts_dir: Any) -> None:
    page.goto(demo_url(web, demo_copies["shop"]))
    widget = Widget(page).open()
    widget.say("hi")
    widget.wait_answer_containing("What can I do for you?")
    widget.wait_settled()

    # The page's own theme is in force on the page...
    page_button = page.get_by_role("button", name="Ask us anything")
    expect(page_button).to_have_css("background-color", "rgb(194, 24, 91)")
    expect(page_button).to_have_css("font-family", 'Georgia, "Times New Roman", serif')
    # ... and none of it reaches the widget, whose parts all show (the page hides any [role=log])
    bubble = widget.log.locator(".msg.assistant .bubble").last
    expect(widget.panel).to_have_css("display", "flex")
    expect(widget.log).to_have_css("display", "flex")
    expect(bubble).to_have_css("color", "rgb(29, 35, 41)")
    assert "Georgia" not in bubble.evaluate("e => getComputedStyle(e).fontFamily")
    expect(bubble).to_have_css("letter-spacing", "normal")
    expect(widget.send_button).to_have_css("background-color", "rgb(31, 111, 235)")
    expect(widget.send_button).to_have_css("text-transform", "none")
    expect(widget.send_button).to_have_css("font-style", "normal")
    expect(widget.input).to_have_css("background-color", "rgb(255, 255, 255)")
    expect(widget.input).to_have_css("border-top-style", "solid")
    expect(widget.input).to_have_css("box-sizing", "border-box")
    expect(widget.launcher).to_have_css("background-color", "rgb(31, 111, 235)")
    assert widget.panel.evaluate("e => e.getBoundingClientRect().width") == 380

    # The widget adds no stylesheet to the page and no global but window.Deskpilot
    assert page.evaluate("() => document.querySelectorAll('style, link[rel=stylesheet]').length") == 1
    extra_globals = page.evaluate("""() => {
        const frame = document.createElement('iframe');
        document.body.appendChild(frame);
        const fresh = new Set(Object.getOwnPropertyNames(frame.contentWindow));
        frame.remove();
        return Object.getOwnPropertyNames(window).filter(n => !fresh.has(n) && !/^[0-9]+$/.test(n));
    }""")
    assert extra_globals == ["Deskpilot"]
    page.screenshot(path=str(artifacts_dir / "widget-demo-page.png"))


def test_on_a_phone_the_chat_fills_the_screen(web: WebServer, demo_copies: dict[str, Any], browser: Browser,
                                              artifacts_dir: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                  device_scale_factor=2)
    try:
        page = context.new_page()
        page.goto(demo_url(web, demo_copies["cafe"]))
        widget = Widget(page).wait_loaded()
        widget.launcher.tap()
        widget.panel.wait_for(state="visible")
        assert widget.panel.bounding_box() == {"x": 0, "y": 0, "width": 390, "height": 844}
        widget.say("hi")
        widget.wait_answer_containing("What can I do for you?")
        widget.wait_settled()
        expect(widget.input).to_be_in_viewport()
        expect(widget.send_button).to_be_in_viewport()
        page.screenshot(path=str(artifacts_dir / "widget-phone.png"))
        widget.host.get_by_role("button", name="Close chat").tap()
        expect(widget.panel).to_be_hidden()
        expect(widget.launcher).to_be_in_viewport()
    finally:
        context.close()


def test_keyboard_only_use_and_no_serious_accessibility_problems(web: WebServer, demo_copies: dict[str, Any],
                                                                 page: Page) -> None:
    page.goto(demo_url(web, demo_copies["cafe"]))
    widget = Widget(page).wait_loaded()
    assert axe_violations(page) == []  # closed: the launcher alone

    # Opening from the keyboard puts the cursor in the message box
    widget.launcher.focus()
    page.keyboard.press("Enter")
    expect(widget.panel).to_be_visible()
    expect(widget.launcher).to_have_attribute("aria-expanded", "true")
    expect(widget.input).to_be_focused()
    page.wait_for_function("() => window.Deskpilot._debug.state.welcomed")
    page.keyboard.type("hi", delay=60)
    # Typing is announced once, not per key; sending ends it
    assert sent_frames(page, "typing") == [{"type": "typing", "on": True}]
    page.keyboard.press("Enter")
    assert sent_frames(page, "typing") == [{"type": "typing", "on": True}, {"type": "typing", "on": False}]
    widget.wait_answer_containing("What can I do for you?")
    widget.wait_settled()
    expect(widget.input).to_have_value("")

    # Focus is visible where it goes
    page.keyboard.press("Tab")
    expect(widget.send_button).to_be_focused()
    expect(widget.send_button).to_have_css("outline-style", "solid")

    # The open chat, with answers and suggested replies, has no serious or critical problems
    assert axe_checked_nodes(page) > 10
    assert axe_violations(page) == []

    # Escape closes it and gives focus back to the launcher
    page.keyboard.press("Escape")
    expect(widget.panel).to_be_hidden()
    expect(widget.launcher).to_be_focused()
    expect(widget.launcher).to_have_attribute("aria-expanded", "false")
    expect(widget.launcher).to_have_css("outline-style", "solid")


def test_the_pre_chat_form_comes_first_when_the_business_wants_it(
        web: WebServer, make_tenant: Callable[..., Any], page: Page) -> None:
    tenant = make_tenant(name="Form first").tenant
    widget_settings_update(tenant, prechat_enabled=True, prechat_require_email=True)
    page.goto(demo_url(web, tenant))
    widget = Widget(page).open()

    form_name, form_email = widget.host.get_by_label("Name"), widget.host.get_by_label("E-mail")
    expect(form_name).to_be_focused()
    expect(widget.input).to_be_hidden()
    assert axe_violations(page) == []
    form_name.fill("Ada Lovelace")
    widget.host.get_by_role("button", name="Start chat").click()  # the e-mail is required here
    expect(form_email).to_be_visible()
    assert sent_frames(page, "prechat") == []

    form_email.fill("ada@example.test")
    widget.host.get_by_role("button", name="Start chat").click()
    expect(widget.input).to_be_visible()
    expect(form_email).to_be_hidden()
    widget.say("hello")
    widget.wait_settled()
    with schema_context(tenant.schema_name):
        contact = Contact.objects.get(email="ada@example.test")
        assert contact.name == "Ada Lovelace"
        assert Message.objects.filter(conversation__contact=contact, text="hello").exists()


def test_the_widget_answers_pings_and_keeps_its_connection(quick_ping_web: WebServer, demo_copies: dict[str, Any],
                                                           page: Page) -> None:
    page.goto(demo_url(quick_ping_web, demo_copies["cafe"]))
    Widget(page).open().wait_settled()
    page.evaluate("() => { window.__socket = window.Deskpilot._debug.socket(); }")
    # The server pings every second and drops a client silent for three
    page.wait_for_function("() => window.Deskpilot._debug.frames.filter(f => f[1].type === 'pong').length >= 4",
                           timeout=15_000)
    assert page.evaluate("() => window.Deskpilot._debug.socket() === window.__socket && window.__socket.readyState === 1")
