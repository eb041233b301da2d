"""Checked facts: figures in an answer must come from the turn's tool results."""

from __future__ import annotations

import dataclasses
from datetime import date, time
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chat.assistant.factcheck import (
    ClaimKind,
    FactSet,
    Money,
    SentenceGate,
    business_fact_base,
    check_answer,
    extract_claims,
    split_sentences,
    supported_facts,
)

# Shaped like the commerce selectors' answers (catalog search, order lookup, opening hours) and a
# knowledge-base passage.
CATALOG = {
    "query": "harbour hoodie", "found": True,
    "matches": [{
        "sku": "HH-1", "name": "Harbour Hoodie", "currency": "EUR", "price_from_minor": 5995,
        "price_from": "59.95 EUR", "available": True,
        "variants": [
            {"sku": "HH-1-M", "size": "M", "stock": 2, "available": True, "price_minor": 5995, "currency": "EUR"},
            {"sku": "HH-1-L", "size": "L", "stock": 0, "available": False, "price_minor": 5995, "currency": "EUR"},
        ],
    }],
}
ORDER = {
    "found": True,
    "order": {
        "number": "TL-10421", "status": "shipped", "status_label": "Shipped", "currency": "GBP",
        "placed_at": "2026-11-20T14:03:00+00:00", "total": "65.90 GBP", "total_minor": 6590,
        "estimated_delivery": "2026-11-27",
        "history": [{"status": "paid", "at": "2026-11-20T14:05:00+00:00"},
                    {"status": "shipped", "at": "2026-11-23T10:00:00+00:00"}],
    },
}
HOURS = {
    "date": "2026-11-27", "timezone": "Europe/Amsterdam", "closed": False,
    "ranges": [{"opens": "09:00", "closes": "17:30", "starts_at": "2026-11-27T09:00:00+01:00",
                "ends_at": "2026-11-27T17:30:00+01:00"}],
}
KNOWLEDGE = {"results": [{"title": "Shipping", "text": "Free shipping on orders over €50. Returns within 30 days."}]}


@pytest.fixture
def facts() -> FactSet:
    return supported_facts([CATALOG, ORDER, HOURS, KNOWLEDGE])


def unsupported_texts(answer: str, facts: FactSet) -> list[str]:
    return [claim.text for claim in check_answer(answer, facts).unsupported]


# --- the answer's figures -------------------------------------------------------------------------

@pytest.mark.parametrize(("written", "amount", "currencies"), [
    ("€59.95", "59.95", {"EUR"}),
    ("59,95 €", "59.95", {"EUR"}),
    ("EUR 59.95", "59.95", {"EUR"}),
    ("59.95 euros", "59.95", {"EUR"}),
    ("£3.40", "3.40", {"GBP"}),
    ("3.40 GBP", "3.40", {"GBP"}),
    ("50p", "0.50", {"GBP"}),
    ("1.299,00 €", "1299", {"EUR"}),
    ("1,299.00 USD", "1299", {"USD"}),
    ("CHF 12.50", "12.50", {"CHF"}),
    ("12,- €", "12", {"EUR"}),
])
def test_money_is_read_in_its_many_spellings(written: str, amount: str, currencies: set[str]) -> None:
    claims = extract_claims(f"The price is {written} today.")

    assert [claim.kind for claim in claims] == [ClaimKind.MONEY]
    assert claims[0].text == written
    assert claims[0].value == Money(amount=Decimal(amount), currencies=frozenset(currencies))


def test_dollar_sign_allows_any_dollar_currency() -> None:
    money = extract_claims("It is $5.")[0].value
    assert isinstance(money, Money) and {"USD", "CAD", "AUD"} <= money.currencies and money.amount == 5


@pytest.mark.parametrize(("written", "expected"), [
    ("09:00", [time(9, 0)]), ("9am", [time(9, 0)]), ("9:30 pm", [time(21, 30)]), ("5.30pm", [time(17, 30)]),
    ("9 a.m.", [time(9, 0)]), ("17h", [time(17, 0)]), ("17h30", [time(17, 30)]), ("noon", [time(12, 0)]),
    ("midnight", [time(0, 0)]), ("12am", [time(0, 0)]), ("9am-5pm", [time(9, 0), time(17, 0)]),
    ("9-5pm", [time(9, 0), time(17, 0)]), ("10:00–16:00", [time(10, 0), time(16, 0)]),
])
def test_times_are_read_in_12_and_24_hour_forms(written: str, expected: list[time]) -> None:
    claims = extract_claims(f"We open at {written} on weekdays.")

    assert [claim.value for claim in claims if claim.kind is ClaimKind.TIME] == expected


