"""Which language a customer is answered in: their own when the business lists it, the business's
otherwise; a product's name or a one-word reply does not switch a conversation's language."""

from __future__ import annotations

import pytest

from chat.assistant.language import detect_language, reply_language


@pytest.mark.parametrize(("text", "default", "expected"), [
    ("hoeveel kost de zip hoodie?", "en", "nl"),
    ("zondag open?", "en", "nl"),
    ("is the blue hoodie in stock in L? what does it cost?", "en", "en"),
    ("is the Van Gogh Print in stock?", "en", "en"),  # a Dutch word in a product's name
    ("do you have pain au chocolat", "en", "en"),  # a French product name in an English question
    ("no thanks", "en", "en"),  # "no" is Spanish too
    ("M", "nl", "nl"),  # a one-word reply keeps the conversation's language
    ("TL-10412", "nl", "nl"),
    ("ok", "nl", "nl"),
    ("habt ihr heute geöffnet?", "en", "de"),
    ("est-ce que vous avez du lait d'avoine?", "en", "fr"),
    ("¿tienen la sudadera azul en talla M?", "en", "es"),
    ("thanks, and are you open on sunday?", "nl", "en"),  # a whole English sentence does switch
    # A product's English name with "in maat": Dutch ("in" is a Dutch word too).
    ("straight leg jeans in maat 36?", "en", "nl"),
    ("long sleeve tee in havermout maat S?", "en", "nl"),
    ("heb je de harbour hoodie in maat M?", "en", "nl"),
    ("is the Breton Striped Tee in stock in S?", "nl", "en"),
])
def test_detect_language(text: str, default: str, expected: str) -> None:
    assert detect_language(text, default=default) == expected


@pytest.mark.parametrize(("written", "languages", "expected"), [
    ("nl", ["en", "nl"], "nl"),
    ("de", ["en", "nl"], "en"),
    ("en", ["nl", "en"], "en"),
    ("fr", ["nl"], "nl"),
    ("de", [], "de"),  # a business that lists none answers in the customer's language
])
def test_reply_language(written: str, languages: list[str], expected: str) -> None:
    assert reply_language(written, languages) == expected
