"""What a customer's product question asks, read against the catalog itself.

A question is matched to the products it names (their names, synonyms and categories, typos
tolerated), to the variant it asks for and to the extras it adds. A word is a variant attribute
only where the catalog has such a variant of *that* product: in "how much is a flat white?" the
word "white" is part of the product's name, not a colour; "navy" in "the Essential Hoodie in navy,
size M" is the colour of a variant the hoodie has. A colour or size the product does not come in is
kept as asked, so the answer can say so. Extras are the catalog's products of kind `extra` (oat
milk, an extra shot): named beside another product, they are priced on top of it.

The understanding (`request_understand`) is pure: it reads a `CatalogIndex` built once per tenant
and catalog version. `product_question_facts` adds what changes all day (stock and prices, read
fresh for the products asked about) and the nearest available alternatives of a variant that is
missing or sold out; its `as_dict()` is the `product_availability` tool's result in both modes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz, process

from config.content_version import ContentCache
from orders.models import CommerceSettings, Product, ProductKind, Variant
from orders.money import minor_to_display, minor_to_text
from orders.selectors import text_fold

# Typos are tolerated in words of this length and more; shorter words ("tee", "oat", "m") match exactly.
FUZZY_MIN_LENGTH = 5
FUZZY_MIN_SCORE = 80
MAX_LISTED = 6
MAX_NARROWED = 60

# How customers write colours and sizes in the languages the assistant answers in, mapped to the
# words catalogs use. These are words of a language, not of any catalog: a word still only counts
# as a colour or size where the product has such a variant (or, to be told it does not, where the
# word is a colour or size at all).
COLOUR_WORDS = {
    # English spellings and base colours.
    "black": "black", "white": "white", "navy": "navy", "blue": "blue", "red": "red", "green": "green",
    "grey": "grey", "gray": "grey", "yellow": "yellow", "orange": "orange", "pink": "pink", "purple": "purple",
    "brown": "brown", "beige": "beige", "cream": "cream", "olive": "olive", "khaki": "khaki", "sand": "sand",
    "oat": "oat", "camel": "camel", "burgundy": "burgundy", "charcoal": "charcoal", "indigo": "indigo",
    # Dutch, with the inflected forms ("de zwarte hoodie").
    "zwart": "black", "zwarte": "black", "wit": "white", "witte": "white", "blauw": "blue", "blauwe": "blue",
    "donkerblauw": "navy", "donkerblauwe": "navy", "marineblauw": "navy", "marineblauwe": "navy", "marine": "navy",
    "lichtblauw": "light blue", "lichtblauwe": "light blue", "rood": "red", "rode": "red", "groen": "green",
    "groene": "green", "grijs": "grey", "grijze": "grey", "geel": "yellow", "gele": "yellow", "oranje": "orange",
    "roze": "pink", "paars": "purple", "paarse": "purple", "bruin": "brown", "bruine": "brown", "zand": "sand",
    "zandkleur": "sand", "zandkleurig": "sand", "havermout": "oat", "bordeaux": "burgundy", "bordeauxrood": "burgundy",
    "kameel": "camel", "antraciet": "charcoal",
}
SIZE_WORDS = {
    "xxs": "xxs", "xs": "xs", "s": "s", "m": "m", "l": "l", "xl": "xl", "xxl": "xxl", "2xl": "xxl", "xxxl": "xxxl",
    "small": "s", "medium": "m", "med": "m", "large": "l", "xsmall": "xs", "extrasmall": "xs", "xlarge": "xl",
    "extralarge": "xl", "regular": "regular", "onesize": "onesize",
    # Dutch.
    "klein": "s", "kleine": "s", "middel": "m", "groot": "l", "grote": "l", "normaal": "regular",
}
# Words after which a number is a size ("size 42", "maat 40", "in 36", "waist 34").
_SIZE_LEAD = frozenset({"size", "sizes", "maat", "maten", "in", "waist", "w", "eu"})
_APOSTROPHE_IN_WORD = re.compile(r"(?<=\w)['’](?=\w)")


# ----------------------------------------------------------------------------- the index


@dataclass(frozen=True)
class IndexedVariant:
    id: int
    size: str
    colour: str
    size_key: str  # folded: "Large" -> "l", "W36" -> "w36", "36-40" -> "3640"
    colour_tokens: tuple[str, ...]  # folded words: "Forest Green" -> ("forest", "green")

    @property
    def label(self) -> str:
        return " ".join(part for part in (self.colour, self.size) if part)


@dataclass(frozen=True)
class IndexedProduct:
    id: int
    sku: str
    name: str
    category: str
    kind: str
    # (tokens, how it names the product: 2 its name, 1 a synonym, 0 its category)
    phrases: tuple[tuple[tuple[str, ...], int], ...]
    variants: tuple[IndexedVariant, ...]

    @property
    def is_extra(self) -> bool:
        return self.kind == ProductKind.EXTRA

    @property
    def colours(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v.colour for v in self.variants if v.colour))

    @property
    def sizes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v.size for v in self.variants if v.size))


@dataclass(frozen=True)
class CatalogIndex:
    products: tuple[IndexedProduct, ...]
    vocabulary: tuple[str, ...]
    products_by_word: dict[str, frozenset[int]]
    size_keys: frozenset[str]  # every folded size some variant has
    colour_words: frozenset[str]  # every one-word colour some variant has, and the language's colour words
    variant_words: frozenset[str]  # every word of a variant's colour or size: alone, they name no product
    by_id: dict[int, IndexedProduct]
    postings: dict[str, tuple[tuple[int, int, int], ...]]  # word -> (product id, phrase index, position)
    naming_words: frozenset[str]  # words that can name a product: not grammar, sizes or colours
    document_frequency: dict[str, int]  # how many products' names, synonyms or categories have the word


def size_key(size: str) -> str:
    folded = text_fold(size).replace(" ", "")
    return SIZE_WORDS.get(folded, folded)


def catalog_index_build(products: Iterable[tuple[int, str, str, str, str, list[str]]],
                        variants: Iterable[tuple[int, int, str, str]]) -> CatalogIndex:
    """The index from plain rows: (id, sku, name, category, kind, synonyms) and (id, product_id, size, colour)."""
    variants_of: dict[int, list[IndexedVariant]] = {}
    for variant_id, product_id, size, colour in variants:
        variants_of.setdefault(product_id, []).append(IndexedVariant(
            id=variant_id, size=size, colour=colour, size_key=size_key(size) if size else "",
            colour_tokens=tuple(text_fold(colour).split())))
    indexed = []
    words: dict[str, set[int]] = {}
    for product_id, sku, name, category, kind, synonyms in products:
        phrases: dict[tuple[str, ...], int] = {}
        for text, weight in [(name, 2), *((synonym, 1) for synonym in synonyms), (category, 0)]:
            tokens = tuple(text_fold(_join_apostrophes(text)).split())
            if tokens and phrases.get(tokens, -1) < weight:
                phrases[tokens] = weight
        for tokens in phrases:
            for token in tokens:
                words.setdefault(token, set()).add(product_id)
        indexed.append(IndexedProduct(id=product_id, sku=sku, name=name, category=category, kind=kind,
                                      phrases=tuple(phrases.items()),
                                      variants=tuple(variants_of.get(product_id, ()))))
    postings: dict[str, list[tuple[int, int, int]]] = {}
    for product in indexed:
        for phrase_index, (phrase_tokens, _weight) in enumerate(product.phrases):
            for offset, word in enumerate(phrase_tokens):
                postings.setdefault(word, []).append((product.id, phrase_index, offset))
    all_variants = [v for product in indexed for v in product.variants]
    variant_words = frozenset({token for v in all_variants for token in v.colour_tokens}
                              | {v.size_key for v in all_variants if v.size_key})
    return CatalogIndex(
        products=tuple(indexed), vocabulary=tuple(sorted(words)),
        products_by_word={word: frozenset(ids) for word, ids in words.items()},
        size_keys=frozenset(v.size_key for v in all_variants if v.size_key),
        colour_words=frozenset({v.colour_tokens[0] for v in all_variants if len(v.colour_tokens) == 1}
                               | set(COLOUR_WORDS)),
        variant_words=variant_words,
        by_id={product.id: product for product in indexed},
        postings={word: tuple(entries) for word, entries in postings.items()},
        naming_words=frozenset(word for word in words if word not in _FILLER_WORDS and word not in variant_words
                               and word not in SIZE_WORDS and word not in COLOUR_WORDS),
        document_frequency={word: len(ids) for word, ids in words.items()},
    )


# Built indexes per tenant, rebuilt after its content changes (stock and prices are not in the index;
# they are read fresh).
_INDEXES: ContentCache[CatalogIndex] = ContentCache()


def catalog_index() -> CatalogIndex:
    """The current tenant's catalog index."""
    return _INDEXES.get(lambda: catalog_index_build(
        Product.objects.values_list("id", "sku", "name", "category", "kind", "synonyms").order_by("id"),
        Variant.objects.values_list("id", "product_id", "size", "colour").order_by("product_id", "id")))


