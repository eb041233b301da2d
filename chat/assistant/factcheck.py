"""Checked facts: every price, stock level, order status, date and time in an answer must come
from the tool results of the same turn.

Pure functions, no I/O: `extract_claims` finds the figures an answer states, `supported_facts`
collects what the tools returned, `check_answer` lists the claims the data does not back, and
`SentenceGate` applies the same check while an answer streams, releasing only checked sentences.

The extraction looks for figures with a marker that makes them a claim (a currency, am/pm or a
colon, a month, "left" or "in stock", a status after "is"/"was"/"has been"): a bare number such as
"size 38", "order TL-10421" or a list's "1." is never a claim. It errs on the side of missing an odd
phrasing rather than flagging a plain sentence, because a false alarm costs a re-asked answer.
"""

from __future__ import annotations

import calendar
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar

from orders.money import MINOR_DIGITS

T = TypeVar("T")


class ClaimKind(StrEnum):
    MONEY = "money"
    TIME = "time"
    DATE = "date"
    STOCK = "stock"
    STATUS = "status"
    PERCENT = "percent"


@dataclass(frozen=True)
class Money:
    amount: Decimal
    # The currencies the writing allows ("$" is several); empty when no currency was written.
    currencies: frozenset[str]


@dataclass(frozen=True)
class DateValue:
    day: int
    month: int | None = None
    year: int | None = None
    weekday: int | None = None  # Monday is 0, as in date.weekday()


@dataclass(frozen=True)
class StatusValue:
    status: str
    negated: bool = False


ClaimValue = Money | time | tuple[DateValue, ...] | int | StatusValue | Decimal


@dataclass(frozen=True)
class Claim:
    kind: ClaimKind
    text: str  # as written in the answer
    value: ClaimValue
    sentence: str
    start: int  # offsets of `text` in the checked text
    end: int


# ============================================================================ vocabulary

DOLLAR_CURRENCIES = frozenset({"USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN"})
CROWN_CURRENCIES = frozenset({"SEK", "NOK", "DKK", "ISK"})
CURRENCY_SYMBOLS: dict[str, frozenset[str]] = {
    "€": frozenset({"EUR"}), "£": frozenset({"GBP"}), "$": DOLLAR_CURRENCIES, "US$": frozenset({"USD"}),
    "A$": frozenset({"AUD"}), "AU$": frozenset({"AUD"}), "C$": frozenset({"CAD"}), "CA$": frozenset({"CAD"}),
    "NZ$": frozenset({"NZD"}), "HK$": frozenset({"HKD"}), "S$": frozenset({"SGD"}), "R$": frozenset({"BRL"}),
    "¥": frozenset({"JPY", "CNY"}), "₹": frozenset({"INR"}), "₩": frozenset({"KRW"}), "zł": frozenset({"PLN"}),
    "kr": CROWN_CURRENCIES, "kr.": CROWN_CURRENCIES, "Fr.": frozenset({"CHF"}),
}
CURRENCY_WORDS: dict[str, frozenset[str]] = {
    "euro": frozenset({"EUR"}), "euros": frozenset({"EUR"}), "pound": frozenset({"GBP"}),
    "pounds": frozenset({"GBP"}), "dollar": DOLLAR_CURRENCIES, "dollars": DOLLAR_CURRENCIES,
    "franc": frozenset({"CHF"}), "francs": frozenset({"CHF"}), "krona": frozenset({"SEK", "ISK"}),
    "kronor": frozenset({"SEK"}), "krone": frozenset({"NOK", "DKK"}), "kroner": frozenset({"NOK", "DKK"}),
    "złoty": frozenset({"PLN"}), "zloty": frozenset({"PLN"}),
}
# Hundredths of a currency, written as a word.
SUBUNIT_WORDS: dict[str, frozenset[str]] = {
    "cent": frozenset({"EUR"}) | DOLLAR_CURRENCIES, "cents": frozenset({"EUR"}) | DOLLAR_CURRENCIES,
    "pence": frozenset({"GBP"}), "p": frozenset({"GBP"}),
}
# Every ISO 4217 code the platform knows, each with its own minor unit (orders.money): a shop in yen
# or in dinars is checked in yen or dinars, not in hundredths.
CURRENCY_CODES = frozenset(MINOR_DIGITS)
# Codes that are also English words ("TOP 10", "ALL 3 sizes"): a marker only before or after an
# amount with decimals ("PEN 49.90"), so a plain sentence is not read as a price.
WORDLIKE_CODES = frozenset({"ALL", "BOB", "CUP", "GEL", "MOP", "PEN", "SOS", "TOP"})

MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): number for number, name in enumerate(calendar.month_abbr) if name})
MONTHS["sept"] = 9
WEEKDAYS = {name.lower(): number for number, name in enumerate(calendar.day_name)}
WEEKDAYS.update({name.lower(): number for number, name in enumerate(calendar.day_abbr)})
WEEKDAYS.update({"tues": 1, "wednes": 2, "thur": 3, "thurs": 3})
NUMBER_WORDS = {"no": 0, "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}

# How an answer names an order status -> the status it means.
STATUS_PHRASES = {
    "pending": "pending", "awaiting payment": "pending",
    "paid": "paid",
    "confirmed": "confirmed",
    "processing": "processing", "being processed": "processing", "being prepared": "processing",
    "packed": "packed", "being packed": "packed",
    "shipped": "shipped", "dispatched": "shipped", "posted": "shipped", "sent out": "shipped",
    "in transit": "in_transit", "on its way": "in_transit", "on the way": "in_transit",
    "out for delivery": "out_for_delivery",
    "delivered": "delivered",
    "ready for pickup": "ready_for_pickup", "ready for collection": "ready_for_pickup",
    "ready to collect": "ready_for_pickup",
    "on hold": "on_hold",
    "cancelled": "cancelled", "canceled": "cancelled",
    "refunded": "refunded",
    "returned": "returned",
}
# How shops and tools name statuses in data -> the same statuses.
STATUS_DATA_ALIASES = {
    **{phrase.replace(" ", "_"): status for phrase, status in STATUS_PHRASES.items()},
    "fulfilled": "shipped", "partially_fulfilled": "shipped", "partially_shipped": "shipped",
    "completed": "shipped", "complete": "shipped", "unfulfilled": "processing", "awaiting_payment": "pending",
    "unpaid": "pending", "on-hold": "on_hold", "failed": "failed", "in_stock": "in_stock",
    "out_of_stock": "out_of_stock", "sold_out": "out_of_stock", "available": "in_stock",
}
# A claimed status is also true when the data shows a later stage that includes it.
STATUS_SUPPORTED_BY = {
    "shipped": {"shipped", "in_transit", "out_for_delivery", "delivered"},
    "in_transit": {"shipped", "in_transit", "out_for_delivery"},
    "paid": {"paid", "confirmed", "processing", "packed", "shipped", "in_transit", "out_for_delivery", "delivered"},
    "confirmed": {"confirmed", "paid", "processing", "packed"},
    "processing": {"processing", "paid", "packed", "confirmed"},
}

# ============================================================================ patterns

# Up to four decimals: "1.500 KWD" and "0.5000 CLF" are amounts too (parse_amount reads which
# separator is the decimal one from the currency).
_AMOUNT = r"(?:\d{1,3}(?:[.,\u00a0\u202f ']\d{3})+|\d+)(?:[.,]\d{1,4}(?!\d))?(?:[.,]-)?"
# Any three capitals: which are currencies is decided in `_money_in`, from CURRENCY_CODES; one
# alternative per code would be tried at every position of every streamed sentence.
_CODE = "[A-Z]{3}"
_SYMBOL = "|".join(re.escape(symbol) for symbol in sorted(CURRENCY_SYMBOLS, key=len, reverse=True)
                   if symbol[0] not in "kF")
_WORD_CURRENCY = "|".join(sorted({*CURRENCY_WORDS, *SUBUNIT_WORDS} - {"p"}, key=len, reverse=True))
_MONEY_PATTERNS = [
    re.compile(rf"(?P<marker>{_SYMBOL}|(?<![A-Za-z])(?:{_CODE})(?![A-Za-z])|(?<![\w.])(?:Fr\.|kr\.?)(?=\s?\d))"
               rf"\s?(?P<amount>{_AMOUNT})(?![\d%])"),
    re.compile(rf"(?<![\w.,])(?P<amount>{_AMOUNT})\s?(?P<marker>{_SYMBOL}|zł|kr\.?(?![\w])|"
               rf"(?:{_CODE})(?![A-Za-z])|(?i:{_WORD_CURRENCY})\b)"),
    re.compile(rf"(?<![\w.,])(?P<amount>{_AMOUNT})(?P<marker>p)(?!\w|\.\s?m\b)"),
    # "It costs 59.95": a price with two decimals after a pricing word, currency unwritten.
    re.compile(r"(?i:\b(?:costs?|priced at|price (?:is|of)|for only|for just|total (?:is|of)|comes to)\s+)"
               r"(?P<amount>\d+[.,]\d{2})(?![\d%])"),
]

_MERIDIEM = r"(?P<{}>[ap]\.?\s?m\.?)"
_TIME_RANGE = re.compile(
    rf"(?<![\w:.,])(?P<h1>1[0-2]|0?[1-9])(?:[:.](?P<m1>[0-5]\d))?\s?(?:{_MERIDIEM.format('ap1')})?"
    rf"\s?(?:-|–|—|to|until|till)\s?"
    rf"(?P<h2>1[0-2]|0?[1-9])(?:[:.](?P<m2>[0-5]\d))?\s?{_MERIDIEM.format('ap2')}(?![a-z])", re.IGNORECASE)
_TIME_12H = re.compile(rf"(?<![\w:.,])(?P<h>1[0-2]|0?[1-9])(?:[:.](?P<m>[0-5]\d))?\s?{_MERIDIEM.format('ap')}"
                       rf"(?![a-z])", re.IGNORECASE)
_TIME_24H = re.compile(r"(?<![\d:.,/])(?P<h>[01]?\d|2[0-4]):(?P<m>[0-5]\d)(?::[0-5]\d)?(?![\d:])")
_TIME_H = re.compile(r"(?<![\w:.,])(?P<h>[01]?\d|2[0-3])\s?h(?P<m>[0-5]\d)?(?!\w)")
_TIME_H_CONTEXT = re.compile(r"(?i:\b(?:at|from|until|till|to|opens?|closes?|à|de)\s*|[-–]\s*)$")
_TIME_WORDS = re.compile(r"(?i)\b(?P<word>noon|midday|midnight)\b")

_MONTH = r"(?:(?i:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|june?|july?|aug(?:ust)?|sept?(?:ember)?|" \
         r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)|May)\b\.?"
