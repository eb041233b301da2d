"""Dutch product questions at the shop: the same catalog, Dutch colour and size words, Dutch answers."""

from __future__ import annotations

from tests.assistant.scenarios import Turn
from tests.assistant.scenarios.fixture_data import money, product, shows_stock_counts

SHOP = "shop"
COUNTS = shows_stock_counts(SHOP)
NO_OTHER_COUNT = " beschikbaar)"

_ZIP = product(SHOP, "Zip Hoodie")
_ESSENTIAL = product(SHOP, "Essential Hoodie")
_JEANS = product(SHOP, "Straight Leg Jeans")
_TEE = product(SHOP, "Organic Cotton Tee")
_LONG = product(SHOP, "Long Sleeve Tee")
_BLACK_M = _ESSENTIAL.variant(size="M", colour="Black")
_NAVY_M = _ESSENTIAL.variant(size="M", colour="Navy")
_WHITE_L = _TEE.variant(size="L", colour="White")
_BLACK_L_TEE = _TEE.variant(size="L", colour="Black")

TURNS = [
    Turn(id="nl-issue-zip-hoodie-price", tenant=SHOP, says=("hoeveel kost de Zip Hoodie?",),
         must_say=("Zip Hoodie", "kost", money(SHOP, _ZIP.variants[0].price_minor)),
         must_not_say=("Harbour",), tags=frozenset({"products", "nl", "issue"})),
    Turn(id="nl-essential-zwart-m", tenant=SHOP, says=("hebben jullie de essential hoodie in zwart, maat M?",),
         must_say=("Essential Hoodie", "Black M", "op voorraad", money(SHOP, _BLACK_M.price_minor),
                   *((f"({_BLACK_M.stock} beschikbaar)",) if COUNTS else ())),
         must_not_say=("uitverkocht",), tags=frozenset({"products", "nl"})),
    Turn(id="nl-essential-donkerblauw-m", tenant=SHOP, says=("is de essential hoodie in donkerblauw maat m nog op voorraad",),
         must_say=("Essential Hoodie", "Navy M", "uitverkocht", "Black M"), must_not_say=(NO_OTHER_COUNT,),
         tags=frozenset({"products", "nl", "sold-out"})),
    Turn(id="nl-essential-rood", tenant=SHOP, says=("hebben jullie de essential hoodie in het rood?",),
         must_say=("Essential Hoodie", "niet in", "Black", "Navy"), must_not_say=("op voorraad",),
         tags=frozenset({"products", "nl", "missing"})),
    Turn(id="nl-jeans-w36", tenant=SHOP, says=("straight leg jeans in maat 36?",),
         must_say=("Straight Leg Jeans", "W36", "uitverkocht"), must_not_say=(NO_OTHER_COUNT,),
         tags=frozenset({"products", "nl", "sold-out"})),
    Turn(id="nl-tee-wit-groot", tenant=SHOP, says=("organic cotton tee wit, maat L, hoeveel kost die?",),
         must_say=("Organic Cotton Tee", money(SHOP, _WHITE_L.price_minor)), must_not_say=("uitverkocht",),
         tags=frozenset({"products", "nl", "price"})),
    Turn(id="nl-tee-zwart-l", tenant=SHOP, says=("hebben jullie de organic cotton tee in zwart L",),
         must_say=("Organic Cotton Tee", "uitverkocht", "White L"), must_not_say=(NO_OTHER_COUNT,),
         tags=frozenset({"products", "nl", "sold-out"})),
    Turn(id="nl-long-sleeve-havermout-s", tenant=SHOP, says=("long sleeve tee in havermout maat S?",),
         must_say=("Long Sleeve Tee", "Oat S", "uitverkocht"), must_not_say=(NO_OTHER_COUNT,),
         tags=frozenset({"products", "nl", "sold-out"})),
    Turn(id="nl-spijkerbroek-price", tenant=SHOP, says=("wat kost een spijkerbroek?",),
         must_say=("Straight Leg Jeans", money(SHOP, _JEANS.variants[0].price_minor)),
         tags=frozenset({"products", "nl", "synonym"})),
    Turn(id="nl-fietsen", tenant=SHOP, says=("verkopen jullie fietsen?",), offers_person=True,
         must_say=("fietsen",), must_not_say=("cadeaubon", "gift card"), tags=frozenset({"products", "nl", "unknown"})),
]

_BRETON = product(SHOP, "Breton Striped Tee")
_RAIN = product(SHOP, "Packable Rain Jacket")
_RAIN_YELLOW_M = _RAIN.variant(size="M", colour="Yellow")
_CHINOS = product(SHOP, "Relaxed Chinos")
TURNS += [
    Turn(id="nl-breton-xxs", tenant=SHOP, says=("hebben jullie de breton tee in maat xxs?",),
         must_say=("Breton Striped Tee", "niet in maat XXS", *_BRETON.sizes), must_not_say=("op voorraad",),
         tags=frozenset({"products", "nl", "missing"})),
    Turn(id="nl-regenjas-geel-m", tenant=SHOP, says=("is de regenjas in het geel maat M op voorraad?",),
         must_say=("Packable Rain Jacket", "Yellow M", "op voorraad", money(SHOP, _RAIN_YELLOW_M.price_minor),
                   *((f"({_RAIN_YELLOW_M.stock} beschikbaar)",) if COUNTS else ())),
         must_not_say=("uitverkocht",), tags=frozenset({"products", "nl", "synonym"})),
    Turn(id="nl-welke-kleuren-chinos", tenant=SHOP, says=("in welke kleuren zijn de chinos er?",),
         must_say=("Relaxed Chinos", *_CHINOS.colours), tags=frozenset({"products", "nl", "options"})),
    Turn(id="nl-zip-hoodie-groen-l", tenant=SHOP, says=("zip hoodie groen maat L nog beschikbaar?",),
         must_say=("Zip Hoodie", "Forest Green L", "uitverkocht", "Grey Melange L"), must_not_say=(NO_OTHER_COUNT,),
         tags=frozenset({"products", "nl", "sold-out"})),
    Turn(id="nl-hoodies-lijst", tenant=SHOP, says=("hebben jullie hoodies?",),
         must_say=("Essential Hoodie", "Harbour Hoodie", "Zip Hoodie"), tags=frozenset({"products", "nl", "list"})),
]
