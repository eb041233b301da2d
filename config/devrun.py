"""`make run`: the whole product in the foreground: data stores, migrations, demo, web, worker, beat.

Web (HTTP and WebSocket on one port), a Celery worker on all four queues and Celery beat run as
child processes whose output is prefixed with their name. Ctrl-C stops them all, then the embedded
data stores (their data stays in .data/ for the next run).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
STOP_GRACE_SECONDS = 15


def _stream(name: str, process: subprocess.Popen[bytes]) -> None:
    assert process.stdout is not None
    for raw in iter(process.stdout.readline, b""):
        sys.stdout.write(f"{name:<6}| {raw.decode(errors='replace')}")
        sys.stdout.flush()


def web_command(*, host: str, port: str, python: str = PYTHON) -> list[str]:
    """The web server `make run` starts; the browser tests start this very command (tests/support)."""
    # daphne drops a WebSocket whose handshake is not accepted within 5 s by default, which a
    # burst of a thousand widgets opening at once (each looks up its tenant and visitor) outlasts.
    return [python, "-m", "daphne", "-b", host, "-p", port, "--websocket_connect_timeout", "30",
            "config.asgi:application"]


def _manage(*args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, check=True)


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    from config import embedded

    embedded_postgres = not os.environ.get("DATABASE_URL")
    embedded_redis = not os.environ.get("REDIS_URL")
    if embedded_postgres:
        os.environ["DATABASE_URL"] = embedded.postgres_url()
    if embedded_redis:
        os.environ["REDIS_URL"] = embedded.redis_url()
    print(f"data   | PostgreSQL {os.environ['DATABASE_URL']}\ndata   | Redis {os.environ['REDIS_URL']}", flush=True)

    _manage("migrate_all")
    _manage("demo", "load")

    port = os.environ.get("PORT", "8000")
    host = os.environ.get("HOST", "127.0.0.1")
    beat_schedule = embedded.data_dir() / "celerybeat-schedule"
    commands = {
        "web": web_command(host=host, port=port),
        "worker": [PYTHON, "-m", "celery", "-A", "config", "worker", "-Q", "critical,high,medium,low",
                   "--prefetch-multiplier", "1", "--concurrency", os.environ.get("WORKER_CONCURRENCY", "2"),
                   "-l", "INFO", "-n", "worker@%h"],
        "beat": [PYTHON, "-m", "celery", "-A", "config", "beat", "-l", "INFO", "-s", str(beat_schedule)],
    }
    processes: dict[str, subprocess.Popen[bytes]] = {}
    for name, command in commands.items():
        processes[name] = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                           start_new_session=True)
        threading.Thread(target=_stream, args=(name, processes[name]), daemon=True).start()

    _manage("demo", "logins", "--port", port)

    stopping = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    exit_code = 0
    while not stopping.is_set():
        for name, process in processes.items():
            if process.poll() is not None:
                print(f"{name:<6}| exited with {process.returncode}; stopping everything", flush=True)
                exit_code = 1
                stopping.set()
        stopping.wait(0.5)

    print("\nStopping web, worker and beat ...", flush=True)
    for process in processes.values():
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    if embedded_postgres or embedded_redis:
        print("Stopping the embedded data stores (data kept in .data/) ...", flush=True)
    if embedded_postgres:
        embedded.postgres_stop()
    if embedded_redis:
        embedded.redis_stop()
    print("Stopped.", flush=True)
    return exit_code


if __name__ == "__main__":
    raise SystemExit(main())
