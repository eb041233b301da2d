"""Money holds for every currency the platform knows and every amount a bigint column stores.

Formatting and parsing agree in each currency's own ISO 4217 minor unit, and the fact check reads a
written amount in that unit: the right amount passes, one off by a factor of ten, a hundred or a
thousand (the mistake of dividing by 100 whatever the currency) is refused.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from chat.assistant.factcheck import ClaimKind, Money, check_answer, extract_claims, supported_facts
from config.db import BIGINT_MAX
from orders.exceptions import UnknownCurrency
from orders.money import (
    MINOR_DIGITS,
    amount_to_minor,
    minor_digits,
    minor_to_display,
    minor_to_major,
    minor_to_text,
)

currencies = st.sampled_from(sorted(MINOR_DIGITS))
# Up to 10^15 minor units: past a trillion euros, and far enough that a shift by 10^3 still fits a bigint.
amounts = st.integers(min_value=0, max_value=10**15)


def _major_text(amount_minor: int, currency: str) -> str:
    return minor_to_display(amount_minor, currency=currency).split()[0]


@given(currency=currencies, amount_minor=st.integers(min_value=0, max_value=BIGINT_MAX))
@example(currency="JPY", amount_minor=1000)
@example(currency="KWD", amount_minor=1500)
@example(currency="EUR", amount_minor=5995)
def test_parse_of_format_is_the_same_amount(currency: str, amount_minor: int) -> None:
    written = _major_text(amount_minor, currency)
    assert amount_to_minor(written, currency=currency) == amount_minor
    digits = MINOR_DIGITS[currency]
    assert ("." in written) == (digits > 0) and len(written.partition(".")[2]) == digits


@given(currency=currencies, amount_minor=amounts)
@example(currency="JPY", amount_minor=1000)
@example(currency="KWD", amount_minor=1500)
def test_the_fact_check_reads_our_own_formatting_in_the_currencys_unit(currency: str, amount_minor: int) -> None:
    for written in {minor_to_display(amount_minor, currency=currency), minor_to_text(amount_minor, currency=currency)}:
        claims = [claim for claim in extract_claims(f"The total is {written}.") if claim.kind is ClaimKind.MONEY]
        assert len(claims) == 1, (written, claims)
        money = claims[0].value
        assert isinstance(money, Money) and currency in money.currencies
        assert money.amount == minor_to_major(amount_minor, currency=currency)


@given(currency=currencies, amount_minor=st.integers(min_value=1, max_value=10**15), shift=st.integers(1, 3),
       larger=st.booleans())
@example(currency="JPY", amount_minor=1000, shift=2, larger=False)
@example(currency="KWD", amount_minor=1500, shift=1, larger=True)
@example(currency="EUR", amount_minor=6490, shift=2, larger=True)
def test_the_fact_check_accepts_the_right_amount_and_refuses_one_wrong_by_a_power_of_ten(
        currency: str, amount_minor: int, shift: int, larger: bool) -> None:
    facts = supported_facts([{"number": "A-1", "currency": currency, "total_minor": amount_minor,
                              "total": minor_to_display(amount_minor, currency=currency)}])
    for render in (minor_to_display, minor_to_text):
        right = render(amount_minor, currency=currency)
        assert check_answer(f"Your order comes to {right}.", facts).ok, right
        factor = 10**shift
        if not larger and amount_minor % factor:
            continue  # not a whole number of minor units when divided: no one would write it
        wrong_minor = amount_minor * factor if larger else amount_minor // factor
        wrong = render(wrong_minor, currency=currency)
        result = check_answer(f"Your order comes to {wrong}.", facts)
        assert not result.ok, (right, wrong)


@pytest.mark.parametrize(("amount_minor", "currency", "display", "text"), [
    (1000, "JPY", "1000 JPY", "¥1,000"),
    (1500, "KWD", "1.500 KWD", "1.500 KWD"),
    (5995, "EUR", "59.95 EUR", "€59.95"),
    (129900, "EUR", "1299.00 EUR", "€1,299.00"),
    (12345, "CLF", "1.2345 CLF", "1.2345 CLF"),
])
def test_each_currency_is_written_with_its_own_decimals(amount_minor: int, currency: str, display: str,
                                                        text: str) -> None:
    assert minor_to_display(amount_minor, currency=currency) == display
    assert minor_to_text(amount_minor, currency=currency) == text


def test_the_yen_written_as_ten_for_a_thousand_yen_item_is_refused() -> None:
    facts = supported_facts([{"sku": "TEA-1", "currency": "JPY", "price_minor": 1000, "price": "1000 JPY"}])
    assert check_answer("It costs ¥1,000.", facts).ok
    assert check_answer("It costs 1000 JPY.", facts).ok
    assert not check_answer("It costs ¥10.", facts).ok
    assert not check_answer("It costs 10.00 JPY.", facts).ok


def test_a_dinar_amount_is_read_with_three_decimals() -> None:
    facts = supported_facts([{"currency": "KWD", "total_minor": 1500, "total": "1.500 KWD"}])
    assert check_answer("The total is 1.500 KWD.", facts).ok
    assert check_answer("The total is KWD 1.5.", facts).ok
    assert not check_answer("The total is 15.00 KWD.", facts).ok
    assert not check_answer("The total is 1500 KWD.", facts).ok


def test_a_currency_the_platform_does_not_know_is_an_error_not_a_guess() -> None:
    for call in (lambda: minor_to_display(1000, currency="XXY"), lambda: minor_to_text(1000, currency="XXY"),
                 lambda: minor_digits("XXY"), lambda: amount_to_minor("10", currency="XXY")):
        with pytest.raises(UnknownCurrency) as raised:
            call()
        assert "XXY" in raised.value.message and raised.value.status == 400


def test_word_like_codes_are_prices_only_with_decimals() -> None:
    assert [claim.kind for claim in extract_claims("Our TOP 10 picks for you.")] == []
    claims = extract_claims("It costs PEN 49.90 in Lima.")
    assert [claim.value for claim in claims] == [Money(amount=Decimal("49.90"), currencies=frozenset({"PEN"}))]


@pytest.mark.parametrize(("written", "currency"), [("US$59.95", "USD"), ("HK$100", "HKD"), ("CA$ 5", "CAD")])
def test_three_character_signs_are_not_taken_for_codes(written: str, currency: str) -> None:
    claims = [claim for claim in extract_claims(f"It is {written} today.") if claim.kind is ClaimKind.MONEY]
    assert len(claims) == 1 and isinstance(claims[0].value, Money) and currency in claims[0].value.currencies
