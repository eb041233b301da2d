"""The offline assistant: a deterministic answer from the business's own data, with no LLM.

It recognises greetings and thanks, requests for a person, topics the business keeps for people,
order questions (with the verification dialogue), opening-hours questions, availability and price
questions, and otherwise answers from the knowledge base when it is confident, quoting and citing
the source, or says honestly that it does not know and offers a person. Every figure it states is
read from a tool result of the turn, like the LLM mode's.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from chat.assistant import discovery, products, tools
from chat.assistant.language import detect_language, is_common_word
from chat.assistant.selectors import business_contact_details
from chat.assistant.tools import TurnContext
from chat.knowledge.selectors import kb_answer_threshold, kb_search
from orders import selectors as commerce
from orders.money import minor_to_text

MAX_VERIFICATION_ATTEMPTS = 3
# A question that names a product but is mostly about something else ("can I return a hoodie I
# bought?") gets a product answer only when the knowledge base has none and the product is a third of it.
PRODUCT_NAMED_ENOUGH = 0.34
MAX_QUESTION_PARTS = 5
MAX_PIECES = 4 * MAX_QUESTION_PARTS  # sentences and "and"s looked at in one message
ASK_WINDOW = 80  # characters either side of an "and" that decide whether it joins two asks
# Stored as the pending order number while we wait for the customer to give one.
AWAITING_ORDER_NUMBER = "?"


@dataclass
class ConversationState:
    """What the offline mode needs to know about the conversation so far."""

    language: str
    pending_order_number: str
    failed_verifications: int
    human_only_topics: list[str]
    business_name: str
    # The language the customer wrote in when the business does not answer in it (then `language`
    # is the business's own); empty otherwise.
    unlisted_language: str = ""
    business_languages: list[str] = field(default_factory=list)


@dataclass
class OfflineAnswer:
    text: str
    intent: str
    confidence: float | None = None
    handoff_reason: str | None = None
    quick_replies: list[str] = field(default_factory=list)
    # Changes to the conversation's verification state, applied by the engine when it stores the answer.
    pending_order_number: str | None = None
    failed_verifications: int | None = None
    cacheable: bool = False


# ----------------------------------------------------------------------------- phrases

PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "greeting": "Hi! I'm {name}'s assistant. I can help with orders, opening hours, products and questions "
                    "about us. What can I do for you?",
        "thanks": "You're welcome! Anything else I can help with?",
        "goodbye": "Thanks for chatting with us. Have a lovely day!",
        "handoff": "Of course. I've asked someone from the team to take over; they'll reply here.",
        "handoff_topic": "That's something a person on our team should handle. I've asked someone to take over; "
                         "they'll reply here.",
        "ask_order_number": "I can check that for you. What's your order number? You'll find it in your order "
                            "confirmation e-mail.",
        "ask_contact": "Thanks! To keep your order private, please also give me the e-mail address or phone "
                       "number you used for order {number}.",
        "not_found": "I couldn't find an order with that number and that e-mail address or phone number. Could "
                     "you check both and try again?",
        "verification_exhausted": "I still can't match those details to an order. I've asked someone from the "
                                  "team to help you; they'll reply here.",
        "order_status": "Order {number} is {status}.",
        "order_tracking": "It's on its way with {carrier}, tracking number {tracking}.",
        "order_track_here": "Track it here: {url}",
        "order_eta": "Expected delivery: {eta}.",
        "order_placed": "Ordered on {day}.",
        "order_items": "It contains: {items}. Total: {total}.",
        "open_now": "Yes, we're open right now, until {closes}.",
        "closed_now": "We're closed right now. We open again {when}.",
        "closed_now_unknown": "We're closed right now, and I don't have an upcoming opening time.",
        "hours_on": "On {day} we're open {ranges}.",
        "closed_on": "We're closed on {day}.",
        "note": " ({note})",
        "closing_today": "Today we close at {closes}.",
        "closed_today": "We're closed today. We open again {when}.",
        "week_intro": "Our opening hours for the coming week:",
        "knowledge": "{answer}",
        "contact_address": "You'll find us at {value}.",
        "contact_phone": "You can call us on {value}.",
        "contact_email": "You can e-mail us at {value}.",
        "unknown": "Sorry, I don't know that one, and I'd rather not guess when I'm not sure. Would you like me "
                   "to ask someone from the team?",
        "unknown_handoff": "I'm still not able to answer that with confidence, so I've asked someone from the team "
                           "to help; they'll reply here.",
        "empty": "Could you tell me a bit more about what you need?",
        "talk_to_person": "Talk to a person",
        "away": "We're closed right now, so a person will reply when we open again {when}.",
        "away_unknown": "We're closed right now, so a person will reply as soon as we're back.",
        "where_is_my_order": "Where is my order?",
        "opening_hours": "Opening hours",
        "and": "and",
        "from_to": "{opens}–{closes}",
        "today": "today",
        "tomorrow": "tomorrow",
        "at": "at",
        # Conversation (multi-part questions, languages, orders in context, day names in sentences).
        "hours_today": "Today we're open {ranges}.",
        "hours_tomorrow": "Tomorrow we're open {ranges}.",
        "closed_day_today": "We're closed today.",
        "closed_day_tomorrow": "We're closed tomorrow.",
        "on_day": "on {day}",
        "yesterday": "yesterday",
        "order_late": "It was expected on {day}, so it is {days} days late; I've asked the team to look into it, "
                      "and they'll reply here.",
        "order_late_one_day": "It was expected yesterday, so it is a day late; I've asked the team to look into "
                              "it, and they'll reply here.",
        "order_delivered_on": "It was delivered on {day}.",
        "order_delivered_relative": "It was delivered {day}.",
        "part_unknown": "About \"{part}\": I don't know that one, and I'd rather not guess.",
        "offer_person": "Would you like me to ask someone from the team?",
        "language_unlisted": "Sorry, I can only answer in {languages} here. Would you like me to ask someone "
                             "from the team to help you?",
        "knowledge_other_language": "Here's what our information says (in {source_language}):\n{answer}",
    },
    "nl": {
        "greeting": "Hoi! Ik ben de assistent van {name}. Ik help je met bestellingen, openingstijden, producten "
                    "en vragen over ons. Waarmee kan ik je helpen?",
        "thanks": "Graag gedaan! Kan ik nog ergens mee helpen?",
        "goodbye": "Bedankt voor je bericht. Fijne dag!",
        "handoff": "Natuurlijk. Ik heb iemand van het team gevraagd het over te nemen; je krijgt hier antwoord.",
        "handoff_topic": "Daar helpt iemand van ons team je graag persoonlijk mee. Ik heb gevraagd het over te "
                         "nemen; je krijgt hier antwoord.",
        "ask_order_number": "Dat zoek ik voor je uit. Wat is je bestelnummer? Je vindt het in je "
                            "bevestigingsmail.",
        "ask_contact": "Dank je! Om je bestelling privé te houden: wat is het e-mailadres of telefoonnummer dat "
                       "je voor bestelling {number} hebt gebruikt?",
        "not_found": "Ik kan geen bestelling vinden met dat nummer en dat e-mailadres of telefoonnummer. Wil je "
                     "ze allebei controleren en het opnieuw proberen?",
        "verification_exhausted": "Ik kan deze gegevens nog steeds niet aan een bestelling koppelen. Ik heb "
                                  "iemand van het team gevraagd je te helpen; je krijgt hier antwoord.",
        "order_status": "Bestelling {number} is {status}.",
        "order_tracking": "Hij is onderweg met {carrier}, trackingnummer {tracking}.",
        "order_track_here": "Volg hem hier: {url}",
        "order_eta": "Verwachte levering: {eta}.",
        "order_placed": "Besteld op {day}.",
        "order_items": "Inhoud: {items}. Totaal: {total}.",
        "open_now": "Ja, we zijn nu open, tot {closes}.",
        "closed_now": "We zijn nu gesloten. We gaan {when} weer open.",
        "closed_now_unknown": "We zijn nu gesloten en ik heb nog geen volgende openingstijd.",
        "hours_on": "Op {day} zijn we open {ranges}.",
        "closed_on": "Op {day} zijn we gesloten.",
        "note": " ({note})",
        "closing_today": "Vandaag sluiten we om {closes}.",
        "closed_today": "Vandaag zijn we gesloten. We gaan {when} weer open.",
        "week_intro": "Onze openingstijden voor de komende week:",
        "knowledge": "{answer}",
        "contact_address": "Je vindt ons op {value}.",
        "contact_phone": "Je kunt ons bellen op {value}.",
        "contact_email": "Je kunt ons mailen op {value}.",
        "unknown": "Sorry, dat weet ik niet, en ik gok liever niet als ik het niet zeker weet. Zal ik iemand van "
                   "het team vragen?",
        "unknown_handoff": "Ik kan dit nog steeds niet met zekerheid beantwoorden, dus ik heb iemand van het team "
                           "gevraagd je te helpen; je krijgt hier antwoord.",
        "empty": "Kun je iets meer vertellen over wat je nodig hebt?",
        "talk_to_person": "Met een medewerker praten",
        "away": "We zijn nu gesloten, dus een medewerker antwoordt zodra we {when} weer open zijn.",
        "away_unknown": "We zijn nu gesloten, dus een medewerker antwoordt zodra we er weer zijn.",
        "where_is_my_order": "Waar is mijn bestelling?",
        "opening_hours": "Openingstijden",
        "and": "en",
        "from_to": "{opens}–{closes}",
        "today": "vandaag",
        "tomorrow": "morgen",
        "at": "om",
        # Conversation (multi-part questions, languages, orders in context, day names in sentences).
        "hours_today": "Vandaag zijn we open {ranges}.",
        "hours_tomorrow": "Morgen zijn we open {ranges}.",
        "closed_day_today": "Vandaag zijn we gesloten.",
        "closed_day_tomorrow": "Morgen zijn we gesloten.",
        "on_day": "op {day}",
        "yesterday": "gisteren",
        "order_late": "Hij werd verwacht op {day}, dus hij is {days} dagen te laat; ik heb het team gevraagd "
                      "ernaar te kijken, en je krijgt hier antwoord.",
        "order_late_one_day": "Hij werd gisteren verwacht, dus hij is een dag te laat; ik heb het team gevraagd "
                              "ernaar te kijken, en je krijgt hier antwoord.",
        "order_delivered_on": "Hij is bezorgd op {day}.",
        "order_delivered_relative": "Hij is {day} bezorgd.",
        "part_unknown": "Over \"{part}\": dat weet ik niet, en ik gok liever niet.",
        "offer_person": "Zal ik iemand van het team vragen?",
        "language_unlisted": "Sorry, ik kan hier alleen antwoorden in het {languages}. Zal ik iemand van het team "
                             "vragen je te helpen?",
        "knowledge_other_language": "Dit staat er in onze informatie (in het {source_language}):\n{answer}",
    },
}

# The product answers' phrases (chat/assistant/products.py) belong to the same table; a key both
# have ("and") keeps this table's wording.
for _language, _table in products.PHRASES.items():
    PHRASES[_language] = {**_table, **PHRASES.get(_language, {})}

STATUS_WORDS = {
    "en": {"pending": "received and waiting for payment", "paid": "paid and being prepared",
           "packed": "packed and ready to ship", "shipped": "shipped", "delivered": "delivered",
           "cancelled": "cancelled", "refunded": "refunded"},
    "nl": {"pending": "ontvangen en wacht op betaling", "paid": "betaald en wordt klaargemaakt",
           "packed": "ingepakt en klaar voor verzending", "shipped": "verzonden", "delivered": "bezorgd",
           "cancelled": "geannuleerd", "refunded": "terugbetaald"},
}
WEEKDAYS = {
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "nl": ["maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"],
}
LANGUAGE_NAMES = {
    "en": {"en": "English", "nl": "Dutch", "de": "German", "fr": "French", "es": "Spanish"},
    "nl": {"en": "Engels", "nl": "Nederlands", "de": "Duits", "fr": "Frans", "es": "Spaans"},
}
MONTHS = {
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"],
    "nl": ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
           "november", "december"],
}


def phrase(language: str, key: str, **values: Any) -> str:
    table = PHRASES.get(language, PHRASES["en"])
    return table.get(key, PHRASES["en"][key]).format(**values)


# ----------------------------------------------------------------------------- recognising intents

_HANDOFF = re.compile(
    r"\b(human|person|people|someone|somebody|agent|operator|representative|staff|team member|real person|"
    r"customer service|support team|manager|medewerker|mens|iemand)\b.*|"
    r"\b(talk|speak|chat) (to|with) (a |an |someone|somebody|you)", re.IGNORECASE)
_HANDOFF_VERB = re.compile(r"\b(talk|speak|chat|connect|transfer|put me through|want|need|get|can i|could i|"
                           r"let me|i'd like|praten|spreken|contact)\b", re.IGNORECASE)
# The optional closing word sits in one group with the punctuation after it: two runs of the same
# punctuation around an optional word made "hi" followed by 4,000 "!" and a letter backtrack quadratically.
_GREETING = re.compile(r"^\s*(hi+|hello+|hey+|hiya|yo|good (morning|afternoon|evening)|morning|hallo|hoi|"
                       r"goedemorgen|goedemiddag|goedenavond|dag)\b[\s!.,?]*(?:(there|all|team)[\s!.,?]*)?$",
                       re.IGNORECASE)
_THANKS = re.compile(r"^\s*(thanks?|thank you|thx|ty|cheers|great|perfect|ok(ay)?|cool|awesome|lovely|brilliant|"
                     r"super|bedankt|dank je( wel)?|dankjewel|top|prima)\b[\s\w!.,]{0,30}$", re.IGNORECASE)
_GOODBYE = re.compile(r"^\s*(bye|goodbye|see you|that'?s all|nothing else|no thanks?|doei|tot ziens)\b[\s!.,]*$",
                      re.IGNORECASE)
_ORDER_WORDS = re.compile(
    r"\b(order|orders|ordered|parcel|package|packet|delivery|deliver|delivered|shipment|shipped|tracking|"
    r"track|dispatch(ed)?|where'?s my|where is my|arrive|bestelling|besteld|pakket|levering|bezorging|"
    r"verzonden)\b", re.IGNORECASE)
_ORDER_STATUS_QUESTION = re.compile(
    r"\b(where('?s| is)|status|track|tracking|when will|arrive|arrived|shipped|delivered|hasn'?t come|"
    r"not (yet )?(arrived|received)|still waiting|waar is|wanneer komt|status van)\b", re.IGNORECASE)
_ORDER_NUMBER = re.compile(r"(?<![\w@.])#?([A-Za-z]{1,5}-?\d{3,10}|\d{4,10})(?![\w@])")
_EMAIL = tools.EMAIL_PATTERN
_PHONE = tools.PHONE_PATTERN
_HOURS = re.compile(
    r"\b(open|opened|opening|close|closes|closed|closing|hours|time do you|what time|when do you|tonight|"
    r"holiday|bank holiday|christmas|xmas|new year|easter|sunday|monday|tuesday|wednesday|thursday|friday|"
    r"saturday|weekend|today|tomorrow|tmrw|geopend|open|gesloten|openingstijden|zondag|maandag|dinsdag|woensdag|"
    r"donderdag|vrijdag|zaterdag|vandaag|morgen|kerst)\b", re.IGNORECASE)
_HOURS_STRONG = re.compile(r"\b(open|opened|opening|close|closes|closed|closing|hours|geopend|gesloten|"
                           r"openingstijden)\b", re.IGNORECASE)
_NOW = re.compile(r"\b(now|right now|currently|at the moment|still open|nu|op dit moment)\b", re.IGNORECASE)
_WHEN_CLOSE = re.compile(r"\b(close|closes|closing|shut|sluiten|dicht)\b", re.IGNORECASE)
_WHEN_OPEN = re.compile(r"\b(when|what time|how early|hoe laat|wanneer)\b.*\b(open|opens|opening)\b", re.IGNORECASE)
_PRICE_CUE = re.compile(r"(\bhow much\b|\bprice\b|\bprices\b|\bcost\b|\bcosts\b|\bwat kost\b|\bprijs\b|[€£$])",
                        re.IGNORECASE)
_HAVE_CUE = re.compile(r"\b(do (you|u|ya) (have|sell|stock|do|carry)|have you got|got any|you got|"
                       r"hebben jullie|verkopen jullie)\b", re.IGNORECASE)


def asks_for_person(text: str) -> bool:
    lowered = text.lower()
    if re.search(r"\b(real person|human being|a human|speak to someone|talk to someone|talk to a person|"
                 r"speak to a person|customer service|live agent|een medewerker|met iemand praten|"
                 r"een mens)\b", lowered):
        return True
    return bool(_HANDOFF.search(lowered) and _HANDOFF_VERB.search(lowered) and len(lowered) <= 160)


def human_only_topic(text: str, topics: list[str]) -> str | None:
    lowered = text.lower()
    for topic in topics:
        topic_words = [word for word in re.findall(r"\w+", topic.lower()) if len(word) > 2]
        if topic_words and all(re.search(rf"\b{re.escape(word[:max(4, len(word) - 2)])}", lowered)
                               for word in topic_words):
            return topic
    return None


def order_number_in(text: str) -> str | None:
    cleaned = _EMAIL.sub(" ", text)
    phones = [match.span() for match in _PHONE.finditer(cleaned) if len(re.sub(r"\D", "", match.group(0))) >= 9]
    for match in _ORDER_NUMBER.finditer(cleaned):
        if any(start <= match.start() < end for start, end in phones):
            continue
        candidate = match.group(1)
        if re.fullmatch(r"(19|20)\d\d", candidate):  # a year, not an order
            continue
        return candidate.upper()
    return None


def contact_in(text: str) -> str | None:
    email = _EMAIL.search(text)
    if email:
        return email.group(0)
    for match in _PHONE.finditer(text):
        if len(re.sub(r"\D", "", match.group(0))) >= 9:
            return match.group(0).strip()
    return None


# ----------------------------------------------------------------------------- formatting


def money(amount_minor: int, currency: str) -> str:
    """In the currency's own minor unit: '¥1,000', '1.500 KWD', '€64.95'."""
    return minor_to_text(amount_minor, currency=currency)