@pytest.mark.parametrize("written", [
    "2026-11-27", "27 November", "November 27th", "Nov 27", "27/11", "27.11.2026", "Friday 27th",
    "Friday, 27 November 2026", "the 27th of November", "11/27/2026",
])
def test_dates_are_read_in_their_usual_forms(written: str) -> None:
    claims = extract_claims(f"It should arrive on {written} at the latest.")

    dates = [claim for claim in claims if claim.kind is ClaimKind.DATE]
    assert len(dates) == 1
    assert any(candidate.day == 27 for candidate in dates[0].value)  # type: ignore[union-attr]


@pytest.mark.parametrize(("answer", "count"), [
    ("Only 3 left!", 3), ("We have 12 in stock.", 12), ("There are only 2 in M.", 2), ("Just two left in L.", 2),
    ("We still have 5 units available.", 5),
])
def test_stock_levels_are_read(answer: str, count: int) -> None:
    assert [claim.value for claim in extract_claims(answer) if claim.kind is ClaimKind.STOCK] == [count]


def test_order_statuses_and_percentages_are_read() -> None:
    claims = extract_claims("Your order TL-10421 has been shipped. It isn't delivered yet. You get 20% off.")

    statuses = [(claim.value.status, claim.value.negated) for claim in claims  # type: ignore[union-attr]
                if claim.kind is ClaimKind.STATUS]
    assert statuses == [("shipped", False), ("delivered", True)]
    assert [claim.value for claim in claims if claim.kind is ClaimKind.PERCENT] == [Decimal(20)]


@pytest.mark.parametrize(("answer", "status"), [
    ("Sorry, it is no longer available.", "out_of_stock"), ("It is SOLD OUT.", "out_of_stock"),
    ("Good news: it is in stock.", "in_stock"), ("It's on its way!", "in_transit"),
])
def test_stock_and_order_statuses_without_digits_are_read(answer: str, status: str) -> None:
    claims = extract_claims(answer)

    assert [(claim.kind, claim.value.status) for claim in claims] == [(ClaimKind.STATUS, status)]  # type: ignore[union-attr]


@pytest.mark.parametrize("answer", ["Your order has been ſhipped.", "YOUR ORDER HAS BEEN SHİPPED.",
                                    "We have ſeven left."])
def test_letters_the_patterns_fold_to_ascii_are_read_not_crashed_on(answer: str) -> None:
    # Python's IGNORECASE matches "ſ" as "s" and "İ" as "i", but they do not lower-case to the
    # words the values are looked up by: this was a KeyError in the middle of a streamed answer.
    claims = extract_claims(answer)

    assert [claim.kind for claim in claims] == [ClaimKind.STOCK if "left" in answer else ClaimKind.STATUS]
    assert getattr(claims[0].value, "status", claims[0].value) in ("shipped", 7)


@pytest.mark.parametrize("plain", [
    "I would take size 38 for you.",
    "Your order is linked to your e-mail address.",
    "1. Open the page.\n2. Choose size M.\n3. Pay at checkout.",
    "If it was delivered, let us know.",
    "Has it been shipped?",
    "You may 5 times return nothing, I'm 100% sure.",
    "Let me check whether it is in stock.",
    "How can I help you today?",
    "Our terrace has twelve tables and we open in spring.",
])
def test_things_that_are_not_claims_are_not_flagged(plain: str) -> None:
    assert extract_claims(plain) == []


@pytest.mark.parametrize(("written", "kinds"), [
    # Contact details, durations and counts are what a customer acts on: each is a claim now.
    ("Call us on +44 20 7946 0958, we are here 24/7.", [ClaimKind.PHONE]),
    ("Orders are usually shipped within 2 days.", [ClaimKind.COUNT]),
    ("It comes in 3 available colours and 2 sizes.", [ClaimKind.COUNT, ClaimKind.COUNT]),
    ("Delivery takes 2 to 3 working days; we reply within 24 hours.", [ClaimKind.COUNT, ClaimKind.COUNT]),
    ("Track it at https://track.example.com/TL-10421?date=2026-11-23&t=10:00 or mail help@shop-2026.example.",
     [ClaimKind.URL, ClaimKind.EMAIL]),
    ("Visit 18 Lark Street, Bristol BS6 5QZ.", [ClaimKind.ADDRESS, ClaimKind.ADDRESS]),
    ('It is 12-26" in height and weighs 2 kg.', [ClaimKind.MEASUREMENT, ClaimKind.MEASUREMENT]),
    ("That was in the 2014 season.", [ClaimKind.YEAR]),
    ("It will arrive tomorrow.", [ClaimKind.RELATIVE_DAY]),
    ("A latte is £3.80 + 40p oat milk = £4.20.", [ClaimKind.SUM]),
])
def test_contact_details_quantities_and_sums_are_claims(written: str, kinds: list[ClaimKind]) -> None:
    assert [claim.kind for claim in extract_claims(written)] == kinds


