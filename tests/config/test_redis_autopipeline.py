"""Redis from async code: commands of many tasks share round trips, and each caller still gets its own answer."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from django.conf import settings
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

from config.redis import AutoPipelinedRedis, pooled_client_async, redis_client, redis_client_async


def test_five_hundred_tasks_get_their_own_replies_over_a_connection_or_two() -> None:
    prefix = f"test:autopipe:{uuid.uuid4().hex}"

    async def scenario() -> tuple[list[int], int]:
        client = pooled_client_async(settings.REDIS_URL, decode_responses=True)
        replies = await asyncio.gather(*(client.incrby(f"{prefix}:{index % 7}", index) for index in range(500)))
        opened = len(client.connection_pool._available_connections) + len(client.connection_pool._in_use_connections)
        await client.delete(*(f"{prefix}:{index}" for index in range(7)))
        return replies, opened

    replies, opened = asyncio.run(scenario())

    running: dict[int, int] = {}
    expected = []
    for index in range(500):
        running[index % 7] = running.get(index % 7, 0) + index
        expected.append(running[index % 7])
    assert replies == expected  # each INCRBY answered in the order it was asked
    # A plain client would have opened all REDIS_POOL_CONNECTIONS (16) for 500 commands at once.
    assert opened <= 2 < settings.REDIS_POOL_CONNECTIONS


def test_an_error_belongs_to_the_command_that_caused_it() -> None:
    key = f"test:autopipe:{uuid.uuid4().hex}"

    async def scenario() -> list[object]:
        client = redis_client_async()
        await client.set(key, "not a list")
        results = await asyncio.gather(
            client.get(key),
            client.lpush(key, "x"),  # wrong type
            client.evalsha("0" * 40, 0),  # a script Redis does not know
            client.strlen(key),
            return_exceptions=True)
        await client.delete(key)
        return results

    value, wrong_type, unknown_script, length = asyncio.run(scenario())

    assert value == "not a list"
    assert isinstance(wrong_type, ResponseError) and "WRONGTYPE" in str(wrong_type)
    assert isinstance(unknown_script, NoScriptError)
    assert length == len("not a list")


def test_commands_sent_together_run_in_order_and_a_cancelled_caller_does_not_disturb_the_others() -> None:
    key = f"test:autopipe:{uuid.uuid4().hex}"

    async def scenario() -> list[object]:
        client = redis_client_async()
        cancelled = asyncio.ensure_future(client.rpush(key, "cancelled-but-sent"))
        together = asyncio.ensure_future(client.execute_together(("RPUSH", key, "a"), ("RPUSH", key, "b"),
                                                                 ("LRANGE", key, 0, -1)))
        await asyncio.sleep(0)  # both tasks have queued their commands; the batch is not sent yet
        cancelled.cancel()
        result = await together
        await client.delete(key)
        return result

    pushed_a, pushed_b, listed = asyncio.run(scenario())

    # The cancelled caller's command had been queued: it still ran, first, and nobody waited for it.
    assert (pushed_a, pushed_b) == (2, 3)
    assert listed == ["cancelled-but-sent", "a", "b"]
    assert redis_client().exists(key) == 0


def test_when_redis_cannot_be_reached_every_waiting_caller_is_told() -> None:
    async def scenario() -> list[object]:
        client = AutoPipelinedRedis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=1)
        try:
            return await asyncio.gather(client.get("a"), client.publish("b", "c"), return_exceptions=True)
        finally:
            await client.aclose()

    results = asyncio.run(scenario())

    assert len(results) == 2
    assert all(isinstance(result, RedisConnectionError) for result in results), results


@pytest.mark.parametrize("flush_between", [False, True])
def test_scripts_run_by_digest_through_the_pipeline(flush_between: bool) -> None:
    from config.redis import RedisScript

    script = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1]) * 10")
    key = f"test:autopipe:{uuid.uuid4().hex}"

    async def scenario() -> list[int]:
        client = redis_client_async()
        first = await script.run_async(client, keys=[key], args=[1])
        if flush_between:
            await client.script_flush()
        rest = await asyncio.gather(*(script.run_async(client, keys=[key], args=[1]) for _ in range(20)))
        await client.delete(key)
        return [first, *rest]

    results = asyncio.run(scenario())

    assert sorted(results) == [value * 10 for value in range(1, 22)]


def test_commands_run_in_the_order_they_were_queued_whichever_task_queued_them() -> None:
    """Batches go one at a time: an event queued before another is published before it."""
    key = f"test:autopipe:{uuid.uuid4().hex}"

    async def scenario() -> tuple[list[str], list[str]]:
        client = redis_client_async()
        queued: list[str] = []

        async def writer(name: str) -> None:
            for index in range(60):
                queued.append(f"{name}{index}")
                client.queue_command("RPUSH", key, f"{name}{index}")
                if index % 7 == 0:
                    await asyncio.sleep(0)  # let batches go out meanwhile

        await asyncio.gather(*(writer(name) for name in "abc"))
        stored = await client.lrange(key, 0, -1)
        await client.delete(key)
        return queued, stored

    queued, stored = asyncio.run(scenario())

    assert stored == queued
