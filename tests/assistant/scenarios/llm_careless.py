"""Turns from the failures a careless model showed (issue #26): questions whose answers a small
model filled with invented contact details, other scripts, off-topic paragraphs, another variant's
stock or the wrong currency. The LLM-mode suite (test_scenarios_llm.py) answers each carelessly;
these hold the facts the corrected answer must still give."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from tests.assistant.scenarios import Turn
from tests.assistant.scenarios.fixture_data import hours, orders, product, profile

# A Wednesday morning in November: both businesses open, no holiday near.
WEDNESDAY_MORNING = datetime(2026, 11, 25, 10, 30, tzinfo=ZoneInfo(profile("shop")["timezone"]))
SHOP_SATURDAY = hours("shop")["weekly"]["sat"][0]
HARBOUR_M = product("shop", "Harbour Hoodie").variant(size="M", colour="Blue")
HARBOUR_L = product("shop", "Harbour Hoodie").variant(size="L", colour="Blue")
LATTE_LARGE = product("cafe", "Latte").variant(size="Large")
LATTE_REGULAR = product("cafe", "Latte").variant(size="Regular")

ORDER = orders("shop")["TL-10411"]

TURNS = [
    Turn(id="careless-order-after-email", tenant="shop",
         says=(f"where is my order {ORDER['number']}", ORDER["email"]), must_say=(ORDER["number"],),
         must_not_say=(ORDER["phone"],) if ORDER.get("phone") else (), now=WEDNESDAY_MORNING,
         tags=frozenset({"llm", "orders"})),
    Turn(id="careless-hours-saturday", tenant="shop", says=("what time r u open saturday",),
         must_say=(SHOP_SATURDAY[0], SHOP_SATURDAY[1]), now=WEDNESDAY_MORNING, tags=frozenset({"llm"})),
    Turn(id="careless-harbour-price", tenant="shop", says=("how much is the harbour hoodie?",),
         must_say=(HARBOUR_M.price_text,), must_not_say=("$",), now=WEDNESDAY_MORNING, tags=frozenset({"llm"})),
    Turn(id="careless-harbour-m-stock", tenant="shop", says=("do you have the harbour hoodie in M?",),
         must_say=("in stock",), must_not_say=("sold out",), now=WEDNESDAY_MORNING, tags=frozenset({"llm"})),
    Turn(id="careless-harbour-l-sold-out", tenant="shop", says=("harbour hoodie in L still available?",),
         must_say_one_of=(("sold out", "out of stock", "not in stock"),), must_not_say=(f"{HARBOUR_M.stock} ",),
         now=WEDNESDAY_MORNING, tags=frozenset({"llm"})),
    Turn(id="careless-latte-price", tenant="cafe", says=("how much is a latte",),
         must_say=(LATTE_REGULAR.price_text,), must_not_say=("$", "€"), now=WEDNESDAY_MORNING,
         tags=frozenset({"llm"})),
    Turn(id="careless-cafe-sunday", tenant="cafe", says=("are you open on sunday?",),
         must_say=tuple(hours("cafe")["weekly"]["sun"][0]), now=WEDNESDAY_MORNING, tags=frozenset({"llm"})),
]
