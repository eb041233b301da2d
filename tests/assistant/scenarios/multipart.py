"""Several questions in one message: each one answered, in one reply, checked against the data; a part
the data cannot answer says so (with a person offered) without hiding the others; a follow-up without
its own product ("what does it cost?") is about the product just asked; a product name with "and" or
"&" in it is one name, not two questions."""

from __future__ import annotations

from datetime import date

from tests.assistant.scenarios import Turn
from tests.assistant.scenarios.fixture_data import (
    CAFE_TUESDAY,
    SHOP_TUESDAY,
    SUNDAY,
    day_text,
    faq_opening,
    load_day,
    next_weekday,
    opening_ranges,
    orders,
    product,
    ranges_text,
)

SATURDAY = date(2026, 11, 28)
FRIDAY = date(2026, 11, 27)
TOMORROW = date(2026, 11, 25)

HARBOUR = product("shop", "Harbour Hoodie")
HARBOUR_M = HARBOUR.variant(size="M", colour="Blue")
HARBOUR_L = HARBOUR.variant(size="L", colour="Blue")
LATTE = product("cafe", "Latte")
TOAST = product("cafe", "Toast with Butter & Jam")
BRETON = product("shop", "Breton Striped Tee")
BRETON_S = next(v for v in BRETON.variants if v.size == "S")
ORDER = orders("shop")["TL-10412"]
DONT_KNOW = "I don't know that one"


def shop_hours(day: date) -> str:
    return ranges_text(opening_ranges("shop", day))


def cafe_hours(day: date) -> str:
    return ranges_text(opening_ranges("cafe", day))


def shop_sunday_sentence() -> str:
    """How the shop's next Sunday is named from the real today (the turns about real orders)."""
    today = load_day("shop")
    sunday = next_weekday(today, 6)
    if sunday == today:  # asked on the day itself: whether it is open right now
        return "We're closed right now"
    if (sunday - today).days == 1:
        return "We're closed tomorrow"
    return f"We're closed on {day_text(sunday)}"


assert HARBOUR_L.stock == 0 and HARBOUR_M.stock > 0 and BRETON_S.stock > 0, "the demo catalog changed"

