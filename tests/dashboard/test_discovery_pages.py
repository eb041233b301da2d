"""What the business sees of product discovery: the playground's products with their scores and the
filters understood, and the discovery questions nothing fitted on the unanswered questions page."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django_tenants.utils import schema_context

from tests.dashboard.conftest import Business

MENU = """product_sku,name,category,description,price,currency,synonyms,variant_sku,size,colour,stock
B1,Chocolate Brownie,Cakes,Fudgy dark chocolate brownie. Gluten-free.,3.20,GBP,brownie,B1-S,,,18
B2,Lemon Drizzle,Cakes,Sharp lemon loaf with a crunchy sugar top.,3.40,GBP,lemon cake,B2-S,,,12
B3,Hot Chocolate,Hot drinks,Rich hot chocolate made with real chocolate and steamed milk.,3.40,GBP,cocoa,B3-S,,,100
B4,Sparkling Water,Cold drinks,330ml bottle.,1.80,GBP,fizzy water,B4-S,,,48
"""


@pytest.fixture(autouse=True)
def _offline(settings: Any) -> None:
    settings.OPENAI_API_KEY = ""
    settings.KB_EMBEDDING_PROVIDER = "local"
    settings.ASSISTANT_CACHE_ENABLED = False


@pytest.fixture
def cafe(business: Business) -> Business:
    import io

    from chat.knowledge.product_vectors import product_vectors_refresh
    from orders.services.catalog import catalog_import_csv, commerce_currency_set

    with schema_context(business.tenant.schema_name):
        commerce_currency_set(currency="GBP")
        catalog_import_csv(stream=io.StringIO(MENU))
        product_vectors_refresh()
    return business


def test_the_playground_shows_which_products_a_question_found_and_why(cafe: Business) -> None:
    page = cafe.client(cafe.owner).post("/app/playground/", {"question": "anything sweet with chocolate?"}).content
    text = page.decode()
    assert "Products the question found" in text
    assert "attributes: [&#x27;chocolate&#x27;]" in text  # the filter understood, as the search read it
    assert "Chocolate Brownie" in text and "£3.20" in text
    assert "Lemon Drizzle" not in text.split("Products the question found")[1]  # no chocolate in it
    assert "Vector" in text and "Full text" in text


def test_a_discovery_question_nothing_fitted_is_listed_for_the_owner(cafe: Business) -> None:
    from chat.assistant.engine import answer_customer_message_sync
    from chat.conversations import services

    with schema_context(cafe.tenant.schema_name):
        contact = services.contact_get_or_create(visitor_id=f"v-{uuid.uuid4().hex}")
        conversation = services.conversation_start(contact=contact)
        received = services.message_receive(conversation=conversation, text="anything for a kayak trip under £1?",
                                            channel_message_id=uuid.uuid4().hex)
    answer_customer_message_sync(schema_name=cafe.tenant.schema_name, message_id=received.message.pk)

    page = cafe.client(cafe.owner).get("/app/knowledge/unanswered/").content.decode()
    listed = page.split("Product questions nothing fitted")[1]
    assert "anything for a kayak trip under £1?" in listed
    assert "price_under: £1.00" in listed