_WEEKDAY = r"(?i:mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?|fri(?:day)?|" \
           r"sat(?:urday)?|sun(?:day)?)\b\.?"
_ORDINAL = r"(?i:st|nd|rd|th)"
_DATE_PATTERNS = [
    re.compile(r"(?<![\w-])(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})(?![\d-])"),
    re.compile(rf"(?:(?P<wd>{_WEEKDAY}),?\s+)?(?:the\s+)?(?<![\w.,])(?P<d>[0-3]?\d){_ORDINAL}?(?:\s+of)?\s+"
               rf"(?P<mon>{_MONTH})(?:,?\s+(?P<y>\d{{4}})(?!\d))?"),
    re.compile(rf"(?:(?P<wd>{_WEEKDAY}),?\s+)?(?P<mon>{_MONTH})\s+(?:the\s+)?(?P<d>[0-3]?\d){_ORDINAL}?(?![\d:.,]\d)"
               rf"(?!\s?(?:[ap]\.?m\b|%))(?:,?\s+(?P<y>\d{{4}})(?!\d))?"),
    re.compile(r"(?<![\w/.,-])(?P<a>[0-3]?\d)(?P<sep>[/.])(?P<b>[0-3]?\d)(?:(?P=sep)(?P<y>\d{4}|\d{2}))?(?![\w/]|[.,]\d)"),
    re.compile(rf"(?P<wd>{_WEEKDAY}),?\s+(?:the\s+)?(?P<d>[0-3]?\d){_ORDINAL}\b"),
    re.compile(rf"(?i:\b(?:on|by|until|till|from|before|after|since)\s+the\s+)(?P<d>[0-3]?\d){_ORDINAL}\b"),
]
_SLASH_DATE_CONTEXT = re.compile(
    rf"(?i:\b(?:on|by|until|till|from|before|after|since|the|due|date)\s*|{_WEEKDAY},?\s*)$")

_NUMBER = r"(?P<n>\d+|(?i:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve))"
_UNIT = r"(?:(?i:units?|pieces?|items?|pairs?|more)\s+)?"
_STOCK_PATTERNS = [
    re.compile(rf"(?<![\w.,:/-]){_NUMBER}\s+{_UNIT}(?i:left|remaining|in stock|"
               r"available(?!\s+(?:colou?rs?|sizes?|options?|styles?|variants?|models?|versions?)))\b"),
    re.compile(rf"(?i:\bonly\s+){_NUMBER}\s+{_UNIT}(?i:left|remaining|in)\b"),
    re.compile(rf"(?i:\bwe\s+(?:still\s+|currently\s+|now\s+)?have\s+(?:only\s+|just\s+)?){_NUMBER}\s+{_UNIT}"
               r"(?i:left|in stock|available|of (?:them|those|it)|in)\b"),
    re.compile(r"(?i:\b(?:stock|inventory)(?:\s+level)?\s*(?:is|of|:)\s*)(?P<n>\d+)\b"),
]
_STOCK_STATUS = re.compile(
    r"(?i)\b(?P<out>sold out|out of stock|no longer (?:available|in stock)|(?:not|isn't|aren't|is not|are not)"
    r"\s+(?:currently\s+)?in stock|unavailable)\b|(?<!back )(?<!\d )\b(?P<in>in stock)\b")
_STATUS_ALTERNATION = "|".join(re.escape(phrase) for phrase in sorted(STATUS_PHRASES, key=len, reverse=True))
_STATUS_PATTERNS = [
    re.compile(rf"(?i)\b(?P<cop>is|was|has|have|had|got|are|were|isn't|wasn't|hasn't|haven't|hadn't|'s|’s)\s+"
               rf"(?P<mods>(?:(?:not|n't|never|now|already|just|currently|been|still|also|yet to be|finally)\s+)*)"
               rf"(?P<status>{_STATUS_ALTERNATION})\b"),
    re.compile(rf"(?i)\b(?:status(?:\s+is)?|marked as|shows as|listed as)\s*:?\s*[\"“'‘]?"
               rf"(?P<status>{_STATUS_ALTERNATION})\b"),
]
# Statements about how things usually go are policy, not the status of this customer's order.
_GENERAL_STATEMENT = re.compile(r"(?i)\b(?:usually|typically|normally|generally|always|within|every|each|most)\b")
# What every match of _STOCK_STATUS and _STATUS_PATTERNS contains.
_STATUS_WORDS = ("stock", "sold out", "available", *STATUS_PHRASES)
_CONDITION_BEFORE = re.compile(r"(?i)\b(?:if|once|when|whether|as soon as|until|unless|after)\b")
_PERCENT = re.compile(r"(?<![\w.,])(?P<n>\d+(?:[.,]\d+)?)\s?(?:%|(?i:percent|per cent)\b)(?!\s?(?i:sure|certain))")

