"""Product discovery: which products fit a question that names none ("something warm for winter",
"a gift under 25 euros", "trousers that aren't jeans").

Three kinds of evidence, each optional:
- the vector match: the product's vector (ProductEmbedding, HNSW) against the question's, when the
  caller gives one made with the same model (the embedding interface lives above this app, in
  chat.knowledge; this module only stores and compares vectors);
- full text over what was embedded (name, category, description, synonyms, sizes and colours);
- structured filters read from the question (`discovery_filters_parse`): price ceilings and floors in
  the business's currency, sizes, colours, categories, attribute words the catalog carries (vegan,
  wool, waterproof), words the customer rules out ("not jeans"). A filter is a filter: a product it
  excludes is never offered, however close its vector.

Products in stock come first; a pre-order is said as such. Extras and products not for sale are
never offered. Everything reads the current tenant's schema only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
from django.db import connection, transaction

from config.content_version import ContentCache
from config.outside_urls import outside_url_or_empty
from orders.catalog_understanding import COLOUR_WORDS, SIZE_WORDS, size_key
from orders.models import Product, ProductEmbedding, ProductKind, Variant
from orders.money import amount_to_minor, minor_digits, minor_to_text
from orders.selectors import commerce_currency, text_fold

# ----------------------------------------------------------------------------- what is embedded


def product_embedding_text(*, product: Product, variants: Sequence[Variant]) -> str:
    """What a product is, in one text: its name, category, description, other names and what its
    variants differ in ("sizes: S, M, L; colours: Navy, Black")."""
    sizes = list(dict.fromkeys(variant.size for variant in variants if variant.size))
    colours = list(dict.fromkeys(variant.colour for variant in variants if variant.colour))
    parts = [product.name, product.category, product.description]
    if product.synonyms:
        parts.append("Also called: " + ", ".join(str(word) for word in product.synonyms))
    if sizes:
        parts.append("Sizes: " + ", ".join(sizes))
    if colours:
        parts.append("Colours: " + ", ".join(colours))
    return ". ".join(part.strip().rstrip(".") for part in parts if part and part.strip()) + "."


def _text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def product_search_prefixes(text: str) -> str:
    """Every beginning of two letters or more of every folded word of `text`, space-separated: what
    the full-text index holds, so that a question's word (or its stem, `_prefix`) matches a product
    word that starts with it by one exact lookup ("pastr" finds "pastry", "tent" finds "tents")."""
    beginnings: set[str] = set()
    for word in text_fold(text).split():
        beginnings.update(word[:end] for end in range(2, len(word) + 1))
    return " ".join(sorted(beginnings))


@dataclass(frozen=True)
class ProductToEmbed:
    product_id: int
    text: str
    text_hash: str


def products_to_embed(*, model_id: str, limit: int | None = None) -> list[ProductToEmbed]:
    """Products whose vector is missing, made by another model, or of a text that has changed since
    (at most `limit`), read in one pass over the catalog."""
    products = (Product.objects.filter(kind=ProductKind.ITEM).select_related("embedding")
                .prefetch_related("variants").order_by("id").iterator(chunk_size=2000))
    stale: list[ProductToEmbed] = []
    for product in products:
        text = product_embedding_text(product=product, variants=list(product.variants.all()))
        digest = _text_hash(text)
        stored: ProductEmbedding | None = getattr(product, "embedding", None)
        if stored is None or stored.text_hash != digest or stored.embedding_model != model_id \
                or stored.embedding is None:
            stale.append(ProductToEmbed(product_id=product.pk, text=text, text_hash=digest))
            if limit is not None and len(stale) >= limit:
                break
    return stale


def product_embeddings_store(*, items: Sequence[ProductToEmbed], vectors: np.ndarray | None, model_id: str) -> int:
    """Store the texts with their vectors; returns how many. Without vectors (the embedding failed)
    only products that have no row yet get one, text only, so full text finds them meanwhile: a
    vector an earlier model made is kept for the search until it is replaced. A product deleted
    meanwhile is skipped."""
    existing = set(Product.objects.filter(pk__in=[item.product_id for item in items]).values_list("pk", flat=True))
    rows = []
    for index, item in enumerate(items):
        if item.product_id not in existing:
            continue
        vector = None if vectors is None else vectors[index]
        rows.append(ProductEmbedding(product_id=item.product_id, text=item.text, text_hash=item.text_hash,
                                     search_prefixes=product_search_prefixes(item.text), embedding=vector,
                                     embedding_model=model_id if vector is not None else "",
                                     embedding_dims=int(vector.shape[0]) if vector is not None else None))
    with transaction.atomic():
        if vectors is None:
            ProductEmbedding.objects.bulk_create(rows, ignore_conflicts=True)
        else:
            ProductEmbedding.objects.bulk_create(
                rows, update_conflicts=True, unique_fields=["product"],
                update_fields=["text", "text_hash", "search_prefixes", "embedding", "embedding_model", "embedding_dims",
                               "updated"])
    return len(rows)


@dataclass(frozen=True)
class ProductEmbeddingStatus:
    """How far the catalog's vectors are: `embedded` of `total` products have a vector of the model
    in use for their current text."""

    total: int
    embedded: int
    model_id: str

    @property
    def pending(self) -> int:
        return self.total - self.embedded

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "embedded": self.embedded, "pending": self.pending, "model": self.model_id}


def product_embedding_status(*, model_id: str) -> ProductEmbeddingStatus:
    total = Product.objects.filter(kind=ProductKind.ITEM).count()
    stale = len(products_to_embed(model_id=model_id)) if total else 0
    return ProductEmbeddingStatus(total=total, embedded=total - stale, model_id=model_id)


# ----------------------------------------------------------------------------- the question's filters

_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
    "ninety": 90, "hundred": 100, "a hundred": 100, "one hundred": 100,
    "tien": 10, "twintig": 20, "dertig": 30, "veertig": 40, "vijftig": 50, "honderd": 100,
}
# Amounts that are words of their own, in the currency they name.
# A fiver and a tenner are five and ten of whatever the shop sells in; quid are pounds.
_AMOUNT_WORDS = {"fiver": ("5", ""), "tenner": ("10", ""), "twenty quid": ("20", "GBP")}
_CURRENCY_WORDS = {
    "€": "EUR", "eur": "EUR", "euro": "EUR", "euros": "EUR",
    "£": "GBP", "gbp": "GBP", "pound": "GBP", "pounds": "GBP", "quid": "GBP",
    "$": "USD", "usd": "USD", "dollar": "USD", "dollars": "USD", "bucks": "USD",
    "¥": "JPY", "yen": "JPY", "jpy": "JPY",
}
_MINOR_WORDS = {"p": "GBP", "pence": "GBP", "cent": "", "cents": "", "ct": ""}
_NUM = r"(?:\d+(?:[.,]\d{1,2})?|(?:" + "|".join(sorted(map(re.escape, _NUMBER_WORDS), key=len, reverse=True)) \
    + r")\b)"
_CUR = r"(?:€|£|\$|¥|eur(?:os?)?|gbp|usd|jpy|pounds?|quid|dollars?|bucks|yen)"
_MINOR = r"(?:p|pence|cents?|ct)"
_AMOUNT = (rf"(?:(?P<{{n}}word>{'|'.join(map(re.escape, _AMOUNT_WORDS))})\b"
           rf"|(?P<{{n}}cur1>{_CUR})\s*(?P<{{n}}num1>{_NUM})(?:\s*(?P<{{n}}minor1>{_MINOR})\b)?"
           rf"|(?P<{{n}}num2>{_NUM})\s*(?:(?P<{{n}}cur2>{_CUR})\b|(?P<{{n}}minor2>{_MINOR})\b)?)")


def _amount(name: str) -> str:
    return _AMOUNT.replace("{n}", name)


# Ceilings: "under", "less than" (below the amount); "up to", "max" (the amount itself fits).
_BELOW = r"under|below|less than|cheaper than|lower than|beneath|onder(?: de)?|minder dan|goedkoper dan"
_AT_MOST = r"up to|max(?:imum|imaal)?|at most|no more than|not more than|within|tot(?: en met)?|hooguit|hoogstens"
_ABOVE = r"over|above|more than|pricier than|boven(?: de)?|meer dan|duurder dan"
_AT_LEAST = r"at least|from|starting at|minimum|minstens|vanaf"
_BETWEEN = re.compile(rf"\b(?:between|tussen)\s+{_amount('a')}\s+(?:and|en|-)\s+{_amount('b')}", re.IGNORECASE)
_RANGE = re.compile(rf"(?<![\w.,]){_amount('a')}\s*(?:-|–|to|tot)\s*{_amount('b')}(?![\w.,])", re.IGNORECASE)
_CEILING = re.compile(rf"\b(?P<op>{_BELOW}|{_AT_MOST})\s+(?:a\s+|an\s+)?{_amount('a')}", re.IGNORECASE)
_FLOOR = re.compile(rf"\b(?P<op>{_ABOVE}|{_AT_LEAST})\s+(?:a\s+|an\s+)?{_amount('a')}", re.IGNORECASE)
_CHEAP = re.compile(r"\b(cheap|cheapest|budget|inexpensive|affordable|goedkoop|goedkope|goedkoopste)\b", re.IGNORECASE)

# Words of a language (not of any catalog) for what a product is made of or suits; a word is a
# filter only where the business's catalog uses it (`_catalog_attributes`).
ATTRIBUTE_WORDS: dict[str, tuple[str, ...]] = {
    "vegan": ("vegan", "veganistisch", "veganistische", "plant based", "plantaardig"),
    "vegetarian": ("vegetarian", "veggie", "vegetarisch", "vegetarische"),
    "gluten-free": ("gluten free", "gluten-free", "glutenfree", "gf", "glutenvrij", "glutenvrije", "coeliac"),
    "dairy-free": ("dairy free", "dairy-free", "lactose free", "lactosevrij", "zuivelvrij"),
    "caffeine-free": ("caffeine free", "caffeine-free", "decaf", "cafeinevrij"),
    "alcohol-free": ("alcohol free", "alcohol-free", "non alcoholic", "alcoholvrij"),
    "organic": ("organic", "biologisch", "biologische", "bio"),
    "recycled": ("recycled", "gerecycled", "gerecyclede"),
    "wool": ("wool", "woollen", "wooly", "woolly", "wol", "wollen"),
    "merino": ("merino",),
    "cotton": ("cotton", "katoen", "katoenen"),
    "linen": ("linen", "linnen"),
    "leather": ("leather", "leer", "leren"),
    "suede": ("suede", "su\u00e8de"),
    "denim": ("denim",),
    "waterproof": ("waterproof", "water resistant", "water-resistant", "waterdicht", "waterdichte"),
    "chocolate": ("chocolate", "choc", "chocolade"),
}
# What the catalog text must contain for a product to have the attribute (folded words).
_ATTRIBUTE_IN_TEXT: dict[str, tuple[str, ...]] = {
    "vegan": ("vegan",), "vegetarian": ("vegetarian", "veggie", "vegan"), "gluten-free": ("gluten free", "gf "),
    "dairy-free": ("dairy free", "vegan"), "caffeine-free": ("caffeine free", "decaf"),
    "alcohol-free": ("alcohol free", "0 5"), "organic": ("organic",), "recycled": ("recycled",),
    "wool": ("wool",), "merino": ("merino",), "cotton": ("cotton",), "linen": ("linen",), "leather": ("leather",),
    "suede": ("suede",), "denim": ("denim",), "waterproof": ("waterproof", "water resistant"),
    "chocolate": ("chocolate", "choc "),
}
# The spellings folded as questions are, with a space either side (whole words only).
_ATTRIBUTE_SPELLINGS = {attribute: tuple(f" {text_fold(spelling)} " for spelling in spellings)
                        for attribute, spellings in ATTRIBUTE_WORDS.items()}
_NEGATION = re.compile(r"\b(?:not|aren'?t|isn'?t|no|without|except|but not|other than|apart from|anything but|"
                       r"geen|niet|zonder|behalve)\s+(?:a |an |the |any |some |een |de |het )?(?P<word>[\w'-]{3,})",
                       re.IGNORECASE)
_SIZE_ASK = re.compile(r"\b(?:in|size|maat|sized?|waist|eu)\s+(?:an?\s+|size\s+|maat\s+)?"
                       r"(?P<size>xxs|xs|s|m|l|xl|xxl|2xl|xxxl|small|medium|large|x-?large|x-?small|klein|middel|groot|"
                       r"\d{2}(?:-\d{2})?|w\d{2})\b", re.IGNORECASE)
PREORDER_WORDS = re.compile(r"\bpre-?orders?\b|\bvoorbestel", re.IGNORECASE)


@dataclass(frozen=True)
class DiscoveryFilters:
    """What the question asks of the products beyond their kind; prices in minor units of the
    business's currency, `max_inclusive` False for "under" (the amount itself does not fit)."""

    currency: str
    min_minor: int | None = None
    max_minor: int | None = None
    max_inclusive: bool = True
    cheap: bool = False
    sizes: tuple[str, ...] = ()
    colours: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    attributes: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    # An amount in another currency than the business's: not converted, said so instead.
    other_currency: str = ""
    # The question with the filters' words taken out: what the vector and full text compare.
    rest: str = ""
    # Filters dropped because with them nothing fitted.
    relaxed: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        understood: dict[str, Any] = {}
        if self.min_minor is not None:
            understood["price_from"] = minor_to_text(self.min_minor, currency=self.currency)
        if self.max_minor is not None:
            understood["price_up_to" if self.max_inclusive else "price_under"] = \
                minor_to_text(self.max_minor, currency=self.currency)
        for name in ("sizes", "colours", "categories", "attributes", "excluded"):
            if getattr(self, name):
                understood[name] = list(getattr(self, name))
        if self.cheap:
            understood["cheapest_first"] = True
        if self.other_currency:
            understood["other_currency"] = self.other_currency
        if self.relaxed:
            understood["relaxed"] = list(self.relaxed)
        return understood

    @property
    def any(self) -> bool:
        return bool(self.as_dict())


