"""Reading a product question against the catalog: products, the variant asked for, extras."""

from __future__ import annotations

import pytest

from orders.catalog_understanding import CatalogIndex, alternatives_for, catalog_index_build, request_understand

# (id, sku, name, category, kind, synonyms) and (variant id, product id, size, colour)
PRODUCTS = [
    (1, "HOOD", "Essential Hoodie", "Hoodies", "item", ["hoodie", "sweatshirt"]),
    (2, "ZIP", "Zip Hoodie", "Hoodies", "item", ["zip up hoodie"]),
    (3, "CREW", "Crewneck Sweatshirt", "Hoodies", "item", ["crewneck", "sweatshirt"]),
    (4, "JEAN", "Straight Leg Jeans", "Jeans", "item", ["jeans", "spijkerbroek"]),
    (5, "FW", "Flat White", "Coffee", "item", ["flat white", "fw"]),
    (6, "LAT", "Latte", "Coffee", "item", ["cafe latte"]),
    (7, "OAT", "Oat Milk", "Extras", "extra", ["oat milk", "oat"]),
    (8, "SHOT", "Extra Espresso Shot", "Extras", "extra", ["extra shot", "add a shot"]),
    (9, "WINE", "House White Wine", "Evenings", "item", ["white wine", "glass of white"]),
    (10, "LAGER", "Alcohol-Free Lager", "Evenings", "item", ["af beer"]),
    (11, "TEE", "Bike Lane Graphic Tee", "T-shirts", "item", ["fiets shirt"]),
]
VARIANTS = [
    (101, 1, "S", "Black"), (102, 1, "M", "Black"), (103, 1, "M", "Navy"), (104, 1, "L", "Navy"),
    (201, 2, "M", "Forest Green"), (202, 2, "L", "Forest Green"), (203, 2, "L", "Grey Melange"),
    (301, 3, "L", "Black"), (302, 3, "L", "Sand"),
    (401, 4, "W32", "Mid Blue"), (402, 4, "W36", "Mid Blue"),
    (501, 5, "", ""), (601, 6, "Regular", ""), (602, 6, "Large", ""), (701, 7, "", ""), (801, 8, "", ""),
    (901, 9, "", ""), (1001, 10, "", ""), (1101, 11, "M", "White"),
]


@pytest.fixture(scope="module")
def index() -> CatalogIndex:
    return catalog_index_build(PRODUCTS, VARIANTS)


def names(index: CatalogIndex, ids: tuple[int, ...]) -> list[str]:
    by_id = {product.id: product.name for product in index.products}
    return [by_id[product_id] for product_id in ids]


@pytest.mark.parametrize("question", ["how much is a flat white?", "do you sell white wine?"])
def test_a_colour_word_inside_a_name_is_part_of_the_name(index: CatalogIndex, question: str) -> None:
    request = request_understand(index, question)
    assert len(request.products) == 1 and not request.variant_requested


def test_colour_and_size_are_both_kept(index: CatalogIndex) -> None:
    request = request_understand(index, "Do you have the Essential Hoodie in navy, size M?")
    assert names(index, request.products) == ["Essential Hoodie"]
    assert request.colours == ("Navy",) and request.sizes == ("M",)


def test_the_longest_name_wins_over_a_shared_synonym(index: CatalogIndex) -> None:
    request = request_understand(index, "crewneck sweatshirt in black L")
    assert names(index, request.products) == ["Crewneck Sweatshirt"]
    assert request.colours == ("Black",) and request.sizes == ("L",)


def test_one_word_of_a_catalog_colour_names_it(index: CatalogIndex) -> None:
    request = request_understand(index, "zip hoodie green L")
    assert request.colours == ("Forest Green",) and request.sizes == ("L",)


def test_a_colour_the_product_lacks_is_kept_as_asked(index: CatalogIndex) -> None:
    request = request_understand(index, "essential hoodie in red?")
    assert request.missing_colour == "red" and not request.colours


def test_waist_sizes_without_the_w_and_dutch_words(index: CatalogIndex) -> None:
    assert request_understand(index, "straight leg jeans in 36").sizes == ("W36",)
    dutch = request_understand(index, "hebben jullie de essential hoodie in zwart, maat M?")
    assert dutch.colours == ("Black",) and dutch.sizes == ("M",)


def test_extras_are_priced_beside_the_drink_and_size_words_are_not_typos(index: CatalogIndex) -> None:
    request = request_understand(index, "how much is a large latte with oat milk?")
    assert names(index, request.products) == ["Latte"]
    assert names(index, request.extras) == ["Oat Milk"] and request.sizes == ("Large",)
    assert not request.others  # "large" is not a typo of "lager", "a" not a word of "add a shot"


def test_an_extra_asked_about_alone_is_the_product(index: CatalogIndex) -> None:
    request = request_understand(index, "how much is oat milk")
    assert names(index, request.products) == ["Oat Milk"] and not request.extras


