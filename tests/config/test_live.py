"""config.live's contract: an event reaches every consumer of its group, from sync code after a
commit (in a database trip of async code, or in a process with no event loop) and from async code;
a streamed piece's copy is in Redis before its event goes out; on each kind of channel layer."""

from __future__ import annotations

import asyncio
import json
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
from channels.layers import get_channel_layer
from django.conf import settings
from django.test import override_settings

from config.live import KeptCopy, group_publish_async
from config.redis import redis_client


def layer_on(address: str) -> dict[str, object]:
    return {"default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                        "CONFIG": {"hosts": [{"address": address}], "prefix": f"t{uuid.uuid4().hex[:8]}"}}}


def another_database_of(url: str) -> str:
    """The same Redis server, another database: pub/sub reaches it, lists do not."""
    parts = urlsplit(url)
    database = "8" if parts.path.strip("/") != "8" else "9"
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.mark.parametrize("layers", [
    pytest.param(None, id="layer on REDIS_URL"),
    pytest.param("other-database", id="layer on another Redis address"),
    pytest.param({"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}, id="in-memory layer"),
])
def test_the_copy_is_in_redis_url_and_the_event_reaches_the_group(layers: object) -> None:
    if layers == "other-database":
        layers = layer_on(another_database_of(settings.REDIS_URL))
    elif layers is None:
        layers = layer_on(settings.REDIS_URL)
    key = f"deskpilot:test:kept:{uuid.uuid4().hex}"
    frame = {"type": "answer.delta", "seq": 1, "text": "Hello"}

    async def publish_and_receive() -> dict[str, object]:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add("tenant.conversation.1", channel)
        try:
            await group_publish_async("tenant.conversation.1", {"type": "deskpilot.event", "event": frame},
                                      kept=KeptCopy(key=key, value=json.dumps(frame), ttl_seconds=60))
            return await asyncio.wait_for(layer.receive(channel), 10)
        finally:
            await layer.group_discard("tenant.conversation.1", channel)
            if hasattr(layer, "flush"):
                await layer.flush()

    with override_settings(CHANNEL_LAYERS=layers):
        received = asyncio.run(publish_and_receive())

    assert received["event"] == frame
    assert [json.loads(raw) for raw in redis_client().lrange(key, 0, -1)] == [frame]
    assert 0 < redis_client().ttl(key) <= 60


def _event_sender(group: str) -> object:
    from django.db import transaction

    from config.live import groups_publish

    def send(*names: str, fail_after: bool = False) -> None:
        for name in names:
            with transaction.atomic():
                transaction.on_commit(lambda name=name: groups_publish([group], {"type": "deskpilot.event",
                                                                                  "event": {"name": name}}))
        if fail_after:
            raise RuntimeError("failed after committing")

    return send


def _received_names(layer: object, channel: str, count: int) -> object:
    async def receive() -> list[str]:
        return [(await asyncio.wait_for(layer.receive(channel), 10))["event"]["name"] for _ in range(count)]

    return receive()


def test_events_a_database_trip_commits_reach_the_group_in_order_even_if_it_then_fails() -> None:
    from config.db import in_thread

    group = f"tenant.conversation.{uuid.uuid4().hex[:8]}"
    send = _event_sender(group)

    async def scenario() -> tuple[list[str], str]:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        try:
            await in_thread(send, "first", "second", "third")
            try:
                await in_thread(send, "fourth", fail_after=True)
                error = ""
            except RuntimeError as exc:
                error = str(exc)
            return await _received_names(layer, channel, 4), error
        finally:
            await layer.group_discard(group, channel)

    with override_settings(CHANNEL_LAYERS=layer_on(settings.REDIS_URL)):
        names, error = asyncio.run(scenario())

    assert names == ["first", "second", "third", "fourth"]
    assert error == "failed after committing"


def test_a_trip_whose_caller_gave_up_still_publishes_what_it_commits_later() -> None:
    import threading

    from config.db import in_thread

    group = f"tenant.conversation.{uuid.uuid4().hex[:8]}"
    send = _event_sender(group)
    started, go_on = threading.Event(), threading.Event()

    def slow_send() -> None:
        started.set()
        go_on.wait(30)
        send("after the caller left")

    async def scenario() -> list[str]:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        try:
            trip = asyncio.ensure_future(in_thread(slow_send))
            await asyncio.get_running_loop().run_in_executor(None, started.wait, 10)
            trip.cancel()
            go_on.set()
            return await _received_names(layer, channel, 1)
        finally:
            await layer.group_discard(group, channel)

    with override_settings(CHANNEL_LAYERS=layer_on(settings.REDIS_URL)):
        assert asyncio.run(scenario()) == ["after the caller left"]


def test_a_loop_that_ends_right_after_its_trip_has_published_the_events() -> None:
    """As a command or a worker task does: `asyncio.run` ends, and would cancel anything still queued."""
    from config.db import in_thread

    group = f"tenant.conversation.{uuid.uuid4().hex[:8]}"
    layers = layer_on(settings.REDIS_URL)
    import redis

    listener = redis.Redis.from_url(settings.REDIS_URL).pubsub(ignore_subscribe_messages=True)
    listener.subscribe(f"{layers['default']['CONFIG']['prefix']}__group__{group}")
    try:
        with override_settings(CHANNEL_LAYERS=layers):
            asyncio.run(in_thread(_event_sender(group), "last words"))
            layer = get_channel_layer()
        received = None
        for _ in range(50):
            received = listener.get_message(timeout=0.2)
            if received is not None:
                break
    finally:
        listener.close()

    assert received is not None
    assert layer.deserialize(received["data"])["event"] == {"name": "last words"}


def test_events_sent_from_a_process_without_an_event_loop_reach_the_group() -> None:
    """A Celery task or a command commits and publishes from plain synchronous code."""
    from threading import Thread

    group = f"tenant.conversation.{uuid.uuid4().hex[:8]}"
    send = _event_sender(group)

    async def scenario() -> list[str]:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        try:
            worker = Thread(target=send, args=("from a worker", "and another"))
            worker.start()
            await asyncio.get_running_loop().run_in_executor(None, worker.join, 10)
            return await _received_names(layer, channel, 2)
        finally:
            await layer.group_discard(group, channel)

    with override_settings(CHANNEL_LAYERS=layer_on(settings.REDIS_URL)):
        assert asyncio.run(scenario()) == ["from a worker", "and another"]
