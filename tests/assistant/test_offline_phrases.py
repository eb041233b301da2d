"""The offline assistant's sentences in every language it has: each phrase in each, and days put in
them the way the language says them ('Today we're open', never 'On today we're open')."""

from __future__ import annotations

import string
from datetime import date, datetime, timedelta

import pytest

from chat.assistant import offline, products

TODAY = date(2026, 11, 24)  # a Tuesday
DAYS = {"today": TODAY, "tomorrow": TODAY + timedelta(days=1), "date": TODAY + timedelta(days=3)}
WRONG = ("On today", "On tomorrow", "Op vandaag", "Op morgen", "on today", "on tomorrow", "op vandaag", "op morgen",
         "..", " .", "again,")


def test_every_phrase_is_in_every_language() -> None:
    keys = {language: set(table) for language, table in offline.PHRASES.items()}
    for language, table_keys in keys.items():
        assert table_keys == keys["en"], f"{language} lacks {keys['en'] - table_keys}, has extra {table_keys - keys['en']}"


@pytest.mark.parametrize("language", sorted(offline.PHRASES))
@pytest.mark.parametrize("which", sorted(DAYS))
@pytest.mark.parametrize("closed", [False, True])
def test_a_day_s_hours_read_as_a_sentence(language: str, which: str, closed: bool) -> None:
    day = DAYS[which]
    hours = {"date": day.isoformat(), "closed": closed, "note": "Christmas Day" if closed else "",
             "ranges": [] if closed else [{"opens": "09:00", "closes": "12:00"}, {"opens": "13:00", "closes": "17:30"}]}
    sentence = offline._day_sentence(hours, language, TODAY)  # noqa: SLF001
    assert sentence[0].isupper() and sentence.endswith(".") and not any(wrong in sentence for wrong in WRONG)
    if which == "date":
        assert offline.date_text(day, language) in sentence
    else:
        assert sentence.startswith(offline.phrase(language, which).capitalize()) or \
            offline.phrase(language, which) in sentence
    if not closed:
        assert "09:00–12:00" in sentence and "13:00–17:30" in sentence


@pytest.mark.parametrize("language", sorted(offline.PHRASES))
@pytest.mark.parametrize("which", sorted(DAYS))
def test_when_we_open_again_reads_as_a_sentence(language: str, which: str) -> None:
    moment = datetime.combine(DAYS[which], datetime.min.time()).replace(hour=9)
    when = offline.moment_text(moment, language, TODAY)
    for key in ("closed_now", "closed_today", "away"):
        sentence = offline.phrase(language, key, when=when)
        assert not any(wrong in sentence for wrong in WRONG), sentence
        assert "09:00" in sentence
    if which == "date":
        assert offline.phrase(language, "on_day", day=offline.date_text(DAYS[which], language)) in when


def test_english_and_dutch_examples() -> None:
    tomorrow = datetime(2026, 11, 25, 7, 30)
    monday = datetime(2026, 11, 30, 9, 0)
    assert offline.phrase("en", "closed_now", when=offline.moment_text(tomorrow, "en", TODAY)) == \
        "We're closed right now. We open again tomorrow at 07:30."
    assert offline.phrase("en", "closed_now", when=offline.moment_text(monday, "en", TODAY)) == \
        "We're closed right now. We open again on Monday 30 November at 09:00."
    assert offline.phrase("nl", "closed_now", when=offline.moment_text(monday, "nl", TODAY)) == \
        "We zijn nu gesloten. We gaan op maandag 30 november om 09:00 weer open."
    assert offline.phrase("nl", "away", when=offline.moment_text(tomorrow, "nl", TODAY)) == \
        "We zijn nu gesloten, dus een medewerker antwoordt zodra we morgen om 07:30 weer open zijn."


@pytest.mark.parametrize("language", sorted(offline.PHRASES))
def test_every_phrase_has_the_same_blanks_in_every_language(language: str) -> None:
    # A translation without "{price}" would drop the price from the sentence without a word.
    def blanks(text: str) -> set[str]:
        return {name for _literal, name, _spec, _conversion in string.Formatter().parse(text) if name}

    for key, text in offline.PHRASES[language].items():
        assert blanks(text) == blanks(offline.PHRASES["en"][key]), f"{language} {key}: {text!r}"


@pytest.mark.parametrize(("language", "expected"), [
    ("en", "Yes, the Chai Latte is in stock in Regular and Large, at £3.50 (Regular) or £3.90 (Large)."),
    ("nl", "Ja, de Chai Latte is op voorraad in Regular en Large, voor £3.50 (Regular) of £3.90 (Large)."),
])
def test_the_variants_in_stock_read_as_a_list(language: str, expected: str) -> None:
    variants = [{"label": label, "price": price, "price_minor": minor, "available": True}
                for label, price, minor in (("Regular", "£3.50", 350), ("Large", "£3.90", 390))]
    product = {"name": "Chai Latte", "variant_requested": None, "missing": None, "missing_attribute": None,
               "variants": variants, "alternatives": [], "sizes": ["Regular", "Large"], "colours": []}
    assert products._product_sentences(product, language=language, counts=False, asks_price=True,  # noqa: SLF001
                                       asks_stock=True) == [expected]