TURNS = [
    Turn(id="multi-hoodie-stock-then-price-sold-out", tenant="shop",
         says=("is the blue hoodie in stock in L? what does it cost?",), now=SHOP_TUESDAY,
         # The customer asked the price too: it is given, with the variant said sold out (once).
         must_say=("Harbour Hoodie", "sold out", HARBOUR_L.price_text),
         # The variant asked for: "blue" is in the name the customer used ("the blue hoodie").
         must_say_one_of=((f"({HARBOUR_L.colour} {HARBOUR_L.size}) is sold out", f"({HARBOUR_L.size}) is sold out"),),
         must_not_say=(f"({HARBOUR_M.colour} {HARBOUR_M.size}) is in stock", f"({HARBOUR_M.stock} available)",
                       "Shipping within", DONT_KNOW)),
    Turn(id="multi-hoodie-stock-then-price", tenant="shop",
         says=("is the blue hoodie in stock in M? what does it cost?",), now=SHOP_TUESDAY,
         must_say=("Harbour Hoodie", "in stock", HARBOUR_M.price_text),
         must_not_say=("Shipping within", "sold out", DONT_KNOW)),
    Turn(id="multi-breton-then-how-much", tenant="shop",
         says=("is the breton striped tee in stock in S? how much?",), now=SHOP_TUESDAY,
         must_say=("Breton Striped Tee", BRETON_S.price_text), must_not_say=(DONT_KNOW, "Shipping within")),
    Turn(id="multi-gluten-free-and-wheelchair", tenant="cafe",
         says=("gluten-free cake, and is the café wheelchair accessible?",), now=CAFE_TUESDAY,
         must_say=(faq_opening("cafe", "Is the café wheelchair accessible?"),),
         must_say_one_of=((faq_opening("cafe", "Do you have gluten-free food?"), "Orange & Almond Cake"),),
         must_not_say=(DONT_KNOW,)),
    Turn(id="multi-open-sunday-and-order", tenant="shop",
         says=("are you open sunday and where is my order TL-10412",), now=SHOP_TUESDAY,
         must_say=(f"We're closed on {day_text(SUNDAY)}.", "e-mail address or phone number you used for order TL-10412"),
         must_not_say=(ORDER["tracking_number"],)),
    Turn(id="multi-open-sunday-and-order-then-email", tenant="shop",
         says=("are you open sunday and where is my order TL-10412", ORDER["email"]),
         must_say=("TL-10412 is shipped", ORDER["tracking_number"], "Expected delivery: tomorrow.")),
    Turn(id="multi-order-verified-and-tomorrow", tenant="shop",
         says=(f"where is my order TL-10412? {ORDER['email']}. also are you open sunday?",),
         must_say=("TL-10412 is shipped", "Expected delivery: tomorrow.", shop_sunday_sentence())),
    Turn(id="multi-oat-milk-and-dog", tenant="cafe", says=("do you have oat milk and can I bring my dog?",),
         now=CAFE_TUESDAY,
         must_say=(faq_opening("cafe", "Can I bring my dog?", 4),),
         must_say_one_of=((faq_opening("cafe", "Do you have oat milk? Does it cost extra?", 4), "Oat Milk"),),
         must_not_say=(DONT_KNOW,)),
    Turn(id="multi-wifi-and-fish-and-chips", tenant="cafe", says=("is there wifi? also do you do fish and chips?",),
         now=CAFE_TUESDAY, offers_person=True,
         must_say=(faq_opening("cafe", "What's the wifi password?", 4), DONT_KNOW, "do you do fish and chips"),
         must_not_say=('"fish"', '"chips"')),
    Turn(id="multi-bicycles-and-saturday", tenant="shop", says=("do you sell bicycles? and are you open on saturday?",),
         now=SHOP_TUESDAY, offers_person=True,
         must_say=(DONT_KNOW, f"On {day_text(SATURDAY)} we're open {shop_hours(SATURDAY)}."),
         must_not_say=("gift card",)),
    Turn(id="multi-order-and-a-person", tenant="shop", says=("where is my order TL-10412 and can i talk to a human",),
         now=SHOP_TUESDAY, offers_person=True,
         must_say=("order TL-10412", "I've asked someone from the team")),
    Turn(id="multi-latte-price-and-sunday", tenant="cafe", says=("how much is a latte and are you open on sunday?",),
         now=CAFE_TUESDAY,
         must_say=("Latte", min(LATTE.variants, key=lambda v: v.price_minor).price_text,
                   f"On {day_text(SUNDAY)} we're open {cafe_hours(SUNDAY)}.")),
    Turn(id="multi-vegan-and-parking", tenant="cafe", says=("hi! do you have vegan options? and is there parking?",),
         now=CAFE_TUESDAY,
         must_say=(faq_opening("cafe", "Do you have vegan options?", 4), faq_opening("cafe", "Is there parking?", 4)),
         must_not_say=("I'm Sunrise",)),
    Turn(id="multi-booking-and-high-chairs", tenant="cafe", says=("can i book a table and do you have high chairs",),
         now=CAFE_TUESDAY,
         must_say=(faq_opening("cafe", "Can I book a table?", 4), faq_opening("cafe", "Do you have high chairs?", 4))),
    Turn(id="multi-returns-and-delivery-time", tenant="shop",
         says=("what's your return policy and how long does delivery take?",), now=SHOP_TUESDAY,
         must_say=(faq_opening("shop", "What is your return policy?", 4),
                   faq_opening("shop", "How long does delivery take?", 4))),
    Turn(id="multi-uk-and-student-discount", tenant="shop",
         says=("do you ship to the uk? also do you have a student discount?",), now=SHOP_TUESDAY,
         must_say=(faq_opening("shop", "Do you ship to the UK? Will I pay customs?", 4),
                   faq_opening("shop", "Do you have a student discount?", 4))),
    Turn(id="multi-two-hours-questions", tenant="cafe",
         says=("are you open on sunday and what time do you close on friday?",), now=CAFE_TUESDAY,
         must_say=(f"On {day_text(SUNDAY)} we're open {cafe_hours(SUNDAY)}.",
                   f"On {day_text(FRIDAY)} we're open {cafe_hours(FRIDAY)}.")),
    Turn(id="multi-dutch-tomorrow-and-order", tenant="shop",
         says=("zijn jullie morgen open en waar is mijn bestelling TL-10414?",), now=SHOP_TUESDAY,
         must_say=(f"Morgen zijn we open {shop_hours(TOMORROW)}.", "e-mailadres of telefoonnummer",
                   "bestelling TL-10414")),
    Turn(id="multi-dutch-hours-and-unknown", tenant="shop",
         says=("zijn jullie zaterdag open? en verkopen jullie fietsen?",), now=SHOP_TUESDAY, offers_person=True,
         must_say=(f"Op {day_text(SATURDAY, 'nl')} zijn we open {shop_hours(SATURDAY)}.", "dat weet ik niet")),
    Turn(id="multi-product-name-with-and-is-one-question", tenant="cafe",
         says=("toast with butter and jam, how much?",), now=CAFE_TUESDAY,
         must_say=(TOAST.name, TOAST.variants[0].price_text), must_not_say=(DONT_KNOW, "About")),
    Turn(id="multi-fish-and-chips-is-one-question", tenant="cafe", says=("do you do fish and chips?",),
         now=CAFE_TUESDAY, offers_person=True, must_say_one_of=(("don't know", "can't find fish and chips"),),
         must_not_say=("About",)),
    Turn(id="multi-three-asks", tenant="cafe",
         says=("is there wifi? can i bring my dog? and are you open on sunday?",), now=CAFE_TUESDAY,
         must_say=(faq_opening("cafe", "What's the wifi password?", 4), faq_opening("cafe", "Can I bring my dog?", 4),
                   f"On {day_text(SUNDAY)} we're open {cafe_hours(SUNDAY)}.")),
    Turn(id="multi-greeting-and-thanks-around-one-question", tenant="shop",
         says=("hey! are you open tomorrow? thanks",), now=SHOP_TUESDAY,
         must_say=(f"Tomorrow we're open {shop_hours(TOMORROW)}.",),
         must_not_say=("I'm Threadline", "You're welcome", DONT_KNOW)),
    Turn(id="multi-statement-with-the-question", tenant="shop",
         says=("I ordered a hoodie last week. where is it?",), now=SHOP_TUESDAY,
         must_say=("What's your order number?",), must_not_say=(DONT_KNOW, "Harbour Hoodie:")),
]
