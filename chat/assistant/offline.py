"""The offline assistant: a deterministic answer from the business's own data, with no LLM.

It recognises greetings and thanks, requests for a person, topics the business keeps for people,
order questions (with the verification dialogue), opening-hours questions, availability and price
questions, and otherwise answers from the knowledge base when it is confident, quoting and citing
the source, or says honestly that it does not know and offers a person. Every figure it states is
read from a tool result of the turn, like the LLM mode's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from chat.assistant import products, tools
from chat.assistant.tools import TurnContext
from chat.knowledge.selectors import kb_answer_threshold, kb_search
from orders import selectors as commerce
from orders.money import minor_to_text

MAX_VERIFICATION_ATTEMPTS = 3
# A question that names a product but is mostly about something else ("can I return a hoodie I
# bought?") gets a product answer only when the knowledge base has none and the product is a third of it.
PRODUCT_NAMED_ENOUGH = 0.34
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
        "order_tracking": "It's on its way with {carrier}, tracking number {tracking}: {url}",
        "order_tracking_no_url": "It's on its way with {carrier}, tracking number {tracking}.",
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
        "product_in_stock": "Yes, the {name}{variant} is in stock ({stock} available) at {price}.",
        "product_sold_out": "Sorry, the {name}{variant} is sold out right now.",
        "product_no_variant": "The {name} doesn't come in {variant}. It comes in: {options}.",
        "product_other_options": "Available right now: {options}.",
        "product_list_intro": "Here's what I found:",
        "product_line": "{name}: from {price}, {state}",
        "in_stock": "in stock",
        "sold_out": "sold out",
        "knowledge": "{answer}",
        "unknown": "I'm not sure about that one, and I'd rather not guess. Would you like me to ask someone from "
                   "the team?",
        "unknown_handoff": "I'm still not able to answer that with confidence, so I've asked someone from the team "
                           "to help; they'll reply here.",
        "empty": "Could you tell me a bit more about what you need?",
        "talk_to_person": "Talk to a person",
        "away": "We're closed right now, so a person will reply when we open again, {when}.",
        "away_unknown": "We're closed right now, so a person will reply as soon as we're back.",
        "where_is_my_order": "Where is my order?",
        "opening_hours": "Opening hours",
        "and": "and",
        "from_to": "{opens}–{closes}",
        "today": "today",
        "tomorrow": "tomorrow",
        "at": "at",
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
        "order_tracking": "Hij is onderweg met {carrier}, trackingnummer {tracking}: {url}",
        "order_tracking_no_url": "Hij is onderweg met {carrier}, trackingnummer {tracking}.",
        "order_eta": "Verwachte levering: {eta}.",
        "order_placed": "Besteld op {day}.",
        "order_items": "Inhoud: {items}. Totaal: {total}.",
        "open_now": "Ja, we zijn nu open, tot {closes}.",
        "closed_now": "We zijn nu gesloten. We gaan weer open {when}.",
        "closed_now_unknown": "We zijn nu gesloten en ik heb nog geen volgende openingstijd.",
        "hours_on": "Op {day} zijn we open {ranges}.",
        "closed_on": "Op {day} zijn we gesloten.",
        "note": " ({note})",
        "closing_today": "Vandaag sluiten we om {closes}.",
        "closed_today": "Vandaag zijn we gesloten. We gaan weer open {when}.",
        "week_intro": "Onze openingstijden voor de komende week:",
        "product_in_stock": "Ja, de {name}{variant} is op voorraad ({stock} beschikbaar) voor {price}.",
        "product_sold_out": "Sorry, de {name}{variant} is op dit moment uitverkocht.",
        "product_no_variant": "De {name} is er niet in {variant}. Wel in: {options}.",
        "product_other_options": "Nu beschikbaar: {options}.",
        "product_list_intro": "Dit heb ik gevonden:",
        "product_line": "{name}: vanaf {price}, {state}",
        "in_stock": "op voorraad",
        "sold_out": "uitverkocht",
        "knowledge": "{answer}",
        "unknown": "Dat weet ik niet zeker, en ik gok liever niet. Zal ik iemand van het team vragen?",
        "unknown_handoff": "Ik kan dit nog steeds niet met zekerheid beantwoorden, dus ik heb iemand van het team "
                           "gevraagd je te helpen; je krijgt hier antwoord.",
        "empty": "Kun je iets meer vertellen over wat je nodig hebt?",
        "talk_to_person": "Met een medewerker praten",
        "away": "We zijn nu gesloten, dus een medewerker antwoordt zodra we weer open zijn, {when}.",
        "away_unknown": "We zijn nu gesloten, dus een medewerker antwoordt zodra we er weer zijn.",
        "where_is_my_order": "Waar is mijn bestelling?",
        "opening_hours": "Openingstijden",
        "and": "en",
        "from_to": "{opens}–{closes}",
        "today": "vandaag",
        "tomorrow": "morgen",
        "at": "om",
    },
}

# The product answers' phrases (chat/assistant/products.py) belong to the same table.
for _language, _table in products.PHRASES.items():
    PHRASES.setdefault(_language, {}).update({key: text for key, text in _table.items() if key not in PHRASES["en"]})

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
    r"saturday|weekend|today|tomorrow|geopend|open|gesloten|openingstijden|zondag|maandag|dinsdag|woensdag|"
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


def moment_text(moment: datetime, language: str, today: date) -> str:
    return f"{day_name(moment.date(), language, today)} {phrase(language, 'at')} {moment:%H:%M}"


# ----------------------------------------------------------------------------- answering


def answer(*, text: str, state: ConversationState, context: TurnContext) -> OfflineAnswer:
    language = state.language
    stripped = text.strip()
    if not stripped or not re.search(r"\w", stripped):
        return OfflineAnswer(phrase(language, "empty"), "empty", confidence=None)
    if asks_for_person(stripped):
        return _handoff(language, "handoff", "The customer asked for a person.", context)
    topic = human_only_topic(stripped, state.human_only_topics)
    if topic:
        return _handoff(language, "handoff_topic", f"Topic the business handles in person: {topic}.", context)

    contact = contact_in(stripped)
    number = order_number_in(stripped) if (_ORDER_WORDS.search(stripped) or state.pending_order_number
                                           or len(stripped) <= 20) else None
    awaiting = state.pending_order_number
    if awaiting and (contact or number):
        known_number = number or (awaiting if awaiting != AWAITING_ORDER_NUMBER else None)
        if known_number:
            return _order_answer(known_number, contact, state, context)
        return OfflineAnswer(phrase(language, "ask_order_number"), "order", confidence=1.0,
                             pending_order_number=AWAITING_ORDER_NUMBER)
    if _ORDER_WORDS.search(stripped) and (number or _ORDER_STATUS_QUESTION.search(stripped)):
        if number:
            return _order_answer(number, contact, state, context)
        return OfflineAnswer(phrase(language, "ask_order_number"), "order", confidence=1.0,
                             pending_order_number=AWAITING_ORDER_NUMBER)

    if _GREETING.match(stripped):
        return OfflineAnswer(phrase(language, "greeting", name=state.business_name), "greeting", confidence=1.0,
                             quick_replies=[phrase(language, "where_is_my_order"), phrase(language, "opening_hours"),
                                            phrase(language, "talk_to_person")], cacheable=True)
    if _GOODBYE.match(stripped):
        return OfflineAnswer(phrase(language, "goodbye"), "goodbye", confidence=1.0, cacheable=True)
    if _THANKS.match(stripped):
        return OfflineAnswer(phrase(language, "thanks"), "thanks", confidence=1.0, cacheable=True)

    if _HOURS_STRONG.search(stripped) or (_HOURS.search(stripped) and len(stripped) <= 40
                                          and not _PRICE_CUE.search(stripped) and not _HAVE_CUE.search(stripped)):
        hours = _hours_answer(stripped, language, context)
        if hours is not None:
            return hours
    return _products_or_knowledge(stripped, language, context)


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
    if order["tracking_number"] and order["status"] in ("shipped", "delivered"):
        key = "order_tracking" if order["tracking_url"] else "order_tracking_no_url"
        if order["status"] == "shipped":
            lines.append(phrase(language, key, carrier=order["carrier"] or "the carrier",
                                tracking=order["tracking_number"], url=order["tracking_url"]))
    if order["estimated_delivery"] and order["status"] in ("paid", "packed", "shipped"):
        eta = date.fromisoformat(order["estimated_delivery"])
        today = context.now.astimezone(commerce.tenant_zone()).date()
        lines.append(phrase(language, "order_eta", eta=day_name(eta, language, today)))
    items = ", ".join(f"{line['quantity']} × {line['name']}" for line in order["items"])
    lines.append(phrase(language, "order_items", items=items,
                        total=money(order["total_minor"], order["currency"])))
    return OfflineAnswer(" ".join(lines), "order", confidence=1.0, pending_order_number="", failed_verifications=0)


def _requested_day(text: str, today: date) -> date | None:
    lowered = text.lower()
    if re.search(r"\b(tomorrow|morgen)\b", lowered):
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
    day = date.fromisoformat(day_hours["date"])
    name = day_name(day, language, today)
    note = phrase(language, "note", note=day_hours["note"]) if day_hours.get("note") else ""
    if day_hours["closed"]:
        return phrase(language, "closed_on", day=name).rstrip(".") + note + "."
    return phrase(language, "hours_on", day=name, ranges=ranges_text(day_hours["ranges"], language)).rstrip(".") \
        + note + "."


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
    reply = products.product_reply(text=text, language=language)
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
    return OfflineAnswer(phrase(language, "unknown"), "unknown", confidence=top_knowledge,
                         quick_replies=[phrase(language, "talk_to_person")])


def _passage_names(result: Any, text: str) -> bool:
    """Whether a passage is about the thing a "do you sell ...?" question names (gift cards: yes;
    bicycles, answered with the gift-card FAQ: no)."""
    thing = products.thing_asked(text)
    passage = f"{result.title} {result.content}".casefold()
    return any(re.search(rf"\b{re.escape(word[:max(4, len(word) - 2)])}", passage)
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