# ============================================================================ sentences

_ABBREVIATIONS = frozenset({
    "a.m", "p.m", "e.g", "i.e", "etc", "approx", "no", "nr", "mr", "mrs", "ms", "dr", "st", "vs", "incl", "excl",
    "min", "max", "ca", "tel", "ref", "art", "dept", "est", "fig", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
    "sep", "sept", "oct", "nov", "dec", "mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun",
})
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*(?P<space>\s+)|\n\s*")
_WORD_BEFORE = re.compile(r"([\w.]+)$")


def _sentence_ends(text: str, *, final: bool) -> Iterator[tuple[int, int]]:
    """(end of sentence, start of the next) for each complete sentence; with `final`, the rest too."""
    for match in _BOUNDARY.finditer(text):
        if match.group(0)[0] not in "\n" and not _is_real_boundary(text, match.start()):
            continue
        end = match.start() + len(match.group(0).rstrip())
        yield end, match.end()
    if final:
        yield len(text.rstrip()), len(text)


def _is_real_boundary(text: str, position: int) -> bool:
    if text[position] != ".":
        return True
    word = _WORD_BEFORE.search(text[:position])
    if word is None:
        return True
    token = word.group(1).lower()
    # Single letters are not treated as initials: "in M." ends a sentence about a size.
    if token in _ABBREVIATIONS:
        return False
    # "1." opening a numbered list item is not the end of a sentence.
    line_start = text.rfind("\n", 0, word.start()) + 1
    return not (token.isdigit() and not text[line_start:word.start()].strip(" \t-*>"))


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in `text`; a line break always ends one."""
    spans = []
    start = 0
    for end, next_start in _sentence_ends(text, final=True):
        sentence_start = start + (len(text[start:end]) - len(text[start:end].lstrip()))
        if end > sentence_start:
            spans.append((sentence_start, end))
        start = next_start
    return spans


# ============================================================================ extraction

def extract_claims(text: str) -> list[Claim]:
    """Every checkable figure the text states, in order, each with the sentence it is in."""
    claims: list[Claim] = []
    for start, end in split_sentences(text):
        claims.extend(_claims_in_sentence(text[start:end], offset=start))
    return claims


_LINK = re.compile(r"\bhttps?://\S+|\bwww\.\S+|[\w.+-]+@[\w-]+\.[\w.-]+")
# Every sentence of every streamed answer goes through these patterns before it is shown, so a
# family of patterns is skipped when the sentence lacks what each of its matches contains (a link's
# marker, a digit, a number or status word): the same claims, without trying dozens of patterns at
# every position of every sentence.
_LINK_MARKERS = ("://", "www.", "@")
_DIGIT = re.compile(r"\d")


def _claims_in_sentence(sentence: str, *, offset: int) -> list[Claim]:
    # Links and e-mail addresses carry numbers (tracking ids, dates in paths) but state nothing;
    # they are blanked out, keeping every other character where it was.
    sentence_as_written = sentence
    if any(marker in sentence for marker in _LINK_MARKERS):
        sentence = _LINK.sub(lambda match: " " * len(match.group(0)), sentence)
    taken: list[tuple[int, int]] = []
    found: list[Claim] = []

    def add(kind: ClaimKind, start: int, end: int, value: ClaimValue) -> None:
        # A sentence's full stop is not part of "November." or "10am." (but is of "a.m.").
        if sentence[end - 1] == "." and not re.search(r"(?i)[ap]\.\s?m\.$", sentence[start:end]):
            end -= 1
        if any(start < other_end and other_start < end for other_start, other_end in taken):
            return
        taken.append((start, end))
        found.append(Claim(kind=kind, text=sentence[start:end], value=value, sentence=sentence_as_written,
                           start=offset + start, end=offset + end))

    with_digits = _DIGIT.search(sentence) is not None
    # Only ASCII text is screened for words: elsewhere IGNORECASE matches "ſ" for "s" and "İ" for "i".
    lowered = sentence.lower() if sentence.isascii() else None
    if with_digits:
        for start, end, money in _money_in(sentence):
            add(ClaimKind.MONEY, start, end, money)
        for start, end, dates in _dates_in(sentence):
            add(ClaimKind.DATE, start, end, dates)
    for start, end, moment in _times_in(sentence, with_digits=with_digits):
        add(ClaimKind.TIME, start, end, moment)
    if with_digits or _may_contain(lowered, NUMBER_WORDS):
        for pattern in _STOCK_PATTERNS:
            for match in pattern.finditer(sentence):
                add(ClaimKind.STOCK, match.start(), match.end(), _count(match.group("n")))
    if with_digits:
        for match in _PERCENT.finditer(sentence):
            percent = _decimal(match.group("n").replace(",", "."))
            if percent is not None:
                add(ClaimKind.PERCENT, match.start(), match.end(), percent)
    if not sentence.rstrip().endswith("?") and _may_contain(lowered, _STATUS_WORDS):
        for start, end, status in _statuses_in(sentence):
            add(ClaimKind.STATUS, start, end, status)
    found.sort(key=lambda claim: claim.start)
    return found


def _may_contain(lowered: str | None, words: Iterable[str]) -> bool:
    return lowered is None or any(word in lowered for word in words)


def _money_in(text: str) -> Iterator[tuple[int, int, Money]]:
    for pattern in _MONEY_PATTERNS:
        for match in pattern.finditer(text):
            marker = match.groupdict().get("marker")
            if marker is None:
                amount = parse_amount(match.group("amount"))
                if amount is not None:
                    yield match.start("amount"), match.end(), Money(amount=amount, currencies=frozenset())
                continue
            if len(marker) == 3 and marker.isalpha() and marker.isupper() and (
                    marker not in CURRENCY_CODES
                    or (marker in WORDLIKE_CODES and not re.search(r"[.,]\d+$", match.group("amount")))):
                continue
            currencies, divisor = _currencies_of(marker)
            amount = parse_amount(match.group("amount"), digits=_fewest_digits(currencies))
            if amount is not None:
                yield match.start(), match.end(), Money(amount=amount / divisor, currencies=currencies)


def _currencies_of(marker: str) -> tuple[frozenset[str], int]:
    if marker in CURRENCY_SYMBOLS:
        return CURRENCY_SYMBOLS[marker], 1
    if marker.upper() in CURRENCY_CODES:
        return frozenset({marker.upper()}), 1
    word = marker.lower()
    if word in SUBUNIT_WORDS:
        return SUBUNIT_WORDS[word], 100
    return CURRENCY_WORDS.get(word, frozenset()), 1


def _fewest_digits(currencies: frozenset[str]) -> int:
    """The smallest minor unit among the currencies a marker allows ("¥": the yen's 0, the yuan's 2)."""
    return min((MINOR_DIGITS.get(code, 2) for code in currencies), default=2)


def parse_amount(raw: str, *, digits: int = 2) -> Decimal | None:
    """'1.299,00' / '1,299.00' / '59,95' / '59.9' / "1'299" / '59,-' as a Decimal.

    A last separator followed by exactly three digits groups thousands ("1,299"), unless the
    currency has three or more decimals (`digits`) and that separator appears once: "1.500 KWD" is
    one and a half dinars, as Kuwait writes it, while "1.500.000 KWD" and "1,500.000 KWD" are
    still read as thousands with their decimals.
    """
    text = raw.strip().removesuffix("-").rstrip(".,")
    text = re.sub(r"[\u00a0\u202f ']", "", text)
    decimals = re.search(r"[.,](\d+)$", text)
    if decimals is not None and len(decimals.group(1)) == 3 and not (
            digits >= 3 and text.count(text[decimals.start()]) == 1):
        decimals = None
    whole, fraction = (text[:decimals.start()], decimals.group(1)) if decimals else (text, "")
    whole = re.sub(r"[.,]", "", whole)
    if not whole.isdigit():
        return None
    return _decimal(f"{whole}.{fraction or '0'}")


def _times_in(text: str, *, with_digits: bool) -> Iterator[tuple[int, int, time]]:
    if with_digits:
        yield from _clock_times_in(text)
    for match in _TIME_WORDS.finditer(text):
        yield match.start(), match.end(), time(0, 0) if match.group("word").lower() == "midnight" else time(12, 0)


def _clock_times_in(text: str) -> Iterator[tuple[int, int, time]]:
    for match in _TIME_RANGE.finditer(text):
        second = _clock(match.group("h2"), match.group("m2"), match.group("ap2"))
        first_meridiem = match.group("ap1") or _implied_meridiem(int(match.group("h1")), second)
        first = _clock(match.group("h1"), match.group("m1"), first_meridiem)
        if first is not None and second is not None:
            first_end = max(match.end(group) for group in ("h1", "m1", "ap1") if match.group(group))
            yield match.start("h1"), first_end, first
            yield match.start("h2"), match.end(), second
    for match in _TIME_12H.finditer(text):
        moment = _clock(match.group("h"), match.group("m"), match.group("ap"))
        if moment is not None:
            yield match.start(), match.end(), moment
    for match in _TIME_24H.finditer(text):
        yield match.start(), match.end(), time(int(match.group("h")) % 24, int(match.group("m")))
    for match in _TIME_H.finditer(text):
        # "2h" is more often a duration than two o'clock: only with minutes or after "at", "from"...
        if match.group("m") or _TIME_H_CONTEXT.search(text[:match.start()]):
            yield match.start(), match.end(), time(int(match.group("h")), int(match.group("m") or 0))


def _clock(hour_text: str, minute_text: str | None, meridiem: str | None) -> time | None:
    hour, minute = int(hour_text), int(minute_text or 0)
    if meridiem:
        if not 1 <= hour <= 12:
            return None
        is_pm = meridiem.lower().lstrip()[0] == "p"
        hour = hour % 12 + (12 if is_pm else 0)
    return time(hour % 24, minute) if hour <= 24 else None


def _implied_meridiem(first_hour: int, second: time | None) -> str:
    """'9-5pm' is 9am to 5pm; '1-5pm' is 1pm to 5pm."""
    if second is None:
        return "am"
    second_hour = second.hour % 12 or 12
    second_is_pm = second.hour >= 12
    same_half = first_hour % 12 <= second_hour % 12 or second_hour == 12
    return ("pm" if second_is_pm else "am") if same_half else ("am" if second_is_pm else "pm")


def _dates_in(text: str) -> Iterator[tuple[int, int, tuple[DateValue, ...]]]:
    for match in _DATE_PATTERNS[0].finditer(text):
        value = _date_value(day=match.group("d"), month=int(match.group("mo")), year=match.group("y"))
        if value:
            yield match.start(), match.end(), (value,)
    for pattern in _DATE_PATTERNS[1:3]:
        for match in pattern.finditer(text):
            month = MONTHS.get(match.group("mon").rstrip(".").lower())
            value = _date_value(day=match.group("d"), month=month, year=match.group("y"),
                                weekday=match.group("wd"))
            if value:
                yield match.start(), match.end(), (value,)
    for match in _DATE_PATTERNS[3].finditer(text):
        candidates = _numeric_date(match, text)
        if candidates:
            yield match.start(), match.end(), candidates
    for pattern in _DATE_PATTERNS[4:]:
        for match in pattern.finditer(text):
            value = _date_value(day=match.group("d"), month=None, year=None, weekday=match.groupdict().get("wd"))
            if value:
                yield match.start("wd") if match.groupdict().get("wd") else match.start("d"), match.end(), (value,)


def _numeric_date(match: re.Match[str], text: str) -> tuple[DateValue, ...]:
    """'27/11', '27.11.2026', '11/27/2026': day first unless only month first makes sense."""
    first, second, year = match.group("a"), match.group("b"), match.group("y")
    if match.group("sep") == "." and not year:
        return ()  # "27.11" is a price or a decimal far more often than a date
    if not year and (f"{first}/{second}" in {"24/7", "24/24"} or
                     not (len(first) == 2 or len(second) == 2 or _SLASH_DATE_CONTEXT.search(text[:match.start()]))):
        return ()
    full_year = None if not year else int(year) + (2000 if len(year) == 2 else 0)
    candidates = [_date_value(day=first, month=int(second), year=full_year),
                  _date_value(day=second, month=int(first), year=full_year)]
    return tuple(dict.fromkeys(value for value in candidates if value))


def _date_value(*, day: str | int, month: int | None, year: str | int | None,
                weekday: str | None = None) -> DateValue | None:
    day_number = int(day)
    weekday_number = WEEKDAYS.get(weekday.rstrip(".").lower()) if weekday else None
    year_number = int(year) if year else None
    if not 1 <= day_number <= 31 or (month is not None and not 1 <= month <= 12):
        return None
    if month is not None:
        try:
            date(year_number or 2024, month, day_number)  # 2024: a leap year, so 29 February stands
        except ValueError:
            return None
    return DateValue(day=day_number, month=month, year=year_number, weekday=weekday_number)


def _statuses_in(sentence: str) -> Iterator[tuple[int, int, StatusValue]]:
    if _GENERAL_STATEMENT.search(sentence):
        return
    for match in _STOCK_STATUS.finditer(sentence):
        if _CONDITION_BEFORE.search(sentence[:match.start()]):
            continue
        yield match.start(), match.end(), StatusValue("out_of_stock" if match.group("out") else "in_stock")
    for pattern in _STATUS_PATTERNS:
        for match in pattern.finditer(sentence):
            if _CONDITION_BEFORE.search(sentence[:match.start()]):
                continue
            groups = match.groupdict()
            negation = f"{groups.get('cop') or ''} {groups.get('mods') or ''}".lower()
            negated = bool(re.search(r"n't|\bnot\b|\bnever\b|\byet to be\b", negation))
            yield match.start("status"), match.end("status"), StatusValue(
                _phrase_value(STATUS_PHRASES, match.group("status")), negated=negated)


def _count(text: str) -> int:
    return int(text) if text.isdigit() else _phrase_value(NUMBER_WORDS, text)


def _phrase_value(table: dict[str, T], matched: str) -> T:
    """The entry an IGNORECASE pattern matched: also for "ſhipped" or "SHİPPED", which the pattern
    matches but which do not lower-case to a key."""
    value = table.get(matched.lower())
    if value is not None:
        return value
    return next(value for phrase, value in table.items() if re.fullmatch(re.escape(phrase), matched, re.IGNORECASE))


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


# ============================================================================ facts

_MINOR_KEY = re.compile(r"(?:^|_)(?:minor|cents)$|_minor_|^amount_minor")
_MONEY_KEY = re.compile(r"price|amount|total|cost|fee|subtotal|shipping|tax|discount|refund|balance")
_STOCK_KEY = re.compile(r"stock|qty|quantit|inventor|available|on_hand|left|remaining|units")
_STATUS_KEY = re.compile(r"status|state|stage|fulfil")
_PERCENT_KEY = re.compile(r"percent|pct|rate|discount")


@dataclass
class FactSet:
    """What the tools of one turn returned, in forms an answer's claims can be compared with."""

    money: set[tuple[Decimal, str | None]] = field(default_factory=set)
    numbers: set[Decimal] = field(default_factory=set)
    stock_levels: set[int] = field(default_factory=set)
    times: set[tuple[int, int]] = field(default_factory=set)
    dates: set[date] = field(default_factory=set)
    partial_dates: set[DateValue] = field(default_factory=set)
    statuses: set[str] = field(default_factory=set)

    def supports(self, claim: Claim) -> bool:
        value = claim.value
        if claim.kind is ClaimKind.MONEY and isinstance(value, Money):
            return any(amount == value.amount and (not value.currencies or currency is None
                                                   or currency in value.currencies)
                       for amount, currency in self.money)
        if claim.kind is ClaimKind.TIME and isinstance(value, time):
            return (value.hour, value.minute) in self.times
        if claim.kind is ClaimKind.DATE and isinstance(value, tuple):
            return any(self._supports_date(candidate) for candidate in value)
        if claim.kind is ClaimKind.STOCK and isinstance(value, int):
            return value in self.stock_levels or (value == 0 and "out_of_stock" in self.statuses)
        if claim.kind is ClaimKind.PERCENT and isinstance(value, Decimal):
            return value in self.numbers or value / 100 in self.numbers
        if claim.kind is ClaimKind.STATUS and isinstance(value, StatusValue):
            backing = STATUS_SUPPORTED_BY.get(value.status, {value.status})
            if value.negated:
                return bool(self.statuses) and not (backing & self.statuses)
            return bool(backing & self.statuses)
        return False

    def _supports_date(self, claimed: DateValue) -> bool:
        for known in self.dates:
            if (known.day == claimed.day and (claimed.month is None or known.month == claimed.month)
                    and (claimed.year is None or known.year == claimed.year)
                    and (claimed.weekday is None or known.weekday() == claimed.weekday)):
                return True
        return any(known.day == claimed.day and known.month == claimed.month and claimed.year is None
                   and (claimed.weekday is None or known.weekday is None or known.weekday == claimed.weekday)
                   for known in self.partial_dates)


