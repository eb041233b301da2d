"""In a burst, an answer that has been streamed is stored, and the rest of a started answer is sent,
after the answers asked before it have sent their first words, never after later ones, and never
later than its deadline; at a quiet moment nothing waits."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from chat.assistant.first_tokens import FirstTokenTurn, previous_answer_stored
from chat.assistant.llm import run_then_close_llm_clients


@pytest.fixture(autouse=True)
def always_a_burst(settings: Any) -> Any:
    """The line's rules as they apply in a burst (the burst itself is detected below, in its own tests)."""
    settings.ASSISTANT_BURST_LAG_MS = 0
    return settings


async def _stored(turn: FirstTokenTurn, *, max_seconds: float, conversation: object = ("shop", 1)) -> None:
    async with turn.storing_after_earlier_answers(conversation, max_seconds=max_seconds):
        pass


async def _yield_to_loop() -> None:
    # Lets every ready task run up to its next wait: no wall-clock time involved.
    for _ in range(3):
        await asyncio.sleep(0)


@pytest.mark.parametrize("yielding", ["the store of a finished answer", "the rest of a started answer"])
def test_what_yields_waits_for_answers_asked_earlier_not_later(yielding: str) -> None:
    async def scenario() -> list[str]:
        happened: list[str] = []
        slow, quick = FirstTokenTurn(), FirstTokenTurn()

        async def go_on() -> None:
            if yielding == "the store of a finished answer":
                await _stored(quick, max_seconds=60)
            else:
                await quick.after_earlier_answers(max_seconds=60)
            happened.append("quick went on")

        going_on = asyncio.create_task(go_on())
        await _yield_to_loop()
        # Asked after `quick` had its first words: it does not hold `quick` back.
        later = FirstTokenTurn()
        happened.append("waiting" if not going_on.done() else "went on too early")
        slow.first_text_sent()
        happened.append("slow started")
        await asyncio.wait_for(going_on, timeout=10)
        later.first_text_sent()
        return happened

    assert run_then_close_llm_clients(scenario()) == ["waiting", "slow started", "quick went on"]


def test_nothing_waits_when_no_earlier_answer_is_still_starting() -> None:
    async def scenario() -> bool:
        alone = FirstTokenTurn()
        task = asyncio.create_task(_stored(alone, max_seconds=60))
        await _yield_to_loop()
        return task.done()

    assert run_then_close_llm_clients(scenario()) is True


def test_an_answer_that_never_starts_holds_others_back_only_until_their_deadline() -> None:
    async def scenario() -> tuple[bool, bool]:
        stuck, finished = FirstTokenTurn(), FirstTokenTurn()
        task = asyncio.create_task(_stored(finished, max_seconds=0.05))
        await _yield_to_loop()
        parked = not task.done()
        await asyncio.wait_for(task, timeout=10)
        stuck.first_text_sent()
        return parked, task.done()

    assert run_then_close_llm_clients(scenario()) == (True, True)


def test_the_deadline_counts_from_when_the_question_arrived() -> None:
    """An answer whose question came in long ago is stored at once, whoever is still waiting."""
    async def scenario() -> bool:
        stuck, finished = FirstTokenTurn(), FirstTokenTurn()
        finished.asked_at -= 60  # its question arrived a minute ago; the deadline is 30 s
        task = asyncio.create_task(_stored(finished, max_seconds=30))
        await _yield_to_loop()
        stored_at_once = task.done()
        stuck.first_text_sent()
        await asyncio.wait_for(task, timeout=10)
        return stored_at_once

    assert run_then_close_llm_clients(scenario()) is True


def test_an_answer_that_ends_without_text_gives_up_its_place_once() -> None:
    async def scenario() -> list[bool]:
        silent, other, finished = FirstTokenTurn(), FirstTokenTurn(), FirstTokenTurn()
        task = asyncio.create_task(_stored(finished, max_seconds=60))
        silent.first_text_sent()
        silent.first_text_sent()  # a second call (the engine's finally) changes nothing
        await _yield_to_loop()
        states = [task.done()]
        other.first_text_sent()
        await asyncio.wait_for(task, timeout=10)
        states.append(task.done())
        return states

    assert run_then_close_llm_clients(scenario()) == [False, True]