def _number(text: str) -> Decimal | None:
    text = text.strip().lower()
    if text in _NUMBER_WORDS:
        return Decimal(_NUMBER_WORDS[text])
    try:
        return Decimal(text.replace(",", "."))
    except InvalidOperation:
        return None


def _amount_minor(match: re.Match[str], name: str, currency: str) -> tuple[int | None, str]:
    """The amount a match names, in minor units of `currency`, and the currency it was written in
    when that is another one ("" when it is the business's or none was named)."""
    groups = match.groupdict()
    word = groups.get(f"{name}word")
    if word:
        amount, named = _AMOUNT_WORDS[word.lower()]
        if named and named != currency:
            return None, named
        return amount_to_minor(amount, currency=currency), ""
    number = _number(groups.get(f"{name}num1") or groups.get(f"{name}num2") or "")
    if number is None:
        return None, ""
    symbol = (groups.get(f"{name}cur1") or groups.get(f"{name}cur2") or "").lower()
    named = _CURRENCY_WORDS.get(symbol, "")
    if named and named != currency:
        return None, named
    minor_word = (groups.get(f"{name}minor1") or groups.get(f"{name}minor2") or "").lower()
    if minor_word:
        if _MINOR_WORDS.get(minor_word) and _MINOR_WORDS[minor_word] != currency:
            return None, _MINOR_WORDS[minor_word]
        return int(number), ""
    if not named and not symbol and number != number.to_integral_value() and minor_digits(currency) == 0:
        return None, ""
    return int((number * (10 ** minor_digits(currency))).to_integral_value()), ""


