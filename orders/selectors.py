"""Reads the assistant relies on: catalog search, availability, order lookup, opening hours.

Each returns frozen dataclasses with `.as_dict()` (JSON-ready), and a clear "not found" answer
instead of raising. All of them run inside the current tenant's schema with a fixed, small number
of queries (no N+1): the catalog is loaded once per search with its variants prefetched.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import Count, F, Prefetch, Q, QuerySet
from rapidfuzz import fuzz, process

from config.content_version import ContentCache
from config.outside_urls import outside_url_or_empty
from orders.models import (
    SEARCH_CONFIG,
    CommerceSettings,
    Order,
    OrderStatus,
    OrderStatusChange,
    Product,
    ShopConnection,
    SpecialDay,
    Variant,
    WebhookDelivery,
    WeeklyOpening,
)
from orders.money import minor_to_display
from orders.services.orders import order_lookup_key


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


class _AsDict:
    def as_dict(self) -> dict[str, Any]:
        return _plain(asdict(self))  # type: ignore[call-overload, no-any-return]


def commerce_currency() -> str:
    """The shop's currency (commerce settings), EUR until the business sets one."""
    return CommerceSettings.objects.filter(pk=1).values_list("currency", flat=True).first() or "EUR"


_zone_names: ContentCache[str | None] = ContentCache()


def tenant_zone() -> ZoneInfo:
    """The current tenant's time zone: opening hours are written in it."""
    name = getattr(getattr(connection, "tenant", None), "timezone", None)
    return ZoneInfo(name or _tenant_zone_name(connection.schema_name) or "UTC")


def _tenant_zone_name(schema_name: str) -> str | None:
    # Inside schema_context the connection's tenant is a stand-in without a time zone. An answer
    # asks for the zone several times, so the tenant row's value is kept until the tenant's content
    # changes (setting the zone bumps its version).
    from tenants.models import Tenant

    return _zone_names.get(lambda: Tenant.objects.filter(schema_name=schema_name).values_list(
        "timezone", flat=True).first())


# ============================================================================= catalog

_STOPWORDS = frozenset(
    "a an and any are available can colour color do does for get got have has how i in is it left me much my "
    "of on one ones or please size sizes some stock still that the there this to want what which with would you "
    "your like buy in".split())
# Sizes people spell out; both the query and the catalog are folded the same way.
_SIZE_WORDS = {"xsmall": "xs", "extrasmall": "xs", "small": "s", "medium": "m", "med": "m", "large": "l",
               "xlarge": "xl", "extralarge": "xl", "xxl": "xxl", "2xl": "xxl"}
_FUZZY_MIN_LENGTH = 4  # shorter tokens ("m", "xl", "fw") only match exactly
_COLOUR_MIN_SCORE = 85
# The lowest fuzzy score (0-100) a catalog word needs to match a word of the query: below it,
# unrelated products match customers' typos.
SEARCH_MIN_SCORE = 70
DESCRIPTION_WEIGHT = 0.85


_NOT_WORD = re.compile(r"[^a-z0-9]+")


def text_fold(text: str) -> str:
    """Lower case, accents removed, punctuation to spaces: 'Latté, Large!' -> 'latte large'."""
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _NOT_WORD.sub(" ", text.lower()).strip()


def _query_tokens(text: str) -> list[str]:
    folded = text_fold(text)
    folded = re.sub(r"\b(extra|x) (small|large)\b", r"\1\2", folded)
    return [token for token in folded.split() if token not in _STOPWORDS]


def _size_fold(size: str) -> str:
    folded = text_fold(size).replace(" ", "")
    return _SIZE_WORDS.get(folded, folded)


@dataclass(frozen=True)
class VariantInfo(_AsDict):
    sku: str
    size: str
    colour: str
    stock: int
    available: bool
    price_minor: int
    currency: str
    price: str


@dataclass(frozen=True)
class ProductMatch(_AsDict):
    sku: str
    name: str
    category: str
    description: str
    currency: str
    price_from_minor: int
    price_from: str
    score: float
    available: bool  # any of `variants` can be bought now
    variants: tuple[VariantInfo, ...]


@dataclass(frozen=True)
class CatalogSearchResult(_AsDict):
    query: str
    found: bool
    matches: tuple[ProductMatch, ...]


