"""What a long-running process does once its code is loaded, before it serves anyone."""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Coroutine
from typing import Any

logger = logging.getLogger(__name__)

_server_preparations: list[Callable[[], None]] = []
_server_closers: list[Callable[[], Coroutine[Any, Any, None]]] = []


def when_server_starts(prepare: Callable[[], None]) -> None:
    """Have `prepare()` run in a web server process once its code is loaded, before it serves anyone.

    Apps register here from their AppConfig.ready(), so the ASGI entry point imports no app to warm
    it up; a worker or a management command never runs these.
    """
    _server_preparations.append(prepare)


def server_prepare() -> None:
    """Run what the apps registered with `when_server_starts`, then freeze what is loaded."""
    for prepare in _server_preparations:
        prepare()
    freeze_loaded_objects()


def freeze_loaded_objects() -> None:
    """Take everything loaded at start-up (Django, the apps, the openai client, settings) out of the
    garbage collector's full passes.

    Those objects live as long as the process, yet every full collection walks all of them again:
    in a web process that is a pause of 100 ms or more, in the middle of a burst of answers,
    for every socket at once. Frozen, a full pass only walks what was created since.
    """
    gc.collect()
    gc.freeze()


def before_server_stops(close: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Have `close()` awaited on the server's event loop when the server stops, before the loop ends.

    What is still open on the loop then (answers being written, the LLM clients' keep-alive
    connections) would otherwise be cut off or left to garbage collection, which logs each as an
    error. Run by the ASGI lifespan's shutdown (`server_lifespan`), after the server has closed its
    sockets; the last registered runs first, so the apps above (which use those below) stop first.
    """
    _server_closers.append(close)


async def server_lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The ASGI lifespan protocol (config.asgi routes `lifespan` here): at shutdown, what the apps
    registered with `before_server_stops`, each to its end even when one before it failed."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            for close in reversed(_server_closers):
                try:
                    await close()
                except Exception:
                    logger.exception("stopping the server: %s failed", getattr(close, "__qualname__", close))
            await send({"type": "lifespan.shutdown.complete"})
            return
