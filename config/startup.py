"""What a long-running process does once its code is loaded, before it serves anyone."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Callable, Coroutine
from typing import Any

_server_preparations: list[Callable[[], None]] = []


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
    """Run `close()` on the server's event loop when daphne is told to stop, before the loop ends.

    Daphne runs Twisted on asyncio and stops both on SIGTERM; what is still open on the loop then
    (the LLM clients' keep-alive connections) would be left to garbage collection, which logs each
    as an error. Twisted waits for the returned work before it stops. Outside daphne (no Twisted
    reactor installed) there is nothing to do, and importing the reactor would install one.
    """
    if "twisted.internet.reactor" not in sys.modules:
        return
    from twisted.internet import reactor
    from twisted.internet.defer import Deferred

    reactor.addSystemEventTrigger(  # type: ignore[attr-defined]
        "before", "shutdown", lambda: Deferred.fromFuture(asyncio.ensure_future(close())))
