"""Discovery questions answered with products: "something warm for winter", "a gift under 25 euros",
"do you have any pastries?" name no product but ask what the business has that fits.

The same search serves both modes: the offline answer here, and the LLM's `product_search` tool
(tools.py), whose result is the `ProductSearchResult.as_dict()` the offline answer is written from.
Each answer names up to four products with their price and availability (a pre-order said as such),
and the result is recorded on the turn as a `product_search` call, stored with the answer: the fact
check reads it, and a follow-up ("in M?", "the cheaper one?") reads back the products it offered.
"""

from __future__ import annotations

import re
from typing import Any

from chat.assistant.tools import TurnContext
from chat.conversations.models import Author, Message
from chat.knowledge.product_vectors import product_discovery
from orders.catalog_understanding import COLOUR_WORDS, SIZE_WORDS
from orders.discovery import DiscoveryFilters, ProductSearchResult, product_search
from orders.selectors import commerce_currency, text_fold

MAX_RECOMMENDED = 4

# What makes a question a discovery question rather than one about a named product: it asks for
# something of a kind, for ideas, within a price, or for "any" of a plural.
DISCOVERY_CUE = re.compile(
    r"\b(something|anything|recommend\w*|suggest\w*|ideas? for|looking for|(a|as a|for a|any) (gift|present)|"
    r"gifts? (ideas? )?for|presents? for|what (else )?(do you|have you) "
    r"(have|got)|what can i get|options for|any (?!(discount|return|refund|deliver|shipping|job|question|problem|update|offer|deal|promo|"
    r"coupon|plan|change|fee|charge|cost|rule|polic)\w*)\w+(s|ies)\b(?! left)|under|below|less than|cheaper than|up to|"
    r"between|that (aren'?t|isn'?t|are not|is not)|but not|other than|apart from|except|maar geen|behalve|iets (voor|met|onder|tot|tegen|om|\w+s)\b|aanraden|raad .* aan|(als|een) cadeau(tje)?|cadeau(tje)? voor|zoek(en)?( ik)? (een|iets)|onder de|minder dan|tussen)\b",
    re.IGNORECASE)
PRICE_ONLY = re.compile(r"[€£$]\s*\d|\d\s*(euros?|eur|pounds?|quid|dollars?)\b|\btenner\b|\bfiver\b", re.IGNORECASE)

PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "intro": "Here's what I'd suggest:",
        "intro_filtered": "Here's what fits ({filters}):",
        "line": "- {name}: {price}, {state}",
        "in_stock": "in stock",
        "sold_out": "sold out right now",
        "pre_order": "pre-order",
        "from": "from {price}",
        "under": "under {price}",
        "up_to": "up to {price}",
        "from_price": "from {price}",
        "other_currency": "I can only go by our prices in {currency}.",
        "none_fits": "I couldn't find anything in our range that fits that, I'm afraid. Would you like me to ask "
                     "someone from the team?",
        "follow_variant": "- {name} in {variant}: {price}, {state}",
        "follow_missing": "- {name}: not in {variant}",
        "follow_intro": "Of those, in {variant}:",
        "follow_none": "None of those comes in {variant}, I'm afraid.",
        "cheaper_one": "The cheaper one is the {name}: {price}, {state}.",
        "dearer_one": "The pricier one is the {name}: {price}, {state}.",
        "that_one": "The {name}: {price}, {state}.",
    },
    "nl": {
        "intro": "Dit zou ik aanraden:",
        "intro_filtered": "Dit past erbij ({filters}):",
        "line": "- {name}: {price}, {state}",
        "in_stock": "op voorraad",
        "sold_out": "nu uitverkocht",
        "pre_order": "voorbestelling",
        "from": "vanaf {price}",
        "under": "onder {price}",
        "up_to": "tot {price}",
        "from_price": "vanaf {price}",
        "other_currency": "Ik kan alleen uitgaan van onze prijzen in {currency}.",
        "none_fits": "Ik kon helaas niets in ons assortiment vinden dat daarbij past. Zal ik iemand van het team "
                     "vragen?",
        "follow_variant": "- {name} in {variant}: {price}, {state}",
        "follow_missing": "- {name}: niet in {variant}",
        "follow_intro": "Daarvan in {variant}:",
        "follow_none": "Geen van die is er in {variant}, helaas.",
        "cheaper_one": "De goedkoopste is de {name}: {price}, {state}.",
        "dearer_one": "De duurste is de {name}: {price}, {state}.",
        "that_one": "De {name}: {price}, {state}.",
    },
}