# ----------------------------------------------------------------------------- understanding


@dataclass(frozen=True)
class Mention:
    product_id: int
    start: int
    end: int  # token span [start, end) of the question
    matched: int  # how many of the phrase's tokens the question has
    full: bool  # the whole phrase
    weight: int  # 2 the name, 1 a synonym, 0 the category
    rarity: int = 0  # minus how many products share its rarest word: "breton" names one, "tee" five


@dataclass(frozen=True)
class VariantAsk:
    """The variant one product is asked in: its own sizes and colours, or what it lacks."""

    product_id: int
    sizes: tuple[str, ...] = ()
    colours: tuple[str, ...] = ()
    missing_size: str = ""  # as written
    missing_colour: str = ""

    @property
    def missing(self) -> str:
        return self.missing_size or self.missing_colour

    @property
    def requested(self) -> str:
        return " ".join([*self.colours, *self.sizes, *(part for part in (self.missing_colour, self.missing_size)
                                                       if part)])


@dataclass(frozen=True)
class ProductRequest:
    """What one question asks of the catalog."""

    tokens: tuple[str, ...]
    products: tuple[int, ...]  # the product asked about; several when the words fit several equally
    extras: tuple[int, ...] = ()  # add-ons named with it ("with oat milk")
    others: tuple[int, ...] = ()  # further products named in the same question
    sizes: tuple[str, ...] = ()  # the product's sizes the question asks for
    colours: tuple[str, ...] = ()  # the product's colours the question asks for
    missing_size: str = ""  # a size asked for that the product does not come in, as written
    missing_colour: str = ""  # same for a colour
    covered: float = 0.0  # the share of the question's words the catalog explains
    asks: tuple[VariantAsk, ...] = ()  # per product of `products`
    named_fully: bool = False  # by a whole name, synonym or category, not only part of one ("harbour")

    @property
    def found(self) -> bool:
        return bool(self.products)

    @property
    def ambiguous(self) -> bool:
        return len(self.products) > 1

    @property
    def variant_requested(self) -> bool:
        return bool(self.sizes or self.colours or self.missing_size or self.missing_colour)


