"""The shop's product questions: variants asked by colour and size, sold out or not, prices, and
words that look like variants but are not. Expectations come from the catalog fixture."""

from __future__ import annotations

from tests.assistant.scenarios import Turn
from tests.assistant.scenarios.fixture_data import Product, Variant, catalog, money, product, shows_stock_counts

SHOP = "shop"
COUNTS = shows_stock_counts(SHOP)
# No stock count of any variant but the one asked for: the shop's counts read "(N available)".
NO_OTHER_COUNT = " available)"


def _price(variant: Variant) -> str:
    return money(SHOP, variant.price_minor)


def _count(variant: Variant) -> str:
    return f"({variant.stock} available)"


def _with_colour_and_size(item: Product) -> bool:
    return bool(item.colours) and bool(item.sizes) and len(item.variants) > 1


def _sold_out_turns(item: Product, variant: Variant, says: str, turn_id: str) -> Turn:
    nearest = item.nearest_available(variant)
    return Turn(id=turn_id, tenant=SHOP, says=(says,),
                must_say=(item.name, "sold out", *(f"{v.colour} {v.size}" for v in nearest[:2])),
                must_not_say=(NO_OTHER_COUNT, "Yes,"), tags=frozenset({"products", "variant", "sold-out"}))


def _in_stock_turn(item: Product, variant: Variant, says: str, turn_id: str) -> Turn:
    others = [v for v in item.variants if v is not variant and v.stock != variant.stock and v.stock > 0]
    return Turn(id=turn_id, tenant=SHOP, says=(says,),
                must_say=(item.name, f"{variant.colour} {variant.size}", "in stock", _price(variant),
                          *((_count(variant),) if COUNTS else ())),
                must_not_say=("sold out", *(_count(v) for v in others)),
                tags=frozenset({"products", "variant", "in-stock"}))


# How customers ask for one colour and size, in their own styles.
_ASKS = (
    "do you have the {name} in {colour}, size {size}?",
    "{lower} in {colour_lower} {size}",
    "is the {lower} available in {colour_lower} size {size_lower}",
    "any {lower} left in {colour_lower} {size}??",
)

TURNS: list[Turn] = []
_products = [item for item in catalog(SHOP).values() if _with_colour_and_size(item)]
for number, item in enumerate(_products):
    template = _ASKS[number % len(_ASKS)]
    for state, variants in (("sold-out", item.sold_out), ("in-stock", item.in_stock)):
        if not variants:
            continue
        variant = variants[0]
        says = template.format(name=item.name, lower=item.name.lower(), colour=variant.colour,
                               colour_lower=variant.colour.lower(), size=variant.size, size_lower=variant.size.lower())
        turn_id = f"shop-{state}-{item.sku.lower()}"
        maker = _sold_out_turns if state == "sold-out" else _in_stock_turn
        TURNS.append(maker(item, variant, says, turn_id))

# The price of each product, asked plainly: its price, and no "doesn't come in".
for item in catalog(SHOP).values():
    prices = sorted({v.price_minor for v in item.variants})
    TURNS.append(Turn(id=f"shop-price-{item.sku.lower()}", tenant=SHOP, says=(f"how much is the {item.name.lower()}?",),
                      must_say=(item.name, money(SHOP, prices[0])),
                      must_not_say=("doesn't come in", NO_OTHER_COUNT), tags=frozenset({"products", "price"})))

# A colour the catalog has, asked of a product that does not come in it.
_ALL_COLOURS = sorted({v.colour for item in catalog(SHOP).values() for v in item.variants if v.colour and " " not in v.colour})
for item in _products[:12]:
    # A colour sharing no word with the product's ("blue" would be its "Light Blue").
    own_words = {word for colour in item.colours for word in colour.lower().split()}
    missing = next(colour for colour in _ALL_COLOURS if colour.lower() not in own_words)
    TURNS.append(Turn(id=f"shop-no-colour-{item.sku.lower()}", tenant=SHOP,
                      says=(f"do you have the {item.name.lower()} in {missing.lower()}?",),
                      must_say=(item.name, f"doesn't come in {missing.lower()}", *item.colours),
                      must_not_say=(NO_OTHER_COUNT, "in stock"), tags=frozenset({"products", "variant", "missing"})))