def _has_currency_or_price_word(match: re.Match[str], text: str) -> bool:
    """A bare number after "under" is a price only with a currency or a price word near it ("under
    50", in "a gift under 50", is; "size under 40" is not a price)."""
    groups = match.groupdict()
    if any(groups.get(key) for key in groups if key.endswith(("cur1", "cur2", "minor1", "minor2", "word"))):
        return True
    around = text[max(0, match.start() - 25):match.end() + 12].lower()
    return not re.search(r"\b(size|maat|waist|eu)\b", around)


def discovery_filters_parse(*, text: str, categories: Iterable[str] = (), catalog_words: frozenset[str] = frozenset(),
                            colours: Iterable[str] = (), currency: str | None = None) -> DiscoveryFilters:
    """The filters a discovery question states, read against what this catalog has: its categories,
    the folded words of its products' texts and its variants' colours."""
    currency = currency or commerce_currency()
    rest = text
    min_minor: int | None = None
    max_minor: int | None = None
    max_inclusive = True
    other = ""
    spans: list[tuple[int, int]] = []
    for pattern in (_BETWEEN, _RANGE):
        match = pattern.search(text)
        if match and _has_currency_or_price_word(match, text):
            low, low_other = _amount_minor(match, "a", currency)
            high, high_other = _amount_minor(match, "b", currency)
            other = other or low_other or high_other
            if low is not None and high is not None:
                min_minor, max_minor = min(low, high), max(low, high)
                spans.append(match.span())
                break
    if max_minor is None:
        match = _CEILING.search(text)
        if match and _has_currency_or_price_word(match, text):
            value, named = _amount_minor(match, "a", currency)
            other = other or named
            if value is not None:
                max_minor = value
                max_inclusive = not re.fullmatch(_BELOW, match.group("op").lower())
                spans.append(match.span())
    if min_minor is None:
        match = _FLOOR.search(text)
        if match and _has_currency_or_price_word(match, text) and not re.fullmatch(r"from", match.group("op").lower()):
            value, named = _amount_minor(match, "a", currency)
            other = other or named
            if value is not None:
                min_minor = value
                spans.append(match.span())
    for start, end in sorted(spans, reverse=True):
        rest = rest[:start] + " " + rest[end:]
    folded = f" {text_fold(rest)} "
    words = folded.split()

    sizes = []
    for match in _SIZE_ASK.finditer(rest):
        raw = text_fold(match.group("size")).replace(" ", "")
        sizes.append(SIZE_WORDS.get(raw.replace("-", ""), size_key(raw)))
    catalog_colours = {text_fold(colour) for colour in colours}
    asked_colours = []
    for word in words:
        colour = COLOUR_WORDS.get(word)
        if colour and any(colour in known.split() or colour == known for known in catalog_colours):
            asked_colours.append(colour)
    excluded = []
    attributes = []
    for match in _NEGATION.finditer(rest):
        word = text_fold(match.group("word"))
        free = f"{word}-free"
        if free in ATTRIBUTE_WORDS:  # "without caffeine" asks for what is caffeine-free
            if any(marker.strip() in catalog_words for marker in _ATTRIBUTE_IN_TEXT[free]):
                attributes.append(free)
            continue
        if word and word not in _NEGATION_FILLER:
            excluded.append(word)
    for attribute, spellings in _ATTRIBUTE_SPELLINGS.items():
        if attribute in excluded:
            continue
        if any(spelling in folded for spelling in spellings) \
                and any(marker.strip() in catalog_words or marker in catalog_words
                        for marker in _ATTRIBUTE_IN_TEXT[attribute]):
            attributes.append(attribute)
    # The categories the question names the most words of: "a cold drink" is "Cold drinks", not
    # "Hot drinks" too.
    matched: dict[str, int] = {}
    for category in categories:
        category_words = [word for word in text_fold(category).split() if len(word) >= 3 and word != "and"]
        count = sum(1 for word in category_words if any(_same_word(word, asked) for asked in words
                                                          if asked not in excluded))
        if count:
            matched[category] = count
    asked_categories = [category for category, count in matched.items() if count == max(matched.values())]
    return DiscoveryFilters(
        currency=currency, min_minor=min_minor, max_minor=max_minor, max_inclusive=max_inclusive,
        cheap=bool(_CHEAP.search(text)), sizes=tuple(dict.fromkeys(sizes)),
        colours=tuple(dict.fromkeys(asked_colours)), categories=tuple(asked_categories),
        attributes=tuple(dict.fromkeys(attributes)), excluded=tuple(dict.fromkeys(excluded)), other_currency=other,
        rest=" ".join(rest.split()))