def supported_facts(tool_results: Iterable[Any]) -> FactSet:
    """Every amount, number, stock level, time, date and status in the turn's tool results.

    Results may be dicts, lists or JSON text. Amounts in minor units next to a `currency` also count
    in major units (5995 EUR -> 59.95 EUR); text values (a knowledge-base passage, "59.95 EUR",
    "09:00") are read with the same extraction as answers, so what a tool says in words counts too.
    """
    facts = FactSet()
    for result in tool_results:
        _walk(_as_data(result), facts, key="", currency=None)
    return facts


def _as_data(value: Any) -> Any:
    if isinstance(value, str | bytes):
        try:
            return json.loads(value)
        except ValueError:
            return value if isinstance(value, str) else value.decode(errors="replace")
    return value


def _walk(value: Any, facts: FactSet, *, key: str, currency: str | None) -> None:
    if isinstance(value, dict):
        own_currency = value.get("currency") or value.get("currency_code")
        if isinstance(own_currency, str) and own_currency.strip().upper() in CURRENCY_CODES:
            currency = own_currency.strip().upper()
        for child_key, child in value.items():
            _walk(child, facts, key=str(child_key).lower(), currency=currency)
    elif isinstance(value, list | tuple | set):
        for item in value:
            _walk(item, facts, key=key, currency=currency)
    elif isinstance(value, bool):
        if _STOCK_KEY.search(key):
            facts.statuses.add("in_stock" if value else "out_of_stock")
    elif isinstance(value, int | float | Decimal):
        _add_number(Decimal(str(value)), facts, key=key, currency=currency)
    elif isinstance(value, str):
        _add_text(value, facts, key=key, currency=currency)
    elif isinstance(value, datetime):
        facts.dates.add(value.date())
        facts.times.add((value.hour, value.minute))
    elif isinstance(value, date):
        facts.dates.add(value)
    elif isinstance(value, time):
        facts.times.add((value.hour, value.minute))