def question_tokens(text: str) -> tuple[str, ...]:
    return tuple(text_fold(_join_apostrophes(text)).split())


def _join_apostrophes(text: str) -> str:
    # "I'm" is one word, not "i" and the size "m"; "kids' toastie" keeps its words.
    return _APOSTROPHE_IN_WORD.sub("", text)


def _word_matches(tokens: tuple[str, ...], vocabulary: tuple[str, ...]) -> tuple[list[set[str]], list[set[str]]]:
    """For each question token, the catalog words it is (exactly, as a plural, or with a typo), and
    those it is without a typo."""
    known = set(vocabulary)
    long_words = [word for word in vocabulary if len(word) >= FUZZY_MIN_LENGTH]
    matches: list[set[str]] = []
    exact: list[set[str]] = []
    for token in tokens:
        found = {token} & known
        # Words of the question's grammar, sizes and colours are only ever themselves: "stock" is
        # not a typo of "socks", nor "large" of "lager".
        if token in _FILLER_WORDS or token in SIZE_WORDS or token in COLOUR_WORDS:
            matches.append(found)
            exact.append(found)
            continue
        # "hoodies", "boxes"; but "chairs" is not the "chai" of a Chai Latte.
        stems = [token[:-1], *([token[:-2]] if token.endswith("es") else [])] \
            if len(token) >= 4 and token.endswith("s") else []
        for stem in [*stems, token + "s" if len(token) >= 3 else ""]:
            if stem and stem in known:
                found.add(stem)
        exact.append(set(found))
        if len(token) >= FUZZY_MIN_LENGTH and long_words:
            row = process.extract(token, long_words, scorer=fuzz.ratio, score_cutoff=FUZZY_MIN_SCORE, limit=8)
            # A typo keeps the word's first letter: "parking" is not "sparkling" with two letters lost.
            found.update(word for word, _score, _index in row if word[0] == token[0])
        matches.append(found)
    return matches, exact


