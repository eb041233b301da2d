"""gunicorn's configuration for the web process, in production and under `make run`:

    gunicorn -c config/gunicorn_conf.py config.asgi:application

gunicorn manages WEB_CONCURRENCY uvicorn workers (config/webserver.py), each serving HTTP and
WebSockets on one asyncio loop; it restarts a worker that dies and stops them gracefully on SIGTERM
(open sockets closed with code 1012, docs/decisions/1101-gunicorn-uvicorn-web-server.md). Options
given on the command line (`make run` passes `-b HOST:PORT`) take precedence over these.
"""

import os
import tempfile

bind = [f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"]
# Web processes of this server; scale by adding processes (and tasks) before anything cleverer.
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
worker_class = "config.webserver.DeskpilotUvicornWorker"
# After SIGTERM: longer than the worker's own grace (config.webserver.SHUTDOWN_GRACE_SECONDS).
graceful_timeout = 30
# Idle keep-alive connections are kept longer than the load balancer keeps its own (an ALB's idle
# timeout is 300 s here for WebSockets), so the balancer never reuses one the server just closed.
keepalive = 310
# A burst of a thousand widgets connecting at once waits in the listen queue, not refused.
backlog = 2048
# Not preloaded: each worker imports the app itself, so no database or Redis connection, event loop
# or thread is ever shared across the fork.
preload_app = False
accesslog = None
errorlog = "-"
loglevel = "warning"

# Each worker writes its metrics to files here and /metrics adds them up (config.metrics); the
# master sets it before forking so every worker inherits it. `make run` points it into .data/.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", os.path.join(tempfile.gettempdir(), "deskpilot-prometheus"))


def on_starting(server: object) -> None:
    """Before the first worker: the folder the workers write to. Not emptied here: a container
    starts with an empty one, and `make run` empties its own (config.devrun); two servers may share
    one (the tests), and one must not delete the other's files."""
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)


def child_exit(server: object, worker: object) -> None:
    """A worker ended: its live gauges (open sockets) stop counting."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