def _add_number(number: Decimal, facts: FactSet, *, key: str, currency: str | None) -> None:
    facts.numbers.add(number)
    if _MINOR_KEY.search(key):
        # Without a currency beside it, a minor amount is read as hundredths (the common case); with
        # one, in that currency's own unit: 1000 beside JPY is ¥1,000, 1500 beside KWD is 1.500 KWD.
        major = number.scaleb(-MINOR_DIGITS.get(currency or "", 2))
        facts.money.add((major, currency))
        facts.numbers.add(major)
    elif _MONEY_KEY.search(key):
        facts.money.add((number, currency))
    if _STOCK_KEY.search(key) and number == number.to_integral_value() and number >= 0:
        facts.stock_levels.add(int(number))
        facts.statuses.add("in_stock" if number > 0 else "out_of_stock")
    if _PERCENT_KEY.search(key) and 0 < number < 1:
        facts.numbers.add(number * 100)


def _add_text(text: str, facts: FactSet, *, key: str, currency: str | None) -> None:
    stripped = text.strip()
    if not stripped:
        return
    moment = _iso_moment(stripped)
    if moment is not None:
        if isinstance(moment, datetime):
            facts.dates.add(moment.date())
            facts.times.add((moment.hour, moment.minute))
        else:
            facts.dates.add(moment)
        return
    number = _decimal(stripped) if re.fullmatch(r"-?\d+(?:\.\d+)?", stripped) else None
    if number is not None:
        _add_number(number, facts, key=key, currency=currency)
        return
    if _STATUS_KEY.search(key) or len(stripped) <= 40:
        token = re.sub(r"[\s-]+", "_", stripped.lower())
        status = STATUS_DATA_ALIASES.get(token)
        if status is None and _STATUS_KEY.search(key):
            status = STATUS_PHRASES.get(stripped.lower(), token)
        if status is not None:
            facts.statuses.add(status)
    for claim in extract_claims(text):
        _add_claim(claim, facts)


