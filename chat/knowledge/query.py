"""Making a customer's words searchable: chat shorthand spelled out, typos corrected against the
business's own vocabulary, and a full-text query that cannot be abused.

The vocabulary is every word in the tenant's chunks with how many chunks use it, and every
full-text lexeme with how many chunks it matches, read from the term statistics the services keep
(KnowledgeTerm) and cached per process until the tenant's content changes (config.content_version).
Only words that are neither in the tenant's vocabulary nor common English are corrected.
Correction uses deletion neighbourhoods (a word and a typo share a form with one letter removed)
and accepts a candidate only within a small Damerau-Levenshtein distance, preferring common words.
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass, field

from django.db import connection

from config.content_version import ContentCache

# Shorthand people type in chat windows, spelled out so both the model and full-text search see
# the real word. Only unambiguous forms: "r" and "u" are never anything else in a question.
SHORTHAND = {
    "u": "you", "ya": "you", "yu": "you", "r": "are", "ur": "your", "urs": "yours", "pls": "please",
    "plz": "please", "plse": "please", "thx": "thanks", "thnx": "thanks", "ty": "thank you", "w/": "with",
    "w/o": "without", "b4": "before", "2day": "today", "2moro": "tomorrow", "2morrow": "tomorrow",
    "tmrw": "tomorrow", "tmr": "tomorrow", "tomoz": "tomorrow", "wat": "what", "wot": "what", "wht": "what",
    "hw": "how", "abt": "about", "bout": "about", "cuz": "because", "coz": "because", "bc": "because",
    "cn": "can", "cld": "could", "wld": "would", "shld": "should", "dont": "don't", "cant": "can't",
    "wont": "won't", "doesnt": "doesn't", "isnt": "isn't", "im": "i'm", "ive": "i've", "whats": "what's",
    "wheres": "where's", "hows": "how's", "thru": "through", "msg": "message", "pkg": "package",
    "info": "information", "asap": "as soon as possible", "appt": "appointment", "acct": "account",
    "pw": "password", "addr": "address", "qty": "quantity", "amt": "amount", "approx": "approximately",
    "wknd": "weekend", "mins": "minutes", "hrs": "hours", "yr": "year", "yrs": "years", "mo": "month",
    "nite": "night", "tonite": "tonight", "luv": "love", "gonna": "going to", "wanna": "want to",
    "gotta": "got to", "lemme": "let me", "gimme": "give me", "dunno": "don't know", "k": "ok", "kk": "ok",
    "n": "and", "&": "and", "nd": "and", "ppl": "people", "sth": "something", "smth": "something",
    "rn": "right now", "idk": "i don't know", "btw": "by the way",
}
_TOKEN = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?|&|w/o?", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9]+")
MIN_CORRECTABLE_LENGTH = 4
# Full-text search leaves out words found in more than this share of the chunks (with enough chunks).
COMMON_WORD_SHARE = 0.2
COMMON_WORD_MIN_CHUNKS = 200
VOCABULARY_CACHE_SIZE = 64  # tenants per process

STOPWORDS = frozenset(
    "a about above after again against all am an and any are as at be because been before being below between "
    "both but by can could did do does doing down during each few for from further had has have having he her "
    "here hers him his how i if in into is it its itself just me more most my no nor not now of off on once only "
    "or other our ours out over own same she should so some such than that the their theirs them then there these "
    "they this those through to too under until up very was we were what when where which while who whom why will "
    "with would you your yours hi hello hey please thanks thank ok okay".split()
)


@dataclass(frozen=True)
class PreparedQuery:
    original: str
    text: str  # shorthand spelled out and typos corrected: what is embedded
    terms: tuple[str, ...]  # distinct words for full-text search
    corrections: dict[str, str]
    vocabulary: _Vocabulary | None = field(default=None, compare=False, repr=False)


@dataclass
class _Vocabulary:
    counts: dict[str, int]
    deletions: dict[str, list[str]]
    documents: int = 0  # chunks the counts were taken over
    lexeme_chunks: dict[str, int] = field(default_factory=dict)  # full-text lexeme -> chunks it matches

    def too_common(self, word: str) -> bool:
        """A word in most of this business's chunks says nothing about which one is meant (a bike
        shop's "bike"), and searching for it makes full text rank a large share of the table."""
        return self.documents >= COMMON_WORD_MIN_CHUNKS and self.counts.get(word, 0) > COMMON_WORD_SHARE * self.documents


