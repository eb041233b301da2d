"""CPU per Redis command from async code: redis-py's own client against the pipelined one.

    .venv/bin/python bench/redis_commands.py [--commands 20000]

Both on pools of REDIS_POOL_CONNECTIONS connections to the benchmark's embedded Redis
(bench/_django.py), as `config.redis.pooled_client_async` builds them. Each client PUBLISHes a
200-byte message (what a live event costs): once 2,000 times one after another, then `--commands`
at once from as many tasks, as a burst of answers does. Printed: this process's CPU per command.
"""

from __future__ import annotations

import argparse
import asyncio
import resource

from _django import setup


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(name: str, client: object, commands: int) -> None:
    payload = b"x" * 200
    await client.publish("bench", payload)  # type: ignore[attr-defined]
    before = cpu_seconds()
    for _ in range(2000):
        await client.publish("bench", payload)  # type: ignore[attr-defined]
    one_by_one = (cpu_seconds() - before) / 2000
    before = cpu_seconds()
    await asyncio.gather(*(client.publish("bench", payload) for _ in range(commands)))  # type: ignore[attr-defined]
    at_once = (cpu_seconds() - before) / commands
    print(f"{name}: {one_by_one * 1e6:.0f} µs of CPU per command one after another, "
          f"{at_once * 1e6:.0f} µs each with {commands:,} at once", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commands", type=int, default=20000)
    args = parser.parse_args()
    setup()
    from django.conf import settings
    from redis import asyncio as aioredis

    from config.redis import AutoPipelinedRedis, _pool_options

    async def run() -> None:
        for name, kind in (("redis-py's client", aioredis.Redis), ("pipelined (config.redis)", AutoPipelinedRedis)):
            pool = aioredis.BlockingConnectionPool.from_url(settings.REDIS_URL, **_pool_options({}))
            client = kind(connection_pool=pool)
            try:
                await measure(name, client, args.commands)
            finally:
                await client.aclose()

    asyncio.run(run())


if __name__ == "__main__":
    main()