_NEGATION_FILLER = frozenset("too very more less much sure idea thanks problem worries".split())


def _stem(word: str) -> str:
    """A crude stem for matching a customer's word with a catalog's in English and Dutch plurals:
    "pastries" ~ "pastry", "dresses" ~ "dress", "jassen" ~ "jas"."""
    for ending, keep in (("ies", "y"), ("sses", "ss"), ("shes", "sh"), ("ches", "ch"), ("xes", "x"), ("es", "e"),
                         ("s", ""), ("en", "")):
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            return word[: len(word) - len(ending)] + keep
    return word


def _same_word(a: str, b: str) -> bool:
    """The same word but for its ending: "pastries" and "pastry", "hoodies" and "hoodie"."""
    if a == b:
        return True
    a, b = _stem(a), _stem(b)
    if a == b:
        return True
    common = len(os.path.commonprefix([a, b]))
    return common >= 4 and common >= max(len(a), len(b)) - 2


# ----------------------------------------------------------------------------- the search

# At most pgvector's default hnsw.ef_search (40): more would need a SET per session.
VECTOR_CANDIDATES = 40
# Full-text candidates, read in the order of `_text_tiers` and never more: a common word matches
# thousands of products in a large catalog, and each one read costs.
TEXT_CANDIDATES = 60
TEXT_TIER_CLAUSES = 20
# Variants read for a question of filters only ("anything under €20?"), cheapest first.
FILTER_CANDIDATES = 100
# How much of the score full text and a category named in the question add to the vector's
# similarity (on its scale: cosine, about 0.1 for unrelated and 0.6 for close texts of MiniLM).
TEXT_WEIGHT = 0.35
CATEGORY_WEIGHT = 0.08
# Below this a product does not fit the question: better "nothing like that" than a guess.
MIN_SCORE_HYBRID = 0.30
MIN_SCORE_VECTOR = 0.28
MIN_SCORE_TEXT = 0.2
DEFAULT_RESULTS = 4
# A product scoring less than this share of the best one's is left out.
RELATIVE_SCORE = 0.6

