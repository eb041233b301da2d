"""Product discovery: the labelled questions over three catalogs, the question's filters at their
edges, one business's products never in another's results, and vectors that follow catalog changes."""

from __future__ import annotations

import io
import uuid
from statistics import mean

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from tests.orders.conftest import demo_tenant
from tests.support.discovery_catalog import OUTDOOR_PRODUCTS_FOR_TESTS, outdoor_catalog_csv, outdoor_products
from tests.support.discovery_eval import first_fits, labelled_questions, ndcg_at_5

# The shipped hybrid's floor on the labelled set (docs/benchmarks.md has what it measured): a change
# that makes the answers worse fails here, long before a customer sees it.
HYBRID_NDCG_FLOOR = 0.55
HYBRID_FIRST_FITS_FLOOR = 0.80


def _embedded(tenant: object) -> object:
    from chat.knowledge.product_vectors import product_vectors_refresh

    with schema_context(tenant.schema_name):  # type: ignore[attr-defined]
        product_vectors_refresh()
    connection.set_schema_to_public()
    return tenant


def outdoor_tenant() -> object:
    from orders.services.catalog import catalog_import_csv
    from tenants.services import tenant_create

    slug = f"t{uuid.uuid4().hex[:12]}"
    tenant = tenant_create(slug=slug, name="Outdoor", domain=f"{slug}.test.localhost",
                           timezone_name="Europe/Amsterdam").tenant
    with schema_context(slug):
        catalog_import_csv(stream=io.StringIO(outdoor_catalog_csv(outdoor_products(OUTDOOR_PRODUCTS_FOR_TESTS))))
    connection.set_schema_to_public()
    return tenant