def _phrase(language: str, key: str, **values: Any) -> str:
    table = PHRASES.get(language, PHRASES["en"])
    return table.get(key, PHRASES["en"][key]).format(**values)


# "... under 25 euros", "between 20 and 30": a price range asks what fits it, even where a product's
# variant happens to carry the amount (the gift card's "€25").
PRICE_RANGE = re.compile(r"\b(under|below|less than|cheaper than|up to|at most|no more than|between|onder de|"
                         r"minder dan|tussen|hooguit|maximaal)\b\s*(a |an |de )?([€£$]|\d|tenner|fiver|\w+ (euros?|"
                         r"pounds?|quid|dollars?)\b)", re.IGNORECASE)


def asks_within_price(text: str) -> bool:
    return bool(PRICE_RANGE.search(text))


def is_discovery_question(text: str) -> bool:
    """Whether a question asks what the business has that fits, rather than about a named thing."""
    return bool(DISCOVERY_CUE.search(text) or PRICE_ONLY.search(text))


def _filters_text(filters: dict[str, Any], language: str) -> str:
    parts = []
    if "price_under" in filters:
        parts.append(_phrase(language, "under", price=filters["price_under"]))
    if "price_up_to" in filters:
        parts.append(_phrase(language, "up_to", price=filters["price_up_to"]))
    if "price_from" in filters:
        parts.append(_phrase(language, "from_price", price=filters["price_from"]))
    for key in ("attributes", "colours", "sizes"):
        parts.extend(str(value) for value in filters.get(key, []))
    return ", ".join(parts)


def _price(product: dict[str, Any], language: str) -> str:
    price = str(product["price"])
    if price.startswith("from "):
        return _phrase(language, "from", price=price[len("from "):])
    return price


def recommendations_text(result: dict[str, Any], language: str) -> str:
    """The answer's text from a product_search result: one line per product."""
    filters = _filters_text(result["filters"], language)
    lines = [_phrase(language, "intro_filtered", filters=filters) if filters else _phrase(language, "intro")]
    for product in result["products"][:MAX_RECOMMENDED]:
        lines.append(_phrase(language, "line", name=product["name"], price=_price(product, language),
                             state=_phrase(language, product["availability"])))
    return "\n".join(lines)


def product_search_record(*, query: str, result: ProductSearchResult, context: TurnContext) -> dict[str, Any]:
    """Record the search on the turn as the `product_search` tool's call; returns its result."""
    found = result.as_dict()
    found["products"] = found["products"][:MAX_RECOMMENDED]
    context.calls.append({"name": "product_search", "arguments": {"query": query}, "result": found})
    context.results.append(found)
    return found


def discovery_reply(*, text: str, language: str, context: TurnContext) -> str | None:
    """The offline answer to a discovery question, or None when nothing fits (the caller then tries
    the knowledge base, or says it does not know; the recorded search says it found nothing)."""
    result = product_discovery(query=text, limit=MAX_RECOMMENDED)
    found = product_search_record(query=text, result=result, context=context)
    if not result.found:
        return None
    return recommendations_text(found, language)


# ----------------------------------------------------------------------------- follow-ups

# "in M?", "and in black?", "the cheaper one?", "the second one": short, and about what was offered.
FOLLOW_UP_MAX_WORDS = 8
_CHEAPER = re.compile(r"\b(cheaper|cheapest|less expensive|lower price|goedkopere?|goedkoopste)\b", re.IGNORECASE)
_DEARER = re.compile(r"\b(more expensive|pricier|dearer|duurdere?|duurste)\b", re.IGNORECASE)
_ORDINALS = {"first": 0, "second": 1, "third": 2, "fourth": 3, "last": -1, "eerste": 0, "tweede": 1, "derde": 2,
             "vierde": 3, "laatste": -1}
