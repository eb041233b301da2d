"""How the offline assistant reads a message's separate asks: at question marks, sentence ends and
"and"/"also"/"en" before a question of its own; never inside a name like "fish and chips"."""

from __future__ import annotations

import pytest

from chat.assistant import offline

STATE = offline.ConversationState(language="en", pending_order_number="", failed_verifications=0,
                                  human_only_topics=["complaint", "wholesale"], business_name="Shop")


def parts(text: str) -> list[str]:
    return [part.text for part in offline.question_parts(text, STATE)]


@pytest.mark.parametrize(("text", "expected"), [
    ("is the blue hoodie in stock in L? what does it cost?",
     ["is the blue hoodie in stock in L?", "what does it cost?"]),
    ("gluten-free cake, and is the café wheelchair accessible?",
     ["gluten-free cake", "is the café wheelchair accessible?"]),
    ("are you open sunday and where is my order TL-10412", ["are you open sunday", "where is my order TL-10412"]),
    ("zijn jullie morgen open en waar is mijn bestelling TL-10414?",
     ["zijn jullie morgen open", "waar is mijn bestelling TL-10414?"]),
    ("is there wifi? also do you do fish and chips?", ["is there wifi?", "do you do fish and chips?"]),
    ("the blue hoodie and your opening hours?", ["the blue hoodie", "your opening hours?"]),
    # One ask each: a name with "and" or "&", a greeting or thanks beside a question, a statement
    # that goes with its question, the pieces of one order question.
    ("do you do fish and chips?", ["do you do fish and chips?"]),
    ("toast with butter and jam, how much?", ["toast with butter and jam, how much?"]),
    ("bread & butter pudding and custard?", ["bread & butter pudding and custard?"]),
    ("hey! are you open tomorrow? thanks", ["are you open tomorrow?"]),
    ("I ordered a hoodie last week. where is it?", ["I ordered a hoodie last week. where is it?"]),
    ("where is my order? TL-10412, lotte@example.com", ["where is my order? TL-10412, lotte@example.com"]),
    ("is there wifi? is there wifi? is there wifi?", ["is there wifi?"]),
])
def test_a_message_s_asks(text: str, expected: list[str]) -> None:
    assert parts(text) == expected


def test_a_flood_of_questions_gets_its_first_five_read() -> None:
    asked = parts(" ".join(f"do you sell thing number {n}?" for n in range(40)))
    assert asked == [f"do you sell thing number {n}?" for n in range(offline.MAX_QUESTION_PARTS)]
