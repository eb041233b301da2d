"""Which language a customer writes in, and which language the business answers them in."""

from __future__ import annotations

import re
from collections.abc import Sequence

# Frequent short words that tell languages apart even in three-word messages. A word listed for
# several languages ("is", "open", "de", "no") counts for each of them only in part, so a shared
# word never outweighs one that belongs to a single language.
_MARKERS = {
    "nl": set("de het een en in is zijn je jij u uw ik wij we niet wat waar wanneer hoe hoeveel mijn bestelling "
              "hebben heeft hebt heb jullie open dicht vandaag morgen zondag maandag dinsdag woensdag donderdag "
              "vrijdag zaterdag graag bedankt dank hallo hoi goedemorgen kan kunnen kun mag welke nog ook maat "
              "kleur kost kosten prijs voorraad verzending verzenden bezorgen bezorging levering pakket geleverd "
              "verzonden gesloten geopend openingstijden alsjeblieft alstublieft wil willen zit zitten er met "
              "van voor naar bij maar geen wel even dit dat deze die waarom wordt komt krijg krijgen terug "
              "retour ruilen betalen gratis winkel jas trui broek schoenen maten".split()),
    "de": set("der die das ein eine und ist sind ich wir nicht was wo wann wie mein meine bestellung haben "
              "habt ihr geöffnet heute morgen sonntag danke hallo bitte können größe farbe gibt es auch noch "
              "kann könnt kostet lieferung geschlossen".split()),
    "fr": set("le la les un une et est sont je nous pas quoi où quand comment mon ma commande avez vous "
              "ouvert aujourd demain dimanche merci bonjour pouvez taille couleur du des au avec lait est-ce "
              "combien coûte livraison fermé".split()),
    "es": set("el la los las un una y es son yo qué dónde cuándo cómo mi pedido tienen abierto hoy "
              "mañana domingo gracias hola puedo talla color cuánto cuesta está tienes envío".split()),
    "en": set("the a an and is are i we not what where when how my order have you open today tomorrow "
              "sunday monday tuesday wednesday thursday friday saturday thanks thank hello hi can do does "
              "your size colour color please it in of for to with on at any much price cost costs stock "
              "available delivery shipping ship still got get there this that will would could which why "
              "hours close closed u ur pls thx wanna gonna guys hey sell buy".split()),
}
# The languages whose replies the offline assistant has phrase tables for.
SUPPORTED_OFFLINE = ("en", "nl")


def _weights() -> dict[str, dict[str, float]]:
    owners: dict[str, list[str]] = {}
    for language, markers in _MARKERS.items():
        for word in markers:
            owners.setdefault(word, []).append(language)
    return {word: {language: 1.0 / len(languages) for language in languages} for word, languages in owners.items()}


_WEIGHTS = _weights()


def detect_language(text: str, *, default: str = "en") -> str:
    """The language the most of the message's marker words belong to; `default` (the conversation's
    language so far) unless another language clearly has more: a product name or a one-word reply
    does not switch a conversation's language."""
    words = re.findall(r"[^\W\d_]+(?:-[^\W\d_]+)?", text.lower())
    if not words:
        return default
    scores: dict[str, float] = {language: 0.0 for language in _MARKERS}
    for word in words:
        for language, weight in _WEIGHTS.get(word, {}).items():
            scores[language] += weight
    best = max(scores, key=lambda language: (scores[language], language == default))
    if scores[best] <= scores.get(default, 0.0):
        return default
    return best if scores[best] > 0 else default


def reply_language(written: str, languages: Sequence[str]) -> str:
    """The language to answer in: the customer's when the business lists it, otherwise the business's
    first language. A business that lists none answers in the customer's language."""
    listed = [language for language in languages if language]
    if not listed or written in listed:
        return written
    return listed[0]


def is_common_word(word: str, language: str) -> bool:
    """Whether `word` is one of the language's frequent short words ("kan", "ik", "de" in Dutch):
    words that say nothing about what a question is about."""
    return word.lower() in _MARKERS.get(language, frozenset())
