"""Follow-ups inside one message: "what does it cost?", "and what's the price?", "wat kost die?" are
about the product just asked, in the variant asked, answered with it (its availability and its price,
also when it is sold out); a question with a subject of its own ("how much is shipping?") is not."""

from __future__ import annotations

from tests.assistant.scenarios import Turn
from tests.assistant.scenarios.fixture_data import (
    SHOP_TUESDAY,
    SUNDAY,
    day_text,
    faq_opening,
    product,
)

DONT_KNOW = "I don't know that one"

ZIP = product("shop", "Zip Hoodie")
ZIP_GREEN_L = ZIP.variant(size="L", colour="Forest Green")
ZIP_GREY_M = ZIP.variant(size="M", colour="Grey Melange")
HARBOUR = product("shop", "Harbour Hoodie")
HARBOUR_L = HARBOUR.variant(size="L", colour="Blue")
BRETON = product("shop", "Breton Striped Tee")
BRETON_S = BRETON.variant(size="S", colour="Navy Stripe")
assert ZIP_GREEN_L.stock == 0 and ZIP_GREY_M.stock > 0 and HARBOUR_L.stock == 0 and BRETON_S.stock > 0, \
    "the demo catalog changed"


def other_counts(item, asked) -> tuple[str, ...]:  # noqa: ANN001
    """Another variant's stock count, which an answer about `asked` must not state."""
    return tuple(f"({v.stock} available)" for v in item.variants if v != asked and v.stock != asked.stock)


TURNS = [
    Turn(id="follow-zip-green-l-sold-out-price", tenant="shop",
         says=("do you have the zip hoodie in green L? how much is it?",), now=SHOP_TUESDAY,
         must_say=("Zip Hoodie", "Forest Green L", "sold out", ZIP_GREEN_L.price_text),
         must_not_say=("is in stock", DONT_KNOW, *other_counts(ZIP, ZIP_GREEN_L))),
    Turn(id="follow-zip-grey-m-whats-the-price", tenant="shop",
         says=("is the zip hoodie in grey M in stock? and what's the price?",), now=SHOP_TUESDAY,
         must_say=("Zip Hoodie", "Grey Melange M", "in stock", f"({ZIP_GREY_M.stock} available)",
                   ZIP_GREY_M.price_text),
         must_not_say=("sold out", DONT_KNOW, *other_counts(ZIP, ZIP_GREY_M))),
    Turn(id="follow-dutch-harbour-l-wat-kost-die", tenant="shop",
         says=("heb je de harbour hoodie in maat L? wat kost die?",), now=SHOP_TUESDAY,
         must_say=("Harbour Hoodie", "uitverkocht", HARBOUR_L.price_text),
         must_not_say=("sold out", "op voorraad (", "dat weet ik niet", *(c.replace("available", "beschikbaar")
                                                                          for c in other_counts(HARBOUR, HARBOUR_L)))),
    Turn(id="follow-not-when-the-question-has-its-own-subject", tenant="shop",
         says=("is the zip hoodie in stock in grey M? how much is shipping?",), now=SHOP_TUESDAY,
         must_say=("Zip Hoodie", "in stock", faq_opening("shop", "How much is shipping?", 4)),
         must_not_say=(DONT_KNOW,)),
    Turn(id="follow-after-another-ask", tenant="shop",
         says=("is the breton tee in stock in S? are you open sunday? how much is it?",), now=SHOP_TUESDAY,
         must_say=("Breton Striped Tee", "in stock", BRETON_S.price_text, f"{day_text(SUNDAY)}"),
         must_not_say=(DONT_KNOW, *other_counts(BRETON, BRETON_S))),
]