@dataclass(frozen=True)
class ProductAvailability(_AsDict):
    sku: str
    name: str
    category: str
    currency: str
    price_from: str
    variant_requested: str | None
    variant_found: bool  # False: the product exists but not in the variant asked for
    available: bool  # at least one matching variant is in stock and for sale
    variants: tuple[VariantInfo, ...]  # the variants that match the request (all when none was named)


@dataclass(frozen=True)
class AvailabilityResult(_AsDict):
    query: str
    variant: str | None
    found: bool
    products: tuple[ProductAvailability, ...]


@dataclass
class _Indexed:
    product: Product
    words: set[str]
    description_words: set[str]
    phrases: list[str]
    sizes: dict[str, set[int]] = field(default_factory=dict)  # folded size -> variant ids
    colour_words: dict[str, set[int]] = field(default_factory=dict)  # colour word -> variant ids


@dataclass(frozen=True)
class _CatalogIndex:
    entries: list[_Indexed]
    vocabulary: list[str]


# Built catalog indexes per tenant, rebuilt after its content changes. Stock and prices are not part
# of the index: they are read fresh for the products a search returns.
_INDEX_CACHE: ContentCache[_CatalogIndex] = ContentCache()


def _catalog_index() -> _CatalogIndex:
    return _INDEX_CACHE.get(_catalog_index_build)


def _catalog_index_build() -> _CatalogIndex:
    entries = _catalog_load()
    return _CatalogIndex(entries=entries, vocabulary=sorted(
        {word for entry in entries for word in entry.words | entry.description_words}))


def _catalog_load() -> list[_Indexed]:
    products = Product.objects.only("id", "sku", "name", "category", "description", "synonyms", "currency",
                                    "price_minor", "is_sellable")
    by_id: dict[int, _Indexed] = {}
    for product in products:
        phrases = [text_fold(product.name), *(text_fold(s) for s in product.synonyms)]
        words = {word for phrase in phrases for word in phrase.split()} | set(text_fold(product.category).split())
        words.add(text_fold(product.sku).replace(" ", ""))
        description_words = set(text_fold(product.description).split()) - words
        by_id[product.id] = _Indexed(product=product, words=words, description_words=description_words,
                                     phrases=phrases)
    for variant_id, product_id, size, colour in Variant.objects.values_list("id", "product_id", "size", "colour"):
        entry = by_id[product_id]
        if size:
            entry.sizes.setdefault(_size_fold(size), set()).add(variant_id)
        for word in text_fold(colour).split():
            entry.colour_words.setdefault(word, set()).add(variant_id)
    return list(by_id.values())


def _variants_of(products: list[Product]) -> dict[int, list[Variant]]:
    """Current variants (stock, price) of the products a search returns: one query."""
    grouped: dict[int, list[Variant]] = {product.id: [] for product in products}
    for variant in Variant.objects.filter(product_id__in=list(grouped)).order_by("id"):
        grouped[variant.product_id].append(variant)
    return grouped


def _fulltext_ranks(tokens: list[str]) -> dict[int, float]:
    """PostgreSQL full-text search over name, category and description (any of the words)."""
    safe = [token for token in tokens if token.isalnum()]
    if not safe:
        return {}
    # Prefixes only for longer words: "hood" finds "hoodies", but "m" must not find every "made".
    terms = [f"{token}:*" if len(token) >= _FUZZY_MIN_LENGTH else token for token in safe]
    query = SearchQuery(" | ".join(terms), search_type="raw", config=SEARCH_CONFIG)
    rows = (Product.objects.filter(search_vector=query)
            .annotate(rank=SearchRank(F("search_vector"), query)).values_list("id", "rank"))
    return {product_id: float(rank) for product_id, rank in rows}


def _token_word_scores(tokens: list[str], vocabulary: list[str], minimum: int) -> dict[str, dict[str, float]]:
    """For each query token, the catalog words it matches (typos tolerated) with their scores."""
    scores: dict[str, dict[str, float]] = {}
    for token in tokens:
        if len(token) < _FUZZY_MIN_LENGTH:
            scores[token] = {token: 100.0} if token in vocabulary else {}
            continue
        row = process.cdist([token], vocabulary, scorer=fuzz.ratio, score_cutoff=minimum)[0]
        scores[token] = {vocabulary[i]: float(row[i]) for i in row.nonzero()[0]}
    return scores


