"""Languages: a customer writing in a language the business lists (the shop: English and Dutch) is
answered in it, for products, orders, hours and knowledge; a language the business does not list
(German or French to the café, Spanish to the shop, even Dutch to the café) is answered in the
business's own language with a person offered, never with the FAQ that happened to score best. A
product's name or a one-word reply does not switch the language."""

from __future__ import annotations

from tests.assistant.scenarios import Turn
from tests.assistant.scenarios.fixture_data import (
    CAFE_TUESDAY,
    SHOP_TUESDAY,
    SUNDAY,
    day_text,
    faq_opening,
    opening_ranges,
    orders,
    product,
    profile,
    ranges_text,
)

ORDER = orders("shop")["TL-10412"]
HARBOUR = product("shop", "Harbour Hoodie")
HARBOUR_M = HARBOUR.variant(size="M", colour="Blue")
ZIP = product("shop", "Zip Hoodie")
BRETON = product("shop", "Breton Striped Tee")
PAIN = product("cafe", "Pain au Chocolat")
ONLY_ENGLISH = "I can only answer in English here"
ONLY_SHOP_LANGUAGES = "I can only answer in English and Dutch here"
assert profile("shop")["languages"] == ["en", "nl"] and profile("cafe")["languages"] == ["en"]

# What answers in the wrong language or from the wrong FAQ would contain.
CAFE_FAQ_WORDS = (faq_opening("cafe", "Do you have oat milk? Does it cost extra?", 4),
                  faq_opening("cafe", "Can I bring my dog?", 4), faq_opening("cafe", "Are you open on Sundays?", 4))
DUTCH_WORDS = ("zijn we", "Dit staat", "bestelling", "Sorry, dat")

