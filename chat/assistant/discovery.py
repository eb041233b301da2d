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
from chat.knowledge.product_vectors import product_discovery
from orders.discovery import ProductSearchResult

MAX_RECOMMENDED = 4

# What makes a question a discovery question rather than one about a named product: it asks for
# something of a kind, for ideas, within a price, or for "any" of a plural.
DISCOVERY_CUE = re.compile(
    r"\b(something|anything|recommend\w*|suggest\w*|ideas?|looking for|gift|present|what (else )?(do you|have you) "
    r"(have|got)|what can i get|options for|any \w+(s|ies)\b(?! left)|under|below|less than|cheaper than|up to|"
    r"between|iets|aanraden|raad .* aan|cadeau|zoek(en)?( ik)? (een|iets)|onder de|minder dan|tussen)\b",
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
    },
}


def _phrase(language: str, key: str, **values: Any) -> str:
    table = PHRASES.get(language, PHRASES["en"])
    return table.get(key, PHRASES["en"][key]).format(**values)


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
