"""Publishing a streamed piece with the copy resuming clients read, on each kind of channel layer."""

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
    pytest.param(None, id="layer on REDIS_URL: one round trip"),
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