_STOPWORDS = frozenset(
    """a an the and or of for to in on at with without is are am do does did you your yours we our i me my it its
    any anything something some someone have has had got get can could would should will shall may might please pls
    what which who whom where when how why there here this that these those thing things stuff kind sort like
    looking look want wanted need needed would like recommend recommendation suggest suggestion show find give
    sell sells selling stock carry offer options option ideas idea good nice great best maybe perhaps just really
    very too also so but not no nothing else other than apart from from under over below above less more between
    gift gifts present presents cadeau cadeautje cadeaus
    euro euros eur pound pounds quid dollar dollars price prices cost costs cheap cheaper cheapest budget
    hebben jullie heb je iets wat welke een de het voor met zonder onder boven tussen en of ook geen niet nog
    graag zoek ik mij mijn zijn is er dat die deze dit van te""".split())


@dataclass(frozen=True)
class FoundVariant:
    label: str
    size: str
    colour: str
    price: str
    price_minor: int
    available: bool


@dataclass(frozen=True)
class FoundProduct:
    """One product that fits, with why: its scores and the variants the filters left."""

    product_id: int
    sku: str
    name: str
    category: str
    currency: str
    price_minor: int
    price: str
    price_text: str  # "€24.95", or "from €19.95" when the fitting variants differ in price
    availability: str  # "in_stock", "sold_out", "pre_order"
    score: float
    vector_score: float | None
    text_score: float
    variants: tuple[FoundVariant, ...]
    url: str = ""  # the product's page, where the catalog has one
    image: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"product_id": self.product_id, "sku": self.sku, "name": self.name, "category": self.category,
                "url": self.url, "image": self.image, "price": self.price_text, "price_minor": self.price_minor, "currency": self.currency,
                "availability": self.availability, "available": self.availability != "sold_out",
                "score": round(self.score, 3),
                "vector_score": None if self.vector_score is None else round(self.vector_score, 3),
                "text_score": round(self.text_score, 3),
                "variants": [{"label": variant.label, "size": variant.size, "colour": variant.colour,
                              "price": variant.price, "price_minor": variant.price_minor,
                              "available": variant.available} for variant in self.variants[:12]]}


@dataclass(frozen=True)
class ProductSearchResult:
    query: str
    mode: str
    filters: DiscoveryFilters
    products: list[FoundProduct] = field(default_factory=list)
    # How many products the filters ruled out among those the words found.
    excluded_by_filters: int = 0

    @property
    def found(self) -> bool:
        return bool(self.products)

    def as_dict(self) -> dict[str, Any]:
        return {"query": self.query, "mode": self.mode, "found": self.found, "filters": self.filters.as_dict(),
                "products": [product.as_dict() for product in self.products],
                "excluded_by_filters": self.excluded_by_filters}


@dataclass(frozen=True)
class _CatalogFacts:
    currency: str
    categories: tuple[str, ...]
    words: frozenset[str]
    colours: tuple[str, ...]


_catalog_facts_cache: ContentCache[_CatalogFacts] = ContentCache()


def _catalog_facts() -> _CatalogFacts:
    """The catalog's categories, colours and attribute words, kept until its content changes."""
    return _catalog_facts_cache.get(_catalog_facts_read)


def _catalog_facts_read() -> _CatalogFacts:
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT category FROM orders_product WHERE kind = %s AND category <> ''",
                       [ProductKind.ITEM])
        categories = tuple(sorted(row[0] for row in cursor.fetchall()))
        cursor.execute("SELECT DISTINCT colour FROM orders_variant WHERE colour <> ''")
        colours = tuple(row[0] for row in cursor.fetchall())
        # Whether any product carries an attribute's marker, asked of the database (no full read).
        markers = sorted({marker.strip() for markers in _ATTRIBUTE_IN_TEXT.values() for marker in markers})
        cursor.execute(
            "SELECT m FROM unnest(%s::text[]) AS m WHERE EXISTS (SELECT 1 FROM orders_product p "
            "WHERE p.kind = %s AND lower(replace(p.name || ' ' || p.description || ' ' || p.synonyms::text, '-', ' ')) "
            "LIKE '%%' || m || '%%')",
            [markers, ProductKind.ITEM])
        words = frozenset(row[0] for row in cursor.fetchall())
    return _CatalogFacts(currency=commerce_currency(), categories=categories, words=words, colours=colours)


def _content_words(text: str) -> list[str]:
    return [word for word in text_fold(text).split() if word not in _STOPWORDS and len(word) >= 2
            and not word.isdigit()]


def _prefix(word: str) -> str:
    """What a word's forms start with: "pastries" and "pastry" with "pastr", "hoodies" with "hood"."""
    common = os.path.commonprefix([word, _stem(word)])
    return common if len(common) >= 3 else word


def _text_tiers(stems: list[str]) -> list[str]:
    """The full-text queries, best first: the products with every one of the question's stems, then
    with all but one, ..., then with any. Exact lexemes of `search_prefixes` (a stem matches a word
    that starts with it); the stems are folded to [a-z0-9], so nothing of tsquery's syntax can come
    from the customer. A tier of more combinations than TEXT_TIER_CLAUSES is left to the next one."""
    count = len(stems)
    tiers = []
    for size in range(count, 0, -1):
        if 1 < size < count and math.comb(count, size) > TEXT_TIER_CLAUSES:
            continue
        tiers.append(" | ".join(" & ".join(combination) for combination in itertools.combinations(stems, size)))
    return tiers


@dataclass(frozen=True)
class _ProductRow:
    """What the search reads of a product (model instances cost more than the search itself)."""

    pk: int
    sku: str
    name: str
    category: str
    description: str
    synonyms: list[Any]
    currency: str
    text: str  # what was embedded, or the product's own words when it has no row yet
    page_url: str = ""
    image_url: str = ""


@dataclass(frozen=True)
class _VariantRow:
    product_id: int
    size: str
    colour: str
    price_minor: int
    stock: int
    is_sellable: bool

    @property
    def is_available(self) -> bool:
        return self.is_sellable and self.stock > 0