_ESSENTIAL = product(SHOP, "Essential Hoodie")
_CREW = product(SHOP, "Crewneck Sweatshirt")
_LONG = product(SHOP, "Long Sleeve Tee")
_JEANS = product(SHOP, "Straight Leg Jeans")
_ZIP = product(SHOP, "Zip Hoodie")
_HARBOUR = product(SHOP, "Harbour Hoodie")
_BRETON = product(SHOP, "Breton Striped Tee")

# The failures issue #18 saw, each a turn.
TURNS += [
    _sold_out_turns(_ESSENTIAL, _ESSENTIAL.variant(size="M", colour="Navy"),
                    "Do you have the Essential Hoodie in navy, size M?", "shop-issue-essential-navy-m"),
    _sold_out_turns(_CREW, _CREW.variant(size="L", colour="Black"), "crewneck sweatshirt in black L",
                    "shop-issue-crewneck-black-l"),
    _sold_out_turns(_LONG, _LONG.variant(size="S", colour="Oat"), "long sleeve tee in oat, S",
                    "shop-issue-long-sleeve-oat-s"),
    Turn(id="shop-issue-jeans-w36", tenant=SHOP, says=("straight leg jeans in W36?",),
         must_say=("Straight Leg Jeans", "W36", "sold out", *(v.size for v in _JEANS.in_stock)),
         must_not_say=("size guide", "Size guide", NO_OTHER_COUNT), tags=frozenset({"products", "issue"})),
    Turn(id="shop-issue-bicycles", tenant=SHOP, says=("do you sell bicycles?",), offers_person=True,
         must_say_one_of=(("don't think we sell", "can't find"),),
         must_not_say=("gift card", "Gift card"), tags=frozenset({"products", "issue", "unknown"})),
    Turn(id="shop-issue-blue-hoodie-l", tenant=SHOP, says=("is the blue hoodie in stock in L?",),
         must_say=("Harbour Hoodie", "sold out", *(f"{v.colour} {v.size}" for v in _HARBOUR.in_stock[:2])),
         must_not_say=(NO_OTHER_COUNT,), tags=frozenset({"products", "issue"})),
]