def _mentions(index: CatalogIndex, tokens: tuple[str, ...], word_sets: list[set[str]],
              exact_sets: list[set[str]]) -> list[Mention]:
    """Each product's best run of one of its phrases in the question, found from the words' postings."""
    best: dict[int, tuple[tuple[int, bool, int, int], int, int]] = {}  # product -> (rank, start, length)
    for start, found in enumerate(word_sets):
        for word in found:
            for product_id, phrase_index, offset in index.postings.get(word, ()):
                phrase, weight = index.by_id[product_id].phrases[phrase_index]
                # The longest run of the phrase's words, in order, from here; the question may leave
                # out one of them ("canvas sneakers" for the "Canvas Low Sneakers").
                run_words = [phrase[offset]]
                position, index_in_phrase, skipped = start + 1, offset + 1, False
                while position < len(tokens) and index_in_phrase < len(phrase):
                    if phrase[index_in_phrase] in word_sets[position]:
                        run_words.append(phrase[index_in_phrase])
                        position, index_in_phrase = position + 1, index_in_phrase + 1
                    elif not skipped and index_in_phrase + 1 < len(phrase) \
                            and phrase[index_in_phrase + 1] in word_sets[position]:
                        skipped, index_in_phrase = True, index_in_phrase + 1
                    else:
                        break
                length = len(run_words)
                run = tuple(run_words)
                if not any(word in index.naming_words for word in run):
                    continue  # "a", "with", "large" or "black" alone name no product
                if length < len(phrase) and any(word not in exact_sets[start + k] for k, word in enumerate(run)):
                    continue  # part of a name, with a typo: "fietsen" is not the "fiets shirt"
                rank = (length, length == len(phrase), weight, -min(index.document_frequency[word] for word in run))
                current = best.get(product_id)
                if current is None or rank > current[0]:
                    best[product_id] = (rank, start, length)
    return [Mention(product_id=product_id, start=start, end=start + length, matched=length, full=rank[1],
                    weight=rank[2], rarity=rank[3])
            for product_id, (rank, start, length) in best.items()]


def _rank(mention: Mention) -> tuple[int, bool, int, int]:
    return mention.matched, mention.full, mention.weight, mention.rarity


def _overlaps(a: Mention, b: Mention) -> bool:
    return a.start < b.end and b.start < a.end


