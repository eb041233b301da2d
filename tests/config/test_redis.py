"""config.redis's contract: the async client serves whichever event loop runs (a process runs
several over its life), and Lua scripts sent by their digest still run after Redis forgets them
(a restart, SCRIPT FLUSH)."""

from __future__ import annotations

import asyncio
import uuid

from config.redis import RedisScript, redis_client, redis_client_async

ADD = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")


def test_a_script_runs_by_digest_and_is_sent_again_after_redis_forgets_it() -> None:
    key = f"test:script:{uuid.uuid4().hex}"
    client = redis_client()
    try:
        assert ADD(client, keys=[key], args=[2]) == 2
        assert client.script_exists(ADD.sha) == [True]
        client.script_flush()
        assert ADD(client, keys=[key], args=[3]) == 5
    finally:
        client.delete(key)


def test_the_async_form_does_the_same_on_the_event_loops_client() -> None:
    key = f"test:script:{uuid.uuid4().hex}"

    async def scenario() -> tuple[int, int]:
        client = redis_client_async()
        first = await ADD.run_async(client, keys=[key], args=[4])
        await client.script_flush()
        second = await ADD.run_async(client, keys=[key], args=[1])
        await client.delete(key)
        return first, second

    assert asyncio.run(scenario()) == (4, 5)


def test_the_async_client_serves_one_event_loop_after_another() -> None:
    key = f"test:loops:{uuid.uuid4().hex}"

    async def increment() -> int:
        return int(await redis_client_async().incr(key))

    try:
        assert [asyncio.run(increment()) for _ in range(3)] == [1, 2, 3]
    finally:
        redis_client().delete(key)


def test_a_burst_of_commands_from_many_tasks_waits_for_connections_instead_of_failing() -> None:
    """A burst of answers asks Redis from hundreds of tasks at once: more than any pool's connections."""
    key = f"test:burst:{uuid.uuid4().hex}"

    async def burst() -> list[int]:
        replies = await asyncio.gather(*(redis_client_async().incr(key) for _ in range(500)))
        await redis_client_async().delete(key)
        return sorted(int(reply) for reply in replies)

    assert asyncio.run(burst()) == list(range(1, 501))
