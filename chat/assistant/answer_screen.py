"""On topic and in the customer's language: what a model's answer must be besides true.

The fact check (chat.assistant.factcheck) holds every claim to the turn's data; this screen holds
the rest of a sentence to the question: it must not repeat the question back or itself, break down
into stray tokens or another script, wander off to things nobody asked about, or offer what the
business does not do. Like the fact check it is pure, cheap and deterministic, and judges one
sentence at a time, so checked text still streams as it is written.

`AnswerScreen.judge(sentence, facts, earlier)` says what is wrong with a sentence, if anything: a
`Problem` that `drops` (an echo of the question, a repeated sentence: the rest of the answer may be
fine) or closes the answer (everything else: the engine asks again or answers from the data).
`parts_unanswered` finds the tool results a whole answer ignores (a multi-part question answered in
part).
"""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from chat.assistant.factcheck import FactSet, extract_claims
from chat.assistant.language import detect_language


class ProblemKind(StrEnum):
    ECHO = "echo"  # repeats the customer's question
    REPEATED = "repeated"  # a sentence said before in the same answer
    DEGENERATE = "degenerate"  # stray tokens, a word or phrase over and over
    SCRIPT = "script"  # letters of a script other than the customer's
    OFF_TOPIC = "off_topic"  # about things neither the question nor the data mention
    NOT_OFFERED = "not_offered"  # offers what the business does not sell or do
    PART_UNANSWERED = "part_unanswered"  # a looked-up part of the question left out


DROPPED = frozenset({ProblemKind.ECHO, ProblemKind.REPEATED})


@dataclass(frozen=True)
class Problem:
    kind: ProblemKind
    sentence: str

    @property
    def drops(self) -> bool:
        """Only this sentence is left out; the answer goes on."""
        return self.kind in DROPPED

    def describe(self) -> str:
        return f'- {_DESCRIPTIONS[self.kind]}: "{self.sentence[:200]}"'


_DESCRIPTIONS = {
    ProblemKind.ECHO: "this repeats the customer's question instead of answering it",
    ProblemKind.REPEATED: "this sentence was already said",
    ProblemKind.DEGENERATE: "this is not a readable sentence",
    ProblemKind.SCRIPT: "this is not written in the customer's language",
    ProblemKind.OFF_TOPIC: "this is not about the customer's question or the business",
    ProblemKind.NOT_OFFERED: "the business does not offer this",
    ProblemKind.PART_UNANSWERED: "this part of the question, which the tools answered, is missing",
}


def feedback(problems: Iterable[Problem]) -> str:
    lines = [problem.describe() for problem in problems]
    return ("Answer only the customer's question, in the customer's language, from the tool results; these "
            "sentences cannot be sent:\n" + "\n".join(lines)) if lines else ""


# ============================================================================ words

_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
STOP_WORDS = frozenset("""
a about above after again all also am an and any are as at be because been before being below between both
but by can could did do does doing down during each few for from further had has have having he her here
hers him his how i if in into is it its itself just me more most my no nor not now of off on once only or
other our ours out over own same she should so some such than that the their them then there these they this
those through to too under until up very was we were what when where which while who whom why will with
would you your yours yes sure hi hello hey thanks thank please sorry great happy glad help let know like
get got make see today tomorrow still just well also really here there much many every anything something
de het een en is zijn je jij u uw ik wij we niet wat waar wanneer hoe mijn hebben heeft jullie kan kunnen
mag welke nog ook voor van met op aan bij naar dat die dit deze er maar als dan om tot ja nee graag
""".split())
# What any customer-service answer may speak of without the question or the data naming it.
SERVICE_WORDS = frozenset("""
order orders ordered shop store business team customer customers colleague colleagues person someone
question questions answer message chat contact email phone call reply details information info check checked
look looking available availability stock price prices cost costs pay payment delivery deliver delivered
shipping ship shipped return returns refund exchange size sizes colour colours color colors variant variants
open opening opens closed closes hours time times week weekend morning afternoon evening daily today
tomorrow monday tuesday wednesday thursday friday saturday sunday holiday holidays please welcome visit
happy glad help assist anything else unfortunately currently right moment sold left item items product
products range option options choose choice recommend popular love lovely great good nice enjoy thanks
bestelling winkel prijs kosten levering bezorging verzending open geopend gesloten vandaag morgen maat kleur
voorraad beschikbaar helpen vraag antwoord collega
""".split())
_CONTENT_MIN_LETTERS = 4
_META_TALK = re.compile(
    r"(?i)\b(?:the (?:customer|user)(?!\s+(?:service|services|support|care|team))(?:'s)?|my (?:answer|reply|response)|"
    r"(?:the|your) (?:previous |last )?(?:answer|reply|response) (?:is|was|above)|tool results?|system prompt|"
    r"(?:my|the|these) instructions|as an ai\b|language model|de klant\b|mijn antwoord)")


