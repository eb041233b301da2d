"""A real `make run` (python -m config.devrun) on a data folder of its own: its stores, migrations,
demo, web, worker and beat, as a new user starts it. For tests that stop, kill or starve what it runs."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil

from tests.support.processes import ROOT, free_port, wait_until

STARTUP_TIMEOUT_SECONDS = 300
STOP_TIMEOUT_SECONDS = 90


class MakeRun:
    def __init__(self, data_dir: Path, port: int, **extra: str) -> None:
        self.data_dir, self.port = data_dir, port
        env = {key: value for key, value in os.environ.items()
               if key not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
        env.update({"DESKPILOT_DATA_DIR": str(data_dir), "PORT": str(port),
                    "DJANGO_SETTINGS_MODULE": "config.settings.local", "OPENAI_API_KEY": "", "WORKER_CONCURRENCY": "1",
                    "PYTHONUNBUFFERED": "1", **extra})
        self.env = env
        self.log = tempfile.NamedTemporaryFile(prefix="deskpilot-devrun-", suffix=".log", delete=False)
        self.process = subprocess.Popen([sys.executable, "-m", "config.devrun"], cwd=ROOT, env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.seen: list[psutil.Process] = []

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"make run exited with {self.process.returncode}:\n{self.output()[-4000:]}")
        try:
            answer = httpx.get(f"http://127.0.0.1:{self.port}/readyz", headers={"Host": "cafe.localhost"}, timeout=2)
        except httpx.HTTPError:
            return False
        return answer.status_code == 200

    def wait_ready(self) -> None:
        wait_until(self.ready, timeout=STARTUP_TIMEOUT_SECONDS, interval=0.5, message="make run's /readyz")
        self.seen += psutil.Process(self.process.pid).children(recursive=True)

    def children(self, name: str) -> list[psutil.Process]:
        return [child for child in psutil.Process(self.process.pid).children() if name in command_line(child)]

    def everything(self) -> list[psutil.Process]:
        """Every process make run started, and the embedded stores (daemons of their own)."""
        processes = psutil.Process(self.process.pid).children(recursive=True)
        postmaster = self.data_dir / "postgres" / "pgdata" / "postmaster.pid"
        redis = self.data_dir / "redis" / "redis.pid"
        for pid_file in (postmaster, redis):
            processes.append(psutil.Process(int(pid_file.read_text().splitlines()[0])))
        return processes

    def stop(self, sig: int) -> None:
        left = self.everything()
        assert any("postgres" in command_line(p) for p in left) and any("redis" in command_line(p) for p in left)
        os.kill(self.process.pid, sig)  # the supervisor alone, as a process manager or a terminal does
        try:
            exit_code = self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            still = [(p.pid, command_line(p)) for p in left if process_alive(p)]
            raise AssertionError(f"make run did not stop within {STOP_TIMEOUT_SECONDS}s; still running: {still}\n"
                                 f"{self.output()[-4000:]}") from None
        assert exit_code == 0, self.output()[-4000:]
        alive = [p for p in left if process_alive(p)]
        assert alive == [], [(p.pid, command_line(p)) for p in alive]
        assert processes_of(self.data_dir) == []
        assert port_free(self.port)

    def kill(self) -> None:
        """After a failed test: nothing it started may outlive it, orphans of a dead supervisor included."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        for process in self.seen:
            with contextlib.suppress(psutil.Error):
                process.kill()  # psutil checks the pid still names the same process


def command_line(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:  # gone, or a zombie a moment before its parent reaps it
        return ""


def process_alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def processes_of(data_dir: Path) -> list[psutil.Process]:
    """Every process still running for this data folder: make run, its children, the embedded stores."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get("DESKPILOT_DATA_DIR") == str(data_dir) or str(data_dir) in command_line(process):
                found.append(process)
        except psutil.Error:
            continue
    return [process for process in found if process_alive(process)]


def data_dir_started_once(target: Path) -> None:
    """Fill the empty folder `target` with a data folder `make run` has started on once and stopped
    cleanly: stores initialised, schemas migrated, the demo loaded. Tests of what make run does when
    killed, stopped or starved start from there, as a user's second start does.

    The first start is made once per test run (the first test to ask waits for it, and fails if a
    first start on an empty folder does not reach /readyz or does not stop cleanly), then copied.
    """
    from config import embedded

    root = embedded.data_dir()
    template, made = root / "make-run-started-once", root / "make-run-started-once.done"
    with open(root / "make-run-started-once.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not made.exists():
            shutil.rmtree(template, ignore_errors=True)
            template.mkdir(parents=True)
            with make_run(template) as run:
                run.wait_ready()
                run.stop(signal.SIGTERM)
            made.touch()
    # cp -a keeps owners: PostgreSQL's files belong to its own system user when tests run as root.
    subprocess.run(["cp", "-a", f"{template}/.", str(target)], check=True)
    # Each copy's stores take ports of their own; nothing of the first run's processes is carried over.
    for leftover in ("postgres/port", "redis/port", "devrun.lock", "celerybeat-schedule"):
        (target / leftover).unlink(missing_ok=True)


@contextlib.contextmanager
def make_run(data_dir: Path, port: int | None = None, **extra: str) -> Iterator[MakeRun]:
    run = MakeRun(data_dir, port or free_port(), **extra)
    try:
        yield run
    finally:
        run.kill()  # only if the test failed half-way: a clean stop has already ended it