def _attribute_variants(entry: _Indexed, token: str) -> set[int]:
    """Variant ids of this product whose size or colour is the token (colours tolerate typos)."""
    ids = set(entry.sizes.get(_SIZE_WORDS.get(token, token), set()))
    for word, variant_ids in entry.colour_words.items():
        if word == token or (len(token) >= _FUZZY_MIN_LENGTH and fuzz.ratio(token, word) >= _COLOUR_MIN_SCORE):
            ids |= variant_ids
    return ids


def _ranked(query: str, limit: int) -> list[tuple[float, _Indexed]]:
    tokens = _query_tokens(query)
    if not tokens:
        return []
    index = _catalog_index()
    if not index.entries:
        return []
    minimum = SEARCH_MIN_SCORE
    word_scores = _token_word_scores(tokens, index.vocabulary, minimum)
    matched_words = {word for scores in word_scores.values() for word in scores}
    fulltext = _fulltext_ranks(tokens)
    query_phrase = " ".join(tokens)
    ranked = []
    for entry in index.entries:
        rank = fulltext.get(entry.product.id, 0.0)
        if rank <= 0 and matched_words.isdisjoint(entry.words) and matched_words.isdisjoint(entry.description_words):
            continue  # most of a large catalog: nothing in it matches any word of the query
        token_scores = []
        named = False
        for token in tokens:
            scores = word_scores[token]
            best = max((score for word, score in scores.items() if word in entry.words), default=0.0)
            # A word only in the description counts, but less than one in the name or synonyms.
            described = max((score for word, score in scores.items() if word in entry.description_words), default=0.0)
            best = max(best, DESCRIPTION_WEIGHT * described)
            named = named or best >= minimum * DESCRIPTION_WEIGHT
            if _attribute_variants(entry, token):
                best = max(best, 100.0)
            token_scores.append(best)
        if not named and rank <= 0:
            continue
        coverage = sum(token_scores) / len(tokens)
        # How much of the query a name or synonym holds, then how close it is as a whole (so "latte"
        # prefers "Latte" to "Chai Latte"), then full-text relevance as a small bonus.
        contained = max(fuzz.token_set_ratio(query_phrase, candidate) for candidate in entry.phrases)
        closeness = max(fuzz.ratio(query_phrase, candidate) for candidate in entry.phrases)
        score = 0.6 * coverage + 0.25 * contained + 0.15 * closeness + min(rank * 100, 5.0)
        if score >= minimum * 0.6:
            ranked.append((round(score, 1), entry))
    ranked.sort(key=lambda pair: (-pair[0], pair[1].product.name))
    return ranked[:limit]


def _variant_info(variant: Variant, currency: str) -> VariantInfo:
    return VariantInfo(sku=variant.sku, size=variant.size, colour=variant.colour, stock=variant.stock,
                       available=variant.is_available, price_minor=variant.price_minor, currency=currency,
                       price=minor_to_display(variant.price_minor, currency=currency))


def _variants_info(variants: Iterable[Variant], currency: str) -> tuple[VariantInfo, ...]:
    return tuple(_variant_info(variant, currency) for variant in variants)


def catalog_search(*, query: str, limit: int = 5) -> CatalogSearchResult:
    """Products best matching the words (names, synonyms, variants; typos tolerated), best first."""
    ranked = _ranked(query, max(1, min(limit, 50)))
    current = _variants_of([entry.product for _score, entry in ranked])
    matches = []
    for score, entry in ranked:
        product = entry.product
        variants = _variants_info(current[product.id], product.currency)
        matches.append(ProductMatch(
            sku=product.sku, name=product.name, category=product.category, description=product.description,
            currency=product.currency, price_from_minor=product.price_minor,
            price_from=minor_to_display(product.price_minor, currency=product.currency), score=score,
            available=any(variant.available for variant in variants), variants=variants))
    return CatalogSearchResult(query=query, found=bool(matches), matches=tuple(matches))