def _stem(word: str) -> str:
    word = word.lower().replace("’", "'")
    for suffix in ("'s", "ies", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def content_words(text: str) -> list[str]:
    return [_stem(word) for word in _WORD.findall(text)
            if len(word) >= _CONTENT_MIN_LETTERS and word.lower() not in STOP_WORDS]


@functools.lru_cache(maxsize=256)
def _vocabulary_of(text: str) -> frozenset[str]:
    return frozenset(_stem(word) for word in _WORD.findall(text))


def _facts_vocabulary(facts: FactSet) -> frozenset[str]:
    return _stems_of(facts.words)


@functools.lru_cache(maxsize=64)
def _stems_of(words: frozenset[str]) -> frozenset[str]:
    return frozenset(_stem(word) for word in words)


# ============================================================================ scripts

# The script each language the business may list is written in; anything else is Latin.
LANGUAGE_SCRIPTS = {
    "ja": {"CJK", "HIRAGANA", "KATAKANA"}, "zh": {"CJK"}, "ko": {"HANGUL", "CJK"}, "ar": {"ARABIC"},
    "fa": {"ARABIC"}, "ur": {"ARABIC"}, "he": {"HEBREW"}, "ru": {"CYRILLIC"}, "uk": {"CYRILLIC"},
    "bg": {"CYRILLIC"}, "sr": {"CYRILLIC", "LATIN"}, "el": {"GREEK"}, "th": {"THAI"}, "hi": {"DEVANAGARI"},
}
_SCRIPT_NAMES = ("LATIN", "CJK", "HIRAGANA", "KATAKANA", "HANGUL", "ARABIC", "HEBREW", "CYRILLIC", "GREEK", "THAI",
                 "DEVANAGARI")


@functools.lru_cache(maxsize=4096)
def script_of(character: str) -> str:
    name = unicodedata.name(character, "")
    for script in _SCRIPT_NAMES:
        if name.startswith(script) or (script == "CJK" and name.startswith("CJK")):
            return script
    return "OTHER"


def scripts_in(text: str) -> Counter[str]:
    return Counter(script_of(character) for character in text if character.isalpha())


# ============================================================================ the screen

_STRAY_TOKENS = re.compile(r"<\|[^|>]{0,40}\|>|</?s>|\[/?INST\]|<unk>|<pad>|<</?SYS>>|\ufffd|\{\{|\}\}|"
                           r"^\s*#{2,}|```|(?:^|\s)(?:assistant|user|system)\s*:", re.IGNORECASE)
_REPEATED_WORD = re.compile(r"(?i)\b(\w+)(?:\W+\1\b){3,}")
_OFFER = re.compile(
    r"(?i)\b(?:we|you can|you could|you may|customers can|wij|u kunt|je kunt)\s+(?:\w+\s+){0,2}?"
    r"(?:sell|rent|hire|offer|buy|stock|carry|repair|fix|serve|provide|book|lease|verkopen|verhuren|bieden)"
    r"(?:\s+(?:or|and|of|en)\s+\w+)?\s+(?P<object>[^.,;:!?]{3,60})")
_OFFER_SKIP = frozenset("""
also still only just even both either them it this that those these you your our all any some more other
different new used great good lovely nice wide full range variety selection lot lots kind kinds type types
""".split())
# Where what is offered ends: "bicycles | at our shop".
_OFFER_END = re.compile(r"(?i)\b(?:at|in|from|for|with|to|on|near|here|online|today|now|bij|in|voor|met|op)\b")
OFF_TOPIC_MIN_WORDS = 6
OFF_TOPIC_UNKNOWN_SHARE = 0.7
SCRIPT_MIN_LETTERS = 3
SCRIPT_MAX_SHARE = 0.2
ECHO_SIMILARITY = 0.8
ECHO_MIN_WORDS = 2


class AnswerScreen:
    """Judges a model's sentences against the customer's question, language and the turn's data."""

    def __init__(self, *, question: str, language: str, business_words: str = "") -> None:
        self.question = question
        self.question_words = [word.lower() for word in _WORD.findall(question)]
        self.question_vocabulary = _vocabulary_of(question)
        self.allowed_scripts = {"LATIN", "OTHER"} | LANGUAGE_SCRIPTS.get(language, set()) | set(scripts_in(question))
        self.business_vocabulary = _vocabulary_of(business_words)

    def judge(self, sentence: str, facts: FactSet, earlier: Iterable[str] = ()) -> Problem | None:
        text = sentence.strip()
        if not text:
            return None
        problem = (self._degenerate(text) or self._script(text) or self._echo(text) or self._repeated(text, earlier)
                   or self._meta(text) or self._not_offered(text, facts) or self._off_topic(text, facts))
        return Problem(kind=problem, sentence=text) if problem else None

    def _degenerate(self, text: str) -> ProblemKind | None:
        if _STRAY_TOKENS.search(text) or _REPEATED_WORD.search(text):
            return ProblemKind.DEGENERATE
        words = [word.lower() for word in _WORD.findall(text)]
        if len(words) >= 9:
            trigrams = Counter(zip(words, words[1:], words[2:], strict=False))
            if trigrams.most_common(1)[0][1] >= 3:
                return ProblemKind.DEGENERATE
        letters = sum(character.isalpha() for character in text)
        if len(text) >= 12 and letters < len(text) * 0.3:
            return ProblemKind.DEGENERATE  # mostly symbols, digits or punctuation
        return None

    def _script(self, text: str) -> ProblemKind | None:
        scripts = scripts_in(text)
        total = sum(scripts.values())
        foreign = sum(count for script, count in scripts.items() if script not in self.allowed_scripts)
        if foreign >= SCRIPT_MIN_LETTERS and foreign > total * SCRIPT_MAX_SHARE:
            return ProblemKind.SCRIPT
        return None

    def _meta(self, text: str) -> ProblemKind | None:
        """A sentence about the conversation rather than to the customer ("The customer asked you to
        tell them...", "This is not about my answer"): a small model answering our correction instead
        of the customer. An answer speaks to the customer as "you", never of "the customer"."""
        return ProblemKind.OFF_TOPIC if _META_TALK.search(text) else None

    def _echo(self, text: str) -> ProblemKind | None:
        words = [word.lower() for word in _WORD.findall(text)]
        question = self.question_words
        if len(question) < ECHO_MIN_WORDS or len(words) < ECHO_MIN_WORDS:
            return None
        joined, asked = " ".join(words), " ".join(question)
        # A question back that contains the customer's ("are you open on sunday? we are" is split
        # into two sentences; "You asked: are you open on sunday?" is one).
        if text.endswith("?") and asked in joined:
            return ProblemKind.ECHO
        if difflib.SequenceMatcher(None, words, question, autojunk=False).ratio() >= ECHO_SIMILARITY:
            return ProblemKind.ECHO
        return None

    def _repeated(self, text: str, earlier: Iterable[str]) -> ProblemKind | None:
        normal = " ".join(word.lower() for word in _WORD.findall(text))
        if normal and any(normal == " ".join(word.lower() for word in _WORD.findall(before)) for before in earlier):
            return ProblemKind.REPEATED
        return None

    def _known(self, word: str, facts: FactSet, *, asked_counts: bool = True) -> bool:
        return ((asked_counts and word in self.question_vocabulary) or word in SERVICE_WORDS
                or word in self.business_vocabulary
                or word in _facts_vocabulary(facts))

    def _not_offered(self, text: str, facts: FactSet) -> ProblemKind | None:
        """'You can buy or rent bicycles' in a clothes shop: an offer of what nothing in the data names."""
        for match in _OFFER.finditer(text):
            offered = _OFFER_END.split(match.group("object"), maxsplit=1)[0]
            objects = [word for word in content_words(offered) if word not in _OFFER_SKIP]
            # The customer asking for it does not make it something the business does.
            if objects and not any(self._known(word, facts, asked_counts=False) for word in objects):
                return ProblemKind.NOT_OFFERED
        return None

    def _off_topic(self, text: str, facts: FactSet) -> ProblemKind | None:
        words = content_words(text)
        if len(words) < OFF_TOPIC_MIN_WORDS:
            return None
        unknown = sum(not self._known(word, facts) for word in words)
        return ProblemKind.OFF_TOPIC if unknown >= len(words) * OFF_TOPIC_UNKNOWN_SHARE else None


# ============================================================================ the whole answer

# Content words an answer shares with a passage the knowledge search found, to have answered from it.
KNOWLEDGE_MIN_SHARED = 2


def parts_unanswered(answer: str, calls: Iterable[dict[str, Any]]) -> list[str]:
    """The looked-up parts of the question an answer leaves out: a product found but never named,
    hours looked up but no time or 'closed' said, an order found but neither its number nor its status
    said. Each part is a tool name; an empty list when every part is in the answer."""
    lowered = answer.lower()
    kinds = {claim.kind.value for claim in extract_claims(answer)}
    missing: list[str] = []
    calls = list(calls)
    # With several parts, a passage none of whose words the answer uses is a part it left out. With
    # one, an answer in the passage's own language must use its words too ("No, you cannot bring your
    # dog" to the FAQ "well-behaved dogs are welcome" is not an answer from it); one put in another
    # language (translated) is judged by its claims alone.
    several = len({str(call.get("name")) for call in calls} - {"handoff"}) > 1 or len(calls) > 1
    answer_words = set(content_words(answer))
    answer_language = detect_language(answer)
    for call in calls:
        name, result = call.get("name"), call.get("result") or {}
        if not isinstance(result, dict) or result.get("error"):
            continue
        if name == "product_availability" and result.get("found"):
            # A product looked up is answered by its price or whether it is in stock ("Yes, it's in
            # stock in M" needs no name); naming it without either ("You can buy a hoodie for size M,
            # but I don't have the item", from a real 135M model) answers nothing.
            if result.get("products") and not ({"money", "stock", "status"} & kinds):
                missing.append(str(name))
        elif name == "opening_hours":
            if not ({"time", "date", "relative_day"} & kinds or re.search(
                    r"(?i)\b(?:closed|open|gesloten|geopend|dicht)\b", answer)):
                missing.append(str(name))
        elif name == "order_lookup" and result.get("found"):
            order = result.get("order") or {}
            number = str(order.get("number", "")).lower()
            if not (number and number in lowered) and "status" not in kinds:
                missing.append(str(name))
        elif name == "knowledge_search" and result.get("confident"):
            passages = [passage for passage in result.get("passages") or () if isinstance(passage, dict)]
            if not several and not any(detect_language(str(passage.get("text", ""))) == answer_language
                                       for passage in passages):
                continue
            if not any(len(answer_words & set(content_words(str(passage.get("text", ""))))) >= KNOWLEDGE_MIN_SHARED
                       for passage in passages):
                missing.append(str(name))
    return missing