def _deletions(word: str) -> set[str]:
    return {word[:index] + word[index + 1:] for index in range(len(word))}


def _build_vocabulary(counts: dict[str, int], documents: int,
                      lexeme_chunks: dict[str, int] | None = None) -> _Vocabulary:
    deletions: dict[str, list[str]] = {}
    for word in counts:
        if len(word) < MIN_CORRECTABLE_LENGTH - 1 or not word.isalpha():
            continue
        for form in _deletions(word) | {word}:
            deletions.setdefault(form, []).append(word)
    return _Vocabulary(counts=counts, deletions=deletions, documents=documents,
                       lexeme_chunks=lexeme_chunks or {})


def damerau_levenshtein(first: str, second: str) -> int:
    """Edits (insert, delete, substitute, swap two neighbours) turning one word into the other."""
    rows = len(first) + 1
    columns = len(second) + 1
    distance = [[0] * columns for _ in range(rows)]
    for row in range(rows):
        distance[row][0] = row
    for column in range(columns):
        distance[0][column] = column
    for row in range(1, rows):
        for column in range(1, columns):
            cost = 0 if first[row - 1] == second[column - 1] else 1
            distance[row][column] = min(distance[row - 1][column] + 1, distance[row][column - 1] + 1,
                                        distance[row - 1][column - 1] + cost)
            if (row > 1 and column > 1 and first[row - 1] == second[column - 2]
                    and first[row - 2] == second[column - 1]):
                distance[row][column] = min(distance[row][column], distance[row - 2][column - 2] + 1)
    return distance[-1][-1]


_vocabularies: ContentCache[_Vocabulary] = ContentCache(entries=VOCABULARY_CACHE_SIZE)