def request_understand(index: CatalogIndex, text: str) -> ProductRequest:
    """The products, variant and extras a question asks about, as the catalog has them."""
    tokens = question_tokens(text)
    if not tokens or not index.products:
        return ProductRequest(tokens=tokens, products=())
    word_sets, exact_sets = _word_matches(tokens, index.vocabulary)
    mentions = sorted(_mentions(index, tokens, word_sets, exact_sets), key=_rank, reverse=True)
    chosen: list[list[Mention]] = []  # groups: the best mention and its equals over the same words
    in_group: list[set[int]] = []
    used: list[Mention] = []
    by_id = index.by_id
    for mention in mentions:
        if any(_overlaps(mention, taken) for taken in used):
            for group, members in zip(chosen, in_group, strict=True):
                head = group[0]
                if (mention.start, mention.end, mention.matched) == (head.start, head.end, head.matched) \
                        and not (head.full and head.weight == 2) and mention.product_id not in members:
                    group.append(mention)
                    members.add(mention.product_id)
            continue
        member_of = next((number for number, members in enumerate(in_group) if mention.product_id in members), None)
        if member_of is not None:
            # "canvas" after "sneakers": the one of the products the words fit that is meant.
            chosen[member_of] = [next(m for m in chosen[member_of] if m.product_id == mention.product_id)]
            in_group[member_of] = {mention.product_id}
            used.append(mention)
            continue
        words = set(tokens[mention.start:mention.end])
        if any(words <= {word for phrase, _w in by_id[group[0].product_id].phrases for word in phrase}
               for group in chosen):
            used.append(mention)  # "tee" after "breton": more words for a product already named
            continue
        used.append(mention)
        chosen.append([mention])
        in_group.append({mention.product_id})
    # Part of several products' names and nothing more ("vegan" in "is the porridge vegan?") names
    # no further product: only the first group may be such a list.
    kept = [group for number, group in enumerate(chosen) if number == 0 or group[0].full or len(group) == 1]
    used = [mention for mention in used if not any(mention in group for group in chosen if group not in kept)]
    # A one-word name shared by several products ("jeans", "tea") with no word only one of them
    # has: all of them, unless the variant asked for narrows them down.
    groups = [[m.product_id for m in group] for group in kept]
    items = [group for group in groups if not by_id[group[0]].is_extra]
    extras_groups = [group for group in groups if by_id[group[0]].is_extra]
    if items:
        main, extras, others = items[0], [g[0] for g in extras_groups], [g[0] for g in items[1:]]
    elif extras_groups:
        main, extras, others = extras_groups[0], [], [g[0] for g in extras_groups[1:]]
    else:
        return ProductRequest(tokens=tokens, products=())
    named_fully = next(group for group in kept if group[0].product_id == main[0])[0].full
    consumed = {position for mention in used for position in range(mention.start, mention.end)}
    leftover = [(position, token) for position, token in enumerate(tokens) if position not in consumed]
    # The best-ranked few of a word many products share: a customer is shown a handful, not hundreds.
    candidates = [by_id[product_id] for product_id in main][:MAX_NARROWED]
    found = {product.id: _attributes(product, leftover, index) for product in candidates}
    if len(candidates) > 1:
        # "hoodie in navy M": only the hoodies that come in navy M.
        narrowed = [product for product in candidates
                    if (found[product.id][0] or found[product.id][1]) and not any(found[product.id][2:4])]
        if narrowed:
            candidates = narrowed
    asks = tuple(VariantAsk(product_id=product.id, sizes=found[product.id][0], colours=found[product.id][1],
                            missing_size=found[product.id][2], missing_colour=found[product.id][3])
                 for product in candidates[:MAX_LISTED])
    if len(candidates) > 1 and not all(ask.sizes or ask.colours for ask in asks):
        asks = tuple(VariantAsk(product_id=ask.product_id) for ask in asks)
    explained = consumed | found[candidates[0].id][4]
    content = [position for position, token in enumerate(tokens) if token not in _FILLER_WORDS]
    covered = (sum(1 for position in content if position in explained) / len(content)) if content else 1.0
    first = asks[0]
    return ProductRequest(tokens=tokens, products=tuple(ask.product_id for ask in asks), asks=asks,
                          named_fully=named_fully,
                          extras=tuple(dict.fromkeys(extras)), others=tuple(dict.fromkeys(others)),
                          sizes=first.sizes, colours=first.colours, missing_size=first.missing_size,
                          missing_colour=first.missing_colour, covered=round(covered, 2))