def day_name(day: date, language: str, today: date) -> str:
    if day == today:
        return phrase(language, "today")
    if day == today + timedelta(days=1):
        return phrase(language, "tomorrow")
    return date_text(day, language)


def date_text(day: date, language: str) -> str:
    """'Monday 23 November': a day named in full, never relative to today."""
    months = MONTHS.get(language, MONTHS["en"])
    weekday = WEEKDAYS.get(language, WEEKDAYS["en"])[day.weekday()]
    return f"{weekday} {day.day} {months[day.month - 1]}"


def ranges_text(ranges: list[dict[str, Any]], language: str) -> str:
    parts = [phrase(language, "from_to", opens=item["opens"], closes=item["closes"]) for item in ranges]
    joiner = f" {phrase(language, 'and')} "
    return ", ".join(parts[:-1]) + joiner + parts[-1] if len(parts) > 1 else parts[0]


def relative_day(day: date, today: date) -> str | None:
    """'today' or 'tomorrow' (the phrase keys) for those days; None for any other."""
    if day == today:
        return "today"
    if day == today + timedelta(days=1):
        return "tomorrow"
    return None


def when_day_text(day: date, language: str, today: date) -> str:
    """A day as it follows a verb: 'today', 'tomorrow', 'on Thursday 26 November'."""
    relative = relative_day(day, today)
    if relative:
        return phrase(language, relative)
    return phrase(language, "on_day", day=date_text(day, language))


