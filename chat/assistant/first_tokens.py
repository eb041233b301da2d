"""First tokens before everything else: while answers asked earlier are still waiting for their first
word, a started answer holds the rest of its text, and an answer already streamed waits to be stored.

A process answers many conversations at once on one event loop, and every piece of work (storing a
customer's message, loading a turn, sending a request, reading a stream, storing an answer) takes
its turn on the same CPU. When a burst of questions arrives, the answers that are done would
otherwise be stored in the middle of the others' preparation, and every customer still looking at
"typing…" would wait for that too. Storing is not something a customer sees: the customer already
has the text, and the message is dated when it finished streaming, so it keeps its place in the
transcript. So an answer that has finished streaming yields to the answers that were asked before
that moment until each has sent its first text, and is stored at the latest
ASSISTANT_STORE_DEFER_SECONDS after its own question arrived (the widget takes its place in line
before the message is even stored), well inside the sweeper's grace: the sweeper never answers a
question whose answer is only waiting to be stored. Later arrivals do not hold it back, so under
steady load a store waits for the answers ahead of it, never indefinitely.

The rest of an answer is held the same way once its first text is out (`after_earlier_answers`),
at the latest ASSISTANT_STREAM_HOLD_SECONDS after its question arrived: reading, checking and
sending the rest of a text is work a customer still waiting for a first word does not need, and in
a burst it used to come before the later customers' first words. The customer who has a first
sentence waits for the next one; the one still looking at "typing..." gets a first sentence sooner.
With bench/widget_load.py at 1,000 answers at once, the p95 first token came when 63-66% of the
burst's CPU had been spent, against 70-73% without the hold (docs/benchmarks.md).

Nothing reads a conversation's history before its last answer is stored: the next answer in the
same conversation, in the same process, has the waiting store done first. (An answer computed in
another process, after a message that reached another process, may miss an answer stored late.)

Only in a burst: while the event loop keeps its timers waiting (ASSISTANT_BURST_LAG_MS late or more
in the last second), the answers still waiting for their first words wait for the CPU, and taking
it from them for bookkeeping or the rest of a text delays them. Otherwise they are waiting for
their model (a tool round, a slow provider), and a started answer streams and is stored at once:
two customers at a quiet moment never wait for each other.

Per event loop: answers in other processes share no CPU with these ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import AsyncIterator, Hashable

from django.conf import settings

from config.loops import PerLoop

# How often the loop's lateness is looked at, and how long a late timer keeps the loop "busy".
_LAG_TICK_SECONDS = 0.05
_BUSY_FOR_SECONDS = 1.0


class _LoopLine:
    def __init__(self) -> None:
        self.busy_until = 0.0
        self._watching = asyncio.get_running_loop().create_task(self._watch_lateness())
        self.tickets = itertools.count()
        self.waiting: set[int] = set()
        # (horizon, order, future): stores parked until no ticket below their horizon is waiting.
        self.parked: list[tuple[int, int, asyncio.Future[None]]] = []
        self.order = itertools.count()
        # Conversation -> (the parked store's wake-up, done once it is stored).
        self.storing: dict[Hashable, tuple[asyncio.Future[None], asyncio.Future[None]]] = {}

    def busy(self) -> bool:
        """Whether the loop's timers fired ASSISTANT_BURST_LAG_MS late or more in the last second: the
        answers waiting for first words then wait for the CPU, which other answers' work would take;
        otherwise they wait for their model, and holding anything back would gain nobody anything."""
        return settings.ASSISTANT_BURST_LAG_MS <= 0 or asyncio.get_running_loop().time() < self.busy_until

    async def _watch_lateness(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + _LAG_TICK_SECONDS
            await asyncio.sleep(_LAG_TICK_SECONDS)
            now = loop.time()
            if (now - due) * 1000 >= settings.ASSISTANT_BURST_LAG_MS:
                self.busy_until = now + _BUSY_FOR_SECONDS

    def issue(self) -> int:
        ticket = next(self.tickets)
        self.waiting.add(ticket)
        return ticket

    def horizon(self) -> int:
        """Tickets below this one were issued before now."""
        return next(self.tickets)

    def release(self, ticket: int) -> None:
        self.waiting.discard(ticket)
        lowest = min(self.waiting, default=None)
        while self.parked and (lowest is None or self.parked[0][0] <= lowest):
            _, _, future = heapq.heappop(self.parked)
            if not future.done():
                future.set_result(None)

    def park(self, horizon: int) -> asyncio.Future[None] | None:
        lowest = min(self.waiting, default=None)
        if lowest is None or lowest >= horizon:
            return None
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self.parked, (horizon, next(self.order), future))
        return future


_lines: PerLoop[_LoopLine] = PerLoop(_LoopLine)


class FirstTokenTurn:
    """One answer's place in its event loop's line, from the moment it is asked to its first text."""

    def __init__(self) -> None:
        self._line = _lines.get()
        self._ticket: int | None = self._line.issue()
        self.asked_at = time.monotonic()

    def first_text_sent(self) -> None:
        """Called when the answer's first text went out, or when it ends without any; idempotent."""
        if self._ticket is not None:
            ticket, self._ticket = self._ticket, None
            self._line.release(ticket)

    async def after_earlier_answers(self, *, max_seconds: float) -> None:
        """Called once this answer's first text is out: gives up its place, then waits until every
        answer asked before now has sent its first text, but no later than `max_seconds` after this
        answer was asked."""
        wake_up, remaining = self._wake_up_after_earlier_answers(max_seconds)
        try:
            await asyncio.wait({wake_up}, timeout=remaining)
        finally:
            wake_up.cancel()

    @contextlib.asynccontextmanager
    async def storing_after_earlier_answers(self, conversation: Hashable, *, max_seconds: float) -> AsyncIterator[None]:
        """Wait until every answer asked before now has sent its first text, but no later than
        `max_seconds` after this answer was asked, then run the body, the store; the next answer in
        `conversation` waits for it (`previous_answer_stored`)."""
        wake_up, remaining = self._wake_up_after_earlier_answers(max_seconds)
        stored: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._line.storing[conversation] = (wake_up, stored)
        try:
            await asyncio.wait({wake_up}, timeout=remaining)
            # If the answers ahead are slow (a tool round, a slow provider), this one is stored anyway.
            wake_up.cancel()
            yield
        finally:
            stored.set_result(None)
            if self._line.storing.get(conversation, (None, stored))[1] is stored:
                del self._line.storing[conversation]

    def _wake_up_after_earlier_answers(self, max_seconds: float) -> tuple[asyncio.Future[None], float]:
        """Gives up this answer's place; returns a future done once every answer asked before now
        has sent its first text (done already when none is waiting, or the deadline has passed),
        and the seconds left until the deadline, `max_seconds` after this answer was asked."""
        self.first_text_sent()
        remaining = self.asked_at + max_seconds - time.monotonic()
        wake_up = self._line.park(self._line.horizon()) if remaining > 0 and self._line.busy() else None
        if wake_up is None:  # nobody ahead, no time left, or no burst: answers ahead wait for their model
            wake_up = asyncio.get_running_loop().create_future()
            wake_up.set_result(None)
        return wake_up, remaining


async def previous_answer_stored(conversation: Hashable) -> bool:
    """If an answer in `conversation` is waiting to be stored in this event loop, store it now and
    wait until it is (True): the next answer's history must include it."""
    waiting = _lines.get().storing.get(conversation)
    if waiting is None:
        return False
    wake_up, stored = waiting
    if not wake_up.done():
        wake_up.set_result(None)
    await asyncio.shield(stored)
    return True