def question_own_words(text: str) -> tuple[str, ...]:
    """A question's words that are not its grammar, a size or a colour word: what it is about."""
    return tuple(token for token in question_tokens(text)
                 if token not in _FILLER_WORDS and token not in SIZE_WORDS and token not in COLOUR_WORDS)


# Words that carry no product meaning in a question, in English and Dutch: the share of the rest
# the catalog explains tells a product question ("black hoodie in M?") from a question that merely
# names a product ("can I return a hoodie I bought last week?").
_FILLER_WORDS = frozenset(
    "a an and any are available be can cost costs could do does for get got have has how i im in is it its "
    "left me much my of on one or please pls price prices size sizes some stock still that the there this to "
    "u want what whats which with would you your ya like buy sell carry well hi hey hello thanks "
    "we right now today currently yes no ok also too just only if plus add added extra "
    "hoeveel kost kosten hebben jullie de het een nog in maat op voorraad wat is er met en ook van voor "
    "graag prijs verkopen ik wil".split())


def _attributes(product: IndexedProduct, leftover: list[tuple[int, str]], index: CatalogIndex
                ) -> tuple[tuple[str, ...], tuple[str, ...], str, str, set[int]]:
    """Sizes and colours of this product the leftover words ask for, and one each it does not have."""
    positions = [position for position, _token in leftover]
    words = dict(leftover)
    used: set[int] = set()
    colours: list[str] = []
    missing_colour = ""
    translated = {position: COLOUR_WORDS.get(token, token) for position, token in leftover}
    # Whole colour names first ("forest green", "grey melange"), then one word of one ("green").
    for variant_colour in sorted(product.colours, key=lambda c: -len(c.split())):
        colour_tokens = tuple(text_fold(variant_colour).split())
        for position in positions:
            run = tuple(" ".join(translated.get(position + k, "") for k in range(len(colour_tokens))).split())
            if run[:len(colour_tokens)] == colour_tokens and not used & set(range(position, position + len(
                    colour_tokens))):
                colours.append(variant_colour)
                used.update(range(position, position + len(colour_tokens)))
    if not colours:
        for position in positions:
            word = translated[position]
            if word not in index.colour_words and word not in COLOUR_WORDS.values():
                continue
            word_tokens = tuple(word.split())
            matching = [c for c in product.colours if set(word_tokens) <= set(text_fold(c).split())]
            if matching:
                colours.extend(matching)
                used.add(position)
            elif not missing_colour:
                missing_colour = words[position]
                used.add(position)
    sizes: list[str] = []
    missing_size = ""
    product_sizes = {v.size_key: v.size for v in product.variants if v.size_key}
    for position in positions:
        if position in used:
            continue
        token = words[position]
        joined = token + words.get(position + 1, "")
        previous = words.get(position - 1, "")
        for candidate, width in ((joined, 2), (token, 1)):
            key = SIZE_WORDS.get(candidate, candidate)
            if width == 2 and (position + 1 not in words or key not in product_sizes and key not in index.size_keys
                               and key not in SIZE_WORDS.values()):
                continue
            numbered = key.isdigit() and "w" + key in product_sizes and key not in product_sizes
            if key in product_sizes or numbered:
                sizes.append(product_sizes["w" + key if numbered else key])
                used.update(range(position, position + width))
                break
            is_size_word = candidate in SIZE_WORDS or (key in index.size_keys and not key.isdigit()) or (
                key.isdigit() and previous in _SIZE_LEAD) or re.fullmatch(r"w\d{2}", key) is not None
            if is_size_word and not missing_size:
                written = " ".join(words[p] for p in range(position, position + width))
                short = len(written.replace(" ", "")) <= 3 or re.fullmatch(r"w\d+", written) is not None
                missing_size = written.upper() if short else written
                used.update(range(position, position + width))
                break
    if sizes:
        missing_size = ""
    if colours:
        missing_colour = ""
    return tuple(dict.fromkeys(sizes)), tuple(dict.fromkeys(colours)), missing_size, missing_colour, used


# ----------------------------------------------------------------------------- facts