# Customers' own words: typos, synonyms, sizes in words, numbers without the W.
_HARBOUR_M = _HARBOUR.variant(size="M", colour="Blue")
_ZIP_GREEN_M = _ZIP.variant(size="M", colour="Forest Green")
_ZIP_GREEN_L = _ZIP.variant(size="L", colour="Forest Green")
_ESSENTIAL_BLACK_M = _ESSENTIAL.variant(size="M", colour="Black")
TURNS += [
    Turn(id="shop-typo-harbor-hoddie", tenant=SHOP, says=("harbor hoddie in size m",),
         must_say=("Harbour Hoodie", _price(_HARBOUR_M), *((_count(_HARBOUR_M),) if COUNTS else ())),
         tags=frozenset({"products", "typo"})),
    Turn(id="shop-blue-hoodie-medium", tenant=SHOP, says=("got the blue hoodie in medium?",),
         must_say=("Harbour Hoodie", "in stock", _price(_HARBOUR_M)), must_not_say=("sold out",),
         tags=frozenset({"products", "synonym"})),
    Turn(id="shop-zip-green-medium", tenant=SHOP, says=("zip hoodie in green, medium pls",),
         must_say=("Zip Hoodie", "Forest Green M", "in stock"), must_not_say=("sold out", "Grey Melange M ("),
         tags=frozenset({"products", "colour-word"})),
    Turn(id="shop-zip-green-large", tenant=SHOP, says=("zip up hoodie green large?",),
         must_say=("Zip Hoodie", "sold out", "Grey Melange L"), must_not_say=(NO_OTHER_COUNT,),
         tags=frozenset({"products", "colour-word"})),
    Turn(id="shop-jeans-36-no-w", tenant=SHOP, says=("do u have straight leg jeans in 36",),
         must_say=("Straight Leg Jeans", "W36", "sold out"), must_not_say=(NO_OTHER_COUNT,),
         tags=frozenset({"products", "size-number"})),
    Turn(id="shop-breton-xxs", tenant=SHOP, says=("breton tee in xxs?",),
         must_say=("Breton Striped Tee", "doesn't come in size XXS", *_BRETON.sizes),
         must_not_say=(NO_OTHER_COUNT, "in stock"), tags=frozenset({"products", "missing"})),
    Turn(id="shop-essential-red", tenant=SHOP, says=("essential hoodie in red?",),
         must_say=("Essential Hoodie", "doesn't come in red", "Black", "Navy"), must_not_say=("in stock",),
         tags=frozenset({"products", "missing"})),
    Turn(id="shop-essential-black-m-im", tenant=SHOP, says=("I'm after the essential hoodie in black M",),
         must_say=("Essential Hoodie", "Black M", "in stock", *((_count(_ESSENTIAL_BLACK_M),) if COUNTS else ())),
         must_not_say=("sold out",), tags=frozenset({"products"})),
    Turn(id="shop-essential-size-only", tenant=SHOP, says=("is the essential hoodie available in M",),
         must_say=("Essential Hoodie", "Black M", "Navy M", "sold out"),
         must_not_say=(*(_count(v) for v in _ESSENTIAL.variants if v.size != "M" and v.stock),),
         tags=frozenset({"products", "size-only"})),
    Turn(id="shop-hoodies-list", tenant=SHOP, says=("do you have hoodies?",),
         must_say=("Essential Hoodie", "Harbour Hoodie", "Zip Hoodie"), tags=frozenset({"products", "list"})),
    Turn(id="shop-zip-price-plain", tenant=SHOP, says=("whats the price of the zip hoodie",),
         must_say=("Zip Hoodie", money(SHOP, _ZIP.variants[0].price_minor)), must_not_say=("doesn't come in",),
         tags=frozenset({"products", "price"})),
]

_CANVAS = product(SHOP, "Canvas Low Sneakers")
_CANVAS_45 = _CANVAS.variant(size="45", colour="White")
TURNS += [
    Turn(id="shop-colours-of-essential", tenant=SHOP, says=("what colours does the essential hoodie come in?",),
         must_say=("Essential Hoodie", *_ESSENTIAL.colours), must_not_say=("Harbour",),
         tags=frozenset({"products", "options"})),
    Turn(id="shop-sizes-of-jeans", tenant=SHOP, says=("what sizes do the straight leg jeans come in",),
         must_say=("Straight Leg Jeans", *_JEANS.sizes), must_not_say=("size guide",),
         tags=frozenset({"products", "options"})),
    Turn(id="shop-canvas-sneakers-45", tenant=SHOP, says=("the canvas sneakers in size 45?",),
         must_say=("Canvas Low Sneakers", "sold out"), must_not_say=("Suede", NO_OTHER_COUNT),
         tags=frozenset({"products", "word-left-out"})),
    Turn(id="shop-gift-wrapping-not-a-gift-card", tenant=SHOP, says=("do you do gift wrapping?",),
         must_not_say=("Digital Gift Card", NO_OTHER_COUNT), tags=frozenset({"products", "knowledge"})),
    Turn(id="shop-rain-jacket-yellow-xl", tenant=SHOP, says=("do u have the rain jacket in yellow xl",),
         must_say=("Packable Rain Jacket", "Yellow XL", "in stock"), must_not_say=("sold out",),
         tags=frozenset({"products", "synonym"})),
]
assert _CANVAS_45.stock == 0, "the canvas sneakers turn expects size 45 sold out"