def moment_text(moment: datetime, language: str, today: date) -> str:
    """'tomorrow at 09:00', 'on Monday 30 November at 09:00': it reads after 'we open again'."""
    return f"{when_day_text(moment.date(), language, today)} {phrase(language, 'at')} {moment:%H:%M}"


# ----------------------------------------------------------------------------- answering


def answer(*, text: str, state: ConversationState, context: TurnContext) -> OfflineAnswer:
    language = state.language
    stripped = text.strip()
    if not stripped or not re.search(r"\w", stripped):
        return OfflineAnswer(phrase(language, "empty"), "empty", confidence=None)
    if state.unlisted_language:
        return _answer_in_unlisted_language(stripped, state, context)
    parts = question_parts(stripped, state)
    if len(parts) <= 1:
        return _answer_part(stripped, state, context, may_be_order=True)
    return _answer_parts(parts, state, context)


# ----------------------------------------------------------------------------- several questions at once

# Words that join two asks ("…, and is the café accessible?"); a split needs the words after them to
# start a question of their own, so "fish and chips" and "bread & butter" stay one name.
_JOINER = re.compile(r"(?:\s*,\s*|\s+)(?:and also|oh and|and|also|plus|en ook|en|ook|verder)\s+", re.IGNORECASE)
_LEADING_JOINER = re.compile(r"^\s*(?:and also|oh and|and|also|plus|en ook|en|ook|verder)\b[\s,]*", re.IGNORECASE)
_STARTER = re.compile(
    r"(?:is|isn'?t|are|aren'?t|do|does|did|can|could|will|would|what|what'?s|whats|where|where'?s|wheres|when|"
    r"how|how'?s|which|who|why|have|has|any|pls|please|tell me|u|you|zijn|hebben|heb|hebt|heeft|kan|kun|kunt|"
    r"kunnen|mag|wat|waar|wanneer|hoe|hoeveel|welke|wie|waarom|wordt|komt|gaan|doen|doet|verkopen|zit|zitten)\b",
    re.IGNORECASE)
