"""Exact money: ISO 4217 currencies and their minor units, parsed with Decimal, never with floats."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from config.db import BIGINT_MAX
from orders.exceptions import InvalidAmount, UnknownCurrency

# Active ISO 4217 codes by number of minor-unit digits. Anything not listed is refused: a shop
# sending an unknown code is a configuration error we want to see, not a guess.
_ZERO_DECIMALS = {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
                  "VUV", "XAF", "XOF", "XPF"}
_THREE_DECIMALS = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"}
_FOUR_DECIMALS = {"CLF", "UYW"}
_TWO_DECIMALS = {
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BMD",
    "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF", "CNY", "COP", "CRC", "CUP",
    "CVE", "CZK", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP",
    "GMD", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR",
    "KPW", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP",
    "MRU", "MUR", "MVR", "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "PAB", "PEN",
    "PGK", "PHP", "PKR", "PLN", "QAR", "RON", "RSD", "RUB", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP",
    "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TOP", "TRY", "TTD", "TWD",
    "TZS", "UAH", "USD", "UYU", "UZS", "VES", "WST", "XCD", "YER", "ZAR", "ZMW", "ZWL",
}

MINOR_DIGITS: dict[str, int] = {
    **{code: 0 for code in _ZERO_DECIMALS},
    **{code: 2 for code in _TWO_DECIMALS},
    **{code: 3 for code in _THREE_DECIMALS},
    **{code: 4 for code in _FOUR_DECIMALS},
}


def currency_normalize(code: object) -> str:
    """An ISO 4217 code in upper case, or UnknownCurrency."""
    text = str(code or "").strip().upper()
    if text not in MINOR_DIGITS:
        raise UnknownCurrency(f"'{code}' is not a currency we know (an ISO 4217 code such as EUR or GBP is needed).",
                              details={"currency": str(code)})
    return text


def amount_to_minor(amount: object, *, currency: str, field: str = "amount") -> int:
    """'19.99', Decimal('19.99') or 1999-as-int-of-major-units to minor units, exactly.

    A float is refused: JSON bodies are parsed with Decimal for their numbers (see `json_loads_exact`),
    so a number that reaches here as float came from somewhere that already lost precision.
    """
    digits = MINOR_DIGITS[currency_normalize(currency)]
    if isinstance(amount, bool) or isinstance(amount, float):
        raise InvalidAmount(f"{field}: {amount!r} must be a decimal string or an exact number.",
                            details={"field": field, "value": repr(amount)})
    try:
        value = Decimal(str(amount).strip()) if not isinstance(amount, Decimal) else amount
    except (InvalidOperation, ValueError) as exc:
        raise InvalidAmount(f"{field}: '{amount}' is not a number.", details={"field": field, "value": str(amount)}) from exc
    if not value.is_finite():
        raise InvalidAmount(f"{field}: '{amount}' is not a number.", details={"field": field, "value": str(amount)})
    try:
        minor = value.scaleb(digits)
    except ArithmeticError as exc:  # decimal.Overflow: an exponent past Decimal's range ("1e999999")
        raise InvalidAmount(f"{field}: '{amount}' is too large.", details={"field": field, "value": str(amount)}) from exc
    if minor != minor.to_integral_value():
        raise InvalidAmount(f"{field}: '{amount}' has more decimals than {currency} allows ({digits}).",
                            details={"field": field, "value": str(amount)})
    if minor < 0:
        raise InvalidAmount(f"{field}: '{amount}' must not be negative.", details={"field": field, "value": str(amount)})
    if minor > BIGINT_MAX:  # every *_minor field is a bigint; checked before int(), which "1e999990" would keep busy a minute
        raise InvalidAmount(f"{field}: '{amount}' is too large.", details={"field": field, "value": str(amount)})
    return int(minor)


def minor_digits(currency: str) -> int:
    """How many decimals `currency` has (JPY 0, EUR 2, KWD 3), or UnknownCurrency: never a guess of 2."""
    return MINOR_DIGITS[currency_normalize(currency)]


def minor_to_major(amount_minor: int, *, currency: str) -> Decimal:
    """5995 EUR -> Decimal('59.95'); 1000 JPY -> Decimal('1000'); 1500 KWD -> Decimal('1.500')."""
    return Decimal(amount_minor).scaleb(-minor_digits(currency))


def minor_to_display(amount_minor: int, *, currency: str) -> str:
    """'59.95 EUR', '1000 JPY', '1.500 KWD': exact, for people and for the assistant to quote.

    No thousands separator: the amount part is what `amount_to_minor` reads back, and the fact
    check reads '1.500 KWD' as one and a half dinars, as the currency's three decimals say.
    """
    code = currency_normalize(currency)
    digits = MINOR_DIGITS[code]
    return f"{minor_to_major(amount_minor, currency=code):.{digits}f} {code}"


# The signs customers read without doubt; every other currency is written with its code. "¥" is
# also the yuan's sign, so it is used for the yen only (the yuan keeps "CNY").
CURRENCY_SIGNS = {"EUR": "€", "GBP": "£", "USD": "$", "JPY": "¥"}


def minor_to_text(amount_minor: int, *, currency: str) -> str:
    """'€1,299.00', '¥1,000', '1.500 KWD': how the assistant writes a price in a sentence."""
    code = currency_normalize(currency)
    sign = CURRENCY_SIGNS.get(code)
    if sign is None:
        return minor_to_display(amount_minor, currency=code)
    return f"{sign}{minor_to_major(amount_minor, currency=code):,.{MINOR_DIGITS[code]}f}"


def minor_to_staff_label(amount_minor: int, *, currency: str) -> str:
    """For admin lists: '10.00 EUR', or, for a row whose stored code is not a currency we know
    (typed by hand into the admin), the raw figure named as such rather than a guess or an error page."""
    try:
        return minor_to_display(amount_minor, currency=currency)
    except UnknownCurrency:
        return f"{amount_minor} minor units of unknown currency '{currency}'"
