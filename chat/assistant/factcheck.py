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
import dataclasses
import functools
import itertools
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from orders.money import MINOR_DIGITS

T = TypeVar("T")


class ClaimKind(StrEnum):
    MONEY = "money"
    TIME = "time"
    DATE = "date"
    STOCK = "stock"
    STATUS = "status"
    PERCENT = "percent"
    PHONE = "phone"
    EMAIL = "email"
    URL = "url"
    ADDRESS = "address"
    SUM = "sum"
    MEASUREMENT = "measurement"
    COUNT = "count"
    YEAR = "year"
    RELATIVE_DAY = "relative_day"
    NAME = "name"
    VARIANT = "variant"
    REFERENCE = "reference"


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


@dataclass(frozen=True)
class SumValue:
    """"£3.80 + 40p = £4.20": each addend is a claim of its own, and the total must add up."""

    addends: tuple[Money, ...]
    total: Money


@dataclass(frozen=True)
class Quantity:
    """A measurement or a count: the numbers as written ("12-26\"" is two) and the unit."""

    numbers: tuple[Decimal, ...]
    unit: str


@dataclass(frozen=True)
class VariantMention:
    """'Ribbed Beanie (Navy, One size)', or 'Large' in 'available right now: Regular, Large'."""

    product: str  # as written; empty in a list of what is available
    written: str  # the variant as written: 'Navy, One size'
    available: bool | None = None  # said to be available (in a list of what is in stock)


ClaimValue = VariantMention | Money | time | tuple[DateValue, ...] | int | StatusValue | Decimal | str | SumValue | Quantity


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
# Dutch too: the shop answers in Dutch, and "maandag 31 november" is a date to check like "Monday 31 November".
DUTCH_MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
                "november", "december")
DUTCH_WEEKDAYS = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")
MONTHS.update({name: number for number, name in enumerate(DUTCH_MONTHS, start=1)})
WEEKDAYS.update({name: number for number, name in enumerate(DUTCH_WEEKDAYS)})
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
    # Dutch, as the shop answers in it: "Bestelling TL-10406 is bezorgd."
    "in behandeling": "processing", "betaald": "paid", "bevestigd": "confirmed", "verwerkt": "processing",
    "ingepakt": "packed", "verzonden": "shipped", "onderweg": "in_transit", "bezorgd": "delivered",
    "afgeleverd": "delivered", "geannuleerd": "cancelled", "terugbetaald": "refunded", "geretourneerd": "returned",
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
         r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|januari|februari|maart|mei|juni|juli|augustus|oktober)|May)\b\.?"
_WEEKDAY = r"(?i:mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?|fri(?:day)?|" \
           r"sat(?:urday)?|sun(?:day)?|maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag)\b\.?"
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
_UNIT = r"(?:(?i:units?|pieces?|items?|pairs?|more|stuks?)\s+)?"
_STOCK_PATTERNS = [
    # Dutch too ("10 beschikbaar", "nog 3 op voorraad", "2 stuks over"): the shop answers in Dutch.
    re.compile(rf"(?<![\w.,:/-]){_NUMBER}\s+{_UNIT}(?i:left|remaining|in stock|beschikbaar|op voorraad|over|"
               r"available(?!\s+(?:colou?rs?|sizes?|options?|styles?|variants?|models?|versions?)))\b"),
    re.compile(rf"(?i:\bonly\s+){_NUMBER}\s+{_UNIT}(?i:left|remaining|in)\b"),
    re.compile(rf"(?i:\bwe\s+(?:still\s+|currently\s+|now\s+)?have\s+(?:only\s+|just\s+)?){_NUMBER}\s+{_UNIT}"
               r"(?i:left|in stock|available|of (?:them|those|it)|in)\b"),
    re.compile(r"(?i:\b(?:stock|inventory)(?:\s+level)?\s*(?:is|of|:)\s*)(?P<n>\d+)\b"),
]
_STOCK_STATUS = re.compile(
    r"(?i)\b(?P<out>sold out|out of stock|no longer (?:available|in stock)|(?:not|isn't|aren't|is not|are not)"
    r"\s+(?:currently\s+)?in stock|unavailable|uitverkocht|niet (?:meer\s+)?(?:op voorraad|beschikbaar))\b|"
    r"(?<!back )(?<!weer )(?<!\d )\b(?P<in>in stock|op voorraad)\b")
_STATUS_ALTERNATION = "|".join(re.escape(phrase) for phrase in sorted(STATUS_PHRASES, key=len, reverse=True))
_STATUS_PATTERNS = [
    re.compile(rf"(?i)\b(?P<cop>is|was|has|have|had|got|are|were|isn't|wasn't|hasn't|haven't|hadn't|'s|’s|"
               rf"zijn|waren)\s+"  # not "wordt": "hij wordt bezorgd op vrijdag" is a plan, not a status
               rf"(?P<mods>(?:(?:not|n't|never|now|already|just|currently|been|still|also|yet to be|finally|"
               rf"nog|niet|nu|al|net|inmiddels|ook|gisteren|vandaag)\s+)*)"
               rf"(?P<status>{_STATUS_ALTERNATION})\b"),
    re.compile(rf"(?i)\b(?:status(?:\s+is)?|marked as|shows as|listed as)\s*:?\s*[\"“'‘]?"
               rf"(?P<status>{_STATUS_ALTERNATION})\b"),
]
# Statements about how things usually go are policy, not the status of this customer's order.
_GENERAL_STATEMENT = re.compile(r"(?i)\b(?:usually|typically|normally|generally|always|within|every|each|most)\b")
# What every match of _STOCK_STATUS and _STATUS_PATTERNS contains.
_STATUS_WORDS = ("stock", "sold out", "available", "voorraad", "uitverkocht", "beschikbaar", *STATUS_PHRASES)
_CONDITION_BEFORE = re.compile(r"(?i)\b(?:if|once|when|whether|as soon as|until|unless|after|als|zodra|wanneer|indien)\b")
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

def extract_claims(text: str, *, with_names: bool = False) -> list[Claim]:
    """Every checkable figure the text states, in order, each with the sentence it is in; with
    `with_names`, the product and policy names it uses too (what the check needs; a tool's text
    read for facts does not)."""
    claims: list[Claim] = []
    for start, end in split_sentences(text):
        claims.extend(_claims_in_sentence(text[start:end], offset=start, with_names=with_names))
    return claims


_LINK = re.compile(r"\bhttps?://\S+|\bwww\.\S+|[\w.+-]+@[\w-]+\.[\w.-]+")
# Every sentence of every streamed answer goes through these patterns before it is shown, so a
# family of patterns is skipped when the sentence lacks what each of its matches contains (a link's
# marker, a digit, a number or status word): the same claims, without trying dozens of patterns at
# every position of every sentence.
_LINK_MARKERS = ("://", "www.", "@")
_DIGIT = re.compile(r"\d")