def test_a_size_the_product_lacks(index: CatalogIndex) -> None:
    assert request_understand(index, "small latte").missing_size == "small"


def test_a_shared_word_lists_every_product_it_fits(index: CatalogIndex) -> None:
    request = request_understand(index, "do you have hoodies?")
    assert request.ambiguous and {"Essential Hoodie", "Zip Hoodie"} <= set(names(index, request.products))


def test_nothing_like_it_is_no_product(index: CatalogIndex) -> None:
    assert not request_understand(index, "do you sell bicycles?").found
    assert not request_understand(index, "verkopen jullie fietsen?").found  # "fiets shirt" needs both words


def test_im_is_not_the_size_m(index: CatalogIndex) -> None:
    request = request_understand(index, "I'm looking for the essential hoodie")
    assert not request.sizes and not request.missing_size


def test_a_question_that_only_names_a_product_is_mostly_not_explained(index: CatalogIndex) -> None:
    assert request_understand(index, "can i return a hoodie i bought last week?").covered < 0.5


def test_alternatives_are_the_same_size_in_other_colours_then_the_same_colour_in_other_sizes(
        index: CatalogIndex) -> None:
    hoodie = next(product for product in index.products if product.name == "Essential Hoodie")
    stock = {101: True, 102: True, 103: False, 104: True}
    labels = alternatives_for(variants=[(variant, stock[variant.id]) for variant in hoodie.variants],
                              sizes=("M",), colours=("Navy",))
    assert labels == ("Black M", "Navy L")


def test_the_variant_asked_for_narrows_a_shared_word_down(index: CatalogIndex) -> None:
    request = request_understand(index, "got a hoodie in navy M?")
    assert names(index, request.products) == ["Essential Hoodie"]
    assert request.colours == ("Navy",) and request.sizes == ("M",)


def test_the_tool_result_says_the_variant_asked_for_is_sold_out_with_alternatives_and_no_other_stock(
        shop_readonly) -> None:
    from django_tenants.utils import schema_context

    from orders.catalog_understanding import product_question_facts

    with schema_context(shop_readonly.schema_name):
        facts = product_question_facts(text="Do you have the Essential Hoodie in navy, size M?", counts=True).as_dict()
        hoodie = facts["products"][0]
        assert hoodie["name"] == "Essential Hoodie" and hoodie["variant_requested"] == "Navy M"
        assert hoodie["variant_found"] and not hoodie["available"]
        assert [variant["sku"] for variant in hoodie["variants"]] == ["TL-HOOD-001-NAV-M"]  # only the one asked
        assert "Black M" in hoodie["alternatives"] and "Navy L" in hoodie["alternatives"]
        hidden = product_question_facts(text="essential hoodie black M", counts=False).as_dict()
        assert "stock" not in hidden["products"][0]["variants"][0] and hidden["show_stock_counts"] is False
        missing = product_question_facts(text="essential hoodie in red", counts=False).as_dict()["products"][0]
        assert missing["missing"] == "red" and missing["missing_attribute"] == "colour"
        assert not missing["variant_found"] and missing["variants"] == []


def test_the_tool_result_adds_extras_to_the_price(cafe) -> None:
    from django_tenants.utils import schema_context

    from orders.catalog_understanding import product_question_facts

    with schema_context(cafe.schema_name):
        facts = product_question_facts(text="large latte with oat milk").as_dict()
        [line] = facts["price_with_extras"]
        assert line["sum"] == "£3.80 + £0.40 Oat Milk = £4.20" and line["total_minor"] == 420
        assert facts["show_stock_counts"] is False and "stock" not in facts["products"][0]["variants"][0]


def test_a_word_left_out_of_a_name_still_names_it(index: CatalogIndex) -> None:
    request = request_understand(index, "straight jeans in W32")
    assert names(index, request.products) == ["Straight Leg Jeans"] and request.sizes == ("W32",)



@pytest.mark.parametrize("question", ["is there parking?", "do you have high chairs", "any chairs outside?"])
def test_a_word_is_not_read_as_a_product_by_dropping_letters(question: str) -> None:
    # "parking" is not "sparkling" with its first letter lost; "chairs" is not the plural of "chai".
    drinks = catalog_index_build([(1, "CHAI", "Chai Latte", "Tea", "item", ["chai", "spiced chai"]),
                                  (2, "SPARK", "Sparkling Water", "Cold drinks", "item", ["sparkling"])],
                                 [(101, 1, "Regular", ""), (201, 2, "", "")])
    assert not request_understand(drinks, question).found
    assert names(drinks, request_understand(drinks, "how much is a chai?").products) == ["Chai Latte"]
    assert names(drinks, request_understand(drinks, "sparkling watr pls").products) == ["Sparkling Water"]
