"""channels-redis's pub/sub layer, subscribing in batches.

channels-redis subscribes a process to each channel and group through one Redis connection per
event loop, one SUBSCRIBE at a time behind an asyncio lock. Under a burst that lock is a convoy:
each release wakes the next waiter at the back of the event loop's queue, so the n-th socket to
join its conversation's group waits n turns of a busy loop. Measured in bench/widget_load.py at
1,000 connections: a widget's first message waited 6 s (median) and 10 s (p95) for its group to
be joined, most of its time to first token. Here subscriptions and unsubscriptions requested
while one batch is being sent queue up and go out together in the next: one SUBSCRIBE and one
UNSUBSCRIBE for many channels, each caller still resumed only once its own request was sent.

Per channel, the last request wins: a socket that joins a group and leaves it before the batch
went out leaves no subscription behind.
"""

from __future__ import annotations

import asyncio
from typing import Any

from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer, RedisSingleShardConnection
from channels_redis.utils import _wrap_close, decode_hosts


class _BatchingShard(RedisSingleShardConnection):
    def __init__(self, host: dict[str, Any], channel_layer: Any) -> None:
        super().__init__(host, channel_layer)
        # Channel -> (subscribe it?, resolved once the request is sent), in the order requested.
        self._requested: dict[str, tuple[bool, asyncio.Future[None]]] = {}
        self._sending: asyncio.Task[None] | None = None

    async def subscribe(self, channel: str) -> None:
        await self._request(channel, subscribe=True)

    async def unsubscribe(self, channel: str) -> None:
        await self._request(channel, subscribe=False)

    async def _request(self, channel: str, *, subscribe: bool) -> None:
        loop = asyncio.get_running_loop()
        earlier = self._requested.pop(channel, None)
        if earlier is not None and not earlier[1].done():
            earlier[1].set_result(None)  # superseded: its effect is this request's
        done: asyncio.Future[None] = loop.create_future()
        self._requested[channel] = (subscribe, done)
        if self._sending is None:
            self._sending = loop.create_task(self._send_requests())
        # Shielded: a caller cancelled while waiting must not cancel the batch of others.
        await asyncio.shield(done)

    async def _send_requests(self) -> None:
        try:
            async with self._lock:
                while self._requested:
                    batch, self._requested = self._requested, {}
                    try:
                        await self._apply(batch)
                    except BaseException as error:
                        for _subscribe, done in batch.values():
                            if not done.done():
                                done.set_exception(error)
                        if not isinstance(error, Exception):
                            raise
                    else:
                        for _subscribe, done in batch.values():
                            if not done.done():
                                done.set_result(None)
        finally:
            self._sending = None

    async def _apply(self, batch: dict[str, tuple[bool, asyncio.Future[None]]]) -> None:
        joining = [channel for channel, (subscribe, _) in batch.items()
                   if subscribe and channel not in self._subscribed_to]
        leaving = [channel for channel, (subscribe, _) in batch.items()
                   if not subscribe and channel in self._subscribed_to]
        if not joining and not leaving:
            return
        self._ensure_redis()
        self._ensure_receiver()
        if joining:
            await self._pubsub.subscribe(*joining)
            self._subscribed_to.update(joining)
        if leaving:
            await self._pubsub.unsubscribe(*leaving)
            self._subscribed_to.difference_update(leaving)


class _BatchingLoopLayer(RedisPubSubLoopLayer):
    def __init__(self, *args: Any, hosts: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, hosts=hosts, **kwargs)
        self._shards = [_BatchingShard(host, self) for host in decode_hosts(hosts)]


class BatchingPubSubChannelLayer(RedisPubSubChannelLayer):
    """RedisPubSubChannelLayer (same configuration, same Redis channel names) whose subscriptions
    are sent in batches."""

    def _get_layer(self) -> RedisPubSubLoopLayer:
        loop = asyncio.get_running_loop()
        layer = self._layers.get(loop)
        if layer is None:
            layer = self._layers[loop] = _BatchingLoopLayer(*self._args, **self._kwargs, channel_layer=self)
            _wrap_close(self, loop)
        return layer
