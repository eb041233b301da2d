"""A TCP proxy in front of Redis that holds every SUBSCRIBE for a while before passing it on, as a
busy or descheduled Redis does when a subscription and a publish arrive together: what a web process
publishes on its other connections meanwhile reaches Redis first.

Everything else goes through at once, and each connection's bytes keep their order (what follows a
held SUBSCRIBE on its connection waits behind it)."""

from __future__ import annotations

import asyncio
import threading
from urllib.parse import urlsplit, urlunsplit


class SlowSubscribeRedis:
    def __init__(self, redis_url: str, *, hold_seconds: float) -> None:
        self.target = urlsplit(redis_url)
        self.hold_seconds = hold_seconds
        self.held = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.port = 0

    def __enter__(self) -> SlowSubscribeRedis:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _close(self) -> None:
        self._server.close()
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    @property
    def url(self) -> str:
        """REDIS_URL for a process that should reach Redis through this proxy."""
        netloc = f"127.0.0.1:{self.port}"
        if self.target.username or self.target.password:
            netloc = f"{self.target.username or ''}:{self.target.password or ''}@{netloc}"
        return urlunsplit(self.target._replace(netloc=netloc))

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._connection, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _connection(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        try:
            redis_in, redis_out = await asyncio.open_connection(self.target.hostname, self.target.port or 6379)
        except OSError:
            client_out.close()
            return
        await asyncio.gather(self._pass(client_in, redis_out, hold=True), self._pass(redis_in, client_out, hold=False),
                             return_exceptions=True)

    async def _pass(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, hold: bool) -> None:
        try:
            while chunk := await source.read(65536):
                if hold and b"SUBSCRIBE" in chunk.upper():
                    self.held += 1
                    await asyncio.sleep(self.hold_seconds)
                sink.write(chunk)
                await sink.drain()
        finally:
            sink.close()
