"""A first few turns that hold today; the scenario modules of «Right answers» add the rest."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from tests.assistant.scenarios import Turn
from tests.assistant.scenarios.fixture_data import profile

# A Tuesday afternoon in November: both businesses are open, no holiday near.
TUESDAY_AFTERNOON = datetime(2026, 11, 24, 14, 0, tzinfo=ZoneInfo(profile("shop")["timezone"]))

TURNS = [
    Turn(id="hours-sunday-shop", tenant="shop", says=("are you open on sunday?",), must_say=("closed on Sunday",),
         now=TUESDAY_AFTERNOON),
    Turn(id="person-asked-shop", tenant="shop", says=("can i talk to a real person pls",), offers_person=True,
         now=TUESDAY_AFTERNOON),
]
