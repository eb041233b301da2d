"""The facts an LLM answer is checked against (the business's profile, its catalog's names, its
currency) are read once per content version: the next answer after a change sees the change, and
answers in between read nothing again."""

from __future__ import annotations

import io

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from chat.assistant.selectors import business_facts
from chat.dashboard.services import business_profile_update
from orders.models import Product
from orders.services.catalog import catalog_import_csv, commerce_currency_set, product_update

CATALOG_CSV = ("product_sku,name,category,description,price,currency,synonyms,variant_sku,size,colour,stock\n"
               "HOOD-1,Harbour Hoodie,hoodies,Warm,59.00,EUR,,HOOD-1-M,M,navy,4\n")


def profile(name: str, phone: str) -> None:
    business_profile_update(name=name, tagline="Clothes for the harbour", tone="warm", languages=["en"],
                            human_only_topics=[], contact_email="shop@threadline.test", phone=phone, address="Quay 1")


def test_each_change_is_in_the_next_answers_facts_and_nothing_is_read_in_between(tenant_a) -> None:
    with schema_context(tenant_a.schema_name):
        profile("Threadline", "+31 20 123 4567")
        catalog_import_csv(stream=io.StringIO(CATALOG_CSV))
        first = business_facts()
        assert first["name"] == "Threadline" and first["phone"] == "+31 20 123 4567"
        assert [entry["name"] for entry in first["catalog"]] == ["Harbour Hoodie"]
        assert first["catalog"][0]["variants"] == [{"size": "M", "colour": "navy"}]

        with CaptureQueriesContext(connection) as queries:
            assert business_facts() == first
        assert len(queries) == 0

        product_update(product=Product.objects.get(sku="HOOD-1"), name="Harbour Fleece", category="hoodies",
                       description="Warm", synonyms=["fleece"], is_sellable=True, page_url="", image_url="")
        assert [(entry["name"], entry["synonyms"]) for entry in business_facts()["catalog"]] == [
            ("Harbour Fleece", ["fleece"])]

        profile("Threadline Harbour", "+31 20 765 4321")
        commerce_currency_set(currency="GBP")
        facts = business_facts()
        assert (facts["name"], facts["phone"], facts["currency"]) == ("Threadline Harbour", "+31 20 765 4321", "GBP")


def test_one_business_never_gets_anothers_facts(tenant_a, tenant_b) -> None:
    with schema_context(tenant_a.schema_name):
        profile("Business A shop", "+31 20 111 1111")
        business_facts()
    with schema_context(tenant_b.schema_name):
        profile("Business B shop", "+31 20 222 2222")
        assert business_facts()["name"] == "Business B shop"
    with schema_context(tenant_a.schema_name):
        assert business_facts()["phone"] == "+31 20 111 1111"