def test_sentences_split_on_ends_not_on_decimals_abbreviations_or_list_numbers() -> None:
    text = "It costs €59.95. Open 9 a.m. to 5 p.m. daily, approx. 3 km away.\n1. First step.\nDone!"

    assert [text[start:end] for start, end in split_sentences(text)] == [
        "It costs €59.95.", "Open 9 a.m. to 5 p.m. daily, approx. 3 km away.", "1. First step.", "Done!"]


# --- the tools' facts -----------------------------------------------------------------------------

def test_facts_take_minor_units_as_major_amounts_and_read_text_values(facts: FactSet) -> None:
    assert (Decimal("59.95"), "EUR") in facts.money
    assert (Decimal("65.90"), "GBP") in facts.money
    assert (Decimal("50"), "EUR") in facts.money, "an amount written in a knowledge passage counts"
    assert {(9, 0), (17, 30)} <= facts.times
    assert {2, 0} <= facts.stock_levels
    assert {"shipped", "paid", "in_stock", "out_of_stock"} <= facts.statuses


def test_facts_accept_json_text_results() -> None:
    facts = supported_facts(['{"price_minor": 1250, "currency": "GBP"}', "Open daily from 10am."])

    assert (Decimal("12.50"), "GBP") in facts.money
    assert (10, 0) in facts.times


# --- checking answers -----------------------------------------------------------------------------

def test_a_wrong_price_is_caught(facts: FactSet) -> None:
    result = check_answer("The Harbour Hoodie is lovely. The Harbour Hoodie costs €49.95.", facts)

    assert not result.ok
    assert [(claim.text, claim.sentence) for claim in result.unsupported] == [
        ("€49.95", "The Harbour Hoodie costs €49.95.")]
    assert "€49.95" in result.feedback()


@pytest.mark.parametrize("answer", [
    "The Harbour Hoodie costs €59.95.", "It is 59,95 €.", "That's EUR 59.95 for the hoodie.",
    "It costs 59.95 euros.", "It costs 59.95.",
])
def test_a_true_price_passes_in_any_spelling(facts: FactSet, answer: str) -> None:
    assert check_answer(answer, facts).ok


def test_right_amount_in_the_wrong_currency_is_caught(facts: FactSet) -> None:
    assert unsupported_texts("The hoodie is £59.95.", facts) == ["£59.95"]


def test_opening_times_match_across_formats(facts: FactSet) -> None:
    assert check_answer("We open at 9am and close at 5.30pm.", facts).ok
    assert check_answer("Opening hours: 09:00–17:30.", facts).ok
    assert unsupported_texts("We open at 11am.", facts) == ["11am"]


def test_dates_must_match_day_month_and_weekday(facts: FactSet) -> None:
    assert check_answer("It should arrive on 27 November.", facts).ok
    assert check_answer("It should arrive by Friday 27th.", facts).ok
    assert check_answer("Expected delivery: 2026-11-27.", facts).ok
    assert unsupported_texts("It should arrive on 28 November.", facts) == ["28 November"]
    assert unsupported_texts("It should arrive on Thursday 27 November.", facts) == ["Thursday 27 November"]


def test_dutch_dates_and_days_no_month_has_are_checked(facts: FactSet) -> None:
    assert check_answer("Hij wordt bezorgd op vrijdag 27 november.", facts).ok
    assert unsupported_texts("Hij wordt bezorgd op donderdag 27 november.", facts) == ["donderdag 27 november"]
    assert unsupported_texts("Hij wordt bezorgd op 28 november.", facts) == ["28 november"]
    # One past the month's last day is not a date at all, so never a true one.
    assert unsupported_texts("We open again on Monday 31 November at 09:00.", facts) == ["Monday 31 November"]
    assert unsupported_texts("We gaan op maandag 31 november om 09:00 weer open.", facts) == ["maandag 31 november"]


def test_a_quoted_sentence_keeps_its_own_figures() -> None:
    shipping = {"results": [{"title": "Shipping", "text": (
        "Shipping within the Netherlands is €4.95, or free on orders from €75. To the rest of the EU it's "
        "€6.95, free from €100. Everywhere else it's €19.95.")}]}
    facts = supported_facts([shipping])
    assert check_answer("Shipping within the Netherlands is €4.95, or free on orders from €75.", facts).ok
    assert check_answer("Outside the EU shipping is €19.95.", facts).ok
    # The passage's own sentence with another of its figures in it: true figure, wrong place.
    assert unsupported_texts("Shipping within the Netherlands is €19.95, or free on orders from €75.",
                             facts) == ["€19.95"]


