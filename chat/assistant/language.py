"""Which language a customer writes in, for the offline mode's replies (the LLM mode mirrors it)."""

from __future__ import annotations

import re

# Frequent short words that tell languages apart even in three-word messages.
_MARKERS = {
    "nl": set("de het een en is zijn je jij u uw ik wij we niet wat waar wanneer hoe mijn bestelling "
              "hebben heeft jullie open dicht vandaag morgen zondag maandag graag bedankt dank hallo hoi "
              "goedemorgen kan kunnen mag welke nog ook maat kleur".split()),
    "de": set("der die das ein eine und ist sind ich wir nicht was wo wann wie mein meine bestellung haben "
              "habt ihr geöffnet heute morgen sonntag danke hallo bitte können größe farbe".split()),
    "fr": set("le la les un une et est sont je nous pas quoi où quand comment mon ma commande avez vous "
              "ouvert aujourd demain dimanche merci bonjour pouvez taille couleur".split()),
    "es": set("el la los las un una y es son yo no qué dónde cuándo cómo mi pedido tienen abierto hoy "
              "mañana domingo gracias hola puedo talla color".split()),
    "en": set("the a an and is are i we not what where when how my order have you open today tomorrow "
              "sunday thanks thank hello hi can do does your size colour color please".split()),
}
SUPPORTED_OFFLINE = ("en", "nl")


def detect_language(text: str, *, default: str = "en") -> str:
    words = re.findall(r"[^\W\d_]+", text.lower())
    if not words:
        return default
    scores = {language: sum(word in markers for word in words) for language, markers in _MARKERS.items()}
    best = max(scores, key=lambda language: (scores[language], language == default))
    return best if scores[best] > 0 else default