def _iso_moment(text: str) -> date | datetime | None:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?", text):
        return None
    try:
        return datetime.fromisoformat(text) if len(text) > 10 else date.fromisoformat(text)
    except ValueError:
        return None


def _add_claim(claim: Claim, facts: FactSet) -> None:
    value = claim.value
    if isinstance(value, Money):
        for known_currency in value.currencies or {None}:
            facts.money.add((value.amount, known_currency))
        facts.numbers.add(value.amount)
    elif isinstance(value, time):
        facts.times.add((value.hour, value.minute))
    elif isinstance(value, tuple):
        for candidate in value:
            if candidate.year and candidate.month:
                facts.dates.add(date(candidate.year, candidate.month, candidate.day))
            else:
                facts.partial_dates.add(candidate)
    elif isinstance(value, StatusValue) and not value.negated:
        facts.statuses.add(value.status)
    elif isinstance(value, int) and claim.kind is ClaimKind.STOCK:
        facts.stock_levels.add(value)
    elif isinstance(value, Decimal):
        facts.numbers.add(value)


# ============================================================================ checking

@dataclass(frozen=True)
class CheckResult:
    claims: tuple[Claim, ...]
    unsupported: tuple[Claim, ...]

    @property
    def ok(self) -> bool:
        return not self.unsupported

    def feedback(self) -> str:
        """For re-asking the model: which statements the data does not back."""
        lines = [f'- "{claim.text}" in "{claim.sentence}"' for claim in self.unsupported]
        return ("These figures are not in the tool results of this turn; use only figures the tools "
                "returned, or say you do not know:\n" + "\n".join(lines)) if lines else ""