TURNS = [
    Turn(id="lang-dutch-sunday", tenant="shop", says=("zijn jullie open op zondag?",), now=SHOP_TUESDAY,
         must_say=(f"Op {day_text(SUNDAY, 'nl')} zijn we gesloten.",), must_not_say=("closed",)),
    # Customers' own words (lower case, "heb je", "maat", a product's short name), not the catalog's.
    Turn(id="lang-dutch-product-stock", tenant="shop", says=("heb je de harbour hoodie in maat M?",),
         now=SHOP_TUESDAY, must_say=("Harbour Hoodie", "op voorraad", HARBOUR_M.price_text),
         must_not_say=("in stock", "sold out", "uitverkocht", *(f"({v.colour} {v.size})" for v in HARBOUR.variants
                                                                 if v != HARBOUR_M))),
    Turn(id="lang-dutch-product-price", tenant="shop", says=("hoeveel kost de zip hoodie?",), now=SHOP_TUESDAY,
         must_say=("Zip Hoodie", *{v.price_text for v in ZIP.variants}),
         must_not_say=("Harbour", "in stock", "is €", "in het Engels")),
    Turn(id="lang-dutch-product-list", tenant="shop", says=("is de breton tee nog op voorraad?",),
         now=SHOP_TUESDAY,
         must_say=("Breton Striped Tee", "op voorraad", min(BRETON.variants, key=lambda v: v.price_minor).price_text),
         must_not_say=("in stock", "in het Engels")),
    Turn(id="lang-dutch-order", tenant="shop", says=(f"waar is mijn bestelling TL-10412? {ORDER['email']}",),
         must_say=("Bestelling TL-10412 is verzonden", ORDER["tracking_number"], "Verwachte levering: morgen."),
         must_not_say=("is shipped", "Expected delivery")),
    Turn(id="lang-dutch-order-over-three-messages", tenant="shop",
         says=("waar is mijn bestelling?", "TL-10412", ORDER["email"]),
         must_say=("Bestelling TL-10412 is verzonden", "Verwachte levering: morgen."),
         must_not_say=("is shipped",)),
    Turn(id="lang-dutch-knowledge-shipping", tenant="shop", says=("wat zijn de verzendkosten?",), now=SHOP_TUESDAY,
         must_say=("in het Engels", faq_opening("shop", "How much is shipping?", 4))),
    Turn(id="lang-dutch-knowledge-returns", tenant="shop", says=("kan ik iets retourneren?",), now=SHOP_TUESDAY,
         must_say=("in het Engels", faq_opening("shop", "What is your return policy?", 4))),
    Turn(id="lang-dutch-knowledge-student", tenant="shop", says=("hebben jullie een studentenkorting?",),
         now=SHOP_TUESDAY,
         must_say=("in het Engels", faq_opening("shop", "Do you have a student discount?", 4))),
    Turn(id="lang-dutch-greeting", tenant="shop", says=("hoi",), now=SHOP_TUESDAY,
         must_say=("Ik ben de assistent van Threadline",), must_not_say=("I'm ",)),
    Turn(id="lang-dutch-thanks", tenant="shop", says=("hoi", "bedankt!"), now=SHOP_TUESDAY,
         must_say=("Graag gedaan",)),
    Turn(id="lang-dutch-person", tenant="shop", says=("ik wil met een medewerker praten",), now=SHOP_TUESDAY,
         offers_person=True, must_say=("Ik heb iemand van het team gevraagd",)),
    Turn(id="lang-dutch-unknown", tenant="shop", says=("kan ik mijn hond meenemen?",), now=SHOP_TUESDAY,
         offers_person=True, must_say=("dat weet ik niet",)),
    Turn(id="lang-dutch-conversation-keeps-dutch-on-a-size", tenant="shop",
         says=("zijn jullie open op zondag?", "M"), now=SHOP_TUESDAY,
         must_not_say=("I don't know", "Sorry, I can only")),
    Turn(id="lang-spanish-to-the-shop", tenant="shop", says=("¿tienen la sudadera azul en talla M?",),
         now=SHOP_TUESDAY, offers_person=True, must_say=(ONLY_SHOP_LANGUAGES,),
         must_not_say=("Harbour", "Hoodie", *DUTCH_WORDS)),
    Turn(id="lang-spanish-order-words", tenant="shop", says=("hola, ¿dónde está mi pedido?",), now=SHOP_TUESDAY,
         offers_person=True, must_say=(ONLY_SHOP_LANGUAGES,)),
    Turn(id="lang-german-hours-to-the-cafe", tenant="cafe", says=("habt ihr heute geöffnet?",), now=CAFE_TUESDAY,
         offers_person=True, must_say=(ONLY_ENGLISH,), must_not_say=CAFE_FAQ_WORDS),
    Turn(id="lang-german-dog-to-the-cafe", tenant="cafe", says=("kann ich meinen Hund mitbringen?",),
         now=CAFE_TUESDAY, offers_person=True, must_say=(ONLY_ENGLISH,), must_not_say=CAFE_FAQ_WORDS),
    Turn(id="lang-french-oat-milk-to-the-cafe", tenant="cafe", says=("est-ce que vous avez du lait d'avoine?",),
         now=CAFE_TUESDAY, offers_person=True, must_say=(ONLY_ENGLISH,), must_not_say=CAFE_FAQ_WORDS),
    Turn(id="lang-dutch-to-the-english-only-cafe", tenant="cafe", says=("zijn jullie open op zondag?",),
         now=CAFE_TUESDAY, offers_person=True, must_say=(ONLY_ENGLISH,),
         must_not_say=(*DUTCH_WORDS, *CAFE_FAQ_WORDS)),
    Turn(id="lang-german-order-with-number-and-email", tenant="shop",
         says=(f"wo ist meine Bestellung TL-10412? {ORDER['email']}",),
         must_say=("TL-10412 is shipped", ORDER["tracking_number"]), must_not_say=DUTCH_WORDS),
    Turn(id="lang-french-named-product-is-not-french", tenant="cafe", says=("pain au chocolat?",), now=CAFE_TUESDAY,
         must_say=(PAIN.name, PAIN.variants[0].price_text), must_not_say=("I can only answer",)),
    Turn(id="lang-english-no-thanks-is-not-spanish", tenant="shop", says=("no thanks",), now=SHOP_TUESDAY,
         must_say=("Thanks for chatting",), must_not_say=("I can only answer",)),
    Turn(id="lang-english-with-product-name", tenant="shop", says=("is the Breton Striped Tee in stock in S?",),
         now=SHOP_TUESDAY, must_say=("Breton Striped Tee", "in stock"), must_not_say=("op voorraad",)),
    Turn(id="lang-hallo-to-the-english-only-cafe-is-greeted", tenant="cafe", says=("hallo!",), now=CAFE_TUESDAY,
         must_say=(f"I'm {profile('cafe')['name']}'s assistant",), must_not_say=("I can only answer", "Ik ben")),
    Turn(id="lang-english-hours-stay-english", tenant="cafe", says=("open sunday?",), now=CAFE_TUESDAY,
         must_say=(f"On {day_text(SUNDAY)} we're open {ranges_text(opening_ranges('cafe', SUNDAY))}.",),
         must_not_say=("I can only answer",)),
]