@dataclass(frozen=True)
class VariantFact:
    sku: str
    label: str
    size: str
    colour: str
    price_minor: int
    price: str
    available: bool
    stock: int | None  # None: the business does not show stock counts to customers

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"sku": self.sku, "label": self.label, "size": self.size, "colour": self.colour,
                                "price_minor": self.price_minor, "price": self.price, "available": self.available}
        if self.stock is not None:
            data["stock"] = self.stock
        return data


@dataclass(frozen=True)
class ProductFact:
    sku: str
    name: str
    category: str
    kind: str
    currency: str
    variant_requested: str  # as asked: "Navy M"; empty when no variant was named
    variant_found: bool  # the product comes in what was asked (always True when nothing was)
    missing: str  # a size or colour asked for that it does not come in
    missing_attribute: str  # "size" or "colour" (empty when nothing is missing)
    available: bool  # one of `variants` can be bought now
    variants: tuple[VariantFact, ...]  # the variants asked for (all of them when none was named)
    alternatives: tuple[str, ...]  # nearest available variants when those asked for are not
    all_sizes: tuple[str, ...]
    all_colours: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"sku": self.sku, "name": self.name, "category": self.category, "kind": self.kind,
                "currency": self.currency, "variant_requested": self.variant_requested or None,
                "variant_found": self.variant_found, "missing": self.missing or None,
                "missing_attribute": self.missing_attribute or None, "available": self.available,
                "variants": [variant.as_dict() for variant in self.variants],
                "alternatives": list(self.alternatives), "sizes": list(self.all_sizes),
                "colours": list(self.all_colours)}


@dataclass(frozen=True)
class PriceSum:
    """A variant's price with the extras asked for added: '£3.80 + £0.40 Oat Milk = £4.20'."""

    label: str
    base_minor: int
    extras: tuple[tuple[str, int], ...]
    total_minor: int
    currency: str

    def as_dict(self) -> dict[str, Any]:
        return {"variant": self.label, "price": minor_to_display(self.base_minor, currency=self.currency),
                "price_minor": self.base_minor,
                "extras": [{"name": name, "price_minor": minor} for name, minor in self.extras],
                "total_minor": self.total_minor, "total": minor_to_display(self.total_minor, currency=self.currency),
                "sum": " + ".join([minor_to_text(self.base_minor, currency=self.currency),
                                   *(f"{minor_to_text(minor, currency=self.currency)} {name}"
                                     for name, minor in self.extras)])
                + f" = {minor_to_text(self.total_minor, currency=self.currency)}"}


@dataclass(frozen=True)
class ProductQuestionFacts:
    query: str
    found: bool
    ambiguous: bool
    covered: float
    show_stock_counts: bool
    named_fully: bool
    products: tuple[ProductFact, ...]
    extras: tuple[ProductFact, ...] = ()
    others: tuple[ProductFact, ...] = ()
    sums: tuple[PriceSum, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"query": self.query, "found": self.found, "ambiguous": self.ambiguous, "covered": self.covered,
                "named_fully": self.named_fully,
                "show_stock_counts": self.show_stock_counts,
                "products": [product.as_dict() for product in self.products],
                "extras": [extra.as_dict() for extra in self.extras],
                "other_products": [other.as_dict() for other in self.others],
                "price_with_extras": [price.as_dict() for price in self.sums]}


def show_stock_counts() -> bool:
    """The business's choice (commerce settings): off until it says customers may see counts."""
    return bool(CommerceSettings.objects.filter(pk=1).values_list("show_stock_counts", flat=True).first())


def _variant_fact(variant: Variant, label: str, currency: str, counts: bool) -> VariantFact:
    return VariantFact(sku=variant.sku, label=label, size=variant.size, colour=variant.colour,
                       price_minor=variant.price_minor, price=minor_to_text(variant.price_minor, currency=currency),
                       available=variant.is_available, stock=variant.stock if counts else None)