_PRONOUN = re.compile(r"\b(it|that|this one|this|they|them|those|these|het|die|dat|deze|ze)\b", re.IGNORECASE)
_QUESTION_WORDS = re.compile(r"\b(and|also|plus|what|what'?s|whats|how|much|many|does|did|will|can|could|would|"
                             r"en|ook|wat|hoeveel|kost|kosten|prijs|is|zijn|er|op|voorraad|nog|then|so|ok|okay)\b",
                             re.IGNORECASE)
_VARIANT_WORD = re.compile(r"\b(in|size|maat|colou?r|kleur)\b", re.IGNORECASE)


@dataclass
class _Part:
    text: str
    kind: str  # person, order, social, hours, question, statement


def question_parts(text: str, state: ConversationState) -> list[_Part]:
    """The message's separate asks, in order. Greetings and thanks next to a question are left out,
    a statement goes with the question after it, and the pieces of one order question stay together."""
    pieces: list[tuple[str, bool]] = []  # (text, whether it was joined to the next ask by "and"/"also")
    for sentence in re.split(r"(?<=\?)|(?<=[!.])\s+|\n+", text):
        sentence = _LEADING_JOINER.sub("", sentence or "").strip()
        if sentence:
            pieces.extend(_split_joined(sentence))
        if len(pieces) >= MAX_PIECES:  # a flood of questions is not read to its end
            break
    parts: list[_Part] = []
    for piece, joined in pieces:
        if not re.search(r"\w", piece):
            continue
        kind = _part_kind(piece, state)
        if kind == "statement" and joined:
            kind = "question"
        if parts and kind == "order" and parts[-1].kind == "order":
            parts[-1].text += " " + piece
        elif parts and parts[-1].kind == "statement":
            parts[-1] = _Part(f"{parts[-1].text} {piece}", kind)
        else:
            parts.append(_Part(piece, kind))
    if len(parts) > 1 and parts[-1].kind == "statement":
        statement = parts.pop()
        parts[-1].text += " " + statement.text
    asks = [part for part in parts if part.kind != "social"] or parts
    unique = list({part.text.casefold(): part for part in asks}.values())
    # Each ask is looked up on its own: a message of a hundred questions gets its first few answered.
    return unique[:MAX_QUESTION_PARTS]


def _split_joined(sentence: str) -> list[tuple[str, bool]]:
    pieces: list[tuple[str, bool]] = []
    rest = sentence
    while len(pieces) < MAX_PIECES:
        for match in itertools.islice(_JOINER.finditer(rest), MAX_PIECES):
            left, right = rest[:match.start()].strip(" ,"), rest[match.end():].strip()
            if left and right and _starts_another_ask(left, right):
                pieces.append((left, True))
                rest = right
                break
        else:
            break
    pieces.append((rest.strip(" ,"), False))
    return pieces


def _starts_another_ask(left: str, right: str) -> bool:
    if _STARTER.match(right):
        return True
    # Only the words near the joiner: looking at the whole rest of a long message at every "and" of
    # it would take time growing with the square of its length.
    left = _JOINER.split(left[-ASK_WINDOW:])[-1]
    right = _JOINER.split(right[:ASK_WINDOW], maxsplit=1)[0]
    # "the blue hoodie and your opening hours": a different kind of ask, even without a question word.
    right_kind = "hours" if _HOURS_STRONG.search(right) else "order" if _looks_like_order(right) else ""
    left_kind = "hours" if _HOURS_STRONG.search(left) else "order" if _looks_like_order(left) else ""
    return bool(right_kind) and right_kind != left_kind


def _looks_like_order(text: str) -> bool:
    return bool(_ORDER_WORDS.search(text) and (_ORDER_STATUS_QUESTION.search(text) or order_number_in(text))) \
        or bool(re.search(r"\b(my|mijn) (order|parcel|package|bestelling|pakket)\b", text, re.IGNORECASE))


def _part_kind(text: str, state: ConversationState) -> str:
    if asks_for_person(text) or human_only_topic(text, state.human_only_topics):
        return "person"
    # Anything about an order, a parcel or its details: adjacent pieces of it are one order question.
    if contact_in(text) or order_number_in(text) or _ORDER_WORDS.search(text) \
            or (_ORDER_STATUS_QUESTION.search(text) and not _HOURS_STRONG.search(text)):
        return "order"
    if _GREETING.match(text) or _THANKS.match(text) or _GOODBYE.match(text):
        return "social"
    if _HOURS_STRONG.search(text) or (_HOURS.search(text) and len(text) <= 40):
        return "hours"
    if "?" in text or _STARTER.match(text) or _PRICE_CUE.search(text) or products.STOCK_CUE.search(text) \
            or _HAVE_CUE.search(text):
        return "question"
    return "statement"