def product_availability(*, query: str, variant: str | None = None, limit: int = 3) -> AvailabilityResult:
    """Whether what the customer asks for is in stock: 'the blue hoodie' + 'M', or 'blue hoodie in M'."""
    hint_tokens = _query_tokens(variant) if variant else _query_tokens(query)
    ranked = _ranked(f"{query} {variant or ''}", limit)
    current = _variants_of([entry.product for _score, entry in ranked])
    products = []
    for _score, entry in ranked:
        product = entry.product
        variants = current[product.id]
        wanted: set[int] | None = None
        for token in hint_tokens:
            ids = _attribute_variants(entry, token)
            if ids:
                wanted = ids if wanted is None else wanted & ids
        if wanted is None:
            matching = [] if variant else variants
        else:
            matching = [v for v in variants if v.id in wanted]
        infos = _variants_info(matching, product.currency)
        products.append(ProductAvailability(
            sku=product.sku, name=product.name, category=product.category, currency=product.currency,
            price_from=minor_to_display(product.price_minor, currency=product.currency), variant_requested=variant,
            variant_found=bool(matching), available=any(info.available for info in infos), variants=infos))
    return AvailabilityResult(query=query, variant=variant, found=bool(products), products=tuple(products))


# ============================================================================= orders


@dataclass(frozen=True)
class OrderLine(_AsDict):
    sku: str
    name: str
    quantity: int
    unit_price: str
    line_total: str


@dataclass(frozen=True)
class StatusStep(_AsDict):
    status: str
    at: datetime


@dataclass(frozen=True)
class OrderInfo(_AsDict):
    number: str
    status: str
    status_label: str
    placed_at: datetime
    currency: str
    items: tuple[OrderLine, ...]
    subtotal: str
    shipping: str
    total: str
    total_minor: int
    carrier: str
    tracking_number: str
    tracking_url: str
    estimated_delivery: date | None
    history: tuple[StatusStep, ...]


@dataclass(frozen=True)
class OrderLookupResult(_AsDict):
    found: bool
    order: OrderInfo | None
    message: str


# One answer for "no such order" and "not your order": nobody can probe for other people's orders.
ORDER_NOT_FOUND = OrderLookupResult(
    found=False, order=None,
    message="No order matches that order number together with that email address or phone number.")


def phone_digits(text: str) -> str:
    """Digits only, with an international '00' prefix and a '(0)' trunk marker removed."""
    digits = re.sub(r"\D", "", text.replace("(0)", ""))
    return digits[2:] if digits.startswith("00") else digits


def phones_match(stored: str, given: str) -> bool:
    """'+31 6 1234 5678' matches '06-12345678' and '0031612345678': same number, other prefixes."""
    a, b = phone_digits(stored), phone_digits(given)
    if len(a) < 7 or len(b) < 7:
        return False
    if a == b:
        return True
    a, b = a.removeprefix("0"), b.removeprefix("0")
    if a == b:
        return True
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    # The longer one carries a country code (1 to 3 digits) in front of the same national number.
    return len(shorter) >= 7 and 1 <= len(longer) - len(shorter) <= 3 and longer.endswith(shorter)


def _contact_matches(order: Order, email_or_phone: str) -> bool:
    given = email_or_phone.strip()
    if "@" in given:
        return bool(order.email) and order.email.strip().casefold() == given.casefold()
    return bool(order.phone) and phones_match(order.phone, given)


def order_lookup(*, number: str, email_or_phone: str) -> OrderLookupResult:
    """The order with this number, only if the email or phone matches it; otherwise ORDER_NOT_FOUND."""
    key = order_lookup_key(number or "")
    if not key or not (email_or_phone or "").strip():
        return ORDER_NOT_FOUND
    order = (Order.objects.filter(lookup_key=key)
             .prefetch_related("items", Prefetch("history", queryset=OrderStatusChange.objects.order_by("at", "id")))
             .first())
    if order is None or not _contact_matches(order, email_or_phone):
        return ORDER_NOT_FOUND
    currency = order.currency
    # Moments in the business's zone: the assistant tells them (and the fact check reads them) as
    # the business's calendar days and hours, never UTC's.
    zone = tenant_zone()
    lines = tuple(OrderLine(sku=item.sku, name=item.name, quantity=item.quantity,
                            unit_price=minor_to_display(item.unit_price_minor, currency=currency),
                            line_total=minor_to_display(item.line_total_minor, currency=currency))
                  for item in order.items.all())
    info = OrderInfo(
        number=order.number, status=order.status, status_label=order.get_status_display(),
        placed_at=order.placed_at.astimezone(zone), currency=currency, items=lines,
        subtotal=minor_to_display(order.subtotal_minor, currency=currency),
        shipping=minor_to_display(order.shipping_minor, currency=currency),
        total=minor_to_display(order.total_minor, currency=currency), total_minor=order.total_minor,
        # Checked again on the way out: a row stored before addresses were checked is not passed on.
        carrier=order.carrier, tracking_number=order.tracking_number,
        tracking_url=outside_url_or_empty(order.tracking_url),
        estimated_delivery=order.estimated_delivery,
        history=tuple(StatusStep(status=step.to_status, at=step.at.astimezone(zone)) for step in order.history.all()))
    return OrderLookupResult(found=True, order=info, message="")