def test_statuses_must_match_the_order(facts: FactSet) -> None:
    assert check_answer("Your order TL-10421 has been shipped.", facts).ok
    assert check_answer("Your order is on its way and it hasn't been delivered yet.", facts).ok
    assert unsupported_texts("Good news: your order has been delivered.", facts) == ["delivered"]
    assert unsupported_texts("Your order has not been shipped yet.", facts) == ["shipped"]


def test_dutch_order_statuses_must_match_the_order(facts: FactSet) -> None:
    assert check_answer("Bestelling TL-10421 is verzonden.", facts).ok
    assert check_answer("Je bestelling is onderweg en is nog niet bezorgd.", facts).ok
    assert check_answer("Zodra hij is bezorgd, krijg je een e-mail.", facts).ok
    assert unsupported_texts("Goed nieuws: je bestelling is bezorgd.", facts) == ["bezorgd"]
    assert unsupported_texts("Je bestelling is geannuleerd.", facts) == ["geannuleerd"]
    assert unsupported_texts("Je bestelling is nog niet verzonden.", facts) == ["verzonden"]


def test_stock_levels_must_match(facts: FactSet) -> None:
    assert check_answer("Only 2 left in M, and the L is sold out.", facts).ok
    assert unsupported_texts("Only 3 left in M.", facts) == ["3 left"]


def test_order_numbers_and_sizes_are_never_flagged(facts: FactSet) -> None:
    assert check_answer("Order TL-10421 contains the hoodie in size 38; see step 1. on the page.", facts).ok


def test_an_order_or_tracking_number_is_the_one_the_data_or_the_customer_gave() -> None:
    order = {**ORDER, "order": {**ORDER["order"], "tracking_number": "3STHRL0055821",
                                "tracking_url": "https://postnl.example/track/3STHRL0055821"}}
    facts = supported_facts([order], customer_texts=["where is TL-99999? and TL-10421"])
    assert check_answer("Order TL-10421 is shipped, tracking number 3STHRL0055821.", facts).ok
    assert check_answer("Bestelling tl-10421 is verzonden. I can't find TL-99999.", facts).ok
    # One digit off is another customer's order; a number cut short is no number of theirs.
    assert unsupported_texts("Order TL-10422 is shipped.", facts) == ["TL-10422"]
    assert unsupported_texts("Bestelling TL-1042 is verzonden.", facts) == ["TL-1042"]
    assert unsupported_texts("Tracking number 3STHRL0055822.", facts) == ["3STHRL0055822"]
    # Times, sizes, measures and pack names are not numbers of this kind.
    assert ClaimKind.REFERENCE not in {claim.kind for claim in extract_claims(
        "We open at 17h30; 250ml, 2XL, the Socks 3-Pack in 36-40, COVID-19, 10am.", with_names=True)}


def test_figures_without_any_tool_result_are_all_unsupported() -> None:
    result = check_answer("It costs €10 and we open at 9am.", supported_facts([]))
    assert [claim.kind for claim in result.unsupported] == [ClaimKind.MONEY, ClaimKind.TIME]


# --- the streaming gate ---------------------------------------------------------------------------

def feed_in_pieces(gate: SentenceGate, text: str, size: int = 3) -> list[list[str]]:
    return [gate.feed(text[start:start + size]) for start in range(0, len(text), size)]


def test_gate_releases_plain_sentences_as_soon_as_they_end(facts: FactSet) -> None:
    gate = SentenceGate(facts=facts)

    assert gate.feed("Thanks for waiting") == []
    assert gate.feed("! Let me") == ["Thanks for waiting! "]
    assert gate.feed(" look.\nHere") == ["Let me look.\n"]


def test_gate_holds_a_figure_sentence_until_it_is_complete_and_checked(facts: FactSet) -> None:
    gate = SentenceGate(facts=facts)

    assert gate.feed("The hoodie costs €59.") == []
    assert gate.feed("95") == []
    assert gate.feed(" in M. Anything") == ["The hoodie costs €59.95 in M. "]
    result = gate.finish()
    assert result.released == ["Anything"]
    assert result.check.ok and result.withheld == ""
    assert gate.released_text == "The hoodie costs €59.95 in M. Anything"


def test_gate_stops_at_an_unsupported_figure_and_says_why(facts: FactSet) -> None:
    gate = SentenceGate(facts=facts)
    answer = "Happy to help! The Harbour Hoodie costs €49.95. It ships today. We open at 9am."

    released = [piece for pieces in feed_in_pieces(gate, answer) for piece in pieces]
    result = gate.finish()

    assert "".join(released) == "Happy to help! "
    assert gate.closed
    assert [claim.text for claim in gate.unsupported] == ["€49.95"]
    assert result.withheld == "The Harbour Hoodie costs €49.95. It ships today. We open at 9am."
    assert [claim.text for claim in result.check.unsupported] == ["€49.95"]