def _answer_parts(parts: list[_Part], state: ConversationState, context: TurnContext) -> OfflineAnswer:
    """One reply answering each ask in turn; an ask it cannot answer says so without hiding the others."""
    language = state.language
    texts: list[str] = []
    handoffs: list[OfflineAnswer] = []
    answers: list[OfflineAnswer] = []
    unknown = 0
    previous_product: tuple[str, str | None] | None = None
    # The answer (its place in `texts`) and the words of the ask just before, when it was a product's.
    product_just_asked: tuple[int, str] | None = None
    for index, part in enumerate(parts):
        if part.kind == "person":
            handoffs.append(_answer_part(part.text, state, context, may_be_order=False))
            continue
        text = part.text
        answered_together: int | None = None
        if part.kind == "question" and answers and _refers_back(text):
            # "is the blue hoodie in stock in L? what does it cost?": the follow-up is answered with
            # the product question just before it, as one (the variant's stock and its price, even
            # when it is sold out); a product asked earlier is named in it; else the ask before it.
            if product_just_asked is not None:
                answered_together, asked = product_just_asked
                text = f"{asked} {text}"
            elif previous_product:
                text = _with_product(text, previous_product, language)
            else:
                text = f"{parts[index - 1].text} {text}"
        calls_before = len(context.calls)
        sources_before = len(context.sources)
        result = _answer_part(text, state, context, may_be_order=part.kind == "order")
        answers.append(result)
        previous_product = _product_asked(context.calls[calls_before:]) or previous_product
        product_just_asked = None
        if result.intent == "unknown":
            unknown += 1
            del context.sources[sources_before:]
            quoted = part.text.strip().rstrip("?!. ")
            quoted = quoted if len(quoted) <= 80 else quoted[:77].rstrip() + "…"
            texts.append(phrase(language, "part_unknown", part=quoted))
        elif answered_together is not None and result.intent == "product":
            texts[answered_together] = result.text
            product_just_asked = (answered_together, text)
        elif result.text not in texts:
            texts.append(result.text)
            if result.intent == "product":
                product_just_asked = (len(texts) - 1, text)
    if unknown == len(answers) and not handoffs:
        return OfflineAnswer(phrase(language, "unknown"), "unknown",
                             confidence=min((a.confidence or 0.0) for a in answers),
                             quick_replies=[phrase(language, "talk_to_person")])
    handoff_reason = next((a.handoff_reason for a in answers + handoffs if a.handoff_reason), None)
    quick_replies: list[str] = []
    if unknown and not handoff_reason:
        texts.append(phrase(language, "offer_person"))
        quick_replies.append(phrase(language, "talk_to_person"))
    texts.extend(handoff.text for handoff in handoffs)
    confidences = [a.confidence for a in answers if a.confidence is not None]
    return OfflineAnswer(
        "\n\n".join(texts), "handoff" if handoffs else "multipart",
        confidence=min(confidences) if confidences else None, handoff_reason=handoff_reason,
        quick_replies=quick_replies,
        pending_order_number=next((a.pending_order_number for a in answers if a.pending_order_number is not None),
                                  None),
        failed_verifications=next((a.failed_verifications for a in answers if a.failed_verifications is not None),
                                  None),
        cacheable=not handoffs and all(a.cacheable for a in answers))


def _refers_back(text: str) -> bool:
    """'what does it cost?', 'and the price?': a price or stock question about the product just asked."""
    if not (products.PRICE_CUE.search(text) or products.STOCK_CUE.search(text)):
        return False
    # "what does it cost?", "how much?", "and what's the price?"; not "how much is shipping?".
    own = [word for word in products.own_words(text)
           if not _QUESTION_WORDS.fullmatch(word) and not _PRONOUN.fullmatch(word)]
    if not (_PRONOUN.search(text) or len(re.findall(r"\w+", text)) <= 3 or not own):
        return False
    # It names no product of its own, as the catalog reads it ("what does the zip hoodie cost?" does).
    return not products.names_a_product(text)


def _with_product(text: str, product: tuple[str, str | None], language: str) -> str:
    name, variant = product
    article = "de" if language == "nl" else "the"
    mention = f"{article} {name}"
    if _PRONOUN.search(text):
        rewritten = _PRONOUN.sub(mention, text, count=1)
    else:
        rewritten = f"{text.strip().rstrip('?!. ')} {mention}?"
    if variant and not _VARIANT_WORD.search(text):
        rewritten = f"{rewritten.strip().rstrip('?!. ')} in {variant}?"
    return rewritten


def _product_asked(calls: list[dict[str, Any]]) -> tuple[str, str | None] | None:
    """The product (and the variant asked for) of a part's catalog facts; None when the words fitted
    several products (then none of them is "it")."""
    for call in reversed(calls):
        if call["name"] != "product_availability":
            continue
        result = call.get("result") or {}
        found = result.get("products") or []
        if found and not result.get("ambiguous"):
            variant = found[0].get("variant_requested")
            return str(found[0]["name"]), str(variant) if variant else None
    return None


# ----------------------------------------------------------------------------- languages


def _answer_in_unlisted_language(text: str, state: ConversationState, context: TurnContext) -> OfflineAnswer:
    """A language the business does not answer in: its words are not matched against English or
    Dutch questions (that gives the wrong FAQ). Only what needs no understanding is answered: an
    order number with its contact detail, a product named as the catalog names it, a request for a
    person; otherwise the customer is told which languages we answer in and offered a person."""
    language = state.language
    if asks_for_person(text):
        return _handoff(language, "handoff", "The customer asked for a person.", context)
    if _GREETING.match(text) or _THANKS.match(text) or _GOODBYE.match(text):  # "hallo": greeted back
        return _answer_part(text, state, context, may_be_order=False)
    contact, number = contact_in(text), order_number_in(text)
    if contact and number:
        return _order_answer(number, contact, state, context)
    calls_before = len(context.calls)
    result = _answer_part(text, state, context, may_be_order=False)
    named = _product_asked(context.calls[calls_before:])
    if result.intent == "product" and named and named[0].casefold() in text.casefold():
        result.quick_replies = [*result.quick_replies, phrase(language, "talk_to_person")]
        return result
    del context.sources[:]
    names = LANGUAGE_NAMES.get(language, LANGUAGE_NAMES["en"])
    listed = [names.get(code, code) for code in (state.business_languages or [language])]
    joined = (", ".join(listed[:-1]) + f" {phrase(language, 'and')} " + listed[-1]) if len(listed) > 1 else listed[0]
    return OfflineAnswer(phrase(language, "language_unlisted", languages=joined), "unknown", confidence=0.0,
                         quick_replies=[phrase(language, "talk_to_person")])


# ----------------------------------------------------------------------------- one question

# Words that say nothing about what a question is about: a knowledge source need not contain them.
_CHAT_WORDS = frozenset(
    "guys guy folks mate stuff thing things anything something everything know want need like just really actually "
    "wondering wonder question quick tell help get got also still maybe lol much many way good great possible able "
    "sure bit little lot lots kind sort someone anyone somebody anybody people please thanks hey hello hi yes yeah "
    "okay ok can could would should will may might must let make go going come".split())
