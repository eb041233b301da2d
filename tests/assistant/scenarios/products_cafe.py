"""The café's menu questions: prices (with extras and their sum), sizes, sold-out items, names that
contain colour words, and things it does not sell. A café never shows stock counts."""

from __future__ import annotations

from tests.assistant.scenarios import Turn
from tests.assistant.scenarios.fixture_data import Product, catalog, money, product, shows_stock_counts

CAFE = "cafe"
assert not shows_stock_counts(CAFE), "the café demo never shows stock counts"
NO_COUNT = " available)"


def _prices(item: Product) -> tuple[str, ...]:
    return tuple(money(CAFE, minor) for minor in sorted({v.price_minor for v in item.variants}))


_MENU = list(catalog(CAFE).values())

TURNS: list[Turn] = []
# Every item's price, asked the way people ask: all its sizes' prices, never a stock count.
for item in _MENU:
    if item.in_stock:
        TURNS.append(Turn(id=f"cafe-price-{item.sku.lower()}", tenant=CAFE,
                          says=(f"how much is the {item.name.lower()}?",),
                          must_say=(item.name, *_prices(item)), must_not_say=(NO_COUNT, "doesn't come in"),
                          tags=frozenset({"products", "price"})))
    else:
        TURNS.append(Turn(id=f"cafe-sold-out-{item.sku.lower()}", tenant=CAFE,
                          says=(f"do you have any {item.name.lower()} today?",),
                          must_say=(item.name, "sold out"), must_not_say=(NO_COUNT, "Yes,"),
                          tags=frozenset({"products", "sold-out"})))

_EXTRAS = [item for item in _MENU if item.kind == "extra"]
_SIZED_DRINKS = [item for item in _MENU if {v.size for v in item.variants} >= {"Regular", "Large"}
                 and item.category in ("Coffee", "Tea", "Hot drinks")]
# A sized drink with an extra: the drink's price, the extra's, and their sum.
for number, drink in enumerate(_SIZED_DRINKS):
    extra = _EXTRAS[number % 5]  # the drinks' extras: shot, oat, soy, almond, syrup
    size = ("Large", "Regular")[number % 2]
    base = drink.variant(size=size).price_minor
    add = extra.variants[0].price_minor
    TURNS.append(Turn(id=f"cafe-sum-{drink.sku.lower()}-{extra.sku.lower()}", tenant=CAFE,
                      says=(f"how much is a {size.lower()} {drink.name.lower()} with {extra.synonyms[0]}?",),
                      must_say=(f"{money(CAFE, base)} + {money(CAFE, add)}", f"= {money(CAFE, base + add)}"),
                      must_not_say=(NO_COUNT, "in stock"), tags=frozenset({"products", "extras", "sum"})))

_LATTE = product(CAFE, "Latte")
_OAT = product(CAFE, "Oat Milk")
_SHOT = product(CAFE, "Extra Espresso Shot")
_SYRUP = product(CAFE, "Syrup Shot")
_FLAT = product(CAFE, "Flat White")
_WHITE_WINE = product(CAFE, "House White Wine")
_CAPP = product(CAFE, "Cappuccino")
_ESPRESSO = product(CAFE, "Espresso")
_LARGE_LATTE = _LATTE.variant(size="Large").price_minor
_OAT_PRICE = _OAT.variants[0].price_minor

# The failures issue #18 saw, each a turn.
TURNS += [
    Turn(id="cafe-issue-flat-white", tenant=CAFE, says=("how much is a flat white?",),
         must_say=("Flat White", money(CAFE, _FLAT.variants[0].price_minor)),
         must_not_say=("doesn't come in", "It comes in", NO_COUNT), tags=frozenset({"products", "issue"})),
    Turn(id="cafe-issue-white-wine", tenant=CAFE, says=("do you sell white wine?",),
         must_say=("House White Wine", money(CAFE, _WHITE_WINE.variants[0].price_minor)),
         must_not_say=("doesn't come in", NO_COUNT), tags=frozenset({"products", "issue"})),
    Turn(id="cafe-issue-large-latte-oat", tenant=CAFE, says=("how much is a large latte with oat milk?",),
         must_say=(f"{money(CAFE, _LARGE_LATTE)} + {money(CAFE, _OAT_PRICE)} Oat Milk",
                   f"= {money(CAFE, _LARGE_LATTE + _OAT_PRICE)}"),
         must_not_say=(NO_COUNT, "in stock", str(_LATTE.variant(size="Large").stock)),
         tags=frozenset({"products", "issue", "extras"})),
    Turn(id="cafe-issue-bicycles", tenant=CAFE, says=("do you sell bicycles?",), offers_person=True,
         must_say_one_of=(("don't think we sell", "can't find"),), must_not_say=("gift card", "Gift Card"),
         tags=frozenset({"products", "issue", "unknown"})),
]