def alternatives_for(*, variants: list[tuple[IndexedVariant, bool]], sizes: tuple[str, ...],
                     colours: tuple[str, ...]) -> tuple[str, ...]:
    """The nearest variants one can buy instead: the same size in other colours, then the same colour
    in other sizes, then anything available. Labels only: their stock and prices are not the question."""
    available = [variant for variant, in_stock in variants if in_stock]
    same_size = [v for v in available if sizes and v.size in sizes and v.colour not in colours]
    same_colour = [v for v in available if colours and v.colour in colours and v.size not in sizes]
    nearest = same_size + same_colour or ([] if (sizes and colours) and (same_size or same_colour) else available)
    return tuple(dict.fromkeys(v.label for v in nearest))


def _product_fact(product: IndexedProduct, rows: list[Variant], currency: str, counts: bool,
                  ask: VariantAsk | None) -> ProductFact:
    ask = ask or VariantAsk(product_id=product.id)
    sizes, colours, missing = ask.sizes, ask.colours, ask.missing
    indexed = {v.id: v for v in product.variants}
    pairs = [(indexed[row.id], row) for row in rows if row.id in indexed]
    wanted = [] if missing else [(iv, row) for iv, row in pairs
                                 if (not sizes or iv.size in sizes) and (not colours or iv.colour in colours)]
    facts = tuple(_variant_fact(row, iv.label, currency, counts) for iv, row in wanted)
    available = any(fact.available for fact in facts)
    alternatives: tuple[str, ...] = ()
    if ask.requested and not available:
        alternatives = alternatives_for(variants=[(iv, row.is_available) for iv, row in pairs],
                                        sizes=sizes, colours=colours)
    return ProductFact(sku=product.sku, name=product.name, category=product.category, kind=product.kind,
                       currency=currency, variant_requested=ask.requested, variant_found=not missing and bool(wanted),
                       missing=missing, missing_attribute=("size" if ask.missing_size else "colour") if missing else "",
                       available=available, variants=facts, alternatives=alternatives,
                       all_sizes=product.sizes, all_colours=product.colours)


def product_question_facts(*, text: str, counts: bool | None = None) -> ProductQuestionFacts:
    """What the catalog says about a question's products now: the variants asked for with their
    price and availability (stock counts only where the business shows them), the nearest
    alternatives of a missing or sold-out variant, and prices with the extras added."""
    index = catalog_index()
    request = request_understand(index, text)
    counts = show_stock_counts() if counts is None else counts
    if not request.found:
        return ProductQuestionFacts(query=text, found=False, ambiguous=False, covered=0.0,
                                    show_stock_counts=counts, named_fully=False, products=())
    ids = [*request.products, *request.extras, *request.others]
    rows: dict[int, list[Variant]] = {product_id: [] for product_id in ids}
    for variant in Variant.objects.filter(product_id__in=ids).order_by("id"):
        rows[variant.product_id].append(variant)
    currencies = dict(Product.objects.filter(pk__in=ids).values_list("id", "currency"))
    by_id = index.by_id

    def fact(product_id: int, ask: VariantAsk | None = None) -> ProductFact:
        return _product_fact(by_id[product_id], rows[product_id], currencies[product_id], counts, ask)

    single = not request.ambiguous
    products = tuple(fact(ask.product_id, ask) for ask in request.asks)
    extras = tuple(fact(product_id) for product_id in request.extras)
    others = tuple(fact(product_id) for product_id in request.others)
    sums: list[PriceSum] = []
    if single and extras:
        extra_prices = tuple((extra.name, min(v.price_minor for v in extra.variants))
                             for extra in extras if extra.variants)
        for variant in products[0].variants:
            base = variant.price_minor
            sums.append(PriceSum(label=variant.label, base_minor=base, extras=extra_prices,
                                 total_minor=base + sum(minor for _name, minor in extra_prices),
                                 currency=products[0].currency))
    return ProductQuestionFacts(query=text, found=True, ambiguous=request.ambiguous, covered=request.covered,
                                show_stock_counts=counts, named_fully=request.named_fully, products=products, extras=extras, others=others,
                                sums=tuple(sums))
