"""An answer that has been streamed is stored after the answers asked before it have sent their first
words, never after later ones, and never later than its deadline."""

from __future__ import annotations

import asyncio

from chat.assistant.first_tokens import FirstTokenTurn


async def _yield_to_loop() -> None:
    # Lets every ready task run up to its next wait: no wall-clock time involved.
    for _ in range(3):
        await asyncio.sleep(0)


def test_a_finished_answer_is_stored_once_earlier_answers_have_started() -> None:
    async def scenario() -> list[str]:
        happened: list[str] = []
        slow, quick = FirstTokenTurn(), FirstTokenTurn()

        async def store_quick() -> None:
            await quick.let_earlier_answers_start(max_seconds=60)
            happened.append("quick stored")

        storing = asyncio.create_task(store_quick())
        await _yield_to_loop()
        # Asked after `quick` finished streaming: it does not hold `quick` back.
        later = FirstTokenTurn()
        happened.append("waiting" if not storing.done() else "stored too early")
        slow.first_text_sent()
        happened.append("slow started")
        await asyncio.wait_for(storing, timeout=10)
        later.first_text_sent()
        return happened

    assert asyncio.run(scenario()) == ["waiting", "slow started", "quick stored"]


def test_nothing_waits_when_no_earlier_answer_is_still_starting() -> None:
    async def scenario() -> bool:
        alone = FirstTokenTurn()
        task = asyncio.create_task(alone.let_earlier_answers_start(max_seconds=60))
        await _yield_to_loop()
        return task.done()

    assert asyncio.run(scenario()) is True


def test_an_answer_that_never_starts_holds_others_back_only_until_their_deadline() -> None:
    async def scenario() -> tuple[bool, bool]:
        stuck, finished = FirstTokenTurn(), FirstTokenTurn()
        task = asyncio.create_task(finished.let_earlier_answers_start(max_seconds=0.05))
        await _yield_to_loop()
        parked = not task.done()
        await asyncio.wait_for(task, timeout=10)
        stuck.first_text_sent()
        return parked, task.done()

    assert asyncio.run(scenario()) == (True, True)


def test_an_answer_that_ends_without_text_gives_up_its_place_once() -> None:
    async def scenario() -> list[bool]:
        silent, other, finished = FirstTokenTurn(), FirstTokenTurn(), FirstTokenTurn()
        task = asyncio.create_task(finished.let_earlier_answers_start(max_seconds=60))
        silent.first_text_sent()
        silent.first_text_sent()  # a second call (the engine's finally) changes nothing
        await _yield_to_loop()
        states = [task.done()]
        other.first_text_sent()
        await asyncio.wait_for(task, timeout=10)
        states.append(task.done())
        return states

    assert asyncio.run(scenario()) == [False, True]


def test_each_event_loop_keeps_its_own_line() -> None:
    async def starts_and_waits() -> bool:
        FirstTokenTurn()  # left waiting in this loop only
        return True

    async def other_loop() -> bool:
        alone = FirstTokenTurn()
        task = asyncio.create_task(alone.let_earlier_answers_start(max_seconds=60))
        await _yield_to_loop()
        return task.done()

    assert asyncio.run(starts_and_waits())
    assert asyncio.run(other_loop()) is True
