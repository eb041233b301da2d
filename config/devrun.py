"""`make run`: the whole product in the foreground: data stores, migrations, demo, web, worker, beat.

Web (HTTP and WebSocket on one port), a Celery worker on all four queues and Celery beat run as
child processes whose output is prefixed with their name. A child that dies (a crash, an OOM kill,
`kill -9`) is started again after a short pause; one that keeps dying right after it starts is given
up on, and everything stops with a plain message. Ctrl-C, SIGTERM and SIGHUP (the terminal closed)
stop them all, then the embedded data stores (their data stays in .data/ for the next run).

When the supervisor itself is killed (`kill -9`, the OOM killer), Linux ends its children with it
(PR_SET_PDEATHSIG), and the next `make run` on the data folder finds what the killed one left: the
children it recorded in `devrun.pids` (stopped, with a line saying so) and the embedded stores, which
run as daemons of their own and are reused, also with a line saying so. A lock held for the
supervisor's lifetime (`devrun.lock`, released by the kernel however it ends) tells a killed run
from one still running: a second `make run` on a folder in use is refused.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import functools
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import psutil

from config.embedded import disk_full

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# How long children get to stop after SIGTERM before they are killed.
STOP_GRACE_SECONDS = 15
# A child that ran this long before it died was working: its next crash starts the count again.
STABLE_AFTER_SECONDS = 30
# Pauses before each successive restart of a child that keeps dying quickly; past the last, give up.
RESTART_DELAYS_SECONDS = (1, 2, 4, 8, 15)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# In the data folder: the running supervisor's lock, and the process groups of its children.
RUN_LOCK_FILE = "devrun.lock"
CHILDREN_FILE = "devrun.pids"
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
# Loaded here, not in the child: between fork and exec, with the output threads running, the child
# should do as little as it can (no dynamic loading).
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _die_with_supervisor(supervisor: int) -> None:
    """Ask Linux to SIGTERM this child when the supervisor dies, however it dies (elsewhere: a no-op).

    Runs in the child between fork and exec. The kernel watches the thread that forked, so children
    are only ever started from the main thread. SIGTERM, not SIGKILL, so a worker stops its own pool;
    whatever still stands is found by the next start through CHILDREN_FILE.
    """
    if _LIBC is None:
        return
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != supervisor:  # it died before the request was made: nobody else will tell us
        os.kill(os.getpid(), signal.SIGTERM)


def _spawn(command: list[str], **kwargs: object) -> subprocess.Popen[bytes]:
    """A child in a process group of its own (stopped as a whole) that dies with the supervisor."""
    return subprocess.Popen(command, cwd=ROOT, start_new_session=True,  # type: ignore[call-overload]
                            preexec_fn=functools.partial(_die_with_supervisor, os.getpid()), **kwargs)


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
    """One supervised process: restarted when it dies, unless it keeps dying right after starting.

    While the data folder's disk is full a child that keeps dying is not given up on: the stores
    refuse its writes (a worker cannot acknowledge its task), which is no bug of its own, and giving
    up would make the operator restart everything once space is freed. It is started again at the
    longest pause until the disk has room.
    """

    name: str
    command: list[str]
    folder: Path
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    quick_crashes: int = 0
    restart_at: float | None = None

    def start(self) -> None:
        self.process = _spawn(self.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
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
        if self.quick_crashes >= len(RESTART_DELAYS_SECONDS) and disk_full(self.folder):
            _say(self.name, f"exited with code {code} while the disk of {self.folder} is full: free some space; "
                            f"restarting in {RESTART_DELAYS_SECONDS[-1]}s")
            self.restart_at = now + RESTART_DELAYS_SECONDS[-1]
            return True
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
    process = _spawn([PYTHON, "manage.py", *args])
    while process.poll() is None:
        if stopping.wait(0.2):
            _stop_processes([process])
            return False
    if process.returncode != 0:
        _say("run", f"`manage.py {' '.join(args)}` failed with code {process.returncode}; stopping.")
        return False
    return True


def _hold_run_lock(folder: Path) -> IO[str] | None:
    """The data folder's supervisor lock, held until this process ends; None if another supervisor holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    handle = open(folder / RUN_LOCK_FILE, "a+")  # noqa: SIM115 -- kept open for the supervisor's lifetime
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def children_record(folder: Path, children: list[Child]) -> bool:
    """Write which process groups are this run's, for the next start to find if this supervisor is killed.

    False when the data folder's disk is full: the run goes on (tried again at the next check), since
    stopping everything over a missing record would turn a full disk into an outage.
    """
    entries = []
    for child in children:
        process = child.running()
        if process is not None:
            with contextlib.suppress(psutil.Error):
                entries.append({"name": child.name, "pid": process.pid,
                                "created": psutil.Process(process.pid).create_time()})
    temporary = folder / f"{CHILDREN_FILE}.tmp"
    try:
        temporary.write_text(json.dumps(entries))
    except OSError as error:
        if error.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        return False
    temporary.replace(folder / CHILDREN_FILE)
    return True


def _group_members(leader: int, created: float) -> list[psutil.Process]:
    """Processes still in the process group a recorded child led, itself included if alive.

    A member was started at or after its group's leader: an older process in a group of that number
    belongs to some other program that reused the number.
    """
    members = []
    for process in psutil.process_iter(["create_time"]):
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if os.getpgid(process.pid) == leader and process.info["create_time"] >= created - 0.01:
                if process.status() != psutil.STATUS_ZOMBIE:
                    members.append(process)
    return members