@pytest.fixture(scope="module")
def catalogs(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> dict[str, object]:
    """The two demo businesses and the generated outdoor shop, their products embedded."""
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        return {"shop": _embedded(demo_tenant("shop", "Europe/Amsterdam")),
                "cafe": _embedded(demo_tenant("cafe", "Europe/London")),
                "outdoor": _embedded(outdoor_tenant())}


def search(tenant: object, query: str, **options: object):  # noqa: ANN201
    from chat.knowledge.product_vectors import product_discovery

    with schema_context(tenant.schema_name):  # type: ignore[attr-defined]
        return product_discovery(query=query, **options)


def skus(result) -> list[str]:  # noqa: ANN001
    return [product.sku for product in result.products]


def test_the_hybrid_search_holds_its_floor_on_the_labelled_questions(catalogs) -> None:
    questions = labelled_questions(outdoor_products(OUTDOOR_PRODUCTS_FOR_TESTS))
    assert len(questions) >= 100 and {question.catalog for question in questions} == {"shop", "cafe", "outdoor"}
    assert all(question.acceptable for question in questions), "every question has products that fit it"
    ndcg, first = [], []
    misses = []
    for question in questions:
        ranked = skus(search(catalogs[question.catalog], question.text, limit=5))
        ndcg.append(ndcg_at_5(ranked, question.acceptable))
        first.append(first_fits(ranked, question.acceptable))
        if not first[-1]:
            misses.append((question.catalog, question.text, ranked[:3]))
    assert mean(ndcg) >= HYBRID_NDCG_FLOOR, (mean(ndcg), misses)
    assert mean(first) >= HYBRID_FIRST_FITS_FLOOR, (mean(first), misses)


def test_a_price_ceiling_holds_at_its_edge_in_the_business_s_currency(catalogs) -> None:
    shop = catalogs["shop"]
    under = search(shop, "a gift card under €100")
    up_to = search(shop, "a gift card up to €100")
    card_under = next(product for product in under.products if product.sku == "TL-GIFT-001")
    card_up_to = next(product for product in up_to.products if product.sku == "TL-GIFT-001")
    # "under €100" leaves out the €100 card itself; "up to €100" keeps it.
    assert {variant.price for variant in card_under.variants} == {"€25.00", "€50.00"}
    assert {variant.price for variant in card_up_to.variants} == {"€25.00", "€50.00", "€100.00"}
    # Every product offered under a ceiling has a fitting variant below it, whatever its vector.
    jackets = search(shop, "a jacket under 100 euros")
    assert skus(jackets) and all(product.price_minor < 10000 for product in jackets.products)
    assert "TL-JACK-002" in skus(jackets)  # €99.95, just under


@pytest.mark.parametrize("question", ["something under 50 euros", "something under €50", "something under EUR 50",
                                      "something for less than fifty euros", "iets onder de 50 euro",
                                      "anything below 50€"])
def test_currency_symbols_and_words_give_the_same_ceiling(catalogs, question) -> None:
    result = search(catalogs["shop"], question)
    assert result.filters.max_minor == 5000 and result.filters.currency == "EUR"
    assert result.products and all(product.price_minor < 5000 for product in result.products)


def test_a_tenner_is_ten_of_the_shop_s_currency_and_quid_are_pounds_only(catalogs) -> None:
    cafe = search(catalogs["cafe"], "lunch for less than a tenner")
    assert cafe.filters.max_minor == 1000 and cafe.filters.currency == "GBP"
    assert cafe.products and all(product.price_minor < 1000 for product in cafe.products)
    # Pounds asked of a shop that sells in euros: not converted, said so, no price filter made up.
    shop = search(catalogs["shop"], "a hoodie under 50 quid")
    assert shop.filters.max_minor is None and shop.filters.other_currency == "GBP"


def test_between_includes_both_ends(catalogs) -> None:
    result = search(catalogs["shop"], "a gift card between 25 and 50 euros")
    card = next(product for product in result.products if product.sku == "TL-GIFT-001")
    assert {variant.price for variant in card.variants} == {"€25.00", "€50.00"}


def test_a_size_only_some_colours_have(catalogs) -> None:
    shop = catalogs["shop"]
    # The suede sneakers come in 40 in sand only: asked in black they do not fit.
    in_40 = search(shop, "suede sneakers in size 40")
    suede = next(product for product in in_40.products if product.sku == "TL-SNEAK-002")
    assert [(variant.colour, variant.size) for variant in suede.variants] == [("Sand", "40")]
    assert "TL-SNEAK-002" not in skus(search(shop, "black suede sneakers in size 40"))
    # Navy XL of the Essential Hoodie exists; its navy M is sold out and says so when asked for.
    navy_m = search(shop, "a navy hoodie in M")
    essential = next(product for product in navy_m.products if product.sku == "TL-HOOD-001")
    assert essential.availability == "sold_out"


def test_what_the_customer_rules_out_is_never_offered(catalogs) -> None:
    result = search(catalogs["shop"], "trousers that aren't jeans")
    assert skus(result) == ["TL-CHINO-001"]
    vegan = search(catalogs["cafe"], "anything vegan for breakfast?")
    assert skus(vegan) and all("vegan" in product.name.lower() or product.sku in {"SC-BRK-004", "SC-BRK-006"}
                               for product in vegan.products)
    assert "SC-BRK-001" not in skus(vegan)


def test_in_stock_comes_first_and_a_pre_order_says_so(catalogs) -> None:
    result = search(catalogs["shop"], "a puffer jacket for winter")
    puffer = next(product for product in result.products if product.sku == "TL-JACK-005")
    assert puffer.availability == "pre_order"
    pastries = search(catalogs["cafe"], "do you have any pastries?")
    states = [product.availability for product in pastries.products]
    assert states == sorted(states, key=lambda state: state == "sold_out")


def test_a_large_catalog_s_full_text_reads_those_with_every_word_first(catalogs, monkeypatch) -> None:
    """In a large catalog a common word ("warm") matches thousands of products and only the first
    few are read: they must be those with all of the question's words, not any few."""
    import orders.discovery

    merino_beanies = {product.sku for product in outdoor_products(OUTDOOR_PRODUCTS_FOR_TESTS)
                      if product.category == "Hats" and "merino" in product.attributes}
    # As few read as there are merino beanies, where "warm" alone matches dozens in this catalog.
    monkeypatch.setattr(orders.discovery, "TEXT_CANDIDATES", len(merino_beanies))
    found = skus(search(catalogs["outdoor"], "a warm merino beanie", mode="text", limit=len(merino_beanies)))
    assert set(found) == merino_beanies


def test_one_business_s_products_never_appear_in_another_s_results(catalogs) -> None:
    from orders.models import Product

    for name, tenant in catalogs.items():
        with schema_context(tenant.schema_name):  # type: ignore[attr-defined]
            own = set(Product.objects.values_list("sku", flat=True))
        for question in ("anything with chocolate?", "a warm hoodie", "a tent for two", "something under 10 euros",
                         "coffee beans", "waterproof"):
            found = skus(search(tenant, question))
            assert set(found) <= own, (name, question, found)
    # The café's chocolate is not the shop's; the shop's hoodies are not the café's.
    assert not skus(search(catalogs["cafe"], "a hoodie in navy"))


def test_a_catalog_edit_is_re_embedded_in_the_background(catalogs) -> None:
    from chat.knowledge.embeddings import current_model_id
    from chat.knowledge.tasks import kb_products_embed
    from config.outbox.models import OutboxMessage
    from orders.discovery import product_embedding_status
    from orders.models import Product
    from orders.services.catalog import product_update

    tenant = _embedded(demo_tenant("cafe", "Europe/London"))
    with schema_context(tenant.schema_name):  # type: ignore[attr-defined]
        model = current_model_id()
        assert product_embedding_status(model_id=model).pending == 0
        before = OutboxMessage.objects.filter(task_name=kb_products_embed.name).count()
        scone = Product.objects.get(sku="SC-BAK-005")
        product_update(product=scone, name=scone.name, category=scone.category,
                       description="Mature cheddar and chive scone with smoked paprika, served warm with butter.",
                       synonyms=list(scone.synonyms), is_sellable=True, page_url=scone.page_url,
                       image_url=scone.image_url)
        # Promised in the edit's own transaction; until it runs, the status says one is waiting.
        assert OutboxMessage.objects.filter(task_name=kb_products_embed.name).count() == before + 1
        assert product_embedding_status(model_id=model).pending == 1
        kb_products_embed.run()
        assert product_embedding_status(model_id=model).pending == 0
        assert "SC-BAK-005" in skus(search(tenant, "something with smoked paprika"))