def test_gate_passes_a_true_answer_through_unchanged(facts: FactSet) -> None:
    gate = SentenceGate(facts=facts)
    answer = ("Your order TL-10421 has been shipped. It should arrive on Friday 27th. "
              "Our shop is open 09:00–17:30 that day, and the hoodie is 59,95 €.")

    released = [piece for pieces in feed_in_pieces(gate, answer, size=4) for piece in pieces]
    released += gate.finish().released

    assert "".join(released) == answer
    assert not gate.closed


def test_gate_checks_the_last_sentence_on_finish(facts: FactSet) -> None:
    gate = SentenceGate(facts=facts)
    gate.feed("Sure. We close at 6pm")

    result = gate.finish()

    assert result.released == []
    assert result.withheld == "We close at 6pm"
    assert [claim.text for claim in gate.unsupported] == ["6pm"]


# --- every kind of claim a customer could act on (issue #26) --------------------------------------

# The demo shop's profile and part of its catalog, shaped like chat.assistant.selectors.business_facts.
BUSINESS = {
    "name": "Threadline", "tagline": "Everyday clothes in organic fabrics, since 2016.",
    "address": "Threadline B.V., Werfkade 14, 1033 RK Amsterdam, Netherlands", "phone": "+31 20 555 0142",
    "email": "hello@threadline.example", "website": "https://threadline.example",
    "catalog": [
        {"name": "Essential Hoodie", "category": "Hoodies & sweats", "synonyms": ["hoody", "hoodie"],
         "variants": [{"size": size, "colour": colour} for colour in ("Black", "Navy") for size in ("S", "M", "L")]},
        {"name": "Harbour Hoodie", "category": "Hoodies & sweats", "synonyms": [],
         "variants": [{"size": "M", "colour": ""}, {"size": "L", "colour": ""}]},
    ],
}
# "Essential Hoodie in navy, size M?": the tool returns the variant asked for, sold out.
NAVY_M = {"query": "Essential Hoodie", "variant": "navy M", "found": True, "products": [{
    "sku": "TL-HOOD-001", "name": "Essential Hoodie", "category": "Hoodies & sweats", "currency": "EUR",
    "price_from": "€59.95", "variant_requested": "navy M", "variant_found": True, "available": False,
    "variants": [{"sku": "TL-HOOD-001-NVY-M", "size": "M", "colour": "Navy", "stock": 0, "available": False,
                  "price_minor": 5995, "currency": "EUR", "price": "€59.95"}]}]}
ALL_VARIANTS = {"query": "Essential Hoodie", "variant": None, "found": True, "products": [{
    "sku": "TL-HOOD-001", "name": "Essential Hoodie", "category": "Hoodies & sweats", "currency": "EUR",
    "price_from": "€59.95", "variant_requested": None, "variant_found": True, "available": True,
    "variants": [
        {"sku": "B-M", "size": "M", "colour": "Black", "stock": 24, "available": True, "price_minor": 5995,
         "currency": "EUR", "price": "€59.95"},
        {"sku": "N-M", "size": "M", "colour": "Navy", "stock": 0, "available": False, "price_minor": 5995,
         "currency": "EUR", "price": "€59.95"},
    ]}]}
LATTE = {"query": "latte", "found": True, "products": [{
    "sku": "SC-COF-004", "name": "Latte", "category": "Coffee", "currency": "GBP", "price_from": "£3.40",
    "variants": [
        {"sku": "L-REG", "size": "Regular", "colour": "", "stock": 150, "available": True, "price_minor": 340,
         "currency": "GBP", "price": "£3.40"},
        {"sku": "L-LRG", "size": "Large", "colour": "", "stock": 150, "available": True, "price_minor": 380,
         "currency": "GBP", "price": "£3.80"}]},
    {"sku": "SC-EXT-002", "name": "Oat Milk", "category": "Extras", "currency": "GBP", "price_from": "£0.40",
     "variants": [{"sku": "O", "size": "", "colour": "", "stock": 300, "available": True, "price_minor": 40,
                   "currency": "GBP", "price": "£0.40"}]}]}


# As the engine keeps it (chat.assistant.selectors.business_facts_checked), shared by every turn.
BUSINESS_BASE = business_fact_base(BUSINESS)


def shop_facts(*results: object, **kwargs: object) -> FactSet:
    return supported_facts(list(results), business=BUSINESS, base=BUSINESS_BASE, **kwargs)  # type: ignore[arg-type]


def facts_compared(facts: FactSet) -> dict[str, object]:
    return {item.name: getattr(facts, item.name) for item in dataclasses.fields(facts)
            if item.name != "_attribute_pattern"}