def _product_row(*, pk: int, sku: str, name: str, category: str, description: str, synonyms: Any, currency: str,
                 text: str | None, page_url: str, image_url: str) -> _ProductRow:
    synonyms = json.loads(synonyms) if isinstance(synonyms, str) else list(synonyms or [])
    return _ProductRow(pk=pk, sku=sku, name=name, category=category, description=description, synonyms=synonyms,
                       currency=currency, page_url=page_url, image_url=image_url,
                       text=text or f"{name} {category} {description} {' '.join(map(str, synonyms))}")


def _rows(product_ids: Iterable[int]) -> tuple[dict[int, _ProductRow], dict[int, list[_VariantRow]]]:
    """The products (sellable, of any kind) and their variants, in one query."""
    products: dict[int, _ProductRow] = {}
    variants: dict[int, list[_VariantRow]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.id, p.sku, p.name, p.category, p.description, p.synonyms, p.currency, e.text, "
            "       p.page_url, p.image_url, v.size, v.colour, v.price_minor, v.stock, v.is_sellable "
            "FROM orders_product p JOIN orders_variant v ON v.product_id = p.id "
            "LEFT JOIN orders_productembedding e ON e.product_id = p.id "
            "WHERE p.id = ANY(%s) AND p.is_sellable ORDER BY p.id, v.id", [list(product_ids)])
        for (pk, sku, name, category, description, synonyms, currency, text, page_url, image_url, size, colour,
             price_minor, stock, sellable) in cursor.fetchall():
            if pk not in products:
                products[pk] = _product_row(pk=pk, sku=sku, name=name, category=category, description=description,
                                            synonyms=synonyms, currency=currency, text=text, page_url=page_url,
                                            image_url=image_url)
            variants.setdefault(pk, []).append(_VariantRow(product_id=pk, size=size, colour=colour,
                                                           price_minor=price_minor, stock=stock, is_sellable=sellable))
    return products, variants


@dataclass(frozen=True)
class _Candidates:
    products: dict[int, _ProductRow]
    variants: dict[int, list[_VariantRow]]
    similarity: dict[int, float]
    # How many of the question's stems each product's text has (`stems` as given, repeats counted).
    stems_found: dict[int, int]
    # Whether the vector, the words or the filters found any product at all, offered or not.
    any: bool


def _filter_sql(filters: DiscoveryFilters) -> tuple[str, list[Any]]:
    """The variants a question of filters only lets through, cheapest first (an index order, so a
    large catalog is read only as far as FILTER_CANDIDATES)."""
    conditions = ["p.kind = %s", "p.is_sellable", "v.is_sellable"]
    params: list[Any] = [ProductKind.ITEM]
    if filters.categories:
        conditions.append("p.category = ANY(%s)")
        params.append(list(filters.categories))
    if filters.max_minor is not None:
        conditions.append("v.price_minor <= %s" if filters.max_inclusive else "v.price_minor < %s")
        params.append(filters.max_minor)
    if filters.min_minor is not None:
        conditions.append("v.price_minor >= %s")
        params.append(filters.min_minor)
    params.append(FILTER_CANDIDATES)
    return ("SELECT v.product_id FROM orders_variant v JOIN orders_product p ON p.id = v.product_id "
            f"WHERE {' AND '.join(conditions)} ORDER BY v.price_minor LIMIT %s", params)


def _candidates(*, vector: np.ndarray | None, model_id: str, stems: list[str],
                filters: DiscoveryFilters | None) -> _Candidates:
    """The candidates of a search and their rows, in one statement (each round trip costs more than
    the lookups themselves): the products nearest the question's vector (HNSW), those with most
    of its stems (`_text_tiers`), and, given `filters`, those the filters let through; with how many
    of the stems each one's text has, asked of its indexed beginnings of words."""
    ctes: list[str] = []
    params: list[Any] = []
    if vector is not None:
        dims = int(vector.shape[0])
        literal = "[" + ",".join(f"{value:.7f}" for value in vector.tolist()) + "]"
        # `dims` is an int from the vector, never user input; the cast matches the partial HNSW index.
        # VECTOR_CANDIDATES is within hnsw.ef_search's default, so no SET (a round trip) is needed.
        distance = f"(embedding::vector({dims})) <=> %s::vector({dims})"
        ctes.append(f"vec AS (SELECT product_id, 1 - ({distance}) AS similarity FROM orders_productembedding "
                    f"WHERE embedding_dims = {dims} AND embedding_model = %s ORDER BY {distance} LIMIT %s)")
        params += [literal, model_id, literal, VECTOR_CANDIDATES]
    else:
        ctes.append("vec AS (SELECT NULL::bigint AS product_id, NULL::float8 AS similarity WHERE false)")
    sources = ["SELECT product_id FROM vec"]
    if stems:
        tiers = _text_tiers(list(dict.fromkeys(stems)))
        selects = []
        for index, tier in enumerate(tiers):
            # Each tier without the products of the one before, so the first TEXT_CANDIDATES are the
            # best; a tier is only read when the ones before it left room.
            selects.append("(SELECT product_id FROM orders_productembedding WHERE search_vector @@ %s::tsquery"
                           + (" AND NOT search_vector @@ %s::tsquery" if index else "") + " LIMIT %s)")
            params += [tier, *([tiers[index - 1]] if index else []), TEXT_CANDIDATES]
        ctes.append(f"txt AS (SELECT product_id FROM ({' UNION ALL '.join(selects)}) AS tiers LIMIT %s)")
        params.append(TEXT_CANDIDATES)
        sources.append("SELECT product_id FROM txt")
    if filters is not None:
        sql, filter_params = _filter_sql(filters)
        ctes.append(f"flt AS ({sql})")
        params += filter_params
        sources.append("SELECT product_id FROM flt")
    stems_found = " + ".join(["coalesce((e.search_vector @@ %s::tsquery)::int, 0)"] * len(stems)) or "0"
    params += [*stems, ProductKind.ITEM]
    products: dict[int, _ProductRow] = {}
    variants: dict[int, list[_VariantRow]] = {}
    similarity: dict[int, float] = {}
    found: dict[int, int] = {}
    found_any = False
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH {', '.join(ctes)}, candidate AS ({' UNION '.join(sources)}) "
            "SELECT c.product_id, vec.similarity, p.id, p.sku, p.name, p.category, p.description, p.synonyms, "
            f"       p.currency, e.text, p.page_url, p.image_url, {stems_found}, "
            "       v.size, v.colour, v.price_minor, v.stock, v.is_sellable "
            "FROM candidate c LEFT JOIN vec ON vec.product_id = c.product_id "
            "LEFT JOIN (orders_product p JOIN orders_variant v ON v.product_id = p.id) "
            "  ON p.id = c.product_id AND p.is_sellable AND p.kind = %s "
            "LEFT JOIN orders_productembedding e ON e.product_id = p.id ORDER BY c.product_id, v.id", params)
        for (candidate, candidate_similarity, pk, sku, name, category, description, synonyms, currency, text,
             page_url, image_url, stems_in_text, size, colour, price_minor, stock, sellable) in cursor.fetchall():
            found_any = True
            if candidate_similarity is not None:
                similarity[candidate] = float(candidate_similarity)
            if pk is None:  # not offered: an extra, or not for sale
                continue
            if pk not in products:
                products[pk] = _product_row(pk=pk, sku=sku, name=name, category=category, description=description,
                                            synonyms=synonyms, currency=currency, text=text, page_url=page_url,
                                            image_url=image_url)
                found[pk] = stems_in_text
            variants.setdefault(pk, []).append(_VariantRow(product_id=pk, size=size, colour=colour,
                                                           price_minor=price_minor, stock=stock, is_sellable=sellable))
    return _Candidates(products=products, variants=variants, similarity=similarity, stems_found=found,
                       any=found_any)


