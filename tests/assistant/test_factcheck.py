"""Checked facts: figures in an answer must come from the turn's tool results."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

import pytest

from chat.assistant.factcheck import (
    ClaimKind,
    FactSet,
    Money,
    SentenceGate,
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
    "Your order TL-10421 is linked to your e-mail address.",
    "1. Open the page.\n2. Choose size M.\n3. Pay at checkout.",
    "Call us on +44 20 7946 0958, we are here 24/7.",
    "Orders are usually shipped within 2 days.",
    "If it was delivered, let us know.",
    "Has it been shipped?",
    "It comes in 3 available colours and 2 sizes.",
    "Delivery takes 2 to 3 working days; we reply within 24 hours.",
    "You may 5 times return nothing, I'm 100% sure.",
    "Let me check whether it is in stock.",
    "Track it at https://track.example.com/TL-10421?date=2026-11-23&t=10:00 or mail help@shop-2026.example.",
])
def test_things_that_are_not_claims_are_not_flagged(plain: str) -> None:
    assert extract_claims(plain) == []


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


def test_statuses_must_match_the_order(facts: FactSet) -> None:
    assert check_answer("Your order TL-10421 has been shipped.", facts).ok
    assert check_answer("Your order is on its way and it hasn't been delivered yet.", facts).ok
    assert unsupported_texts("Good news: your order has been delivered.", facts) == ["delivered"]
    assert unsupported_texts("Your order has not been shipped yet.", facts) == ["shipped"]


def test_stock_levels_must_match(facts: FactSet) -> None:
    assert check_answer("Only 2 left in M, and the L is sold out.", facts).ok
    assert unsupported_texts("Only 3 left in M.", facts) == ["3 left"]


def test_order_numbers_and_sizes_are_never_flagged(facts: FactSet) -> None:
    assert check_answer("Order TL-10421 contains the hoodie in size 38; see step 1. on the page.", facts).ok


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