UNPRICED_LATTE = {"query": "latte", "found": True, "products": [{"name": "Latte", "variants": [
    {"size": "Large", "stock": 150, "available": True, "price_minor": 380}]}]}


@pytest.mark.parametrize("currency", [None, "GBP"])
@pytest.mark.parametrize("results", [[], [NAVY_M], [ALL_VARIANTS], [LATTE], [UNPRICED_LATTE], [CATALOG],
                                     [NAVY_M, LATTE, CATALOG]])
def test_a_turn_started_from_the_kept_business_facts_has_the_facts_of_walking_the_business(results, currency) -> None:
    business = BUSINESS if currency is None else {**BUSINESS, "currency": currency}
    base = business_fact_base(business)
    walked = supported_facts(results, business=business, today=date(2026, 12, 8), customer_texts=["ring 06 1234 5678"])
    kept = supported_facts(results, business=business, base=base, today=date(2026, 12, 8),
                           customer_texts=["ring 06 1234 5678"])
    assert facts_compared(kept) == facts_compared(walked)
    # What one turn's tools and customer said never stays in the base for the next turn.
    assert facts_compared(base) == facts_compared(business_fact_base(business))
    assert not supported_facts([], business=business, base=base).supports(extract_claims("That is 59.95 EUR.")[0])


@pytest.mark.parametrize("answer", [
    "Call us on +31 20 555 0142.", "Ring 020 555 0142 any time.", "Mail hello@threadline.example.",
    "See https://threadline.example or www.threadline.example.", "We're at Werfkade 14, 1033 RK Amsterdam.",
])
def test_the_business_own_contact_details_pass(answer: str) -> None:
    assert check_answer(answer, shop_facts()).ok


@pytest.mark.parametrize(("answer", "invented"), [
    ("Call us at 302-645-2109 or 855-555-0199.", ["302-645-2109", "855-555-0199"]),
    ("Please contact us at: 1. email us at: hello@l-store.com 2. call us.", ["hello@l-store.com"]),
    ("Find it on l-store.com/contact.", ["l-store.com/contact"]),
    ("Find it on https://threadline.example/secret-sale.", ["https://threadline.example/secret-sale"]),
    ("Visit our store at 742 Evergreen Terrace.", ["742 Evergreen Terrace"]),
    ("We're at Prinsengracht 263, Amsterdam.", ["Prinsengracht 263"]),
])
def test_invented_contact_details_are_caught(answer: str, invented: list[str]) -> None:
    assert unsupported_texts(answer, shop_facts()) == invented


def test_a_customer_own_phone_number_may_be_repeated() -> None:
    facts = shop_facts(customer_texts=["call me back on 06 1234 5678 please"])

    assert check_answer("We'll call you on 06 1234 5678.", facts).ok


def test_another_variant_stock_is_never_reported() -> None:
    facts = shop_facts(NAVY_M)

    assert check_answer("Sorry, the Essential Hoodie in Navy M is sold out.", facts).ok
    assert unsupported_texts("Good news: the Essential Hoodie (Black M) is in stock.", facts) == ["in stock"]
    assert unsupported_texts("The Navy M is in stock.", facts) == ["in stock"]
    assert unsupported_texts("The Essential Hoodie in green M is in stock.", facts) == ["in stock"]


def test_each_variant_named_in_one_sentence_is_checked_on_its_own() -> None:
    facts = shop_facts(ALL_VARIANTS)

    assert check_answer("The Black M is in stock (24 left), but the Navy M is sold out.", facts).ok
    assert unsupported_texts("The Navy M is in stock, 24 left.", facts) == ["in stock", "24 left"]


def test_a_variant_price_is_that_variant_price() -> None:
    facts = supported_facts([LATTE])

    assert check_answer("A large latte is £3.80.", facts).ok
    assert unsupported_texts("A large latte is £3.40.", facts) == ["£3.40"]


@pytest.mark.parametrize("answer", [
    "A large latte with oat milk is £3.80 + 40p = £4.20.",
    "The large latte is £3.80 and oat milk 40p extra, so £4.20 in total.",
    "The Latte with Oat Milk is £3.40 + £0.40 Oat Milk = £3.80.",
])
def test_extras_and_their_sum_pass_when_each_part_and_the_total_hold(answer: str) -> None:
    assert check_answer(answer, supported_facts([LATTE])).ok


@pytest.mark.parametrize("answer", [
    "A large latte with oat milk is £3.80 + 40p = £4.40.",  # wrong arithmetic
    "A large latte with oat milk is £3.80 + 60p = £4.40.",  # an extra at the wrong price
    "A large latte with oat milk is $3.80 + 40p = $4.20.",  # the wrong currency
    "A large latte with oat milk is £3.40 + 40p = £3.80.",  # the Regular's price said of the Large
    "The Latte in Sand with Oat Milk is £3.40 + £0.40 Oat Milk = £3.80.",  # a variant the Latte does not have
])
def test_a_sum_with_a_wrong_part_or_total_is_caught(answer: str) -> None:
    assert not check_answer(answer, supported_facts([LATTE])).ok


