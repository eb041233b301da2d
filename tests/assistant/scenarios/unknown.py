"""Knowing when it does not know: a question the business's data does not answer gets an honest
"I don't know" and a person offered, not the FAQ that scored nearest; the questions it can answer
still get their answer."""

from __future__ import annotations

from tests.assistant.scenarios import Turn
from tests.assistant.scenarios.fixture_data import CAFE_TUESDAY, SHOP_TUESDAY, faq_opening, profile

DONT_KNOW = "I don't know that one"

SHOP_FAQ_WORDS = tuple(faq_opening("shop", question, 4) for question in (
    "Do you ship worldwide?", "How much is shipping?", "Do you sell gift cards?", "How long does delivery take?",
    "Do you have a shop? Can I pick up my order?"))
CAFE_FAQ_WORDS = tuple(faq_opening("cafe", question, 4) for question in (
    "Can I bring my dog?", "Can I pay by card or cash?", "Do you deliver? Are you on Deliveroo?",
    "Do you have vegan options?"))


def shop_unknown(turn_id: str, text: str) -> Turn:
    return Turn(id=turn_id, tenant="shop", says=(text,), now=SHOP_TUESDAY, offers_person=True,
                must_say=(DONT_KNOW,), must_not_say=SHOP_FAQ_WORDS)


def cafe_unknown(turn_id: str, text: str) -> Turn:
    return Turn(id=turn_id, tenant="cafe", says=(text,), now=CAFE_TUESDAY, offers_person=True,
                must_say=(DONT_KNOW,), must_not_say=CAFE_FAQ_WORDS)


def not_sold(turn: Turn, thing: str) -> Turn:
    """'do you sell X?' about something not in the catalog may also be answered, as honestly, by
    saying the catalog has no X (the product answers' wording), with the same person offered."""
    return Turn(id=turn.id, tenant=turn.tenant, says=turn.says, now=turn.now, offers_person=True,
                must_say_one_of=((DONT_KNOW, f"I can't find {thing} among our products"),),
                must_not_say=turn.must_not_say)


TURNS = [
    shop_unknown("unknown-deliver-to-mars", "do you deliver to mars?"),
    shop_unknown("unknown-dog-at-the-shop", "can I bring my dog?"),
    not_sold(shop_unknown("unknown-bicycles", "do you sell bicycles?"), "bicycles"),
    shop_unknown("unknown-skateboards-slang", "do u guys sell skateboards"),
    shop_unknown("unknown-drone-delivery", "do you deliver by drone"),
    shop_unknown("unknown-opinion", "whats ur opinion on the election"),
    shop_unknown("unknown-dentist", "can you recommend a good dentist nearby"),
    cafe_unknown("unknown-capital", "what's the capital of mongolia"),
    not_sold(cafe_unknown("unknown-cigarettes", "do you sell cigarettes?"), "cigarettes"),
    cafe_unknown("unknown-horse", "can i bring my horse"),
    not_sold(cafe_unknown("unknown-swimming-pool", "do you have a swimming pool"), "swimming pool"),
    not_sold(cafe_unknown("unknown-fish-and-chips", "do you do fish and chips?"), "fish and chips"),
    Turn(id="unknown-twice-hands-over", tenant="shop", says=("do you sell bicycles?", "do you sell skateboards?"),
         now=SHOP_TUESDAY, offers_person=True, must_say=("asked someone from the team",),
         must_not_say=SHOP_FAQ_WORDS),
    Turn(id="unknown-part-keeps-the-known-part", tenant="cafe",
         says=("can i bring my horse? and is there wifi?",), now=CAFE_TUESDAY, offers_person=True,
         must_say=(DONT_KNOW, faq_opening("cafe", "What's the wifi password?", 4)),
         must_not_say=(faq_opening("cafe", "Can I bring my dog?", 4),)),
    Turn(id="known-dog-at-the-cafe", tenant="cafe", says=("can i bring my dog??",), now=CAFE_TUESDAY,
         offers_person=False, must_say=(faq_opening("cafe", "Can I bring my dog?", 4),), must_not_say=(DONT_KNOW,)),
    Turn(id="known-wifi", tenant="cafe", says=("wats the wifi pasword",), now=CAFE_TUESDAY, offers_person=False,
         must_say=(faq_opening("cafe", "What's the wifi password?", 4),), must_not_say=(DONT_KNOW,)),
    Turn(id="known-shipping-cost", tenant="shop", says=("how much is shipping?",), now=SHOP_TUESDAY,
         offers_person=False, must_say=(faq_opening("shop", "How much is shipping?", 4),),
         must_not_say=(DONT_KNOW,)),
    Turn(id="known-toilets-in-other-words", tenant="cafe", says=("is there a loo",), now=CAFE_TUESDAY,
         offers_person=False, must_say=(faq_opening("cafe", "Do you have toilets?", 4),), must_not_say=(DONT_KNOW,)),
]

# Where the business is and how to reach it come from its profile when no FAQ says it.
TURNS += [
    Turn(id="contact-cafe-address", tenant="cafe", says=("where are you?",), must_say=(profile("cafe")["address"],),
         must_not_say=("don't know",)),
    Turn(id="contact-cafe-address-typed", tenant="cafe", says=("whats ur address",),
         must_say=(profile("cafe")["address"],)),
    Turn(id="contact-shop-email", tenant="shop", says=("what's your email address?",),
         must_say=(profile("shop")["email"],)),
]
