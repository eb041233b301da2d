"""Offline answers to product questions, written from the catalog's facts for the question.

The facts come from orders.catalog_understanding (the `product_availability` tool's result, the
same the LLM mode sees): the product asked about, the variant asked for (or the size or colour it
does not come in), its price and availability, the nearest available alternatives, extras and their
sum. Every sentence here states only those facts, and only of the variant asked about: another
variant is named as an alternative, never with its stock or price. Stock counts are stated only
where the business shows them (commerce settings).

`product_reply` answers one question (or one part of a message): it returns the text with the facts
it used, or None when the catalog does not explain the question (the caller then tries the
knowledge base, or says it does not know).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from chat.assistant.tools import TurnContext
from orders.catalog_understanding import catalog_index, question_own_words, question_tokens, request_understand
from orders.catalog_understanding import product_question_facts as catalog_facts

PRICE_CUE = re.compile(r"(\bhow much\b|\bprices?\b|\bpriced\b|\bcosts?\b|\bcharge\b|\bquid\b|\bhoeveel\b|"
                       r"\bkost(en)?\b|\bprijs\b|\bprijzen\b|[€£$])", re.IGNORECASE)
STOCK_CUE = re.compile(r"\b(in stock|stock|available|availability|sold out|any left|left|restock|back in|"
                       r"op voorraad|voorraad|beschikbaar|uitverkocht|nog)\b", re.IGNORECASE)
# "Do you have ...?", "can I get ...?": the answer says whether it is there to be had.
HAVE_CUE = re.compile(r"\b(do (you|u|ya|y'all) (have|sell|stock|do|carry|serve|make|offer)|have you got|"
                      r"got any|you got|can i (buy|get|order)|is there|are there|hebben jullie|verkopen jullie|"
                      r"heb je|verkoop je)\b", re.IGNORECASE)
# "Do you sell ...?": whether the business has something at all. Only these, when the catalog has
# nothing like it, are answered "I can't find that among our products" ("can I get my money back?"
# is not one).
SELL_CUE = re.compile(r"\b(do (you|u|ya|y'all) (have|sell|stock|do|carry|serve|make|offer)|have you got|got any|"
                      r"hebben jullie|verkopen jullie|verkoop je)\b", re.IGNORECASE)
# "What colours / sizes does it come in?"
OPTIONS_CUE = re.compile(r"\b(colou?rs?|shades?|sizes?|sizing|kleur(en)?|maten|maat)\b", re.IGNORECASE)
_SIZES_CUE = re.compile(r"\b(sizes?|sizing|maten|maat)\b", re.IGNORECASE)
# Share of a question's own words the catalog must explain for a bare mention to be a product question.
COVERED_FOR_PRODUCT = 0.6
# Named only by part of a name ("harbour", or "vegan" of several), a product must explain more of it.
COVERED_FOR_PARTIAL_NAME = 0.75

PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "product_price": "The {name}{variant} is {price}.",
        "product_price_options": "The {name} is {options}.",
        "product_stock_price": "Yes, the {name}{variant} is in stock{count} at {price}.",
        "product_stock_some": "Yes, the {name}{variant} is in stock in {options}, at {price}.",
        "product_sold_out_variant": "Sorry, the {name}{variant} is sold out right now.",
        "product_sold_out_these": "Sold out right now: {options}.",
        "product_also_price": "It's {price}.",
        "product_alternatives": "Available instead: {options}.",
        "product_no_colour": "The {name} doesn't come in {variant}. It comes in {options}.",
        "product_colours": "The {name} comes in {options}.",
        "product_sizes": "The {name} comes in sizes {options}.",
        "product_no_size": "The {name} doesn't come in size {variant}. It comes in {options}.",
        "product_one_size": "The {name} comes in one size only.",
        "product_sum": "The {name}{variant} with {extras} is {sum}.",
        "product_extra_sold_out": "Sorry, the {name} is sold out right now.",
        "product_choices_intro": "Here's what we have:",
        "product_choice_line": "- {name}: {price}, {state}",
        "product_choice_missing": "- {name}: not in {variant}",
        "product_from": "from {price}",
        "product_count": " ({stock} available)",
        "product_in_stock_word": "in stock",
        "product_sold_out_word": "sold out",
        "product_not_sold": "I can't find {thing} among our products, and I'd rather not guess. Would you like me "
                            "to ask someone from the team?",
        "or": "or",
        "and": "and",
    },
    "nl": {
        "product_price": "De {name}{variant} kost {price}.",
        "product_price_options": "De {name} kost {options}.",
        "product_stock_price": "Ja, de {name}{variant} is op voorraad{count}, voor {price}.",
        "product_stock_some": "Ja, de {name}{variant} is op voorraad in {options}, voor {price}.",
        "product_sold_out_variant": "Sorry, de {name}{variant} is op dit moment uitverkocht.",
        "product_sold_out_these": "Nu uitverkocht: {options}.",
        "product_also_price": "De prijs is {price}.",
        "product_alternatives": "Wel beschikbaar: {options}.",
        "product_no_colour": "De {name} is er niet in {variant}. Wel in {options}.",
        "product_colours": "De {name} is er in {options}.",
        "product_sizes": "De {name} is er in de maten {options}.",
        "product_no_size": "De {name} is er niet in maat {variant}. Wel in {options}.",
        "product_one_size": "De {name} is er in één maat.",
        "product_sum": "De {name}{variant} met {extras} kost {sum}.",
        "product_extra_sold_out": "Sorry, de {name} is op dit moment uitverkocht.",
        "product_choices_intro": "Dit hebben we:",
        "product_choice_line": "- {name}: {price}, {state}",
        "product_choice_missing": "- {name}: niet in {variant}",
        "product_from": "vanaf {price}",
        "product_count": " ({stock} beschikbaar)",
        "product_in_stock_word": "op voorraad",
        "product_sold_out_word": "uitverkocht",
        "product_not_sold": "Ik kan {thing} niet in ons assortiment vinden, en ik gok liever niet. Zal ik iemand "
                            "van het team vragen?",
        "or": "of",
        "and": "en",
    },
}


def _phrase(language: str, key: str, **values: Any) -> str:
    table = PHRASES.get(language, PHRASES["en"])
    return table.get(key, PHRASES["en"][key]).format(**values)


@dataclass(frozen=True)
class ProductReply:
    """An answer to one product question and the facts it states."""

    text: str
    facts: dict[str, Any]
    # "answer": from the catalog; "not_sold": the catalog has nothing like what was asked for.
    outcome: str = "answer"
    decisive: bool = True  # the question is about the product, not merely naming it
    offers_person: bool = False


def _joined(items: list[str], language: str, word: str = "and") -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {_phrase(language, word)} " + items[-1]


def _variant_text(label: str) -> str:
    return f" ({label})" if label else ""


def _prices_text(variants: list[dict[str, Any]], language: str) -> str:
    by_price: dict[str, list[str]] = {}
    for variant in variants:
        # A label that is itself an amount (a gift card's "€25") says nothing beside its price.
        labels = by_price.setdefault(variant["price"], [])
        if variant["label"] and not re.match(r"[^\w\s]", variant["label"]):
            labels.append(variant["label"])
    if len(by_price) == 1:
        return next(iter(by_price))
    return _joined([f"{price} ({', '.join(labels)})" if labels else price for price, labels in by_price.items()],
                   language, "or")


def _stock_labels(variants: list[dict[str, Any]], language: str, counts: bool) -> str:
    parts = []
    for variant in variants:
        count = _phrase(language, "product_count", stock=variant["stock"]) if counts and "stock" in variant else ""
        parts.append(f"{variant['label']}{count}")
    return _joined(parts, language)


def _product_sentences(product: dict[str, Any], *, language: str, counts: bool, asks_price: bool,
                       asks_stock: bool) -> list[str]:
    """What is true of the variants asked for: price and availability, alternatives when needed."""
    name, variants = product["name"], product["variants"]
    requested = product["variant_requested"] or ""
    if product["missing"]:
        missing = product["missing"]
        if product["missing_attribute"] == "colour":
            return [_phrase(language, "product_no_colour", name=name, variant=missing,
                            options=_joined(list(product["colours"]), language))]
        if not product["sizes"]:
            return [_phrase(language, "product_one_size", name=name)]
        return [_phrase(language, "product_no_size", name=name, variant=missing,
                        options=_joined(list(product["sizes"]), language))]
    available = [variant for variant in variants if variant["available"]]
    sold_out = [variant for variant in variants if not variant["available"]]
    label = requested if requested else (variants[0]["label"] if len(variants) == 1 else "")
    sentences: list[str] = []
    if not available:
        sentences.append(_phrase(language, "product_sold_out_variant", name=name, variant=_variant_text(label)))
        if asks_price and variants:
            sentences.append(_phrase(language, "product_also_price", price=_prices_text(variants, language)))
        if product["alternatives"]:
            sentences.append(_phrase(language, "product_alternatives", options=", ".join(product["alternatives"])))
        return sentences
    prices = _prices_text(variants, language)
    if asks_price and not asks_stock:
        if len({variant["price"] for variant in variants}) > 1:
            sentences.append(_phrase(language, "product_price_options", name=name, options=prices))
        else:
            sentences.append(_phrase(language, "product_price", name=name, variant=_variant_text(label),
                                     price=prices))
        if sold_out and requested:
            sentences.append(_phrase(language, "product_sold_out_these",
                                     options=", ".join(variant["label"] for variant in sold_out)))
        return sentences
    if len(variants) == 1:
        count = _phrase(language, "product_count", stock=variants[0]["stock"]) \
            if counts and "stock" in variants[0] else ""
        sentences.append(_phrase(language, "product_stock_price", name=name, variant=_variant_text(label),
                                 count=count, price=prices))
        return sentences
    sentences.append(_phrase(language, "product_stock_some", name=name, variant=_variant_text(requested),
                             options=_stock_labels(available, language, counts), price=prices))
    if sold_out:
        sentences.append(_phrase(language, "product_sold_out_these",
                                 options=", ".join(variant["label"] for variant in sold_out)))
    return sentences


def _options_sentences(product: dict[str, Any], language: str, text: str) -> list[str]:
    """The colours and sizes a product comes in, when asked ("what colours does it come in?")."""
    sentences = []
    if product["colours"] and not _SIZES_CUE.search(text):
        sentences.append(_phrase(language, "product_colours", name=product["name"],
                                 options=_joined(list(product["colours"]), language)))
    if product["sizes"] and (_SIZES_CUE.search(text) or not product["colours"]):
        sentences.append(_phrase(language, "product_sizes", name=product["name"],
                                 options=_joined(list(product["sizes"]), language)))
    return sentences


def _choices(products: list[dict[str, Any]], language: str, counts: bool) -> str:
    """Several products fit the words: each with its price and whether it is in stock, in the
    variant asked for when one was ("hoodie in navy M")."""
    lines = [_phrase(language, "product_choices_intro")]
    for product in products:
        name = product["name"] + _variant_text(product["variant_requested"] or "")
        if product["missing"]:
            lines.append(_phrase(language, "product_choice_missing", name=product["name"],
                                 variant=product["missing"]))
            continue
        prices = sorted({variant["price_minor"]: variant["price"] for variant in product["variants"]}.items())
        price = prices[0][1] if len(prices) == 1 else _phrase(language, "product_from", price=prices[0][1]) \
            if prices else ""
        state = _phrase(language, "product_in_stock_word" if product["available"] else "product_sold_out_word")
        only = product["variants"][0] if len(product["variants"]) == 1 else None
        if counts and only is not None and only["available"] and "stock" in only and product["variant_requested"]:
            state += _phrase(language, "product_count", stock=only["stock"])
        lines.append(_phrase(language, "product_choice_line", name=name, price=price, state=state))
    return "\n".join(lines)


def thing_asked(text: str) -> str:
    """The words after "do you sell": what the customer looks for, in their words."""
    match = SELL_CUE.search(text)
    rest = text[match.end():] if match else text
    words = [word for word in question_tokens(rest) if word not in _ARTICLES][:4]
    return " ".join(words)


_ARTICLES = frozenset("a an any the some de het een ook".split())


def product_reply(*, text: str, language: str) -> ProductReply | None:
    """The answer to one product question from the catalog, or None when the catalog does not
    explain it. The caller records the facts of the reply it uses (`product_reply_record`)."""
    facts = catalog_facts(text=text)
    result = facts.as_dict()
    asks_price = bool(PRICE_CUE.search(text))
    asks_stock = bool(STOCK_CUE.search(text) or HAVE_CUE.search(text))
    if not facts.found:
        if not SELL_CUE.search(text):
            return None
        thing = thing_asked(text)
        if not thing:
            return None
        return ProductReply(text=_phrase(language, "product_not_sold", thing=thing), facts=result,
                            outcome="not_sold", decisive=False, offers_person=True)
    products = result["products"]
    asks_options = bool(OPTIONS_CUE.search(text)) and not any(product["variant_requested"] for product in products)
    decisive = (asks_price or asks_stock or asks_options or bool(result["extras"])
                or facts.covered >= COVERED_FOR_PRODUCT or any(product["variant_requested"] for product in products)) \
        and (facts.named_fully or facts.covered >= COVERED_FOR_PARTIAL_NAME)
    if facts.ambiguous:
        text_out = _choices(products, language, facts.show_stock_counts)
    else:
        product = products[0]
        plain_question = not asks_price and not asks_stock
        sentences = _options_sentences(product, language, text) if asks_options else []
        sentences += _product_sentences(product, language=language, counts=facts.show_stock_counts,
                                       asks_price=asks_price or plain_question or not product["variants"],
                                       asks_stock=asks_stock or (plain_question and bool(
                                           product["variant_requested"])))
        if result["price_with_extras"] and not product["missing"] and product["available"]:
            extras = _joined([extra["name"] for extra in result["extras"]], language)
            sentences = [_phrase(language, "product_sum", name=product["name"],
                                 variant=_variant_text(line["variant"]), extras=extras, sum=line["sum"])
                         for line in result["price_with_extras"]]
        for extra in result["extras"]:
            if not extra["available"]:
                sentences.append(_phrase(language, "product_extra_sold_out", name=extra["name"]))
        for other in result["other_products"]:
            sentences.extend(_product_sentences(other, language=language, counts=facts.show_stock_counts,
                                                asks_price=True, asks_stock=asks_stock))
        text_out = " ".join(sentences)
    return ProductReply(text=text_out, facts=result, decisive=decisive)


def names_a_product(text: str) -> bool:
    """Whether the catalog finds a product named in the words ("the zip hoodie"; not "it")."""
    return request_understand(catalog_index(), text).found


def own_words(text: str) -> tuple[str, ...]:
    """What a question is about in its own words: not its grammar, a size or a colour ("shipping" in
    "how much is shipping?"; nothing in "and what's the price in L?")."""
    return question_own_words(text)


def product_reply_record(*, reply: ProductReply, context: TurnContext) -> None:
    """Put the facts an answer uses on the turn, as the `product_availability` call they came from."""
    context.calls.append({"name": "product_availability", "arguments": {"query": reply.facts["query"]},
                          "result": reply.facts})
    context.results.append(reply.facts)