# From this confidence up the search is trusted without the check that the business's knowledge
# mentions every topic word of the question: on real customer queries nineteen of twenty results
# this sure are right, against two in three just above the answer threshold (docs/benchmarks.md,
# "Answer threshold"). An absolute level: lowering the threshold must not widen what goes unchecked.
KNOWLEDGE_SURE_CONFIDENCE = 0.8


def _unmentioned_topic_words(text: str, language: str) -> list[str]:
    """Words of the question that appear nowhere in the business's knowledge ("mars" in "do you
    deliver to mars?"): an answer found for the rest of the question does not answer it.

    Typos of the business's own words were corrected by the query's preparation already, so in an
    English question a word left unknown is one the knowledge never uses. In another language the
    question's own words are not the knowledge's (English) words: there only English words count."""
    from chat.knowledge.query import english_lexemes, english_words, query_prepare

    prepared = query_prepare(text)
    vocabulary = prepared.vocabulary
    if vocabulary is None or not vocabulary.counts:
        return []
    real_words = english_words()
    words = tuple(term for term in prepared.terms
                  if term.isalpha() and len(term) >= 3 and term not in _CHAT_WORDS
                  and not is_common_word(term, language)
                  and (language == "en" and len(term) >= 4
                       or any(form in real_words for form in (term, term[:-1], term[:-2], term[:-3] + "y"))))
    lexemes = english_lexemes(words) if words else {}
    return [word for word in words if word not in vocabulary.counts
            and not any(lexeme in vocabulary.lexeme_chunks for lexeme in lexemes.get(word, ()))]


def _answer_part(text: str, state: ConversationState, context: TurnContext, *, may_be_order: bool) -> OfflineAnswer:
    language = state.language
    if asks_for_person(text):
        return _handoff(language, "handoff", "The customer asked for a person.", context)
    topic = human_only_topic(text, state.human_only_topics)
    if topic:
        return _handoff(language, "handoff_topic", f"Topic the business handles in person: {topic}.", context)

    if may_be_order:
        contact = contact_in(text)
        status_question = _ORDER_STATUS_QUESTION.search(text)
        number = order_number_in(text) if (_ORDER_WORDS.search(text) or state.pending_order_number or contact
                                           or status_question or len(text) <= 20) else None
        awaiting = state.pending_order_number
        if awaiting and (contact or number):
            known_number = number or (awaiting if awaiting != AWAITING_ORDER_NUMBER else None)
            if known_number:
                return _order_answer(known_number, contact, state, context)
            return OfflineAnswer(phrase(language, "ask_order_number"), "order", confidence=1.0,
                                 pending_order_number=AWAITING_ORDER_NUMBER)
        # "where is TL-10412", "TL-10400 me@example.com": a number asked about, or given with the
        # customer's contact detail, is an order question even without the word "order".
        if (_ORDER_WORDS.search(text) and (number or status_question)) or (number and (status_question or contact)):
            if number:
                return _order_answer(number, contact, state, context)
            return OfflineAnswer(phrase(language, "ask_order_number"), "order", confidence=1.0,
                                 pending_order_number=AWAITING_ORDER_NUMBER)

    if _GREETING.match(text):
        return OfflineAnswer(phrase(language, "greeting", name=state.business_name), "greeting", confidence=1.0,
                             quick_replies=[phrase(language, "where_is_my_order"), phrase(language, "opening_hours"),
                                            phrase(language, "talk_to_person")], cacheable=True)
    if _GOODBYE.match(text):
        return OfflineAnswer(phrase(language, "goodbye"), "goodbye", confidence=1.0, cacheable=True)
    if _THANKS.match(text):
        return OfflineAnswer(phrase(language, "thanks"), "thanks", confidence=1.0, cacheable=True)

    if _HOURS_STRONG.search(text) or (_HOURS.search(text) and len(text) <= 40
                                      and not _PRICE_CUE.search(text) and not _HAVE_CUE.search(text)):
        hours = _hours_answer(text, language, context)
        if hours is not None:
            return hours
    sources_before = len(context.sources)
    result = _products_or_knowledge(text, language, context)
    if result.intent == "knowledge":
        confident = (result.confidence or 0.0) >= max(KNOWLEDGE_SURE_CONFIDENCE, kb_answer_threshold())
        if not confident and _unmentioned_topic_words(text, language):
            del context.sources[sources_before:]
            return OfflineAnswer(phrase(language, "unknown"), "unknown", confidence=result.confidence,
                                 quick_replies=[phrase(language, "talk_to_person")])
        source_language = detect_language(result.text, default=language)
        if source_language != language:
            names = LANGUAGE_NAMES.get(language, LANGUAGE_NAMES["en"])
            result.text = phrase(language, "knowledge_other_language",
                                 source_language=names.get(source_language, source_language), answer=result.text)
    return result


def away_message(*, language: str, now: datetime) -> str:
    """Outside opening hours, when a person will reply; empty while the business is open."""
    return away_message_until(language=language, now=now)[0]


def away_message_until(*, language: str, now: datetime) -> tuple[str, datetime | None]:
    """The away message, and the moment it changes next (the opening closes, or the business opens);
    None when no change is in sight."""
    zone = commerce.tenant_zone()
    state = commerce.is_open_at(moment=now)
    if state.open:
        return "", state.closes_at
    if state.next_opening is None:
        return phrase(language, "away_unknown"), None
    when = moment_text(state.next_opening.astimezone(zone), language, now.astimezone(zone).date())
    return phrase(language, "away", when=when), state.next_opening


def _handoff(language: str, key: str, reason: str, context: TurnContext) -> OfflineAnswer:
    tools.run_tool("handoff", {"reason": reason}, context)
    return OfflineAnswer(phrase(language, key), "handoff", confidence=1.0, handoff_reason=reason)


