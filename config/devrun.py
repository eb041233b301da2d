"""`make run`: the whole product in the foreground: data stores, migrations, demo, web, worker, beat.

Web (HTTP and WebSocket on one port), a Celery worker on all four queues and Celery beat run as
child processes whose output is prefixed with their name. A child that dies (a crash, an OOM kill,
`kill -9`) is started again after a short pause; one that keeps dying right after it starts is given
up on, and everything stops with a plain message. Ctrl-C, SIGTERM and SIGHUP (the terminal closed)
stop them all, then the embedded data stores (their data stays in .data/ for the next run).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# How long children get to stop after SIGTERM before they are killed.
STOP_GRACE_SECONDS = 15
# A child that ran this long before it died was working: its next crash starts the count again.
STABLE_AFTER_SECONDS = 30
# Pauses before each successive restart of a child that keeps dying quickly; past the last, give up.
RESTART_DELAYS_SECONDS = (1, 2, 4, 8, 15)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _stream(name: str, process: subprocess.Popen[bytes]) -> None:
    assert process.stdout is not None
    for raw in iter(process.stdout.readline, b""):
        sys.stdout.write(f"{name:<6}| {raw.decode(errors='replace')}")
        sys.stdout.flush()


def _say(name: str, text: str) -> None:
    print(f"{name:<6}| {text}", flush=True)


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    """Each child leads a process group of its own (its worker processes included); signal all of it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def _stop_processes(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM, then SIGKILL what is still there after the grace time, whole process groups."""
    for process in processes:
        _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _say("run", f"pid {process.pid} did not stop within {STOP_GRACE_SECONDS}s; killing it")
        # Whatever is left of the group (a worker's pool processes whose parent died first) goes too.
        _signal_group(process, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)


@dataclass
class Child:
    """One supervised process: restarted when it dies, unless it keeps dying right after starting."""

    name: str
    command: list[str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    quick_crashes: int = 0
    restart_at: float | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        self.started_at = time.monotonic()
        self.restart_at = None
        threading.Thread(target=_stream, args=(self.name, self.process), daemon=True).start()

    def check(self) -> bool:
        """Notice a death and plan the restart; False once this child is given up on."""
        now = time.monotonic()
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.start()
            return True
        assert self.process is not None
        code = self.process.poll()
        if code is None:
            return True
        _signal_group(self.process, signal.SIGKILL)  # its own children, if it left any
        self.quick_crashes = 0 if now - self.started_at >= STABLE_AFTER_SECONDS else self.quick_crashes
        if self.quick_crashes >= len(RESTART_DELAYS_SECONDS):
            _say(self.name, f"exited with code {code}, and it has died {self.quick_crashes + 1} times in a row within "
                            f"{STABLE_AFTER_SECONDS}s of starting: giving up. Read its output above, fix the "
                            "cause, then run `make run` again.")
            return False
        delay = RESTART_DELAYS_SECONDS[self.quick_crashes]
        self.quick_crashes += 1
        _say(self.name, f"{self.name} exited with code {code}; restarting in {delay}s")
        self.restart_at = now + delay
        return True

    def running(self) -> subprocess.Popen[bytes] | None:
        return self.process if self.process is not None and self.process.poll() is None else None


def _manage(stopping: threading.Event, *args: str) -> bool:
    """Run one manage.py command to its end; False if it failed or a stop signal cut it short."""
    process = subprocess.Popen([PYTHON, "manage.py", *args], cwd=ROOT, start_new_session=True)
    while process.poll() is None:
        if stopping.wait(0.2):
            _stop_processes([process])
            return False
    if process.returncode != 0:
        _say("run", f"`manage.py {' '.join(args)}` failed with code {process.returncode}; stopping.")
        return False
    return True


def web_command(*, host: str, port: str, python: str = PYTHON) -> list[str]:
    """The web server `make run` starts; the browser tests start this very command (tests/support)."""
    # daphne drops a WebSocket whose handshake is not accepted within 5 s by default, which a
    # burst of a thousand widgets opening at once (each looks up its tenant and visitor) outlasts.
    # No --proxy-headers: behind proxies, TRUSTED_PROXY_COUNT decides the client's address.
    # -v 0: no access lines of daphne's own (they carry no request id or tenant); the project's
    # request middleware writes one per request instead.
    return [python, "-m", "daphne", "-b", host, "-p", port, "--websocket_connect_timeout", "30", "-v", "0",
            "config.asgi:application"]


def _commands(host: str, port: str, beat_schedule: Path) -> dict[str, list[str]]:
    return {
        "web": web_command(host=host, port=port),
        "worker": [PYTHON, "-m", "celery", "-A", "config", "worker", "-Q", "critical,high,medium,low",
                   "--prefetch-multiplier", "1", "--concurrency", os.environ.get("WORKER_CONCURRENCY", "2"),
                   "-l", "INFO", "-n", "worker@%h"],
        "beat": [PYTHON, "-m", "celery", "-A", "config", "beat", "-l", "INFO", "-s", str(beat_schedule)],
    }


def main() -> int:
    stopping = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        stopping.set()

    # Before anything starts: a stop signal at any moment, even during migrations, is handled.
    for sig in STOP_SIGNALS:
        signal.signal(sig, _stop)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    from config import embedded

    embedded_postgres = not os.environ.get("DATABASE_URL")
    embedded_redis = not os.environ.get("REDIS_URL")
    children: list[Child] = []
    exit_code = 0
    try:
        if embedded_postgres:
            os.environ["DATABASE_URL"] = embedded.postgres_url()
        if embedded_redis:
            os.environ["REDIS_URL"] = embedded.redis_url()
        _say("data", f"PostgreSQL {os.environ['DATABASE_URL']}")
        _say("data", f"Redis {os.environ['REDIS_URL']}")
        if not (_manage(stopping, "migrate_all") and _manage(stopping, "demo", "load")):
            return 0 if stopping.is_set() else 1

        port = os.environ.get("PORT", "8000")
        host = os.environ.get("HOST", "127.0.0.1")
        commands = _commands(host, port, embedded.data_dir() / "celerybeat-schedule")
        children = [Child(name, command) for name, command in commands.items()]
        for child in children:
            child.start()
        _manage(stopping, "demo", "logins", "--port", port)

        while not stopping.is_set():
            if not all(child.check() for child in children):
                exit_code = 1
                break
            stopping.wait(0.5)
    finally:
        running = [process for process in (child.running() for child in children) if process is not None]
        if running:
            print("\nStopping web, worker and beat ...", flush=True)
            _stop_processes(running)
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