def _variant_fits(variant: _VariantRow, filters: DiscoveryFilters) -> bool:
    if not variant.is_sellable:
        return False
    if filters.max_minor is not None and (variant.price_minor > filters.max_minor
                                          or (not filters.max_inclusive and variant.price_minor == filters.max_minor)):
        return False
    if filters.min_minor is not None and variant.price_minor < filters.min_minor:
        return False
    if filters.sizes:
        key = SIZE_WORDS.get(size_key(variant.size), size_key(variant.size))
        if key not in filters.sizes and not any(size in key.split("/") for size in filters.sizes):
            return False
    if filters.colours:
        colour = text_fold(variant.colour)
        if not any(asked in colour.split() or asked == colour for asked in filters.colours):
            return False
    return True


def _product_text_has_all(text: str, attributes: tuple[str, ...]) -> bool:
    folded = f" {text_fold(text)} "
    return all(any(f" {marker.strip()}" in folded for marker in _ATTRIBUTE_IN_TEXT[attribute])
               for attribute in attributes)


def _excluded_by_words(product: _ProductRow, excluded: tuple[str, ...]) -> bool:
    """A product the customer ruled out: one whose name or other names have the word ("trousers
    that aren't jeans" rules out the jeans, not the chinos whose category says "Jeans & trousers")."""
    if not excluded:
        return False
    names = text_fold(" ".join([product.name, *map(str, product.synonyms)])).split()
    return any(_same_word(word, name) for word in excluded for name in names)


def _availability(product: _ProductRow, variants: list[_VariantRow]) -> str:
    if PREORDER_WORDS.search(product.description) or PREORDER_WORDS.search(product.name):
        return "pre_order"
    return "in_stock" if any(variant.is_available for variant in variants) else "sold_out"


def _price_text(variants: list[_VariantRow], currency: str) -> tuple[int, str]:
    prices = sorted({variant.price_minor for variant in variants})
    lowest = prices[0]
    text = minor_to_text(lowest, currency=currency)
    return lowest, (text if len(prices) == 1 else f"from {text}")


def _found(product: _ProductRow, fitting: list[_VariantRow], *, score: float, similarity: float | None,
           text_score: float) -> FoundProduct:
    lowest, price_text = _price_text(fitting, product.currency)
    return FoundProduct(
        product_id=product.pk, sku=product.sku, name=product.name, category=product.category,
        currency=product.currency, price_minor=lowest, price=minor_to_text(lowest, currency=product.currency),
        price_text=price_text, availability=_availability(product, fitting), score=score,
        vector_score=similarity, text_score=text_score,
        # Checked again on the way out: a row written before the addresses were checked is no link.
        url=outside_url_or_empty(product.page_url), image=outside_url_or_empty(product.image_url),
        variants=tuple(FoundVariant(label=" ".join(part for part in (v.colour, v.size) if part) or product.name,
                                    size=v.size, colour=v.colour,
                                    price=minor_to_text(v.price_minor, currency=product.currency),
                                    price_minor=v.price_minor, available=v.is_available) for v in fitting))


@dataclass(frozen=True)
class _Fit:
    """A product that fits, before it is shown: what ranking it needs (shown ones only are formatted)."""

    product: _ProductRow
    fitting: list[_VariantRow]
    score: float
    similarity: float | None
    text_score: float
    availability: str
    price_minor: int