def test_measurements_counts_and_years_must_be_in_the_data() -> None:
    facts = shop_facts(KNOWLEDGE)

    assert check_answer("You can return it within 30 days.", facts).ok
    assert check_answer("We've made clothes since 2016.", facts).ok
    assert unsupported_texts("You can return it within 60 days.", facts) == ["60 days"]
    assert unsupported_texts('It is 12-26" in height.', facts) == ['12-26"']
    assert unsupported_texts("In the 2014 season, boxing day saw big fights.", facts) == ["2014"]


def test_relative_days_are_checked_against_the_clock() -> None:
    facts = supported_facts([ORDER], today=date(2026, 11, 26))

    assert check_answer("It is expected to arrive tomorrow.", facts).ok
    assert unsupported_texts("It will be delivered today.", facts) == ["today"]


def test_product_and_policy_names_must_be_the_business_own() -> None:
    facts = shop_facts(KNOWLEDGE)

    assert check_answer("The Essential Hoodie and the Navy Essential Hoodie are both lovely.", facts).ok
    assert unsupported_texts("Try our Premium Hoodie instead.", facts) == ["Premium Hoodie"]
    assert unsupported_texts("Our Price Match Guarantee covers that.", facts) == ["Price Match Guarantee"]
    assert check_answer("Welcome to Threadline, Amsterdam's clothes shop.", facts).ok


@given(price_minor=st.integers(min_value=1, max_value=10_000_00), extra_minor=st.integers(min_value=1, max_value=5_00),
       error_minor=st.integers(min_value=-500, max_value=500))
def test_a_sum_holds_exactly_when_its_arithmetic_does(price_minor: int, extra_minor: int, error_minor: int) -> None:
    facts = supported_facts([{"products": [{"name": "Latte", "variants": [], "price_minor": price_minor,
                                            "currency": "GBP"},
                                           {"name": "Oat Milk", "price_minor": extra_minor, "currency": "GBP"}]}])
    total = price_minor + extra_minor + error_minor
    answer = (f"That is £{price_minor / 100:,.2f} + £{extra_minor / 100:.2f} = £{total / 100:,.2f}."
              if total > 0 else "")

    assert check_answer(answer, facts).ok == (error_minor == 0 or total <= 0)


@given(digits=st.text(alphabet="0123456789", min_size=9, max_size=11))
def test_a_phone_number_passes_only_when_it_is_the_business_own(digits: str) -> None:
    facts = shop_facts()
    own = digits.lstrip("0").endswith("205550142") or "205550142".endswith(digits.lstrip("0"))

    assert check_answer(f"Call us on +{digits}.", facts).ok == (own and len(digits.lstrip("0")) >= 7)


def test_two_true_times_merged_into_a_false_range_are_caught(facts: FactSet) -> None:
    assert check_answer("On Friday we're open 09:00–17:30.", facts).ok
    assert unsupported_texts("On Friday we're open 17:30–17:30.", facts) == ["17:30", "17:30"]


def test_a_product_is_sold_out_only_when_no_variant_is_in_stock() -> None:
    facts = shop_facts(ALL_VARIANTS)

    assert unsupported_texts("The Essential Hoodie: from €59.95, sold out.", facts) == ["sold out"]
    assert check_answer("The Essential Hoodie is in stock.", facts).ok
    assert unsupported_texts("The Essential Hoodie is in stock.", shop_facts(NAVY_M)) == ["in stock"]


ORDER_LINES = {"found": True, "order": {"number": "TL-10411", "status": "shipped", "currency": "EUR", "items": [
    {"sku": "TL-BEAN-001-NAV-OS", "name": "Ribbed Beanie (Navy, One size)", "quantity": 1, "unit_price": "19.95"}]}}


def test_an_order_line_is_named_with_its_own_variant() -> None:
    facts = shop_facts(ORDER_LINES)

    assert check_answer("It contains: 1 × Ribbed Beanie (Navy, One size).", facts).ok
    assert unsupported_texts("It contains: 1 × Ribbed Beanie (Black, One size).", facts) == [
        "Ribbed Beanie (Black, One size)"]


def test_a_list_of_what_is_available_lists_only_variants_in_stock() -> None:
    facts = shop_facts(ALL_VARIANTS)

    assert check_answer("Available right now: Black M.", facts).ok
    assert unsupported_texts("Available right now: Black M, Navy M.", facts) == ["Navy M"]
    assert check_answer("The Essential Hoodie (Black M) is in stock (24 available).", facts).ok
    assert unsupported_texts("The Essential Hoodie (Green M) is lovely.", facts) == ["Essential Hoodie (Green M)"]