def check_answer(text: str, facts: FactSet) -> CheckResult:
    claims = extract_claims(text)
    return CheckResult(claims=tuple(claims),
                       unsupported=tuple(claim for claim in claims if not facts.supports(claim)))


@dataclass(frozen=True)
class GateResult:
    released: list[str]  # text released by the call that returned this (append it to what was sent)
    check: CheckResult  # the whole answer's check
    withheld: str  # text never released: from the first sentence with an unsupported figure on


class SentenceGate:
    """Streams an answer sentence by sentence, letting through only sentences whose figures check.

    `feed(delta)` returns the text that may be shown now: every completed sentence, in order, that
    states no figure or only figures the facts back. The sentence still being written is held until
    it ends (a figure may be about to appear in it). At the first sentence with an unsupported
    figure the gate closes: nothing after it is released, and `unsupported` lists what was wrong,
    so the caller can re-ask the model and replace the answer.
    """

    def __init__(self, *, facts: FactSet) -> None:
        self.facts = facts
        self.text = ""
        self.unsupported: list[Claim] = []
        # Everything before this index has been checked and released; a sentence starts here.
        self._released_to = 0

    @property
    def closed(self) -> bool:
        return bool(self.unsupported)

    @property
    def released_text(self) -> str:
        return self.text[:self._released_to]

    def feed(self, delta: str) -> list[str]:
        self.text += delta
        return [] if self.closed else self._release(final=False)

    def finish(self) -> GateResult:
        released = [] if self.closed else self._release(final=True)
        return GateResult(released=released, check=check_answer(self.text, self.facts),
                          withheld=self.text[self._released_to:])

    def _release(self, *, final: bool) -> list[str]:
        released: list[str] = []
        base = self._released_to
        pending = self.text[base:]
        sentence_start = 0
        for end, next_start in _sentence_ends(pending, final=final):
            sentence = pending[sentence_start:end].strip()
            bad = [claim for claim in _claims_in_sentence(sentence, offset=0) if not self.facts.supports(claim)]
            if bad:
                self.unsupported = bad
                break
            if next_start > sentence_start:
                released.append(pending[sentence_start:next_start])
            self._released_to = base + next_start
            sentence_start = next_start
        return released
