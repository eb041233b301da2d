"""The answer screen: what a model's sentence must be besides true (on topic, in the customer's
language, readable), judged one sentence at a time, as the answer streams."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chat.assistant.answer_screen import AnswerScreen, ProblemKind, parts_unanswered
from chat.assistant.factcheck import SentenceGate, supported_facts
from tests.assistant.test_factcheck import BUSINESS, HOURS, NAVY_M

SHOP_WORDS = "Threadline Everyday clothes in organic and recycled fabrics, shipped from Amsterdam."


def screen(question: str, language: str = "en") -> AnswerScreen:
    return AnswerScreen(question=question, language=language, business_words=SHOP_WORDS)


def judged(question: str, sentence: str, *results: object) -> ProblemKind | None:
    problem = screen(question).judge(sentence, supported_facts(list(results), business=BUSINESS))
    return problem.kind if problem else None


@pytest.mark.parametrize(("question", "sentence"), [
    ("are you open on sunday?", "No, we're closed on Sunday."),
    ("are you open on sunday?", "Yes, we're open on Sunday from 10:00."),
    ("open sunday?", "Yes, we're open on Sunday."),
    ("Do you have the Essential Hoodie in navy, size M?", "Sorry, the Essential Hoodie in Navy M is sold out."),
    ("tell me about your team", "We are a small team who love good coffee."),
    ("hoeveel kost de hoodie?", "De Essential Hoodie kost €59,95."),
    ("Do you have the Essential Hoodie in navy, size M?",
     "Our Essential Hoodie is midweight organic cotton fleece with a kangaroo pocket."),
])
def test_plain_answers_pass(question: str, sentence: str) -> None:
    assert judged(question, sentence, NAVY_M, HOURS) is None


@pytest.mark.parametrize(("question", "sentence", "kind"), [
    ("are you open on sunday?", "Are you open on Sunday?", ProblemKind.ECHO),
    ("are you open on sunday?", "You asked: are you open on sunday?", ProblemKind.ECHO),
    ("are you open on boxing day?",
     "In the 2014 season, the boxing world saw Floyd Mayweather defend his titles against Marcos Maidana.",
     ProblemKind.OFF_TOPIC),
    ("do you sell bicycles?", "You can buy or rent bicycles at our shop.", ProblemKind.NOT_OFFERED),
    ("are you open on sunday?", "日曜日は営業しておりません。", ProblemKind.SCRIPT),
    ("are you open on sunday?", "Yes we are open شكرا جزيلا لك على سؤالك", ProblemKind.SCRIPT),
    ("are you open on sunday?", "open open open open open", ProblemKind.DEGENERATE),
    ("are you open on sunday?", "Sure! <|im_end|><|im_start|>user", ProblemKind.DEGENERATE),
    ("what does the hoodie cost?", "the price is the price is the price is the price is", ProblemKind.DEGENERATE),
])
def test_what_must_not_reach_a_customer_is_recognised(question: str, sentence: str, kind: ProblemKind) -> None:
    assert judged(question, sentence, NAVY_M, HOURS) is kind


def test_a_customer_writing_japanese_may_be_answered_in_japanese() -> None:
    assert screen("日曜日は開いていますか？", language="ja").judge("日曜日は休みです。", supported_facts([])) is None


def test_the_gate_drops_echoes_and_repeats_but_streams_the_rest() -> None:
    gate = SentenceGate(facts=supported_facts([HOURS]), screen=screen("are you open on friday?"))
    answer = "Are you open on Friday? Yes, we open at 9am on Friday. Yes, we open at 9am on Friday. See you!"

    released = [piece for start in range(0, len(answer), 5) for piece in gate.feed(answer[start:start + 5])]
    result = gate.finish()
    released += result.released

    assert "".join(released) == result.shown == "Yes, we open at 9am on Friday. See you!"
    assert [problem.kind for problem in result.problems] == [ProblemKind.ECHO, ProblemKind.REPEATED]
    assert not result.blocked and not gate.closed


def test_the_gate_closes_at_a_sentence_in_another_script() -> None:
    gate = SentenceGate(facts=supported_facts([HOURS]), screen=screen("are you open on friday?"))

    shown = gate.feed("We open at 9am on Friday. ご質問ありがとうございます。 We close at 5.30pm. ")

    assert "".join(shown) == "We open at 9am on Friday. "
    assert gate.closed and [problem.kind for problem in gate.finish().blocked] == [ProblemKind.SCRIPT]


def test_a_part_the_tools_answered_but_the_answer_left_out_is_found() -> None:
    calls = [{"name": "product_availability", "result": NAVY_M}, {"name": "opening_hours", "result": HOURS}]

    assert parts_unanswered("The Essential Hoodie in Navy M is sold out. We open at 9am.", calls) == []
    assert parts_unanswered("We open at 9am.", calls) == ["product_availability"]
    assert parts_unanswered("Sorry, that one is sold out. We open at 9am.", calls) == []
    assert parts_unanswered("The Essential Hoodie in Navy M is sold out.", calls) == ["opening_hours"]


def test_a_knowledge_part_left_out_of_a_several_part_answer_is_found() -> None:
    access = {"confident": True, "passages": [{"title": "Is the café wheelchair accessible?", "text": (
        "Yes. The front entrance is step-free, and we have an accessible toilet on the ground floor.")}]}
    calls = [{"name": "product_availability", "result": NAVY_M}, {"name": "knowledge_search", "result": access}]

    assert parts_unanswered("The Essential Hoodie in Navy M is sold out. Yes, the front entrance is step-free.",
                            calls) == []
    assert parts_unanswered("The Essential Hoodie in Navy M is sold out.", calls) == ["knowledge_search"]
    # Asked alone, the passage put in the customer's own language is its answer.
    assert parts_unanswered("Ja, de ingang is drempelvrij en er is een toegankelijk toilet.", calls[1:]) == []


def test_an_answer_in_the_passages_language_that_uses_none_of_its_words_did_not_answer_from_it() -> None:
    """What a real 135M model told a café customer asking about their dog, beside the FAQ it was given."""
    dogs = {"confident": True, "passages": [{"title": "Can I bring my dog?", "text": (
        "Absolutely, well-behaved dogs are welcome inside and on the terrace. We've got a water bowl by the "
        "door and dog biscuits behind the counter. Assistance dogs are always welcome.")}]}
    calls = [{"name": "knowledge_search", "result": dogs}]

    assert parts_unanswered("No, you cannot bring your dog. The order is a gift from the customer who gave it "
                            "to you.", calls) == ["knowledge_search"]
    assert parts_unanswered("Yes, well-behaved dogs are welcome inside and on the terrace.", calls) == []


@given(st.lists(st.sampled_from(["We", "open", "at", "9am", "on", "Friday", "Welcome", "to", "Threadline"]),
                min_size=1, max_size=30))
def test_whatever_the_gate_releases_is_the_answer_in_order_less_what_it_dropped(words: list[str]) -> None:
    gate = SentenceGate(facts=supported_facts([HOURS]), screen=screen("are you open on friday?"))
    answer = ". ".join(" ".join(words[index:index + 4]) for index in range(0, len(words), 4)) + "."

    released = [piece for start in range(0, len(answer), 3) for piece in gate.feed(answer[start:start + 3])]
    result = gate.finish()
    released += result.released

    assert "".join(released) == result.shown
    assert all(piece in answer for piece in released)


@pytest.mark.parametrize("sentence", [
    "This is not about my answer.",
    "The customer asked you to tell them how much the item costs.",
    "As an AI language model I cannot see the shop.",
    "Based on the tool results, the hoodie is available.",
])
def test_talk_about_the_conversation_instead_of_to_the_customer_is_not_sent(sentence: str) -> None:
    """What a real 135M model wrote when asked to correct its answer: it answered the correction."""
    assert screen("how much is oat milk?").judge(sentence, supported_facts([])) is not None


@pytest.mark.parametrize("sentence", [
    "Our customer service team is available Monday to Friday.",
    "We reply to every customer within a day.",
])
def test_the_word_customer_in_an_answer_is_not_talk_about_the_conversation(sentence: str) -> None:
    problem = screen("can i call you?").judge(sentence, supported_facts([]))
    assert problem is None or problem.kind.value != "off_topic"


def test_a_product_named_without_its_price_or_stock_is_not_answered() -> None:
    """What a real 135M model told a customer asking for the navy hoodie in M."""
    calls = [{"name": "product_availability", "result": NAVY_M}]

    assert parts_unanswered("You can buy a hoodie for size M, but I'm afraid I don't have the item.",
                            calls) == ["product_availability"]
    assert parts_unanswered("Sorry, the Essential Hoodie in Navy M is sold out.", calls) == []