@dataclass(frozen=True)
class VerifiedOrderContact:
    """The contact details an order holds, for a customer who proved it is theirs."""

    order_id: int
    number: str
    email: str
    phone: str


def order_contact_verified(*, number: str, email_or_phone: str) -> VerifiedOrderContact | None:
    """The order's e-mail and phone, only when the detail the customer gave matches the order (the
    same check as `order_lookup`); None otherwise."""
    key = order_lookup_key(number or "")
    if not key or not (email_or_phone or "").strip():
        return None
    order = Order.objects.filter(lookup_key=key).first()
    if order is None or not _contact_matches(order, email_or_phone):
        return None
    return VerifiedOrderContact(order_id=order.pk, number=order.number, email=order.email.strip().lower(),
                                phone=order.phone.strip())


def orders_of_email(*, email: str, limit: int = 5) -> list[Order]:
    """A customer's latest orders by their e-mail address, newest first."""
    if not email.strip():
        return []
    return list(Order.objects.filter(email__iexact=email.strip()).order_by("-placed_at", "-id")[:limit])


# ============================================================================= opening hours

_MIDNIGHT = time(0, 0)
NEXT_OPENING_HORIZON_DAYS = 370


@dataclass(frozen=True)
class OpeningRange(_AsDict):
    opens: str  # local "HH:MM"
    closes: str  # local "HH:MM"; "00:00" or earlier than opens means the next day
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class DayHours(_AsDict):
    date: date
    timezone: str
    closed: bool
    special: bool  # an exception (holiday, special hours) replaces the weekly schedule
    note: str
    ranges: tuple[OpeningRange, ...]


@dataclass(frozen=True)
class OpenState(_AsDict):
    moment: datetime
    timezone: str
    open: bool
    closes_at: datetime | None  # when open: when this opening ends
    next_opening: datetime | None  # when closed: when it opens again (None: no opening in the next year)


@dataclass(frozen=True)
class NextOpening(_AsDict):
    after: datetime
    timezone: str
    found: bool
    opens_at: datetime | None
    day: DayHours | None