def _order_answer(number: str, contact: str | None, state: ConversationState, context: TurnContext) -> OfflineAnswer:
    language = state.language
    if not contact:
        return OfflineAnswer(phrase(language, "ask_contact", number=number), "order", confidence=1.0,
                             pending_order_number=number)
    result = tools.run_tool("order_lookup", {"number": number, "email_or_phone": contact}, context)
    if not result.get("found"):
        failures = state.failed_verifications + 1
        if failures >= MAX_VERIFICATION_ATTEMPTS:
            reason = "The customer could not verify an order after several tries."
            tools.run_tool("handoff", {"reason": reason}, context)
            return OfflineAnswer(phrase(language, "verification_exhausted"), "order", confidence=1.0,
                                 handoff_reason=reason, pending_order_number="", failed_verifications=failures)
        return OfflineAnswer(phrase(language, "not_found"), "order", confidence=1.0, pending_order_number=number,
                             failed_verifications=failures)
    order = result["order"]
    status = STATUS_WORDS.get(language, STATUS_WORDS["en"]).get(order["status"], order["status_label"])
    lines = [phrase(language, "order_status", number=order["number"], status=status)]
    # The lookup gives the moment in the business's zone: its date is the business's calendar day.
    placed = datetime.fromisoformat(order["placed_at"]).date()
    lines.append(phrase(language, "order_placed", day=date_text(placed, language)))
    today = context.now.astimezone(commerce.tenant_zone()).date()
    track_here = ""
    if order["tracking_number"] and order["status"] == "shipped":
        lines.append(phrase(language, "order_tracking", carrier=order["carrier"] or "the carrier",
                            tracking=order["tracking_number"]))
        if order["tracking_url"]:
            track_here = phrase(language, "order_track_here", url=order["tracking_url"])
    delivered = _delivered_on(order)
    if order["status"] == "delivered" and delivered is not None:
        lines.append(_delivered_sentence(delivered, language, today))
    handoff_reason = None
    if order["estimated_delivery"] and order["status"] in ("paid", "packed", "shipped"):
        eta = date.fromisoformat(order["estimated_delivery"])
        if eta < today:
            days_late = (today - eta).days
            lines.append(phrase(language, "order_late_one_day") if days_late == 1
                         else phrase(language, "order_late", day=date_text(eta, language), days=days_late))
            # A person looks at every late parcel: the customer was told so.
            handoff_reason = (f"Order {order['number']} is {days_late} day{'s' if days_late != 1 else ''} past its "
                              f"expected delivery date ({eta.isoformat()}).")
            tools.run_tool("handoff", {"reason": handoff_reason}, context)
        else:
            lines.append(phrase(language, "order_eta", eta=day_name(eta, language, today)))
    items = ", ".join(f"{line['quantity']} × {line['name']}" for line in order["items"])
    lines.append(phrase(language, "order_items", items=items,
                        total=money(order["total_minor"], order["currency"])))
    text = " ".join(lines) + (f"\n{track_here}" if track_here else "")
    return OfflineAnswer(text, "order", confidence=1.0, handoff_reason=handoff_reason, pending_order_number="",
                         failed_verifications=0)


def _delivered_on(order: dict[str, Any]) -> date | None:
    """The business's calendar day the order's history says it was delivered."""
    steps = [step for step in order.get("history") or () if step.get("status") == "delivered"]
    if not steps:
        return None
    return datetime.fromisoformat(str(steps[-1]["at"])).date()


def _delivered_sentence(day: date, language: str, today: date) -> str:
    if day == today:
        return phrase(language, "order_delivered_relative", day=phrase(language, "today"))
    if day == today - timedelta(days=1):
        return phrase(language, "order_delivered_relative", day=phrase(language, "yesterday"))
    return phrase(language, "order_delivered_on", day=date_text(day, language))


def _requested_day(text: str, today: date) -> date | None:
    lowered = text.lower()
    if re.search(r"\b(tomorrow|tmrw|tmr|tomoz|2moro|2morrow|morgen)\b", lowered):
        return today + timedelta(days=1)
    if re.search(r"\b(today|tonight|vandaag|vanavond)\b", lowered):
        return today
    for language_days in (WEEKDAYS["en"], WEEKDAYS["nl"]):
        for index, name in enumerate(language_days):
            if re.search(rf"\b{name.lower()}s?\b", lowered):
                return today + timedelta(days=(index - today.weekday()) % 7)
    named_days = {r"christmas eve|kerstavond": (12, 24), r"boxing day|tweede kerstdag": (12, 26),
                  r"christmas|xmas|kerst": (12, 25), r"new year'?s eve|oudejaars": (12, 31),
                  r"new year|nieuwjaar": (1, 1)}
    for pattern, (month, day) in named_days.items():
        if re.search(rf"\b({pattern})", lowered):
            candidate = date(today.year, month, day)
            return candidate if candidate >= today else date(today.year + 1, month, day)
    for index, month_name in enumerate(MONTHS["en"] + MONTHS["nl"]):
        month = index % 12 + 1
        short = month_name[:3].lower()
        match = re.search(rf"\b(\d{{1,2}})(st|nd|rd|th)?\s+{short}\w*|\b{short}\w*\s+(\d{{1,2}})(st|nd|rd|th)?\b",
                          lowered)
        if match:
            day_number = int(match.group(1) or match.group(3))
            try:
                candidate = date(today.year, month, day_number)
                return candidate if candidate >= today else date(today.year + 1, month, day_number)
            except ValueError:  # no such day ("31 feb"), or "29 feb" after this leap day: next year has none
                return None
    return None


def _hours_answer(text: str, language: str, context: TurnContext) -> OfflineAnswer | None:
    zone = commerce.tenant_zone()
    now = context.now.astimezone(zone)
    today = now.date()
    requested = _requested_day(text, today)
    if requested is not None and requested != today:
        result = tools.run_tool("opening_hours", {"date": requested.isoformat()}, context)
        return OfflineAnswer(_day_sentence(result["hours"], language, today), "hours", confidence=1.0)
    result = tools.run_tool("opening_hours", {}, context)
    state, today_hours = result["now"], result["today"]
    if _NOW.search(text) or (requested == today and not _WHEN_CLOSE.search(text)):
        if state["open"]:
            closes = datetime.fromisoformat(state["closes_at"]).astimezone(zone)
            return OfflineAnswer(phrase(language, "open_now", closes=f"{closes:%H:%M}"), "hours", confidence=1.0)
        return OfflineAnswer(_closed_sentence(state, language, today, zone), "hours", confidence=1.0)
    if _WHEN_CLOSE.search(text) and not _WHEN_OPEN.search(text):
        if state["open"]:
            closes = datetime.fromisoformat(state["closes_at"]).astimezone(zone)
            return OfflineAnswer(phrase(language, "closing_today", closes=f"{closes:%H:%M}"), "hours",
                                 confidence=1.0)
        if today_hours["closed"]:
            return OfflineAnswer(_closed_today_sentence(state, language, today, zone), "hours", confidence=1.0)
        return OfflineAnswer(_day_sentence(today_hours, language, today), "hours", confidence=1.0)
    if _WHEN_OPEN.search(text) and not state["open"]:
        return OfflineAnswer(_closed_sentence(state, language, today, zone), "hours", confidence=1.0)
    lines = [phrase(language, "week_intro")]
    for day_hours in result["next_7_days"]:
        lines.append("- " + _day_sentence(day_hours, language, today))
    return OfflineAnswer("\n".join(lines), "hours", confidence=1.0)