def _claims_in_sentence(sentence: str, *, offset: int, with_names: bool = False) -> list[Claim]:
    # Links and e-mail addresses carry numbers (tracking ids, dates in paths) but state nothing;
    # they are blanked out, keeping every other character where it was.
    sentence_as_written = sentence
    # One flag per character already part of a claim: a sentence of thousands of figures (a model
    # repeating itself) costs a slice per claim, not a comparison with every claim before it.
    taken = bytearray(len(sentence) + 1)
    found: list[Claim] = []
    # Contact details first, from the sentence as written: an invented address or number is the
    # classic hallucination, and it is what a customer acts on.
    if "@" in sentence or "." in sentence:
        for start, end, kind, contact in _contacts_in(sentence):
            taken[start:end] = b"\x01" * (end - start)
            found.append(Claim(kind=kind, text=sentence[start:end], value=contact, sentence=sentence_as_written,
                               start=offset + start, end=offset + end))
    if any(marker in sentence for marker in _LINK_MARKERS) or found:
        sentence = _LINK.sub(lambda match: " " * len(match.group(0)), sentence)
        sentence = _BARE_DOMAIN.sub(lambda match: " " * len(match.group(0)), sentence)

    def add(kind: ClaimKind, start: int, end: int, value: ClaimValue) -> None:
        # A sentence's full stop is not part of "November." or "10am." (but is of "a.m.").
        if sentence[end - 1] == "." and not re.search(r"(?i)[ap]\.\s?m\.$", sentence[start:end]):
            end -= 1
        if any(taken[start:end]):
            return
        taken[start:end] = b"\x01" * (end - start)
        found.append(Claim(kind=kind, text=sentence[start:end], value=value, sentence=sentence_as_written,
                           start=offset + start, end=offset + end))

    with_digits = _DIGIT.search(sentence) is not None
    # Only ASCII text is screened for words: elsewhere IGNORECASE matches "ſ" for "s" and "İ" for "i".
    lowered = sentence.lower() if sentence.isascii() else None
    if with_digits:
        for start, end, total in _sums_in(sentence):
            add(ClaimKind.SUM, start, end, total)
        for start, end, money in _money_in(sentence):
            add(ClaimKind.MONEY, start, end, money)
        for start, end, dates in _dates_in(sentence):
            add(ClaimKind.DATE, start, end, dates)
    for start, end, moment in _times_in(sentence, with_digits=with_digits):
        add(ClaimKind.TIME, start, end, moment)
    if with_digits:
        for match in _REFERENCE.finditer(sentence):
            add(ClaimKind.REFERENCE, match.start(), match.end(), _squashed(match.group(0)))
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
    if with_digits:
        for match in _PHONE.finditer(sentence):
            if len(_DIGITS_ONLY.sub("", match.group(0))) >= PHONE_MIN_DIGITS:
                add(ClaimKind.PHONE, match.start(), match.end(), _DIGITS_ONLY.sub("", match.group(0)))
        for pattern in _ADDRESS_PATTERNS:
            for match in pattern.finditer(sentence):
                add(ClaimKind.ADDRESS, match.start(), match.end(), _squashed(match.group(0)))
        for match in _MEASUREMENT.finditer(sentence):
            add(ClaimKind.MEASUREMENT, match.start(), match.end(), _quantity(match))
        for match in _YEAR.finditer(sentence):
            add(ClaimKind.YEAR, match.start(), match.end(), int(match.group("y")))
    if (with_digits or _may_contain(lowered, NUMBER_WORDS)) and _may_contain(lowered, _COUNT_UNIT_STEMS):
        for match in _COUNT.finditer(sentence):
            if match.group(0).lower() == "one size":
                continue  # a size's name
            add(ClaimKind.COUNT, match.start(), match.end(), _quantity(match))
    if _may_contain(lowered, RELATIVE_DAYS) and _DATED_EVENT.search(sentence):
        for match in _RELATIVE_DAY.finditer(sentence):
            add(ClaimKind.RELATIVE_DAY, match.start(), match.end(), RELATIVE_DAYS[match.group(0).lower()])
    if with_names and "(" in sentence:
        for match in _NAMED_VARIANT.finditer(sentence):
            product = _without_leaders(match.group("name"))
            start = match.end("name") - len(product) if product else match.start()
            add(ClaimKind.VARIANT, start, match.end(),
                VariantMention(product=product, written=match.group("attrs").strip()))
    if with_names and _may_contain(lowered, ("available", "in stock", "beschikbaar")):
        for listing in _AVAILABLE_LIST.finditer(sentence):
            for item in _LIST_ITEM.finditer(listing.group("list")):
                start = listing.start("list") + item.start("item")
                add(ClaimKind.VARIANT, start, start + len(item.group("item")),
                    VariantMention(product="", written=item.group("item"), available=True))
    for match in _TITLE_RUN.finditer(sentence) if with_names else ():
        name = _name_of(match.group(0))
        if name:
            start = match.start() + match.group(0).index(name)
            add(ClaimKind.NAME, start, start + len(name), name)
    found.sort(key=lambda claim: claim.start)
    return found


# ---------------------------------------------------------------------------- contacts, sums, quantities, names