def _among(*, query: str, filters: DiscoveryFilters, product_ids: list[int]) -> ProductSearchResult:
    products, variants = _rows(product_ids)
    found = []
    for product_id in product_ids:
        product = products.get(product_id)
        fitting = [variant for variant in variants.get(product_id, []) if _variant_fits(variant, filters)]
        if product is not None and fitting:
            found.append(_found(product, fitting, score=1.0, similarity=None, text_score=0.0))
    return ProductSearchResult(query=query, mode="among", filters=filters, products=found,
                               excluded_by_filters=len(product_ids) - len(found))


def product_search(*, query: str, query_vector: np.ndarray | None = None, model_id: str = "",
                   mode: str = "hybrid", limit: int = DEFAULT_RESULTS,
                   filters: DiscoveryFilters | None = None,
                   product_ids: Sequence[int] | None = None) -> ProductSearchResult:
    """The products that fit a discovery question, best first (in stock before sold out).

    `mode`: "hybrid" (vector, full text and filters), "vector" or "text" (each with the filters),
    for the benchmark's comparison. Without a query vector a hybrid search is full text and filters.
    `product_ids`: only among these (a follow-up about products offered before), each one that
    the filters let through, in that order.
    """
    query = query[:500]
    facts = _catalog_facts()
    if filters is None:
        filters = discovery_filters_parse(text=query, categories=facts.categories, catalog_words=facts.words,
                                          colours=facts.colours, currency=facts.currency)
    if product_ids is not None:
        return _among(query=query, filters=filters, product_ids=list(product_ids))
    words = [word for word in _content_words(filters.rest) if word not in filters.excluded]
    use_vector = mode in ("hybrid", "vector") and query_vector is not None and bool(model_id)
    stems = [_prefix(word) for word in dict.fromkeys(words)] if mode in ("hybrid", "text") else []
    has_filters = bool(filters.categories or filters.attributes or filters.max_minor is not None
                       or filters.min_minor is not None)
    # A question that is only filters ("anything vegan?", "a gift under 25 euros") is answered from
    # the filters: the products they let through are candidates too.
    read_filtered = has_filters and (not words or mode == "text")
    found_by = _candidates(vector=query_vector if use_vector else None, model_id=model_id, stems=stems,
                           filters=filters if read_filtered else None)
    if not found_by.any and has_filters and not read_filtered:
        found_by = _candidates(vector=None, model_id="", stems=[], filters=filters)
    if not found_by.any:
        return ProductSearchResult(query=query, mode=mode, filters=filters)
    products, variants, vector = found_by.products, found_by.variants, found_by.similarity
    found: list[_Fit] = []
    excluded = 0
    scale = {"vector": MIN_SCORE_VECTOR, "text": MIN_SCORE_TEXT}.get(mode, MIN_SCORE_HYBRID)
    only_filters = has_filters and not words
    for product_id, product in products.items():
        fitting = [variant for variant in variants.get(product_id, []) if _variant_fits(variant, filters)]
        ruled_out = (not fitting
                     or (filters.categories and product.category not in filters.categories)
                     or (filters.attributes and not _product_text_has_all(product.text, filters.attributes))
                     or _excluded_by_words(product, filters.excluded))
        if ruled_out:
            excluded += 1
            continue
        similarity = vector.get(product_id)
        # Full-text evidence: the share of the question's words (prefix matches of their stems) the
        # candidate's text has, whichever way it was found.
        text_score = found_by.stems_found[product_id] / len(stems) if stems else 0.0
        category_bonus = CATEGORY_WEIGHT if filters.categories else 0.0
        if mode == "vector":
            score = similarity if similarity is not None else -1.0
        elif mode == "text":
            score = text_score + category_bonus
        else:
            score = (similarity if similarity is not None else 0.0) + TEXT_WEIGHT * text_score + category_bonus
        if only_filters:
            # Only filters asked ("anything under €20?"): every product they let through fits, the
            # closest to the question's vector first.
            score = max(score, scale + 0.1 * max(similarity or 0.0, 0.0))
        if score < scale:
            continue
        found.append(_Fit(product=product, fitting=fitting, score=score, similarity=similarity,
                          text_score=text_score, availability=_availability(product, fitting),
                          price_minor=min(variant.price_minor for variant in fitting)))
    if not found and filters.categories:
        # A category named in passing ("a gift under 25 euros" names "Gift cards") that leaves
        # nothing is not what the customer meant to limit: the other filters still hold.
        return product_search(query=query, query_vector=query_vector, model_id=model_id, mode=mode, limit=limit,
                              filters=dataclasses.replace(filters, categories=(), relaxed=("categories",)))
    if found:
        # Only what fits about as well as the best: a close match is not padded with far ones.
        best = max(item.score for item in found)
        found = [item for item in found if item.score >= best * RELATIVE_SCORE]
    order = {"in_stock": 0, "pre_order": 1, "sold_out": 2}
    if filters.cheap:
        found.sort(key=lambda item: (order[item.availability], item.price_minor, -item.score))
    else:
        found.sort(key=lambda item: -item.score)
        # In stock first among those that fit about as well: a sold-out best match still shows
        # after the available ones, never instead of them.
        found = found[:limit * 2]
        found.sort(key=lambda item: (order[item.availability] > 1, -item.score))
    return ProductSearchResult(query=query, mode=mode, filters=filters,
                               products=[_found(item.product, item.fitting, score=item.score,
                                                similarity=item.similarity, text_score=item.text_score)
                                         for item in found[:limit]],
                               excluded_by_filters=excluded)


__all__ = [
    "DiscoveryFilters", "FoundProduct", "ProductEmbeddingStatus", "ProductSearchResult",
    "ProductToEmbed", "discovery_filters_parse", "product_embedding_status", "product_embedding_text",
    "product_embeddings_store", "product_search", "products_to_embed",
]