def _day_sentence(day_hours: dict[str, Any], language: str, today: date) -> str:
    """'Today we're open 09:00–17:30.', 'We're closed on Sunday 29 November.': today and tomorrow
    start the sentence, a date follows 'on'."""
    day = date.fromisoformat(day_hours["date"])
    relative = relative_day(day, today)
    note = phrase(language, "note", note=day_hours["note"]) if day_hours.get("note") else ""
    if day_hours["closed"]:
        sentence = (phrase(language, f"closed_day_{relative}") if relative
                    else phrase(language, "closed_on", day=date_text(day, language)))
    else:
        ranges = ranges_text(day_hours["ranges"], language)
        sentence = (phrase(language, f"hours_{relative}", ranges=ranges) if relative
                    else phrase(language, "hours_on", day=date_text(day, language), ranges=ranges))
    return sentence.rstrip(".") + note + "."


def _closed_sentence(state: dict[str, Any], language: str, today: date, zone: Any) -> str:
    if not state.get("next_opening"):
        return phrase(language, "closed_now_unknown")
    opens = datetime.fromisoformat(state["next_opening"]).astimezone(zone)
    return phrase(language, "closed_now", when=moment_text(opens, language, today))


def _closed_today_sentence(state: dict[str, Any], language: str, today: date, zone: Any) -> str:
    if not state.get("next_opening"):
        return phrase(language, "closed_now_unknown")
    opens = datetime.fromisoformat(state["next_opening"]).astimezone(zone)
    return phrase(language, "closed_today", when=moment_text(opens, language, today))


def _products_or_knowledge(text: str, language: str, context: TurnContext) -> OfflineAnswer:
    """A product question answered from the catalog; otherwise the knowledge base when it is
    confident; otherwise an honest "I don't know" (or "we don't seem to sell that") with a person."""
    # "in M?", "the cheaper one?" right after products were recommended: about those.
    follow_up = discovery.follow_up_reply(text=text, language=language, context=context)
    if follow_up is not None:
        return OfflineAnswer(follow_up, "discovery", confidence=1.0)
    reply = products.product_reply(text=text, language=language)
    named_one = reply is not None and reply.outcome == "answer" and reply.decisive \
        and not reply.facts["ambiguous"] and not discovery.asks_within_price(text)
    if named_one and reply is not None:
        return _product_answer(reply, context)
    # "something warm for winter", "trousers that aren't jeans": no one product named, products that
    # fit (the words may name several, which the filters narrow).
    if discovery.is_discovery_question(text):
        recommended = discovery.discovery_reply(text=text, language=language, context=context)
        if recommended is not None:
            return OfflineAnswer(recommended, "discovery", confidence=1.0)
    if reply is not None and reply.outcome == "answer" and reply.decisive:
        return _product_answer(reply, context)
    knowledge = kb_search(query=text, k=3)
    top_knowledge = knowledge[0].score if knowledge else 0.0
    context.best_knowledge_score = top_knowledge
    confident = bool(knowledge) and top_knowledge >= kb_answer_threshold()
    if confident and (reply is None or reply.outcome == "answer" or _passage_names(knowledge[0], text)):
        best = knowledge[0]
        tools.cite_source(context, best)
        context.calls.append({"name": "knowledge_search", "arguments": {"query": text},
                              "result": {"passages": [{"title": r.title, "text": r.content, "score": round(r.score, 3),
                                                       "source_id": r.source_id} for r in knowledge[:2]]}})
        context.results.append({"passages": [{"text": best.content}]})
        return OfflineAnswer(phrase(language, "knowledge", answer=_quote(best.content)), "knowledge",
                             confidence=best.score, cacheable=True)
    if reply is not None and reply.outcome == "answer" and reply.facts["covered"] >= PRODUCT_NAMED_ENOUGH:
        return _product_answer(reply, context)
    if reply is not None and reply.outcome == "not_sold":  # "do you sell bicycles?": nothing like it in the catalog or the knowledge base
        products.product_reply_record(reply=reply, context=context)
        return OfflineAnswer(reply.text, "unknown", confidence=top_knowledge,
                             quick_replies=[phrase(language, "talk_to_person")])
    contact = _contact_detail_answer(text, language, context)
    if contact is not None:
        return contact
    return OfflineAnswer(phrase(language, "unknown"), "unknown", confidence=top_knowledge,
                         quick_replies=[phrase(language, "talk_to_person")])


# "where are you?", "what's your phone number?": answered from the business's profile when its
# knowledge base has nothing better.
_CONTACT_QUESTIONS = {
    "address": re.compile(r"\b(address|where are you|where r u|where('?s| is) (the|your) (caf[eé]|shop|store|place)|"
                          r"located|location|find you|directions|adres|waar zitten jullie|waar zijn jullie|"
                          r"waar is (de|jullie) (winkel|zaak))\b", re.IGNORECASE),
    "phone": re.compile(r"\b(phone|telephone|call you|ring you|number to call|bellen|telefoon\w*)\b", re.IGNORECASE),
    "email": re.compile(r"\b(e-?mail|mail you|mailen)\b", re.IGNORECASE),
}


def _contact_detail_answer(text: str, language: str, context: TurnContext) -> OfflineAnswer | None:
    asked = [kind for kind, pattern in _CONTACT_QUESTIONS.items() if pattern.search(text)]
    if not asked:
        return None
    details = business_contact_details()
    lines = [phrase(language, f"contact_{kind}", value=details[kind]) for kind in asked if details.get(kind)]
    if not lines:
        return None
    context.results.append({"business": {kind: details[kind] for kind in asked if details.get(kind)}})
    return OfflineAnswer(" ".join(lines), "contact", confidence=1.0, cacheable=True)


def _passage_names(result: Any, text: str) -> bool:
    """Whether a passage is about the thing a "do you sell ...?" question names (gift cards: yes;
    bicycles, answered with the gift-card FAQ: no)."""
    thing = products.thing_asked(text)
    passage = f"{result.title} {result.content}".casefold()
    # A Dutch compound starts with the passage's word: "studentenkorting", a "student discount".
    passage_words = {word for word in re.findall(r"\w+", passage) if len(word) >= 5}
    return any(re.search(rf"\b{re.escape(word[:max(4, len(word) - 2)])}", passage)
               or any(word.startswith(passage_word) for passage_word in passage_words)
               for word in thing.split() if len(word) >= 3)


def _quote(content: str, limit: int = 700) -> str:
    """The source's own words, cut at a sentence boundary when long."""
    content = content.strip()
    if len(content) <= limit:
        return content
    cut = content[:limit]
    boundary = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "), cut.rfind("\n"))
    return (cut[: boundary + 1] if boundary > limit // 3 else cut.rstrip() + "…").strip()


def _product_answer(reply: products.ProductReply, context: TurnContext) -> OfflineAnswer:
    products.product_reply_record(reply=reply, context=context)
    return OfflineAnswer(reply.text, "product", confidence=1.0)
