"""The channel layer's batched subscriptions, on the real Redis."""

from __future__ import annotations

import asyncio
import uuid

from django.conf import settings

from config.channel_layer import BatchingPubSubChannelLayer
from config.redis import redis_client


def new_layer() -> BatchingPubSubChannelLayer:
    return BatchingPubSubChannelLayer(hosts=[{"address": settings.REDIS_URL}], prefix=f"t{uuid.uuid4().hex[:8]}")


def subscribers(layer: BatchingPubSubChannelLayer, group: str) -> int:
    channel = f"{layer._get_layer().prefix}__group__{group}"  # noqa: SLF001 (the name Redis sees)
    return dict(redis_client().pubsub_numsub(channel))[channel]


def test_a_burst_of_sockets_joining_their_groups_all_receive_their_events() -> None:
    async def scenario() -> list[dict[str, object]]:
        layer = new_layer()
        channels = await asyncio.gather(*(layer.new_channel() for _ in range(300)))
        await asyncio.gather(*(layer.group_add(f"conversation.{index}", channel)
                               for index, channel in enumerate(channels)))
        await asyncio.gather(*(layer.group_send(f"conversation.{index}", {"type": "event", "n": index})
                               for index in range(len(channels))))
        received = await asyncio.gather(*(asyncio.wait_for(layer.receive(channel), 10) for channel in channels))
        await layer.flush()
        return received

    received = asyncio.run(scenario())

    assert [message["n"] for message in received] == list(range(300))


def test_the_last_request_for_a_group_decides_whether_the_process_stays_subscribed() -> None:
    async def scenario() -> tuple[int, int, int]:
        layer = new_layer()
        left, stayed = await layer.new_channel(), await layer.new_channel()
        # Joined and left before any batch went out; left, joined again; joined and left one by one.
        await asyncio.gather(layer.group_add("left", left), layer.group_discard("left", left))
        await asyncio.gather(layer.group_add("stayed", stayed), layer.group_discard("stayed", stayed),
                             layer.group_add("stayed", stayed))
        await layer.group_add("one-by-one", left)
        await layer.group_discard("one-by-one", left)
        counts = (subscribers(layer, "left"), subscribers(layer, "stayed"), subscribers(layer, "one-by-one"))
        await layer.flush()
        return counts

    assert asyncio.run(scenario()) == (0, 1, 0)
