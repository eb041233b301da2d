"""Discovery questions in the offline assistant, through the real engine on the demo businesses: the
products that fit with price and availability, nothing a filter excludes, follow-ups about them,
and the same products as cards on the stored answer's wire shape."""

from __future__ import annotations

import re
import uuid

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from chat.assistant.engine import AnswerResult, answer_customer_message_sync
from chat.conversations import services
from chat.conversations.events import message_wire
from chat.conversations.models import Message


@pytest.fixture(autouse=True)
def _offline(settings) -> None:
    settings.OPENAI_API_KEY = ""
    settings.ASSISTANT_CACHE_ENABLED = False


def conversation(tenant, *texts: str) -> list[AnswerResult]:
    """The texts sent one after another in one new conversation; the answer to each."""
    with schema_context(tenant.schema_name):
        contact = services.contact_get_or_create(visitor_id=f"v-{uuid.uuid4().hex}")
        started = services.conversation_start(contact=contact)
    answers = []
    for text in texts:
        with schema_context(tenant.schema_name):
            received = services.message_receive(conversation=started, text=text, channel_message_id=uuid.uuid4().hex)
        answers.append(answer_customer_message_sync(schema_name=tenant.schema_name, message_id=received.message.pk,
                                                    now=timezone.now()))
    return answers


def prices(text: str) -> list[float]:
    """The prices of the products listed (one per "- " line), not the filter the intro repeats."""
    listed = "\n".join(line for line in text.splitlines() if line.startswith("- "))
    return [float(amount.replace(",", "")) for amount in re.findall(r"[€£]([\d,]+\.\d\d)", listed)]


@pytest.mark.parametrize(("business", "question", "must_name", "must_not_say"), [
    ("shop", "trousers that aren't jeans", ["Relaxed Chinos", "€69.95", "in stock"], ["Jeans", "I don't know"]),
    ("shop", "something for when it rains", ["Packable Rain Jacket", "€89.95"], ["I don't know"]),
    ("shop", "shoes for everyday", ["Sneakers"], ["I don't know"]),
    ("shop", "something warm for winter", ["Recycled Puffer Jacket", "pre-order"], ["I don't know"]),
    ("cafe", "anything sweet with chocolate?", ["Chocolate"], ["vegan options", "I don't know"]),
    ("cafe", "do you have any pastries?", ["Pain au Chocolat", "£2.90"], ["catering", "I don't know"]),
])
def test_a_discovery_question_gets_products_that_fit(demo_copies, business, question, must_name,
                                                     must_not_say) -> None:
    answer = conversation(demo_copies[business], question)[0]
    for fact in must_name:
        assert fact.casefold() in answer.text.casefold(), answer.text
    for wrong in must_not_say:
        assert wrong.casefold() not in answer.text.casefold(), answer.text
    lines = [line for line in answer.text.splitlines() if line.startswith("- ")]
    assert 1 <= len(lines) <= 4, answer.text


def test_a_price_ceiling_leaves_nothing_above_it(demo_copies) -> None:
    answer = conversation(demo_copies["shop"], "a gift under 25 euros")[0]
    assert prices(answer.text) and all(price < 25 for price in prices(answer.text)), answer.text
    cafe = conversation(demo_copies["cafe"], "lunch for less than a tenner")[0]
    assert prices(cafe.text) and all(price < 10 for price in prices(cafe.text)), cafe.text


def test_a_follow_up_is_about_the_products_just_recommended(demo_copies) -> None:
    first, in_size, cheaper = conversation(demo_copies["shop"], "any hoodies for autumn?", "in XL?", "the cheaper one?")
    offered = [line[2:].split(":")[0] for line in first.text.splitlines() if line.startswith("- ")]
    assert len(offered) >= 2, first.text
    assert "XL" in in_size.text and any(name in in_size.text for name in offered), in_size.text
    # Every product named in the follow-up is one of those offered.
    named = [line[2:].split(" in ")[0].split(":")[0] for line in in_size.text.splitlines() if line.startswith("- ")]
    assert named and set(named) <= set(offered), (offered, in_size.text)
    assert any(name in cheaper.text for name in offered) and "cheaper" in cheaper.text, cheaper.text


def test_a_stock_question_about_a_named_product_is_not_a_discovery_question(demo_copies) -> None:
    answer = conversation(demo_copies["shop"], "is the zip hoodie in stock in grey M?")[0]
    assert "Zip Hoodie" in answer.text and "Here's what" not in answer.text, answer.text


def test_the_stored_answer_carries_the_products_as_cards(demo_copies) -> None:
    tenant = demo_copies["shop"]
    answer = conversation(tenant, "something for when it rains")[0]
    with schema_context(tenant.schema_name):
        stored = message_wire(Message.objects.get(pk=answer.message_id))
    cards = stored["products"]
    assert cards and cards[0]["name"] == "Packable Rain Jacket" and cards[0]["price"] == "€89.95"
    assert cards[0]["availability"] == "in_stock"
    assert set(cards[0]) == {"product_id", "sku", "name", "price", "availability", "url", "image"}
    # The demo catalog gives each product its page in the shop, and no picture.
    assert cards[0]["url"] == "https://threadline.example/products/packable-rain-jacket"
    assert all(card["url"].startswith("https://threadline.example/products/") for card in cards)
    assert cards[0]["image"] == ""
    assert answer.stored_message is not None and answer.stored_message["products"] == cards


def test_a_planted_address_stored_before_the_check_is_never_a_card_s_link(demo_copies) -> None:
    """A row written by a path that forgot the check (or before it): the card has no link, no image."""
    tenant = demo_copies["shop"]
    answer = conversation(tenant, "something for when it rains")[0]
    with schema_context(tenant.schema_name):
        message = Message.objects.get(pk=answer.message_id)
        message.tool_calls = [
            {**call, "result": {**call["result"], "products": [
                {**found, "url": "JavaScript:alert(1)", "image": "data:image/svg+xml,<svg onload=alert(1)>"}
                for found in call["result"]["products"]]}} if call.get("name") == "product_search" else call
            for call in message.tool_calls]
        cards = message_wire(message)["products"]
    assert cards and all(card["url"] == "" and card["image"] == "" for card in cards)


def test_a_discovery_question_that_finds_nothing_is_recorded_as_such(demo_copies) -> None:
    tenant = demo_copies["cafe"]
    answer = conversation(tenant, "anything for a kayak trip under 50p?")[0]
    with schema_context(tenant.schema_name):
        stored = Message.objects.get(pk=answer.message_id)
    searches = [call for call in stored.tool_calls if call["name"] == "product_search"]
    assert searches and searches[0]["result"]["found"] is False
    assert answer.quick_replies or answer.handoff, "a person is offered"