def orphans_stop(folder: Path) -> None:
    """Stop the children a killed supervisor left running on this data folder: SIGTERM, then SIGKILL."""
    recorded = folder / CHILDREN_FILE
    try:
        entries = json.loads(recorded.read_text())
    except (FileNotFoundError, ValueError):
        return
    left: list[psutil.Process] = []
    for entry in entries:
        members = _group_members(int(entry["pid"]), float(entry["created"]))
        if members:
            _say("run", f"{entry['name']} (pid {entry['pid']}) of a previous make run that was killed is still "
                        f"running; stopping it")
            for member in members:
                with contextlib.suppress(psutil.Error):
                    member.terminate()
                    member.resume()  # a stopped one (Ctrl-Z, SIGSTOP) handles its SIGTERM only once continued
            left += members
    _, alive = psutil.wait_procs(left, timeout=STOP_GRACE_SECONDS)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(alive, timeout=5)
    recorded.unlink()


def _previous_stores(embedded_postgres: bool, embedded_redis: bool) -> None:
    """Say which embedded store a killed run left running: config.embedded reuses it rather than start another."""
    from config import embedded

    for wanted, what, pid in ((embedded_postgres, "PostgreSQL", embedded.postgres_pid),
                              (embedded_redis, "Redis", embedded.redis_pid)):
        running = pid() if wanted else None
        if running is not None:
            _say("data", f"{what} (pid {running}) is still running on {embedded.data_dir()}, left by an earlier "
                         "run: reusing it")


def _port_taken(host: str, port: str) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, int(port)))
        except OSError as error:  # an unusable host address is web's own error, said when it starts
            return error.errno == errno.EADDRINUSE
        return False


def metrics_dir_for(folder: Path) -> Path:
    """The data folder's own folder for the processes' metrics, in memory (/dev/shm) where there is one.

    Not in the data folder: prometheus-client writes samples through memory-mapped files, and a
    process writing to a mapped page of a full disk is killed by the kernel (SIGBUS), so a full data
    disk would kill every web process and worker in turn rather than only refuse writes. Named after
    the data folder, so the next run on it empties and reuses what a killed run left.
    """
    shared_memory = Path("/dev/shm")
    parent = shared_memory if shared_memory.is_dir() else Path(tempfile.gettempdir())
    return parent / f"deskpilot-metrics-{hashlib.sha256(str(folder).encode()).hexdigest()[:16]}"


def web_command(*, host: str, port: str, python: str = PYTHON) -> list[str]:
    """The web server `make run` starts, the production one (config/gunicorn_conf.py: gunicorn with
    WEB_CONCURRENCY uvicorn workers) on this address; the browser tests start this very command
    (tests/support)."""
    return [python, "-m", "gunicorn", "-c", "config/gunicorn_conf.py", "-b", f"{host}:{port}", "config.asgi:application"]


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
    folder = embedded.data_dir()
    run_lock = _hold_run_lock(folder)
    if run_lock is None:
        _say("run", f"another make run is using {folder}: stop it first (or set DESKPILOT_DATA_DIR).")
        return 1
    orphans_stop(folder)
    port = os.environ.get("PORT", "8000")
    host = os.environ.get("HOST", "127.0.0.1")
    if _port_taken(host, port):
        _say("run", f"port {port} is in use by another program: stop it, or run with PORT=<another port>.")
        return 1
    _previous_stores(embedded_postgres, embedded_redis)
    children: list[Child] = []
    metrics_folder: Path | None = None
    recorded: list[int | None] = []
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

        # Every process's metrics in one folder, added up by /metrics; emptied first (config.metrics).
        # Imported before the folder is named: the module makes its metrics as it loads, and in a
        # folder that does not exist yet that fails.
        from config.metrics import metrics_dir_prepare

        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            metrics_folder = metrics_dir_for(folder)
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_folder)
        metrics_dir_prepare()
        commands = _commands(host, port, folder / "celerybeat-schedule")
        children = [Child(name, command, folder) for name, command in commands.items()]
        for child in children:
            child.start()
        children_record(folder, children)
        _manage(stopping, "demo", "logins", "--port", port)

        while not stopping.is_set():
            if not all(child.check() for child in children):
                exit_code = 1
                break
            pids = [process.pid if (process := child.running()) else None for child in children]
            if pids != recorded and children_record(folder, children):  # a child restarted: the record names it
                recorded = pids
            stopping.wait(0.5)
    finally:
        running = [process for process in (child.running() for child in children) if process is not None]
        if running:
            print("\nStopping web, worker and beat ...", flush=True)
            _stop_processes(running)
        if embedded_postgres or embedded_redis:
            print(f"Stopping the embedded data stores (data kept in {folder}) ...", flush=True)
        if embedded_postgres:
            embedded.postgres_stop()
        if embedded_redis:
            embedded.redis_stop()
        with contextlib.suppress(FileNotFoundError):
            (folder / CHILDREN_FILE).unlink()
        if metrics_folder is not None:
            shutil.rmtree(metrics_folder, ignore_errors=True)
        print("Stopped.", flush=True)
    return exit_code


if __name__ == "__main__":
    raise SystemExit(main())
