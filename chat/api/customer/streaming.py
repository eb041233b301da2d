"""An answer on its way to an API client: the API's AnswerDelivery and the outcome it ends with.

Both of the API's ways to answer (the customer side's Server-Sent Events and blocking JSON, and
the OpenAI-compatible endpoint) take the core path the widget takes: the channel's edge stores the
customer's message with `message_receive`, then `chat.assistant.engine.answer_deliver` drafts,
checks, streams and stores the answer through an `AnswerDelivery`. Here that delivery puts each
checked piece on a queue the response reads, so the client sees text as soon as it is checked.

The answer runs as a task of the web process's event loop, not of the response: a client that
hangs up mid-answer stops reading, and the answer is still stored (its history shows it). That
task is held here until it ends, as the widget's are (chat.widget.streaming).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from chat.assistant.engine import AnswerResult, answer_deliver

logger = logging.getLogger(__name__)

# Answers being written in this process, kept alive after the response that asked stops reading.
_RUNNING: set[asyncio.Task[Any]] = set()


@dataclass(frozen=True)
class Piece:
    """A checked piece of the answer, numbered from 1."""

    seq: int
    text: str


@dataclass(frozen=True)
class Outcome:
    """How an answer ended, once it was stored (or was not).

    - `answered`: the stored answer (`message`, events.message_wire's shape) with its usage;
      `handoff` when storing it also asked for a person.
    - `with_person`: no answer, because a person has the conversation (or was asked for meanwhile).
    - `failed`: answering failed; the message stays pending and the sweeper answers it later.
    """

    kind: str
    message: dict[str, Any] | None = None
    handoff: bool = False
    mode: str = ""
    tokens_in: int = 0
    tokens_out: int = 0

    @property
    def usage(self) -> dict[str, int]:
        return {"prompt_tokens": self.tokens_in, "completion_tokens": self.tokens_out,
                "total_tokens": self.tokens_in + self.tokens_out}


ANSWERED = "answered"
WITH_PERSON = "with_person"
FAILED = "failed"


def outcome_of(result: AnswerResult | None) -> Outcome:
    if result is None:
        return Outcome(FAILED)
    if not result.replied or result.stored_message is None:
        return Outcome(WITH_PERSON)
    return Outcome(ANSWERED, message=result.stored_message, handoff=result.handoff, mode=result.mode,
                   tokens_in=result.tokens_in, tokens_out=result.tokens_out)


@dataclass
class QueueDelivery:
    """The API's adapter (chat.conversations.delivery.AnswerDelivery): each checked piece goes on a
    queue the response reads; `finished` only marks the end, since the outcome (usage, handoff)
    is the engine's result, read from the answer's task."""

    pieces: asyncio.Queue[Piece | None] = field(default_factory=asyncio.Queue)
    seq: int = 0

    async def started(self) -> None:
        return None

    async def delta(self, text: str) -> None:
        self.seq += 1
        self.pieces.put_nowait(Piece(self.seq, text))

    async def finished(self, stored_message: dict[str, Any] | None) -> None:
        self.pieces.put_nowait(None)


@dataclass
class RunningAnswer:
    """One answer being written: its pieces as they are checked, then its outcome."""

    delivery: QueueDelivery
    task: asyncio.Task[AnswerResult | None]
    _getter: asyncio.Future[Piece | None] | None = field(default=None, init=False)

    async def next_piece(self, timeout: float) -> Piece | None:
        """The next piece; None at the end of the text; TimeoutError when `timeout` passed with
        nothing new (the answer goes on). The wait for a piece outlives a timeout, so a piece that
        arrives just then is never lost (Python 3.11's wait_for could drop it)."""
        if self._getter is None:
            self._getter = asyncio.ensure_future(self.delivery.pieces.get())
        done, _ = await asyncio.wait({self._getter}, timeout=timeout)
        if not done:
            raise TimeoutError
        getter, self._getter = self._getter, None
        return getter.result()

    async def outcome(self) -> Outcome:
        """The answer's outcome, once its text has ended (it is being stored then)."""
        return outcome_of(await asyncio.shield(self.task))

    async def outcome_within(self, timeout: float) -> Outcome | None:
        """The answer's outcome, or None when it is not ready within `timeout` seconds. The answer
        goes on either way, and is stored."""
        try:
            return outcome_of(await asyncio.wait_for(asyncio.shield(self.task), timeout))
        except TimeoutError:
            return None


def answer_start(*, schema_name: str, customer_message_id: int) -> RunningAnswer:
    """Start answering a stored customer message on this event loop, in the background."""
    delivery = QueueDelivery()
    task = asyncio.get_running_loop().create_task(
        answer_deliver(schema_name=schema_name, message_id=customer_message_id, delivery=delivery))
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)
    return RunningAnswer(delivery=delivery, task=task)


async def answer_wait(*, schema_name: str, customer_message_id: int, timeout: float) -> Outcome | None:
    """Answer a stored customer message and wait for the outcome at most `timeout` seconds (None:
    not ready by then; the answer goes on and is stored)."""
    running = answer_start(schema_name=schema_name, customer_message_id=customer_message_id)
    return await running.outcome_within(timeout)