CHAI = {"query": "large chai latte with syrup", "found": True, "products": [{
    "sku": "SC-TEA-006", "name": "Chai Latte", "category": "Tea", "currency": "GBP",
    "variants": [
        {"sku": "C-REG", "size": "Regular", "colour": "", "available": True, "price_minor": 350, "currency": "GBP",
         "price": "£3.50"},
        {"sku": "C-LRG", "size": "Large", "colour": "", "available": True, "price_minor": 390, "currency": "GBP",
         "price": "£3.90"}],
    "alternatives": []}],
    "price_with_extras": [{"variant": "Chai Latte (Large)", "price_minor": 390,
                           "extras": [{"name": "Syrup Shot", "price_minor": 50}], "total_minor": 440}]}
SOCKS = {"query": "sneakers", "found": True, "products": [{
    "sku": "SN", "name": "Suede Court Sneakers", "category": "Shoes", "currency": "EUR",
    "variants": [{"sku": "S45", "size": "45", "colour": "Sand", "available": False, "price_minor": 11995,
                  "currency": "EUR", "price": "€119.95"}],
    "alternatives": ["Sand 44", "Sand 43"]}]}


def test_the_price_said_of_a_named_variant_is_that_variant_price() -> None:
    facts = supported_facts([CHAI], business={"currency": "GBP"})

    assert check_answer("The Chai Latte (Large) with Syrup Shot is £3.90 + £0.50 Syrup Shot = £4.40.", facts).ok
    assert not check_answer("The Chai Latte (Regular) with Syrup Shot is £3.90 + £0.50 Syrup Shot = £4.40.", facts).ok
    assert unsupported_texts("The Latte is £3.90 (Regular).", facts) == ["£3.90"]


def test_an_amount_without_a_currency_in_the_data_is_in_the_business_currency() -> None:
    facts = supported_facts([CHAI], business={"currency": "GBP"})

    assert check_answer("With syrup it is £4.40.", facts).ok
    assert unsupported_texts("With syrup it is $4.40.", facts) == ["$4.40"]


def test_alternatives_are_available_variants_and_a_numbered_size_must_be_the_variant_own() -> None:
    facts = supported_facts([SOCKS])

    assert check_answer("Sorry, the Suede Court Sneakers (Sand 45) are sold out. Available instead: Sand 44, "
                        "Sand 43.", facts).ok
    assert unsupported_texts("Sorry, the Suede Court Sneakers (Sand 46) are sold out.", facts) == [
        "Suede Court Sneakers (Sand 46)"]
    assert unsupported_texts("Available instead: Sand 44, Sand 42.", facts) == ["Sand 42"]


def test_a_pack_size_is_part_of_a_product_name() -> None:
    facts = supported_facts([{"products": [{"name": "Everyday Socks 3-Pack", "variants": []}]}])

    assert check_answer("The Everyday Socks 3-Pack is lovely.", facts).ok
    assert unsupported_texts("The Everyday Socks 4-Pack is lovely.", facts) == ["Everyday Socks 4-Pack"]


def test_a_product_price_in_a_list_is_that_product_price() -> None:
    facts = supported_facts([{"products": [
        {"name": "Sencha Green Tea", "currency": "GBP", "variants": [
            {"size": "", "colour": "", "available": True, "price_minor": 280, "currency": "GBP"}]},
        {"name": "Matcha Latte", "currency": "GBP", "variants": [
            {"size": "Regular", "colour": "", "available": True, "price_minor": 380, "currency": "GBP"}]}]}])

    assert check_answer("- Sencha Green Tea: £2.80, in stock\n- Matcha Latte: from £3.80, in stock", facts).ok
    assert unsupported_texts("- Sencha Green Tea: £3.80, in stock", facts) == ["£3.80"]


@given(st.lists(st.sampled_from(["The hoodie costs €59.95.", "It costs €49.95.", "We open at 9am.", "Call 302-645-2109.",
                                 "Only 2 left in M.", "Thanks!", "Mail hello@threadline.example.", "See you",
                                 "Our Premium Hoodie is nice.", "\n"]), max_size=8),
       st.integers(min_value=1, max_value=9))
def test_the_gate_finds_what_the_whole_answer_check_finds(sentences: list[str], size: int) -> None:
    facts = shop_facts(CATALOG, HOURS)
    answer = " ".join(sentences)
    gate = SentenceGate(facts=facts)
    for start in range(0, len(answer), size):
        gate.feed(answer[start:start + size])

    result = gate.finish()

    assert [claim.text for claim in result.check.unsupported] == unsupported_texts(answer, facts)
