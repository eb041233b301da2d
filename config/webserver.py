"""The production web server's worker: uvicorn under gunicorn (uvicorn-worker), one asyncio loop a process.

gunicorn runs WEB_CONCURRENCY of these (config/gunicorn_conf.py), restarts one that dies, and on
SIGTERM tells each to stop: uvicorn stops accepting, closes every open WebSocket with code 1012
("service restart", so a widget reconnects, to another process or task), lets requests in flight
end, then runs the ASGI lifespan's shutdown (config.startup.server_lifespan), where answers still
being written get their time to be stored; what is not stored by then stays pending for the sweeper.
"""

from __future__ import annotations

from typing import Any

from uvicorn_worker import UvicornWorker

# Seconds uvicorn gives requests in flight after SIGTERM, before the lifespan's shutdown gives answers
# in flight up to their deadline (ASSISTANT_ANSWER_DEADLINE_SECONDS); gunicorn's graceful_timeout
# (config/gunicorn_conf.py) covers both, so a worker is not killed mid-shutdown.
SHUTDOWN_GRACE_SECONDS = 10


class DeskpilotUvicornWorker(UvicornWorker):
    """uvicorn-worker's worker with the server options this product needs (its documented extension point)."""

    CONFIG_KWARGS: dict[str, Any] = {
        **UvicornWorker.CONFIG_KWARGS,
        # The client's address is config.proxies' to settle, from TRUSTED_PROXY_COUNT: uvicorn's own
        # X-Forwarded-For handling would trust a header the client can write.
        "proxy_headers": False,
        # Django's and Channels' routers know no lifespan; config.asgi routes it to server_lifespan.
        "lifespan": "on",
        "timeout_graceful_shutdown": SHUTDOWN_GRACE_SECONDS,
        # The project writes its own access line per request (config.middleware), with request id and tenant.
        "access_log": False,
        "server_header": False,
    }