def _load_counts() -> tuple[dict[str, int], int, dict[str, int]]:
    """Words and their chunk counts, how many chunks there are, and full-text lexemes' chunk counts."""
    from chat.knowledge.models import KnowledgeTerm

    words: dict[str, int] = {}
    lexemes: dict[str, int] = {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT kind, term, chunks FROM chat_knowledgeterm WHERE chunks > 0")
        for kind, term, count in cursor.fetchall():
            (words if kind == KnowledgeTerm.Kind.WORD else lexemes)[term] = int(count)
        cursor.execute("SELECT count(*) FROM chat_knowledgechunk")
        row = cursor.fetchone()
    return words, int(row[0]) if row else 0, lexemes


class _LexemeCache:
    """The `english` lexemes of words, from PostgreSQL's own stemmer, kept per process: they depend
    on nothing but the word, and customers use the same words over and over."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._lexemes: dict[str, tuple[str, ...]] = {}

    def get(self, words: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
        with self._lock:
            found = {word: self._lexemes[word] for word in words if word in self._lexemes}
        missing = [word for word in dict.fromkeys(words) if word not in found]
        if missing:
            with connection.cursor() as cursor:
                cursor.execute("SELECT word, tsvector_to_array(to_tsvector('english', word)) "
                               "FROM unnest(%s::text[]) AS word", [missing])
                fresh = {word: tuple(lexemes) for word, lexemes in cursor.fetchall()}
            with self._lock:
                if len(self._lexemes) + len(fresh) > self._size:
                    self._lexemes.clear()
                self._lexemes.update(fresh)
            found.update(fresh)
        return found


_lexemes = _LexemeCache(size=100_000)


def english_lexemes(words: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    return _lexemes.get(words)


def vocabulary_for_current_tenant() -> _Vocabulary:
    return _vocabularies.get(lambda: _build_vocabulary(*_load_counts()))


@functools.cache
def english_words() -> frozenset[str]:
    """Whole words of the MiniLM tokenizer's vocabulary (about 20,000 common English words).

    A word found there is a real word, not a typo, even if this business never uses it: "gears"
    must not become "years" because a bike shop's FAQ happens to mention years and not gears.
    """
    try:
        from chat.knowledge.minilm import model_folder

        lines = (model_folder() / "vocab.txt").read_text(encoding="utf-8").splitlines()
    except (ImportError, OSError):
        return frozenset()
    return frozenset(line for line in lines if line.isalpha() and line.islower() and len(line) > 1)


def _correct(word: str, vocabulary: _Vocabulary) -> str:
    if (len(word) < MIN_CORRECTABLE_LENGTH or not word.isalpha() or word in vocabulary.counts or word in STOPWORDS
            or word in english_words()):
        return word
    allowed = 1 if len(word) < 7 else 2
    candidates: set[str] = set()
    for form in _deletions(word) | {word}:
        candidates.update(vocabulary.deletions.get(form, ()))
    best: tuple[int, int, str] | None = None
    for candidate in candidates:
        distance = damerau_levenshtein(word, candidate)
        if distance > allowed:
            continue
        rank = (distance, -vocabulary.counts.get(candidate, 0), candidate)
        if best is None or rank < best:
            best = rank
    return best[2] if best else word


def query_prepare(query: str, *, correct_typos: bool = True) -> PreparedQuery:
    lowered = " ".join(query.lower().split())
    vocabulary = vocabulary_for_current_tenant() if correct_typos else None
    words: list[str] = []
    corrections: dict[str, str] = {}
    for token in _TOKEN.findall(lowered):
        token = token.replace("’", "'")
        expanded = SHORTHAND.get(token, token)
        for word in expanded.split():
            if vocabulary is not None:
                fixed = _correct(word, vocabulary)
                if fixed != word:
                    corrections[word] = fixed
                    word = fixed
            words.append(word)
    text = " ".join(words) if words else lowered
    terms: list[str] = []
    for word in words:
        for piece in _WORD.findall(word.split("'")[0]):
            if piece not in STOPWORDS and piece not in terms and not (vocabulary and vocabulary.too_common(piece)):
                terms.append(piece)
    return PreparedQuery(original=query, text=text, terms=tuple(terms), corrections=corrections,
                         vocabulary=vocabulary)


@dataclass(frozen=True)
class TextLookup:
    """How full-text search finds the chunks it ranks: those holding any of `terms`, or every one
    of them (`every`). `complete` when that is every chunk the query's words match."""

    terms: tuple[str, ...]
    every: bool = False
    complete: bool = True


def text_lookup(prepared: PreparedQuery, *, budget: int) -> TextLookup:
    """The words to look chunks up by: the rarest first, for as long as together they match at most
    `budget` chunks of this business. Ranking a match reads its row, so this bounds the work of a
    full-text search at any size; while the counts allow, that is every word (and every match).

    A word that matches thousands of chunks tells little about which one is meant; chunks that hold
    it and also a rarer word of the query are found through the rarer word and still ranked with
    every word. When each word matching anything is that common, the chunks holding all of them are
    the ones to rank.
    """
    vocabulary = prepared.vocabulary
    if vocabulary is None or not vocabulary.lexeme_chunks or not prepared.terms:
        return TextLookup(terms=prepared.terms)  # no counts to go by: every match, up to the budget
    lexemes = english_lexemes(prepared.terms)
    matches = {term: max((vocabulary.lexeme_chunks.get(lexeme, 0) for lexeme in lexemes.get(term, ())), default=0)
               for term in prepared.terms}
    found = [term for term in prepared.terms if matches[term]]  # the others match no chunk at all
    if sum(matches[term] for term in found) <= budget:
        return TextLookup(terms=prepared.terms)
    chosen: set[str] = set()
    total = 0
    for term in sorted(found, key=lambda term: (matches[term], term)):
        if total + matches[term] > budget:
            break
        chosen.add(term)
        total += matches[term]
    if chosen:
        return TextLookup(terms=tuple(term for term in found if term in chosen), complete=False)
    return TextLookup(terms=tuple(found), every=True, complete=False)


def tsquery_text(terms: tuple[str, ...], *, operator: str = "|") -> str:
    """An OR (or AND) of the terms for to_tsquery: every term is [a-z0-9]+, so nothing else can get in."""
    if operator not in ("|", "&"):
        raise ValueError("operator is | or &")
    safe = [term for term in terms if _WORD.fullmatch(term)]
    return f" {operator} ".join(safe)
