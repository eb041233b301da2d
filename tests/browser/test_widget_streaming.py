"""Answers stream into the widget as they are written, with their sources, and survive a dropped line.

The model is a real local HTTP server speaking OpenAI's protocol that writes slowly (a piece every
CHUNK_DELAY seconds), so a person can watch the answer grow; the business is a fresh tenant whose
FAQ entry has a web page, so the answer's source is a link.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import Page, expect

from chat.conversations.models import Message
from tests.browser.conftest import Widget, demo_url, server_env
from tests.support.fake_openai import FakeOpenAIServer
from tests.support.processes import WebServer

pytestmark = pytest.mark.browser

CHUNK_DELAY = 0.12
CARE_URL = "https://threadline.example/care-guide"
CARE_QUESTION = "Can I wash my hoodie in the machine?"
CARE_ANSWER = ("Yes, you can. Turn it **inside out** and choose a gentle cycle.\n"
               "- Dry it flat so it keeps its shape\n- Skip the tumble dryer\n"
               "The care guide has more tips for every fabric we use.")
LONG_ANSWER = ("Our team is always happy to help you with that question. We will gladly explain everything you "
               "need to know about it right here in the chat. Nothing you ask is too small for us. We read every "
               "message ourselves and answer as quickly as we can. Thank you for shopping with us today.")


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(chunk_delay=CHUNK_DELAY) as server:
        yield server


@pytest.fixture(scope="module")
def llm_web(llm: FakeOpenAIServer) -> Iterator[WebServer]:
    server = WebServer(env=server_env(OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=llm.base_url,
                                      KB_EMBEDDING_PROVIDER="local", ASSISTANT_CACHE_ENABLED="false"))
    yield server
    server.stop()


@pytest.fixture
def care_shop(make_tenant: Callable[..., Any]) -> Any:
    """A business whose FAQ answers washing questions, from a page on its own website."""
    from chat.knowledge.models import KnowledgeSource
    from chat.knowledge.services import faq_upsert, sources_index_now

    tenant = make_tenant(name="Care shop").tenant
    with schema_context(tenant.schema_name):
        care = faq_upsert(question=CARE_QUESTION, answer="Yes: inside out, gentle cycle, dry flat. No tumble dryer.",
                          variants=["how do I wash it", "washing instructions", "can it go in the washing machine"])
        other = faq_upsert(question="Do you ship abroad?", answer="Yes, we ship all over Europe.")
        KnowledgeSource.objects.filter(pk=care.source_id).update(url=CARE_URL)
        sources_index_now(source_ids=[care.source_id, other.source_id])
    return tenant


def bubble_text_lengths(page: Page) -> list[int]:
    return page.evaluate("() => window.__lengths")  # type: ignore[no-any-return]


def watch_streaming_bubble(page: Page) -> None:
    """Record each distinct length the streaming answer's text reaches, as a person would see it grow."""
    page.evaluate("""() => {
        window.__lengths = [];
        const root = document.querySelector('deskpilot-widget').shadowRoot;
        const look = () => {
            const bubble = root.querySelector('.msg.assistant[aria-busy=true] .bubble');
            if (bubble) {
                const n = bubble.textContent.length;
                if (n && window.__lengths[window.__lengths.length - 1] !== n) window.__lengths.push(n);
            }
            requestAnimationFrame(look);
        };
        look();
    }""")


def test_an_faq_answer_streams_in_and_shows_its_source_link(llm: FakeOpenAIServer, llm_web: WebServer,
                                                            care_shop: Any, page: Page) -> None:
    # Given a model that looks the question up in the FAQ, then writes its answer slowly
    llm.script_reply(tool_calls=({"name": "knowledge_search", "arguments": {"query": CARE_QUESTION}},))
    llm.script_reply(text=CARE_ANSWER)
    page.goto(demo_url(llm_web, care_shop))
    widget = Widget(page).open()
    watch_streaming_bubble(page)

    # When the customer asks
    widget.say(CARE_QUESTION)

    # Then the answer grows on screen, piece by piece, before it is complete
    page.wait_for_function("() => window.__lengths.length >= 2", timeout=30_000)
    answer = widget.wait_answer_containing("more tips for every fabric")
    widget.wait_settled()
    lengths = bubble_text_lengths(page)
    assert len(lengths) >= 2 and lengths == sorted(lengths), lengths
    # ... and the finished answer is formatted: bold, a list, no Markdown symbols left
    expect(answer.locator("strong")).to_have_text("inside out")
    expect(answer.locator("li")).to_have_text(["Dry it flat so it keeps its shape", "Skip the tumble dryer"])
    assert "**" not in answer.inner_text()
    # ... with its source as a link that opens safely in a new tab
    source = widget.log.get_by_role("link", name=CARE_QUESTION)
    expect(source).to_have_attribute("href", CARE_URL)
    expect(source).to_have_attribute("target", "_blank")
    expect(source).to_have_attribute("rel", "noopener noreferrer")


def test_a_connection_dropped_mid_answer_still_shows_the_answer_exactly_once(
        llm: FakeOpenAIServer, llm_web: WebServer, care_shop: Any, page: Page) -> None:
    llm.script_reply(text=LONG_ANSWER)
    page.goto(demo_url(llm_web, care_shop))
    widget = Widget(page).open()
    widget.say("tell me about your team")
    streaming = widget.log.locator(".msg.assistant[aria-busy=true] .bubble")
    expect(streaming).to_contain_text("happy to help")

    # The line drops while the answer is being written, and stays down for a moment
    visitor_token = page.evaluate("() => window.Deskpilot._debug.state.token")
    page.context.set_offline(True)
    page.evaluate("() => window.Deskpilot._debug.drop()")
    expect(widget.host.locator(".title p")).to_have_text("Reconnecting…")
    page.wait_for_timeout(800)
    page.context.set_offline(False)

    # The widget comes back by itself, resumes, and the answer completes once
    widget.wait_answer_containing("Thank you for shopping with us today.", timeout=40_000)
    widget.wait_settled()
    # ... as the same visitor, in the same conversation
    assert visitor_token and visitor_token in page.evaluate("() => decodeURIComponent(window.Deskpilot._debug.socket().url)")
    answers = widget.answers()
    expect(answers).to_have_count(1)
    assert answers.first.inner_text().strip() == LONG_ANSWER
    assert widget.log.inner_text().count("Nothing you ask is too small for us.") == 1
    sent = page.evaluate("() => window.Deskpilot._debug.frames.filter(f => f[0] === 'out').map(f => f[1])")
    resumes = [frame for frame in sent if frame["type"] == "resume"]
    assert resumes and resumes[0]["answer_ref"] and resumes[0]["seq"] >= 1
    with schema_context(care_shop.schema_name):
        assert Message.objects.filter(author="assistant").count() == 1
        assert Message.objects.filter(author="customer").count() == 1