_ORDINAL = re.compile(r"\b(" + "|".join(_ORDINALS) + r")\b", re.IGNORECASE)
_VARIANT_ASK = re.compile(r"\b(in|size|maat|colou?r|kleur)\b", re.IGNORECASE)


def last_recommended(*, conversation_id: int) -> list[dict[str, Any]]:
    """The products the assistant's last answer in the conversation offered, as its stored
    `product_search` result has them; empty when it offered none."""
    calls = (Message.objects.filter(conversation_id=conversation_id, author=Author.ASSISTANT)
             .order_by("-created", "-id").values_list("tool_calls", flat=True).first())
    for call in reversed(calls or []):
        if isinstance(call, dict) and call.get("name") == "product_search":
            products = (call.get("result") or {}).get("products") or []
            return [product for product in products if isinstance(product, dict) and "product_id" in product]
    return []


def _looks_like_follow_up(text: str) -> bool:
    if len(text.split()) > FOLLOW_UP_MAX_WORDS:
        return False
    folded = text_fold(text).split()
    return bool(_CHEAPER.search(text) or _DEARER.search(text) or _ORDINAL.search(text) or _VARIANT_ASK.search(text)
                or any(word in COLOUR_WORDS for word in folded))


_FOLLOW_UP_WORDS = frozenset("and what about how in size maat colour color kleur one ones those them it they en wat "
                             "dan die ze do you have got is are there any have".split())


def _names_something(text: str) -> bool:
    """Whether a short question names a thing of its own ("is the zip hoodie in M?"): then it is
    a product question, not a follow-up about what was offered."""
    return any(word not in _FOLLOW_UP_WORDS and word not in COLOUR_WORDS and word not in SIZE_WORDS
               and not word.isdigit() for word in text_fold(text).split())


def _line(product: dict[str, Any], language: str, key: str = "line") -> str:
    return _phrase(language, key, name=product["name"], price=_price(product, language),
                   state=_phrase(language, product["availability"]))


def follow_up_reply(*, text: str, language: str, context: TurnContext) -> str | None:
    """The answer to a follow-up about the products the last answer offered ("in M?", "the cheaper
    one?"), or None when the text is not one or nothing was offered."""
    if context.conversation_id is None or not _looks_like_follow_up(text):
        return None
    offered = last_recommended(conversation_id=context.conversation_id)
    if not offered:
        return None
    ids = [int(product["product_id"]) for product in offered]
    pick: int | None = None
    key = "that_one"
    if _CHEAPER.search(text) or _DEARER.search(text):
        dearer = bool(_DEARER.search(text))
        chosen = max(offered, key=lambda p: p["price_minor"]) if dearer else min(offered, key=lambda p: p["price_minor"])
        pick, key = int(chosen["product_id"]), "dearer_one" if dearer else "cheaper_one"
    elif (ordinal := _ORDINAL.search(text)) is not None:
        position = _ORDINALS[ordinal.group(1).lower()]
        if position < len(ids):
            pick = ids[position]
    if pick is not None:
        result = product_search(query=text, product_ids=[pick], filters=DiscoveryFilters(currency=commerce_currency()))
        found = product_search_record(query=text, result=result, context=context)
        if not found["products"]:
            return None
        return _line(found["products"][0], language, key)
    result = product_search(query=text, product_ids=ids)
    if not (result.filters.sizes or result.filters.colours) or _names_something(result.filters.rest):
        return None
    variant = " ".join([*result.filters.colours, *(size.upper() for size in result.filters.sizes)])
    found = product_search_record(query=text, result=result, context=context)
    if not found["products"]:
        return _phrase(language, "follow_none", variant=variant)
    fitting = {product["product_id"] for product in found["products"]}
    lines = [_phrase(language, "follow_intro", variant=variant)]
    lines += [_line(product, language) for product in found["products"]]
    lines += [_phrase(language, "follow_missing", name=product["name"], variant=variant)
              for product in offered if product["product_id"] not in fitting]
    return "\n".join(lines)