# More of customers' own words.
_CAPP_LARGE = _CAPP.variant(size="Large").price_minor
_SHOT_PRICE = _SHOT.variants[0].price_minor
_SYRUP_PRICE = _SYRUP.variants[0].price_minor
TURNS += [
    Turn(id="cafe-flat-white-typo", tenant=CAFE, says=("flat whit pls, how much",),
         must_say=("Flat White", money(CAFE, _FLAT.variants[0].price_minor)), must_not_say=("doesn't come in",),
         tags=frozenset({"products", "typo"})),
    Turn(id="cafe-fw-large", tenant=CAFE, says=("can i get a large flat white?",),
         must_say=("Flat White", "one size"), must_not_say=(NO_COUNT,), tags=frozenset({"products", "missing"})),
    Turn(id="cafe-small-latte", tenant=CAFE, says=("how much for a small latte",),
         must_say=("Latte", "doesn't come in", "Regular", "Large"), must_not_say=(NO_COUNT,),
         tags=frozenset({"products", "missing"})),
    Turn(id="cafe-latte-both-sizes", tenant=CAFE, says=("latte price?",),
         must_say=tuple(money(CAFE, v.price_minor) for v in _LATTE.variants), must_not_say=(NO_COUNT, "Chai"),
         tags=frozenset({"products", "price"})),
    Turn(id="cafe-double-espresso", tenant=CAFE, says=("double espresso how much",),
         must_say=("Espresso", money(CAFE, _ESPRESSO.variant(size="Double").price_minor)),
         must_not_say=(money(CAFE, _ESPRESSO.variant(size="Single").price_minor), NO_COUNT),
         tags=frozenset({"products", "size"})),
    Turn(id="cafe-two-extras", tenant=CAFE, says=("large cappuccino with an extra shot and vanilla syrup, how much?",),
         must_say=(money(CAFE, _CAPP_LARGE), money(CAFE, _SHOT_PRICE), money(CAFE, _SYRUP_PRICE),
                   f"= {money(CAFE, _CAPP_LARGE + _SHOT_PRICE + _SYRUP_PRICE)}"),
         must_not_say=(NO_COUNT,), tags=frozenset({"products", "extras", "sum"})),
    Turn(id="cafe-oat-milk-alone", tenant=CAFE, says=("how much is oat milk?",),
         must_say=("Oat Milk", money(CAFE, _OAT_PRICE)), must_not_say=(NO_COUNT, " = "),
         tags=frozenset({"products", "extras"})),
    Turn(id="cafe-kombucha-left", tenant=CAFE, says=("any kombucha left?",),
         must_say=("Bristol Kombucha", "sold out"), must_not_say=(NO_COUNT, "Yes,"),
         tags=frozenset({"products", "sold-out"})),
    Turn(id="cafe-gf-cake", tenant=CAFE, says=("do you have gluten free cake?",),
         must_say=("Orange & Almond Cake", "sold out"), must_not_say=(NO_COUNT,),
         tags=frozenset({"products", "sold-out"})),
    Turn(id="cafe-red-wine-price", tenant=CAFE, says=("glass of red how much",),
         must_say=("House Red Wine", money(CAFE, product(CAFE, "House Red Wine").variants[0].price_minor)),
         must_not_say=("doesn't come in", NO_COUNT), tags=frozenset({"products", "colour-in-name"})),
    Turn(id="cafe-green-tea", tenant=CAFE, says=("do you do green tea?",),
         must_say=("Sencha Green Tea",), must_not_say=("doesn't come in", NO_COUNT),
         tags=frozenset({"products", "colour-in-name"})),
    Turn(id="cafe-bike-unknown", tenant=CAFE, says=("do you sell surfboards",), offers_person=True,
         must_not_say=("gift card", "Gift Card"), tags=frozenset({"products", "unknown"})),
]

TURNS += [
    Turn(id="cafe-porridge-vegan-is-not-a-muffin", tenant=CAFE, says=("is the porridge vegan?",),
         must_not_say=("The Vegan Blueberry Muffin is", NO_COUNT), tags=frozenset({"products", "knowledge"})),
    Turn(id="cafe-oat-in-my-latte", tenant=CAFE, says=("can i get oat milk in my latte?",),
         must_say=tuple(f"{money(CAFE, v.price_minor)} + {money(CAFE, _OAT_PRICE)}" for v in _LATTE.variants),
         must_not_say=(NO_COUNT,), tags=frozenset({"products", "extras"})),
    Turn(id="cafe-flat-white-oat", tenant=CAFE, says=("flat white with oat milk",),
         must_say=(f"= {money(CAFE, _FLAT.variants[0].price_minor + _OAT_PRICE)}",),
         must_not_say=("doesn't come in", NO_COUNT), tags=frozenset({"products", "extras", "issue"})),
]
