"""Customer turns over the demo data, and the facts a customer would act on in each answer.

Every module in this package lists `TURNS`. A turn is written the way customers write (typos, lower
case, several questions at once, Dutch, slang); its expectations are computed from the demo fixture
files through `tests.assistant.scenarios.fixture_data`, never copied from an answer. The same turns
run in offline mode and in LLM mode (a careless fake model), see tests/assistant/test_scenarios*.py.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal


@dataclass(frozen=True)
class Turn:
    """One checked customer message, after the earlier messages of the same conversation.

    `says`: the customer's messages in order; the answer to the last one is checked.
    `must_say`: each must appear in that answer (case and spacing ignored).
    `must_say_one_of`: for each group, at least one of its texts appears (wording that may vary).
    `must_not_say`: none may appear (another variant's stock, a wrong FAQ's words, a wrong figure).
    `offers_person`: the answer hands over to a person or offers one (a quick reply or the text).
    `now`: when the customer writes, in any zone; None is the real now (the demo's orders are dated
    relative to the day they were loaded).
    """

    id: str
    tenant: Literal["shop", "cafe"]
    says: tuple[str, ...]
    must_say: tuple[str, ...] = ()
    must_say_one_of: tuple[tuple[str, ...], ...] = ()
    must_not_say: tuple[str, ...] = ()
    offers_person: bool | None = None
    now: datetime | None = None
    tags: frozenset[str] = field(default_factory=frozenset)


def all_turns() -> list[Turn]:
    turns: list[Turn] = []
    for module_info in pkgutil.iter_modules(__path__):
        if module_info.name == "fixture_data":
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        turns.extend(getattr(module, "TURNS", ()))
    seen: set[str] = set()
    for turn in turns:
        if turn.id in seen:
            raise ValueError(f"Two scenario turns share the id {turn.id!r}.")
        seen.add(turn.id)
    return turns