@dataclass(frozen=True)
class _Schedule:
    zone: ZoneInfo
    weekly: dict[int, list[tuple[time, time]]]
    specials: dict[date, SpecialDay]

    def day(self, day: date) -> DayHours:
        special = self.specials.get(day)
        if special is not None:
            pairs = [] if special.closed else [(r.opens, r.closes) for r in special.ranges.all()]
            note = special.note
        else:
            pairs = self.weekly.get(day.weekday(), [])
            note = ""
        ranges = tuple(self._range(day, opens, closes) for opens, closes in sorted(pairs))
        return DayHours(date=day, timezone=self.zone.key, closed=not ranges, special=special is not None, note=note,
                        ranges=ranges)

    def _range(self, day: date, opens: time, closes: time) -> OpeningRange:
        end_day = day + timedelta(days=1) if closes <= opens else day
        # Wall-clock times become instants in the tenant's zone (zoneinfo applies that day's offset),
        # then UTC, so comparisons are exact across daylight-saving changes.
        starts = datetime.combine(day, opens, tzinfo=self.zone).astimezone(UTC)
        ends = datetime.combine(end_day, closes, tzinfo=self.zone).astimezone(UTC)
        return OpeningRange(opens=opens.strftime("%H:%M"), closes=closes.strftime("%H:%M"),
                            starts_at=starts.astimezone(self.zone), ends_at=ends.astimezone(self.zone))

    def intervals(self, first: date, last: date) -> list[tuple[datetime, datetime]]:
        """Opening intervals starting on first..last, in UTC, touching ones merged."""
        spans: list[tuple[datetime, datetime]] = []
        day = first
        while day <= last:
            spans.extend((r.starts_at.astimezone(UTC), r.ends_at.astimezone(UTC)) for r in self.day(day).ranges)
            day += timedelta(days=1)
        spans.sort()
        merged: list[tuple[datetime, datetime]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        return merged


def _schedule_load(first: date, last: date) -> _Schedule:
    weekly: dict[int, list[tuple[time, time]]] = {}
    for row in WeeklyOpening.objects.all():
        weekly.setdefault(row.weekday, []).append((row.opens, row.closes))
    specials = {row.date: row for row in SpecialDay.objects.filter(date__range=(first, last)).prefetch_related("ranges")}
    return _Schedule(zone=tenant_zone(), weekly=weekly, specials=specials)


def _aware(moment: datetime, zone: ZoneInfo) -> datetime:
    """A naive moment is read as the tenant's local time."""
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def opening_hours_on(*, day: date) -> DayHours:
    """The hours of one date, exceptions applied; ranges past midnight belong to the day they start."""
    return _schedule_load(day, day).day(day)


def next_opening(*, after: datetime) -> NextOpening:
    """The first time the business opens strictly after `after` (if open then: after this opening)."""
    zone = tenant_zone()
    moment = _aware(after, zone)
    local_day = moment.astimezone(zone).date()
    first, last = local_day - timedelta(days=1), local_day + timedelta(days=NEXT_OPENING_HORIZON_DAYS)
    schedule = _schedule_load(first, last)
    instant = moment.astimezone(UTC)
    day = first
    while day <= last:
        # Merged over neighbouring days so a range that merely continues past midnight is no "opening".
        for start, _end in schedule.intervals(day - timedelta(days=1), day + timedelta(days=1)):
            if start > instant and start.astimezone(zone).date() == day:
                return NextOpening(after=moment, timezone=zone.key, found=True, opens_at=start.astimezone(zone),
                                   day=schedule.day(day))
        day += timedelta(days=1)
    return NextOpening(after=moment, timezone=zone.key, found=False, opens_at=None, day=None)


def is_open_at(*, moment: datetime) -> OpenState:
    """Open at that moment? With when it closes, or when it opens next."""
    zone = tenant_zone()
    moment = _aware(moment, zone)
    local_day = moment.astimezone(zone).date()
    schedule = _schedule_load(local_day - timedelta(days=2), local_day + timedelta(days=2))
    instant = moment.astimezone(UTC)
    for start, end in schedule.intervals(local_day - timedelta(days=2), local_day + timedelta(days=1)):
        if start <= instant < end:
            return OpenState(moment=moment, timezone=zone.key, open=True, closes_at=end.astimezone(zone),
                             next_opening=None)
    upcoming = next_opening(after=moment)
    return OpenState(moment=moment, timezone=zone.key, open=False, closes_at=None, next_opening=upcoming.opens_at)


# ------------------------------------------------------------------------------ dashboard lists


def product_list_for_dashboard(*, query: str = "") -> QuerySet[Product]:
    """Products by name with their variant count; `query` finds a name part or an exact SKU."""
    products = Product.objects.annotate(variant_count=Count("variants")).order_by("name", "id")
    if query:
        products = products.filter(Q(name__icontains=query) | Q(sku__iexact=query)
                                   | Q(variants__sku__iexact=query)).distinct()
    return products


def product_get(*, product_id: int) -> Product | None:
    return Product.objects.filter(pk=product_id).first()


def variant_get(*, variant_id: int) -> Variant | None:
    return Variant.objects.select_related("product").filter(pk=variant_id).first()


def order_list_for_dashboard(*, query: str = "", status: str = "") -> QuerySet[Order]:
    """Newest first; `status` one of OrderStatus (anything else: all); `query` an order number or e-mail."""
    orders = Order.objects.order_by("-placed_at", "-id")
    if status in OrderStatus.values:
        orders = orders.filter(status=status)
    if query:
        orders = orders.filter(Q(number__iexact=query) | Q(email__iexact=query) | Q(number__icontains=query))
    return orders


def order_get_with_items(*, order_id: int) -> Order | None:
    return Order.objects.filter(pk=order_id).prefetch_related("items", "history").first()


def shop_connections_by_platform() -> dict[str, ShopConnection]:
    return {shop.platform: shop for shop in ShopConnection.objects.all()}


def webhook_delivery_list_recent(*, limit: int) -> list[WebhookDelivery]:
    return list(WebhookDelivery.objects.defer("body", "headers").order_by("-received")[:limit])


def opening_hours_as_text(*, today: date) -> tuple[list[str], str]:
    """The schedule as the dashboard's text fields (orders.services.hours.opening_hours_from_text
    reads them back): one "09:00-12:00, 13:00-17:00" per weekday, Monday first, and one line per
    special day from `today` on."""
    weekly: dict[int, list[str]] = {}
    for row in WeeklyOpening.objects.order_by("weekday", "opens"):
        weekly.setdefault(row.weekday, []).append(f"{row.opens:%H:%M}-{row.closes:%H:%M}")
    lines = []
    for special in SpecialDay.objects.filter(date__gte=today).prefetch_related("ranges").order_by("date"):
        if special.closed:
            lines.append(f"{special.date.isoformat()} closed {special.note}".strip())
        else:
            ranges = ", ".join(f"{r.opens:%H:%M}-{r.closes:%H:%M}" for r in special.ranges.all())
            lines.append(f"{special.date.isoformat()} {ranges} {special.note}".strip())
    return [", ".join(weekly.get(index, [])) for index in range(7)], "\n".join(lines)


def opening_hours_document() -> dict[str, Any]:
    """The whole schedule in the shape `opening_hours_set_from_json` takes (hours.json): every weekday's
    ranges, Monday first, and the special days, earliest first."""
    from orders.services.hours import WEEKDAY_KEYS

    def clock(value: time) -> str:
        return value.strftime("%H:%M")

    def closing(value: time) -> str:
        # Stored as 00:00, written as the 24:00 it was given as, so that 00:00-24:00 reads back.
        return "24:00" if value == _MIDNIGHT else clock(value)

    weekly: dict[str, list[list[str]]] = {key: [] for key in WEEKDAY_KEYS}
    for opening in WeeklyOpening.objects.order_by("weekday", "opens"):
        weekly[WEEKDAY_KEYS[opening.weekday]].append([clock(opening.opens), closing(opening.closes)])
    exceptions = [
        {"date": day.date.isoformat(), "closed": day.closed, "note": day.note,
         "ranges": [[clock(r.opens), closing(r.closes)] for r in sorted(day.ranges.all(), key=lambda r: r.opens)]}
        for day in SpecialDay.objects.order_by("date").prefetch_related("ranges")
    ]
    return {"weekly": weekly, "exceptions": exceptions}


def product_list(*, category: str | None = None) -> QuerySet[Product]:
    products = Product.objects.prefetch_related(Prefetch("variants", queryset=Variant.objects.order_by("sku")))
    return products.filter(category__iexact=category.strip()) if category else products


def product_get_by_sku(*, sku: str) -> Product:
    from config.errors import NotFound

    product = product_list().filter(sku=sku).first()
    if product is None:
        raise NotFound(f"There is no product with the SKU {sku!r}.")
    return product


def order_list(*, status: str | None = None, email: str | None = None) -> QuerySet[Order]:
    orders = Order.objects.all()
    if status:
        orders = orders.filter(status=status)
    if email:
        orders = orders.filter(email__iexact=email.strip())
    return orders


def order_get_by_number(*, number: str) -> Order:
    """The order with this number as the customer writes it (the lookup ignores case and a leading #)."""
    from orders.exceptions import OrderNotFound

    order = (Order.objects.filter(lookup_key=order_lookup_key(number))
             .prefetch_related("items", Prefetch("history", queryset=OrderStatusChange.objects.order_by("at", "id")))
             .first())
    if order is None:
        raise OrderNotFound(f"There is no order {number!r}.")
    return order