def test_each_event_loop_keeps_its_own_line() -> None:
    async def starts_and_waits() -> bool:
        FirstTokenTurn()  # left waiting in this loop only
        return True

    async def other_loop() -> bool:
        alone = FirstTokenTurn()
        task = asyncio.create_task(_stored(alone, max_seconds=60))
        await _yield_to_loop()
        return task.done()

    assert run_then_close_llm_clients(starts_and_waits())
    assert run_then_close_llm_clients(other_loop()) is True


def test_the_next_answer_in_a_conversation_has_the_waiting_store_done_first() -> None:
    async def scenario() -> list[str]:
        happened: list[str] = []
        slow, finished = FirstTokenTurn(), FirstTokenTurn()

        async def store_finished() -> None:
            async with finished.storing_after_earlier_answers(("shop", 7), max_seconds=60):
                await asyncio.sleep(0)
                happened.append("answer stored")

        storing = asyncio.create_task(store_finished())
        await _yield_to_loop()
        happened.append("parked" if not storing.done() else "stored too early")
        # Another conversation's answer does not release it.
        assert await previous_answer_stored(("shop", 8)) is False
        # The same conversation's next answer does, and finds it stored when it returns.
        assert await previous_answer_stored(("shop", 7)) is True
        happened.append("next answer reads the history")
        slow.first_text_sent()
        await asyncio.wait_for(storing, timeout=10)
        assert await previous_answer_stored(("shop", 7)) is False
        return happened

    assert run_then_close_llm_clients(scenario()) == ["parked", "answer stored", "next answer reads the history"]


def test_the_rest_is_held_only_until_its_deadline_and_not_at_all_when_alone() -> None:
    async def scenario() -> tuple[bool, bool, bool]:
        alone = FirstTokenTurn()
        not_held = asyncio.create_task(alone.after_earlier_answers(max_seconds=60))
        await _yield_to_loop()
        stuck, held = FirstTokenTurn(), FirstTokenTurn()
        waiting = asyncio.create_task(held.after_earlier_answers(max_seconds=0.05))
        await _yield_to_loop()
        parked = not waiting.done()
        await asyncio.wait_for(waiting, timeout=10)
        stuck.first_text_sent()
        return not_held.done(), parked, waiting.done()

    assert run_then_close_llm_clients(scenario()) == (True, True, True)


def test_at_a_quiet_moment_nothing_waits_for_an_answer_still_waiting_for_its_model(settings: Any) -> None:
    settings.ASSISTANT_BURST_LAG_MS = 50

    async def scenario() -> tuple[bool, bool]:
        thinking, started = FirstTokenTurn(), FirstTokenTurn()  # `thinking`: a tool round at the model
        rest = asyncio.create_task(started.after_earlier_answers(max_seconds=60))
        store = asyncio.create_task(_stored(started, max_seconds=60))
        await _yield_to_loop()
        done = (rest.done(), store.done())
        thinking.first_text_sent()
        return done

    assert run_then_close_llm_clients(scenario()) == (True, True)


def test_a_loop_that_runs_its_timers_late_is_in_a_burst_and_the_rest_waits(settings: Any) -> None:
    settings.ASSISTANT_BURST_LAG_MS = 50

    async def scenario() -> tuple[bool, bool]:
        waiting, started = FirstTokenTurn(), FirstTokenTurn()
        await _yield_to_loop()  # the loop is watched from here on
        time.sleep(0.2)  # the loop's CPU taken by other work, as in a burst: its timers fire late
        await _yield_to_loop()  # the overdue timer that notices it runs on the next pass
        rest = asyncio.create_task(started.after_earlier_answers(max_seconds=60))
        await _yield_to_loop()
        held = not rest.done()
        waiting.first_text_sent()
        await asyncio.wait_for(rest, timeout=10)
        return held, rest.done()

    assert run_then_close_llm_clients(scenario()) == (True, True)