_EMAIL = re.compile(r"(?<![\w.+'-])[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"\bhttps?://[^\s<>\"')\]]+|\bwww\.[^\s<>\"')\]]+")
# Addresses written without a scheme ("l-store.com/contact"): only with a top-level domain people use.
_TLDS = "com|net|org|info|biz|io|co|shop|store|online|example|nl|be|de|fr|uk|eu|es|it|ie|us|ca|au|ch|at"
_BARE_DOMAIN = re.compile(rf"(?<![\w@./-])(?:[a-z0-9-]+\.)+(?:{_TLDS})(?:/[^\s<>\"')\]]*)?(?![\w-])",
                          re.IGNORECASE)
PHONE_MIN_DIGITS = 7
_PHONE = re.compile(r"(?<![\w.,/:+-])(?:\+|00)?\(?\d[\d ().\u00a0-]{5,}\d(?![\w%])")
_DIGITS_ONLY = re.compile(r"\D")
_STREET = (r"(?:Street|St\.?|Road|Rd\.?|Avenue|Ave\.?|Lane|Ln\.?|Boulevard|Blvd\.?|Drive|Dr\.?|Way|Square|"
           r"Place|Court|Close|Terrace|Parkway|Highway)")
_ADDRESS_PATTERNS = [
    re.compile(rf"(?<![\w,.])\d{{1,5}}[A-Za-z]?,?\s+(?:[A-Z][\w'-]*\s+){{1,3}}{_STREET}(?![\w])"),
    re.compile(r"\b[A-Z][a-z]*(?:straat|weg|kade|laan|plein|gracht|dijk|singel|markt|strasse|straße|gasse)\s+"
               r"\d{1,4}[a-zA-Z]?\b"),
    re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s\d[A-Z]{2}\b"),  # a UK postcode
    re.compile(r"(?<![\w,.-])\d{4}\s?[A-Z]{2}\b(?!\s?\d)"),  # a Dutch one
    re.compile(r"\b[A-Z]{2}\s\d{5}(?:-\d{4})?\b"),  # a US state and ZIP code
]
_NUMBER_TEXT = r"\d+(?:[.,]\d+)?"
_MEASURE_UNITS = (r"(?:mm|cm|km|m|kg|g|mg|ml|cl|l|oz|lbs?|inch(?:es)?|ft|feet|foot|kcal|cal|litres?|liters?|"
                  r"metres?|meters?|grams?|kilos?|centimetres?|centimeters?)")
_MEASUREMENT = re.compile(
    rf"(?<![\w.,:/-])(?P<n1>{_NUMBER_TEXT})(?:\s?(?:-|–|to)\s?(?P<n2>{_NUMBER_TEXT}))?"
    rf"(?:\s?(?P<unit>(?i:{_MEASURE_UNITS}))(?![\w])|(?P<inch>[\"″]))")
_COUNT_WORDS = r"zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
_COUNT_UNITS = (r"(?:(?:working|business|calendar|school)\s+)?(?:days?|weeks?|months?|years?|hours?|minutes?|"
                r"nights?|stores?|shops?|branches?|locations?|colou?rs?|sizes?|flavou?rs?|varieties?|"
                r"styles?)")
# What every unit of _COUNT_UNITS contains: a sentence without any is not searched for counts.
_COUNT_UNIT_STEMS = ("day", "week", "month", "year", "hour", "minute", "night", "store", "shop", "branch",
                     "location", "colo", "size", "flavo", "variet", "style")
_COUNT = re.compile(
    rf"(?<![\w.,:/-])(?P<n1>\d+|(?i:{_COUNT_WORDS}))(?:\s?(?:-|–|to)\s?(?P<n2>\d+|(?i:{_COUNT_WORDS})))?"
    rf"\s+(?:(?i:available|different|more|extra)\s+)?(?P<unit>(?i:{_COUNT_UNITS}))\b")
_YEAR = re.compile(r"(?<![\w.,:/#-])(?P<y>(?:19|20)\d{2})(?![\w.,:/-]?\d|\s?(?:[%€$£]|[ap]\.?m\b))")
RELATIVE_DAYS = {"today": 0, "tonight": 0, "tomorrow": 1, "yesterday": -1, "the day after tomorrow": 2,
                 "vandaag": 0, "morgen": 1, "gisteren": -1, "overmorgen": 2}
_RELATIVE_DAY = re.compile(r"(?i)\b(?:the day after tomorrow|today|tonight|tomorrow|yesterday|vandaag|overmorgen|"
                           r"morgen|gisteren)\b")
# A relative day is a claim only when something is said to happen on it: "How can I help today?" is not.
_DATED_EVENT = re.compile(r"(?i)\b(?:open|opens|closed|closes|arriv\w*|deliver\w*|ship\w*|dispatch\w*|"
                          r"expected|ready|due|sent|posted|collect\w*|pick\w* up|back in stock|restock\w*|"
                          r"geopend|gesloten|open|bezorgd|verzonden|geleverd)\b")
# Order, tracking and booking numbers ("TL-10406", "3STHRL0055821", "bestelling tl-10406"): letters then
# digits, three digits or more. A number one off ("TL-10407") is another customer's order, not this one.
_REFERENCE = re.compile(r"(?<![\w.@/-])(?=[A-Za-z0-9-]*[A-Za-z]-?\d)(?=(?:[A-Za-z-]*\d){3})"
                        r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*(?![\w@/-]|\.\w)")
# Title-case runs ("the Premium Hoodie", "our Price Match Guarantee"): product and policy names.
_TITLE_RUN = re.compile(r"(?<![\w'-])[A-Z][\w'&-]*(?:\s+(?:&\s+|de\s+|of\s+|the\s+)?(?:[A-Z]|\d+-[A-Z])[\w'&-]*)+")
_NAME_LEADERS = frozenset({
    "the", "our", "your", "a", "an", "this", "that", "these", "those", "yes", "no", "sure", "hi", "hello", "hey",
    "we", "i", "you", "it", "they", "and", "or", "but", "so", "also", "unfortunately", "sorry", "great", "good",
    "thanks", "thank", "please", "de", "het", "een", "onze", "ja", "nee", "on", "in", "at", "for", "with", "from",
    "dear", "ok", "okay", *WEEKDAYS, *MONTHS,
})
# "Ribbed Beanie (Navy, One size)": a product named with its variant in brackets.
_NAMED_VARIANT = re.compile(r"(?P<name>[A-Z][\w'&-]*(?:[ \t]+[A-Z][\w'&-]*){0,4})[ \t]*\((?P<attrs>[^()\n]{1,40})\)")
# "Available right now: Blue M, Blue S": each item is said to be in stock.
_AVAILABLE_LIST = re.compile(r"(?i:\b(?:available|in stock|beschikbaar)(?:\s+(?:right\s+)?now|\s+instead|\s+in)?"
                             r"\s*:\s*)(?P<list>[^.!?\n]{1,200})")
_LIST_ITEM = re.compile(r"(?:(?:and|or)\s+)?(?P<item>[^,;\s][^,;]*?)(?=\s*(?:,|;|\band\b|\bor\b|$))")
# Words that make a title-case phrase a policy's name: such names must be in the business's own words.
POLICY_WORDS = frozenset({"policy", "guarantee", "warranty", "programme", "program", "membership", "club",
                          "plan", "scheme", "promise", "rewards", "loyalty", "subscription", "pass"})


# A total of more amounts than this in one sentence is not an answer's sum of extras.
SUM_MAX_AMOUNTS = 7


@functools.lru_cache(maxsize=256)
def _amounts_in(sentence: str) -> tuple[Money, ...]:
    return tuple(money for _start, _end, money in _money_in(sentence))


def _contacts_in(sentence: str) -> Iterator[tuple[int, int, ClaimKind, str]]:
    spans: list[tuple[int, int]] = []
    for match in _EMAIL.finditer(sentence):
        spans.append((match.start(), match.end()))
        yield match.start(), match.end(), ClaimKind.EMAIL, match.group(0).rstrip(".").lower()
    for pattern in (_URL, _BARE_DOMAIN):
        for match in pattern.finditer(sentence):
            if any(match.start() < end and start < match.end() for start, end in spans):
                continue
            spans.append((match.start(), match.end()))
            text = match.group(0).rstrip(".,;:!?")
            yield match.start(), match.start() + len(text), ClaimKind.URL, normalise_url(text)


def normalise_url(url: str) -> str:
    """'https://www.Shop.example/returns/' -> 'shop.example/returns': how addresses are compared."""
    text = re.sub(r"(?i)^https?://", "", url.strip()).rstrip("/.,;:!?")
    host, _, path = text.partition("/")
    host = host.lower().removeprefix("www.")
    return f"{host}/{path}".rstrip("/") if path else host


def _squashed(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.casefold())


def _number_of(text: str) -> Decimal:
    if text.isdigit():
        return Decimal(text)
    lowered = text.lower()
    if lowered in NUMBER_WORDS:
        return Decimal(NUMBER_WORDS[lowered])
    return Decimal(text.replace(",", "."))


def _quantity(match: re.Match[str]) -> Quantity:
    numbers = tuple(_number_of(match.group(group)) for group in ("n1", "n2") if match.group(group))
    unit = (match.groupdict().get("unit") or match.groupdict().get("inch") or "").lower()
    return Quantity(numbers=numbers, unit=unit)


def _without_leaders(run: str) -> str:
    """A title-case run without the sentence's first word or a greeting before it."""
    words = run.split()
    while words and words[0].lower().strip("'") in _NAME_LEADERS:
        words.pop(0)
    return " ".join(words)


def _name_of(run: str) -> str:
    name = _without_leaders(run)
    return name if " " in name else ""


def _sums_in(sentence: str) -> Iterator[tuple[int, int, SumValue]]:
    """'£3.80 + 40p oat milk = £4.20', '€59.95 plus €6.95 shipping makes €66.90'."""
    if "+" not in sentence and "plus" not in sentence.lower():
        return
    amounts = sorted(_money_in(sentence), key=lambda found: found[0])
    position = 0
    while position < len(amounts):
        chain = [amounts[position]]
        index = position + 1
        total = None
        while index < len(amounts):
            between = sentence[chain[-1][1]:amounts[index][0]]
            if len(between) > 40:
                break
            if _PLUS.search(between):
                chain.append(amounts[index])
            elif _EQUALS.search(between) and len(chain) >= 2:
                total = amounts[index]
                break
            else:
                break
            index += 1
        if total is not None:
            yield chain[0][0], total[1], SumValue(addends=tuple(item[2] for item in chain), total=total[2])
            position = index + 1
        else:
            # A chain that ends without a total ends there for every amount inside it too.
            position = max(position + 1, index)


_PLUS = re.compile(r"(?i)\+|\bplus\b|\band\b")
_EQUALS = re.compile(r"(?i)=|\b(?:makes?|comes? to|is|totals?|total of|in total|altogether)\b")


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
            # A named month's day that does not exist ("31 November") is still a date said, and never true.
            value = _date_value(day=match.group("d"), month=month, year=match.group("y"),
                                weekday=match.group("wd"), existing_only=False)
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
                weekday: str | None = None, existing_only: bool = True) -> DateValue | None:
    day_number = int(day)
    weekday_number = WEEKDAYS.get(weekday.rstrip(".").lower()) if weekday else None
    year_number = int(year) if year else None
    if not 1 <= day_number <= 31 or (month is not None and not 1 <= month <= 12):
        return None
    if month is not None and existing_only:
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
            negated = bool(re.search(r"n't|\bnot\b|\bnever\b|\byet to be\b|\bniet\b", negation))
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

# Claims whose truth depends on which variant a sentence names.
_VARIANT_SCOPED = frozenset({ClaimKind.STOCK, ClaimKind.STATUS, ClaimKind.MONEY})
# Colours and sizes a sentence may name although the product does not come in them.
COLOUR_WORDS = frozenset({
    "black", "white", "navy", "blue", "light blue", "dark blue", "red", "green", "forest green", "olive", "khaki",
    "grey", "gray", "charcoal", "brown", "beige", "sand", "oat", "cream", "ecru", "pink", "purple", "burgundy",
    "yellow", "orange", "mustard", "teal", "camel", "zwart", "wit", "blauw", "rood", "groen", "grijs", "bruin",
})
SIZE_CODES = frozenset({"XXS", "XS", "S", "M", "L", "XL", "XXL", "XXXL", "2XL", "3XL"})


@dataclass(frozen=True)
class VariantFacts:
    attributes: frozenset[str]  # its size, colour and other options, lower case
    from_tool: bool  # returned by a tool this turn (with stock and price), not only known from the catalog
    stock: int | None = None
    available: bool | None = None
    prices: frozenset[Decimal] = frozenset()

    @property
    def in_stock(self) -> bool:
        return self.available if self.available is not None else (self.stock or 0) > 0

    def backs(self, claim: Claim) -> bool:
        value = claim.value
        if claim.kind is ClaimKind.STOCK and isinstance(value, int):
            return self.stock == value or (value == 0 and self.available is False)
        if claim.kind is ClaimKind.STATUS and isinstance(value, StatusValue):
            return (self.in_stock == (value.status == "in_stock")) != value.negated
        if claim.kind is ClaimKind.MONEY and isinstance(value, Money):
            return value.amount in self.prices
        return True


@dataclass(frozen=True)
class ProductFacts:
    name: str
    from_tool: bool
    variants: tuple[VariantFacts, ...]


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
    time_ranges: set[tuple[tuple[int, int], tuple[int, int]]] = field(default_factory=set)  # opens, closes
    phones: set[str] = field(default_factory=set)  # digits only
    emails: set[str] = field(default_factory=set)
    urls: set[str] = field(default_factory=set)  # normalise_url's form
    hosts: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)  # product, category and title names, lower case
    references: set[str] = field(default_factory=set)  # order and tracking numbers, _squashed's form
    products: list[ProductFacts] = field(default_factory=list)
    # Every text the facts hold, lower case, and with only its letters and digits (for addresses).
    corpus: str = ""
    squashed: str = ""
    today: date | None = None
    _texts: list[str] = field(default_factory=list, repr=False)
    _alternatives: list[tuple[str, str]] = field(default_factory=list, repr=False)  # (product, "Blue S")
    _attribute_pattern: re.Pattern[str] | None = field(default=None, repr=False)

    def add_all(self, other: FactSet) -> None:
        """Every fact of `other` added to these, after those already here (`other` is left as it is)."""
        for item in dataclasses.fields(self):
            value = getattr(other, item.name)
            if isinstance(value, set):
                getattr(self, item.name).update(value)
            elif isinstance(value, list):
                getattr(self, item.name).extend(value)

    def supports(self, claim: Claim) -> bool:
        if claim.kind is ClaimKind.MONEY and self._sum_of_others(claim):
            return True
        if claim.kind in _VARIANT_SCOPED and self.products:
            scoped = self._variant_supports(claim)
            if scoped is False:
                return False
        if claim.kind is ClaimKind.SUM and self.products and isinstance(claim.value, SumValue):
            # "A large latte with oat milk is £3.40 + 40p = £3.80": the sum adds up and each amount is a
            # price, but the first is the Regular's; the variant named before a sum prices its first amount.
            first = dataclasses.replace(claim, kind=ClaimKind.MONEY, value=claim.value.addends[0])
            if self._variant_supports(first) is False:
                return False
        if claim.kind in _QUOTED_KINDS and not self._quoted_rightly(claim):
            return False
        value = claim.value
        if claim.kind is ClaimKind.MONEY and isinstance(value, Money):
            return self._money_supported(value)
        if claim.kind is ClaimKind.PHONE and isinstance(value, str):
            return any(_same_phone(value, known) for known in self.phones)
        if claim.kind is ClaimKind.EMAIL and isinstance(value, str):
            return value in self.emails
        if claim.kind is ClaimKind.URL and isinstance(value, str):
            return value in self.urls or value in self.hosts or (len(value) > 4 and value in self.corpus)
        if claim.kind is ClaimKind.ADDRESS and isinstance(value, str):
            return bool(value) and value in self.squashed
        if claim.kind is ClaimKind.SUM and isinstance(value, SumValue):
            added = sum((addend.amount for addend in value.addends), Decimal(0))
            return added == value.total.amount and all(self._money_supported(addend) for addend in value.addends)
        if claim.kind in (ClaimKind.MEASUREMENT, ClaimKind.COUNT) and isinstance(value, Quantity):
            return all(number in self.numbers for number in value.numbers)
        if claim.kind is ClaimKind.YEAR and isinstance(value, int):
            return (Decimal(value) in self.numbers or any(known.year == value for known in self.dates)
                    or (self.today is not None and abs(self.today.year - value) <= 1))
        if claim.kind is ClaimKind.RELATIVE_DAY and isinstance(value, int):
            return self.today is None or self.today + timedelta(days=value) in self.dates
        if claim.kind is ClaimKind.NAME and isinstance(value, str):
            return self._name_supported(value)
        if claim.kind is ClaimKind.REFERENCE and isinstance(value, str):
            return self._reference_supported(value, claim.text)
        if claim.kind is ClaimKind.VARIANT and isinstance(value, VariantMention):
            return self._variant_mention_supported(value, claim)
        return self._supports_figure(claim)

    def _range_supported(self, claim: Claim) -> bool:
        """'open 14:00–14:00' states two true times as a false range: a range must be one the data has."""
        if not self.time_ranges:
            return True
        position = claim.sentence.find(claim.text)
        for first, second, start, end in _time_ranges_in(claim.sentence):
            if start <= position < end:
                return (first, second) in self.time_ranges
        return True

    def _money_supported(self, value: Money) -> bool:
        return any(amount == value.amount and (not value.currencies or currency is None
                                               or currency in value.currencies)
                   for amount, currency in self.money)

    def _sum_of_others(self, claim: Claim) -> bool:
        """'£3.80 with oat milk (40p), £4.20 in all': a total of amounts the same sentence states."""
        assert isinstance(claim.value, Money)
        amounts = _amounts_in(claim.sentence)
        if len(amounts) > SUM_MAX_AMOUNTS:
            return False
        others = [money for money in amounts if money.amount != claim.value.amount and self._money_supported(money)]
        if len(others) < 2:
            return False
        return any(sum((money.amount for money in group), Decimal(0)) == claim.value.amount
                   for size in range(2, len(others) + 1) for group in itertools.combinations(others, size))

    def _reference_supported(self, squashed: str, written: str) -> bool:
        """An order or tracking number is one the data or the customer gave, whole: not one digit off,
        and not a number cut short."""
        if squashed in self.references:
            return True
        whole = re.compile(rf"(?<![\w-]){re.escape(written.casefold())}(?![\w-])")
        return bool(whole.search(self.corpus) or any(whole.search(name) for name in self.names))

    def _name_supported(self, name: str) -> bool:
        words = name.lower().split()
        last = _head(name)
        heads = self.name_heads
        if last not in POLICY_WORDS and last not in heads and last.rstrip("s") not in heads:
            return True
        # "the Navy Essential Hoodie": the variant's words before the product's name.
        attributes = self.attribute_words
        while len(words) > 1 and words[0] in attributes:
            words.pop(0)
        phrase = " ".join(words)
        for candidate in (phrase, phrase.rstrip("s")):
            if candidate in self.names or candidate in self.corpus:
                return True
            if any(candidate.endswith(" " + known) for known in self.names if " " in known):
                return True
        return False

    def _quoted_rightly(self, claim: Claim) -> bool:
        """A sentence that quotes one of the data's sentences ("Shipping within the Netherlands is
        €4.95, or free on orders from €75.") says that sentence's figures: €19.95 is a figure the
        passage has, but for everywhere else, not for the Netherlands."""
        words = _quote_words(claim.sentence)
        if len(words) < QUOTE_MIN_WORDS:
            return True
        figure = _figure_key(claim.value)
        quoted = False
        for source_words, figures in self.quotable_sentences:
            shared = len(words & source_words)
            if shared >= QUOTE_MIN_WORDS and shared >= QUOTE_MIN_SHARE * max(len(words), len(source_words)):
                if figure in figures:
                    return True
                quoted = True
        return not quoted

    # Read once the facts are complete (supported_facts builds them, then only reads).
    @functools.cached_property
    def quotable_sentences(self) -> tuple[tuple[frozenset[str], frozenset[Any]], ...]:
        """Each sentence of the data's texts that states a figure: its words, and its figures."""
        found = []
        for text in self._texts:
            if not _DIGIT.search(text) or len(text) < 20:
                continue
            for start, end in split_sentences(text):
                sentence = text[start:end]
                figures = frozenset(_figure_key(claim.value) for claim in extract_claims(sentence)
                                    if claim.kind in _QUOTED_KINDS)
                words = _quote_words(sentence)
                if figures and len(words) >= QUOTE_MIN_WORDS:
                    found.append((words, figures))
        return tuple(found)

    @functools.cached_property
    def name_heads(self) -> frozenset[str]:
        """The last words of the business's product names ('hoodie', 'latte', 'pack' of '3-Pack'): a
        title-case phrase ending in one names a product, and must be one the catalog has."""
        return frozenset(_head(product.name) for product in self.products if product.name.split())

    @functools.cached_property
    def attribute_words(self) -> frozenset[str]:
        return frozenset({attribute for product in self.products for variant in product.variants
                          for attribute in variant.attributes} | COLOUR_WORDS)

    @functools.cached_property
    def words(self) -> frozenset[str]:
        """Every word the facts hold (their texts and names), lower case."""
        return frozenset(re.findall(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", self.corpus + "\n" + "\n".join(self.names)))

    def _attributes_in(self, sentence: str) -> set[str]:
        if self._attribute_pattern is None:
            known = {attribute for product in self.products for variant in product.variants
                     for attribute in variant.attributes} | COLOUR_WORDS | {size.lower() for size in SIZE_CODES}
            alternatives = []
            for attribute in sorted(known, key=len, reverse=True):
                escaped = re.escape(attribute).replace(r"\ ", r"\s+")
                # "M", "L", "XL": sizes only in capitals, so "I'm" or "a l" are not read as sizes.
                if attribute.upper() in SIZE_CODES or len(attribute) <= 2:
                    alternatives.append(rf"(?-i:{re.escape(attribute.upper())})")
                else:
                    alternatives.append(escaped)
            self._attribute_pattern = re.compile(rf"(?i)(?<![\w'’.,-])(?:{'|'.join(alternatives)})(?![\w'’-]|[.,]\d)")
        # "Oat Milk" is a product, not the colour oat.
        for product in self.products:
            if " " in product.name and product.name.lower() in sentence.lower():
                sentence = re.sub(re.escape(product.name), " ", sentence, flags=re.IGNORECASE)
        return {re.sub(r"\s+", " ", match.group(0).lower()) for match in self._attribute_pattern.finditer(sentence)}

    def _variant_supports(self, claim: Claim) -> bool | None:
        """A stock or price claim in a sentence that names a variant ('Black M', 'a large latte') holds
        only if a variant the tools returned has those attributes and backs it: never another
        variant's stock or price. None when the sentence names no variant."""
        tool_products = [product for product in self.products if product.from_tool and product.variants]
        if not tool_products:
            return None
        if claim.kind is ClaimKind.STATUS and (not isinstance(claim.value, StatusValue)
                                               or claim.value.status not in ("in_stock", "out_of_stock")):
            return None
        # The nearest clause that names a variant or a product says what the claim is about; a
        # variant in brackets right after the claim ("£3.80 (Large)") says it first.
        found: set[str] = set()
        named: list[ProductFacts] = []
        position = claim.sentence.find(claim.text)
        bracket = _BRACKET_AFTER.match(claim.sentence, position + len(claim.text)) if position >= 0 else None
        clauses = _clauses_near(claim)
        if bracket is not None:
            clauses = [bracket.group(1), *clauses]
        for clause in clauses:
            found = self._attributes_in(clause)
            named = [product for product in tool_products if product.name.lower() in clause.lower()]
            # "Sencha Green Tea" names that product, not a "Green Tea" too.
            named = [product for product in named if not any(
                product.name.lower() != other.name.lower() and product.name.lower() in other.name.lower()
                for other in named)]
            if found or named:
                break
        if not found:
            return self._product_supports(claim, named)
        named = named or tool_products
        scoped = False
        for product in named:
            known = self._attributes_of(product.name)
            asked = found & known
            foreign = found - known
            if not asked and not foreign:
                continue
            scoped = True
            if foreign:
                continue  # a colour or size this product does not come in
            if any(asked <= variant.attributes and variant.backs(claim) for variant in product.variants
                   if variant.from_tool):
                return True
        return False if scoped else None

    def _variant_mention_supported(self, mention: VariantMention, claim: Claim) -> bool:
        """A variant named must exist, and be the one the data says: an order's 'Ribbed Beanie
        (Navy, One size)' is not its Black one, a list of what is in stock lists only variants the
        tools returned in stock, and the price right after 'Chai Latte (Regular)' is the Regular's."""
        asked = self._attributes_in(mention.written)
        if not asked:
            return True  # "(24 available)", "(hooded)": no variant named
        # Sizes written with digits ("Sand 46", "Grey Melange 37-40") must be the variant's own.
        numbered = {token.lower() for token in re.findall(r"\d[\w-]*", mention.written)}
        if mention.product:
            product = mention.product.lower()
            # The data names this product with a variant itself (an order's lines): only as it does.
            if f"{product} (" in self.corpus:
                return f"{product} ({mention.written.lower()})" in self.corpus
            candidates = [known for known in self.products if known.name.lower() == product]
        else:
            candidates = [known for known in self.products if known.from_tool]
        if not candidates:
            return not mention.product  # a product the data does not know: its name is checked as a name
        tool_variants = [variant for known in candidates for variant in known.variants if variant.from_tool]
        matching = [variant for known in candidates for variant in known.variants
                    if asked <= variant.attributes and numbered <= _tokens(variant.attributes)]
        if mention.available:
            return any(variant in tool_variants and variant.in_stock for variant in matching)
        if not matching:
            return False
        price = self._price_after(mention, claim)
        if price is None or not any(variant.prices for variant in tool_variants):
            return True
        # The tools priced this product: the price said of this variant must be the price they gave it.
        return any(price in variant.prices for variant in matching if variant.from_tool)

    @staticmethod
    def _price_after(mention: VariantMention, claim: Claim) -> Decimal | None:
        """The first amount after a named variant in its sentence, when nothing but words about it
        (its extras: 'with oat milk is') comes between: the price said of that variant."""
        sentence = claim.sentence
        position = sentence.find(claim.text)
        if position < 0:
            return None
        rest = sentence[position + len(claim.text):]
        first = next(iter(sorted(_money_in(rest), key=lambda found: found[0])), None)
        if first is None or len(rest[:first[0]]) > 60 or re.search(r"[\d.;!?()]", rest[:first[0]]):
            return None
        return first[2].amount

    @staticmethod
    def _product_supports(claim: Claim, named: list[ProductFacts]) -> bool | None:
        """'The Harbour Hoodie is sold out' names no variant: it is about the product, sold out only
        when none of the variants the tools returned is in stock (and in stock when one is)."""
        if claim.kind is ClaimKind.MONEY and isinstance(claim.value, Money) and len(named) == 1:
            # "Sencha Green Tea: £3.80" is a price of that product, not of another one in the same answer;
            # with extras ("with oat milk", "+") the amount may be a total.
            priced = [variant for variant in named[0].variants if variant.from_tool and variant.prices]
            if not priced or _EXTRAS_CONTEXT.search(claim.sentence):
                return None
            return any(claim.value.amount in variant.prices for variant in priced)
        if claim.kind is not ClaimKind.STATUS or not named or not isinstance(claim.value, StatusValue):
            return None
        in_stock = claim.value.status == "in_stock"
        return any(any(variant.backs(claim) for variant in product.variants) if in_stock
                   else all(variant.backs(claim) for variant in product.variants if variant.from_tool)
                   for product in named)

    def _attributes_of(self, name: str) -> set[str]:
        return {attribute for product in self.products if product.name.lower() == name.lower()
                for variant in product.variants for attribute in variant.attributes}

    def _supports_figure(self, claim: Claim) -> bool:
        value = claim.value
        if claim.kind is ClaimKind.MONEY and isinstance(value, Money):
            return any(amount == value.amount and (not value.currencies or currency is None
                                                   or currency in value.currencies)
                       for amount, currency in self.money)
        if claim.kind is ClaimKind.TIME and isinstance(value, time):
            return (value.hour, value.minute) in self.times and self._range_supported(claim)
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


def business_fact_base(business: dict[str, Any]) -> FactSet:
    """The facts the business's own profile and catalog back (`business`, see
    chat.assistant.selectors.business_facts), walked once: `supported_facts(..., base=)` adds them to
    each turn's facts instead of walking a catalog of thousands of products every model round."""
    facts = FactSet()
    _walk_business(business, facts)
    return facts


def supported_facts(tool_results: Iterable[Any], *, business: dict[str, Any] | None = None,
                    base: FactSet | None = None, today: date | None = None,
                    customer_texts: Iterable[str] = ()) -> FactSet:
    """Every amount, number, stock level, time, date, status, contact detail and name in the turn's
    tool results, with the business's own profile and catalog names (`business`, see
    chat.assistant.selectors.business_facts) and the contact details the customer typed.

    Results may be dicts, lists or JSON text. Amounts in minor units next to a `currency` also count
    in major units (5995 EUR -> 59.95 EUR); text values (a knowledge-base passage, "59.95 EUR",
    "09:00") are read with the same extraction as answers, so what a tool says in words counts too.
    The business's profile and catalog back contact details and names, never figures: a price or a
    stock level is only ever what a tool returned in this turn.

    `base` is `business_fact_base(business)` when the caller keeps one; without it `business` is
    walked here.
    """
    facts = FactSet(today=today)
    for result in tool_results:
        _walk(_as_data(result), facts, key="", currency=None)
    if base is not None:
        facts.add_all(base)
    elif business:
        _walk_business(business, facts)
    if business:
        # An amount a tool gave without its currency is in the business's: "$3.80" is not "£3.80".
        currency = str(business.get("currency") or "").upper()
        if currency in CURRENCY_CODES:
            facts.money = {(amount, known or currency) for amount, known in facts.money}
    _resolve_alternatives(facts)
    for text in customer_texts:
        for claim in extract_claims(text):
            if claim.kind in (ClaimKind.PHONE, ClaimKind.EMAIL, ClaimKind.REFERENCE):
                _add_claim(claim, facts)
    facts.corpus = "\n".join(facts._texts).casefold()
    facts.squashed = _squashed(facts.corpus)
    return facts


# A sentence of at least this many words, sharing this much of them with one of the data's, quotes it.
QUOTE_MIN_WORDS = 5
QUOTE_MIN_SHARE = 0.8
_QUOTED_KINDS = frozenset({ClaimKind.MONEY, ClaimKind.TIME, ClaimKind.PERCENT})
_QUOTE_WORD = re.compile(r"[^\W\d_]+")


def _quote_words(sentence: str) -> frozenset[str]:
    return frozenset(word.casefold() for word in _QUOTE_WORD.findall(_LINK.sub(" ", sentence)))


def _figure_key(value: Any) -> Any:
    """What two figures of one kind are compared by: an amount whatever its currency's spelling."""
    return value.amount if isinstance(value, Money) else value


_EXTRAS_CONTEXT = re.compile(r"(?i)\+|\b(?:with|plus|extra|total|together|altogether|met)\b")
_BRACKET_AFTER = re.compile(r"\s*\(([^()]{1,40})\)")
_CLAUSE_BREAK = re.compile(r"[,;:()]|\s[-–—]\s|(?i:\b(?:and|but|while|whereas|although|though|en|maar)\b)")


def _clauses_near(claim: Claim) -> list[str]:
    """The parts of its sentence a claim is in, nearest first: its own clause, then those before it,
    then those after. 'Only 2 left in M, and the L is sold out' is about two variants, one per
    clause; in 'the Black M is in stock (24 left)' the count is about the Black M before it."""
    sentence = claim.sentence
    position = sentence.find(claim.text)
    if position < 0:
        return [sentence]
    cuts = [0, *(match.start() for match in _CLAUSE_BREAK.finditer(sentence)), len(sentence)]
    clauses = [sentence[start:end] for start, end in itertools.pairwise(cuts)]
    own = max(index for index, start in enumerate(cuts[:-1]) if start <= position)
    return [clauses[own], *reversed(clauses[:own]), *clauses[own + 1:]]


def _head(name: str) -> str:
    return re.sub(r"^\d+-", "", name.lower().split()[-1])


def _tokens(attributes: frozenset[str]) -> set[str]:
    return {token for attribute in attributes for token in attribute.split()} | set(attributes)


def _resolve_alternatives(facts: FactSet) -> None:
    """A tool's alternatives ("Blue S") become available variants of their product, read with the
    attribute values the product is known to have (multi-word colours included)."""
    for product_name, text in facts._alternatives:
        known = {attribute for product in facts.products if product.name.lower() == product_name.lower()
                 for variant in product.variants for attribute in variant.attributes}
        lowered = " ".join(text.lower().split())
        attributes = {attribute for attribute in known if re.search(rf"(?<![\w-]){re.escape(attribute)}(?![\w-])", lowered)}
        # Sizes written with digits ("44", "36-40") are read as written.
        attributes |= set(re.findall(r"\d[\w-]*", lowered))
        if not attributes:
            attributes = set(lowered.split())
        facts.products.append(ProductFacts(name=product_name, from_tool=True, variants=(
            VariantFacts(attributes=frozenset(attributes), from_tool=True, available=True),)))


_RANGE_LINK = re.compile(r"(?i)\s*(?:-|–|—|to|until|till|tot)\s*")


def _time_ranges_in(text: str) -> list[tuple[tuple[int, int], tuple[int, int], int, int]]:
    """(opens, closes, start, end) of each range of times the text states: '10:00–14:00', '9am to 5pm'."""
    moments = sorted({(start, end, (moment.hour, moment.minute)) for start, end, moment in _clock_times_in(text)})
    return [(first[2], second[2], first[0], second[1]) for first, second in itertools.pairwise(moments)
            if first[1] <= second[0] and _RANGE_LINK.fullmatch(text[first[1]:second[0]])]


def _walk_business(business: dict[str, Any], facts: FactSet) -> None:
    for key in ("name", "tagline", "address", "phone", "email", "website"):
        value = business.get(key)
        if isinstance(value, str) and value.strip():
            facts._texts.append(value)
            for claim in extract_claims(value):
                if claim.kind in (ClaimKind.PHONE, ClaimKind.EMAIL, ClaimKind.URL, ClaimKind.YEAR):
                    _add_claim(claim, facts)
            if key == "phone":
                facts.phones.add(_DIGITS_ONLY.sub("", value))
            elif key == "email":
                _add_email(value.strip().lower(), facts)
            elif key == "website":
                _add_url(normalise_url(value), facts)
    for entry in business.get("catalog") or ():
        name = str(entry.get("name") or "")
        if not name:
            continue
        facts.names.add(name.lower())
        facts.names.update(str(word).lower() for word in entry.get("synonyms") or () if word)
        if entry.get("category"):
            facts.names.add(str(entry["category"]).lower())
        facts.products.append(ProductFacts(name=name, from_tool=False, variants=tuple(
            VariantFacts(attributes=_attributes(variant), from_tool=False) for variant in entry.get("variants") or ())))


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
        _names_of(value, facts, currency=currency)
        opens, closes = value.get("opens"), value.get("closes")
        if isinstance(opens, str) and isinstance(closes, str):
            moments = [next(iter(_clock_times_in(text)), None) for text in (opens, closes)]
            if moments[0] is not None and moments[1] is not None:
                facts.time_ranges.add(((moments[0][2].hour, moments[0][2].minute),
                                       (moments[1][2].hour, moments[1][2].minute)))
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


def _names_of(value: dict[str, Any], facts: FactSet, *, currency: str | None) -> None:
    """Product names, synonyms and categories a tool returned, and a product's variants as facts."""
    for name_key in ("name", "title", "category"):
        name = value.get(name_key)
        if isinstance(name, str) and 0 < len(name) <= 120:
            facts.names.add(name.strip().lower())
    synonyms = value.get("synonyms")
    if isinstance(synonyms, str):
        synonyms = synonyms.split("|")
    if isinstance(synonyms, list | tuple):
        facts.names.update(str(word).strip().lower() for word in synonyms if str(word).strip())
    variants = value.get("variants")
    if isinstance(value.get("name"), str) and isinstance(variants, list | tuple):
        facts.products.append(ProductFacts(name=value["name"], from_tool=True, variants=tuple(
            _variant_facts(variant, currency=currency) for variant in variants if isinstance(variant, dict))))
        # "alternatives": ["Blue S", "Blue M"]: variants the tool says are available instead.
        alternatives = value.get("alternatives")
        if isinstance(alternatives, list | tuple):
            facts._alternatives.extend((value["name"], str(text)) for text in alternatives if text)


def _variant_facts(variant: dict[str, Any], *, currency: str | None) -> VariantFacts:
    own_currency = str(variant.get("currency") or currency or "").upper()
    prices: set[Decimal] = set()
    if isinstance(variant.get("price_minor"), int):
        prices.add(Decimal(variant["price_minor"]).scaleb(-MINOR_DIGITS.get(own_currency, 2)))
    for _start, _end, money in _money_in(str(variant.get("price") or "")):
        prices.add(money.amount)
    stock = variant.get("stock")
    available = variant.get("available")
    return VariantFacts(attributes=_attributes(variant), from_tool=True,
                        stock=stock if isinstance(stock, int) and not isinstance(stock, bool) else None,
                        available=available if isinstance(available, bool) else None, prices=frozenset(prices))


def _attributes(variant: dict[str, Any]) -> frozenset[str]:
    values = (variant.get(key) for key in ("size", "colour", "color", "option", "title"))
    return frozenset(" ".join(str(value).split()).lower() for value in values if value and str(value).strip())


def _add_email(email: str, facts: FactSet) -> None:
    facts.emails.add(email)
    facts.hosts.add(email.rpartition("@")[2])


def _add_url(url: str, facts: FactSet) -> None:
    facts.urls.add(url)
    facts.hosts.add(url.partition("/")[0])


def _same_phone(claimed: str, known: str) -> bool:
    """'020 555 0142' is '+31 20 555 0142': the same subscriber number, with or without the country."""
    if len(claimed) < PHONE_MIN_DIGITS or len(known) < PHONE_MIN_DIGITS:
        return False
    shorter, longer = sorted((claimed.lstrip("0"), known.lstrip("0")), key=len)
    return longer.endswith(shorter) and len(shorter) >= PHONE_MIN_DIGITS


def _add_text(text: str, facts: FactSet, *, key: str, currency: str | None) -> None:
    stripped = text.strip()
    if not stripped:
        return
    facts._texts.append(stripped)
    if "phone" in key and len(_DIGITS_ONLY.sub("", stripped)) >= PHONE_MIN_DIGITS:
        facts.phones.add(_DIGITS_ONLY.sub("", stripped))
    if "url" in key and re.match(r"(?i)https?://", stripped):
        _add_url(normalise_url(stripped), facts)
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
    for first, second, _start, _end in _time_ranges_in(text):
        facts.time_ranges.add((first, second))


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
    elif isinstance(value, Quantity):
        facts.numbers.update(value.numbers)
    elif isinstance(value, str) and claim.kind is ClaimKind.PHONE:
        facts.phones.add(value)
    elif isinstance(value, str) and claim.kind is ClaimKind.REFERENCE:
        facts.references.add(value)
    elif isinstance(value, str) and claim.kind is ClaimKind.EMAIL:
        _add_email(value, facts)
    elif isinstance(value, str) and claim.kind is ClaimKind.URL:
        _add_url(value, facts)
    elif isinstance(value, int) and claim.kind is ClaimKind.YEAR:
        facts.numbers.add(Decimal(value))
    elif isinstance(value, SumValue):
        facts.money.add((value.total.amount, None))


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
    claims = extract_claims(text, with_names=True)
    return CheckResult(claims=tuple(claims),
                       unsupported=tuple(claim for claim in claims if not facts.supports(claim)))


class SentenceScreen(Protocol):
    """Judges a sentence beyond its figures (chat.assistant.answer_screen.AnswerScreen)."""

    def judge(self, sentence: str, facts: FactSet, earlier: Iterable[str] = ()) -> Any: ...


@dataclass(frozen=True)
class GateResult:
    released: list[str]  # text released by the call that returned this (append it to what was sent)
    check: CheckResult  # the whole answer's check
    withheld: str  # text never released: from the first sentence with an unsupported figure on
    problems: tuple[Any, ...] = ()  # the screen's: what closed the gate, and the sentences dropped
    shown: str = ""  # everything the gate released over the whole answer

    @property
    def blocked(self) -> tuple[Any, ...]:
        """The screen's problems that closed the answer (not those only dropped a sentence)."""
        return tuple(problem for problem in self.problems if not problem.drops)


class SentenceGate:
    """Streams an answer sentence by sentence, letting through only sentences whose figures check.

    `feed(delta)` returns the text that may be shown now: every completed sentence, in order, that
    states no figure or only figures the facts back. The sentence still being written is held until
    it ends (a figure may be about to appear in it). At the first sentence with an unsupported
    figure the gate closes: nothing after it is released, and `unsupported` lists what was wrong,
    so the caller can re-ask the model and replace the answer.
    """

    def __init__(self, *, facts: FactSet, screen: SentenceScreen | None = None) -> None:
        self.facts = facts
        # Judges what figures do not show: echoes, other scripts, off-topic sentences (answer_screen).
        self.screen = screen
        self.text = ""
        self.unsupported: list[Claim] = []
        self.problems: list[Any] = []  # the screen's Problems: the one that closed the gate, and those dropped
        self.shown: list[str] = []  # the sentences released, in order
        # Everything before this index has been checked and released or dropped; a sentence starts here.
        self._released_to = 0
        # The claims of the sentences checked so far (the one that closed the gate included), and where
        # the text they were read from ends.
        self._claims: list[Claim] = []
        self._checked_to = 0

    @property
    def closed(self) -> bool:
        return bool(self.unsupported) or any(not problem.drops for problem in self.problems)

    @property
    def released_text(self) -> str:
        """What the customer was shown: the checked text without the sentences dropped."""
        return "".join(self.shown)

    def feed(self, delta: str) -> list[str]:
        self.text += delta
        return [] if self.closed else self._release(final=False)

    def finish(self) -> GateResult:
        released = [] if self.closed else self._release(final=True)
        # The sentences checked while streaming are not read again: only what the gate never reached.
        rest = self.text[self._checked_to:]
        claims = list(self._claims)
        for start, end in split_sentences(rest):
            claims.extend(_claims_in_sentence(rest[start:end], offset=self._checked_to + start, with_names=True))
        check = CheckResult(claims=tuple(claims),
                            unsupported=tuple(claim for claim in claims if not self.facts.supports(claim)))
        return GateResult(released=released, check=check,
                          withheld=self.text[self._released_to:], problems=tuple(self.problems),
                          shown=self.released_text)

    def _release(self, *, final: bool) -> list[str]:
        released: list[str] = []
        base = self._released_to
        pending = self.text[base:]
        sentence_start = 0
        for end, next_start in _sentence_ends(pending, final=final):
            sentence = pending[sentence_start:end].strip()
            claims = _claims_in_sentence(sentence, offset=base + sentence_start, with_names=True)
            self._claims.extend(claims)
            self._checked_to = base + end
            bad = [claim for claim in claims if not self.facts.supports(claim)]
            if bad:
                self.unsupported = bad
                break
            problem = self.screen.judge(sentence, self.facts, self.shown) if self.screen and sentence else None
            if problem is not None:
                self.problems.append(problem)
                if not problem.drops:
                    break
            elif next_start > sentence_start:
                piece = pending[sentence_start:next_start]
                released.append(piece)
                self.shown.append(piece)
            self._released_to = base + next_start
            sentence_start = next_start
        return released
