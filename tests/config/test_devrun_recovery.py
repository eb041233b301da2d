"""What a killed `make run` leaves behind, and how the next start recognises it (without starting the
whole product: tests/security/test_web_process_killed_under_make_run.py does that with real runs).

- A child it recorded that still runs (here: a web server holding its port) is stopped, with a line
  saying so, and the port is free again; a process that merely reuses a recorded number is left alone.
- A pid file whose process is gone is stale: stopping the store never signals whatever has that
  number now.
- A store's recorded port taken by another program meanwhile: the store starts on a new port rather
  than hand its callers a stranger's server.
- A full data disk: the supervisor neither crashes on its record of children nor gives up on a child
  that keeps dying because the stores refuse its writes (tests/chaos fills a real run's disk).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from config import devrun, embedded
from tests.support.processes import free_port, wait_until


def _serving(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def folder(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="deskpilot-recovery-"))
    monkeypatch.setenv("DESKPILOT_DATA_DIR", str(path))
    yield path
    embedded.redis_stop()
    subprocess.run(["rm", "-rf", str(path)], check=False)


@pytest.fixture
def spawned() -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_a_child_of_a_killed_run_still_holding_its_port_is_stopped_with_a_line_saying_so(
        folder: Path, spawned: list[subprocess.Popen[bytes]], capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    web = devrun.Child("web", [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)], folder)
    web.start()
    assert web.process is not None
    spawned.append(web.process)
    wait_until(lambda: _serving(port), timeout=30, message="the stand-in web server")
    devrun.children_record(folder, [web])
    # An unrelated process: recorded under a number it does not hold as a group leader of that age.
    bystander = subprocess.Popen(["sleep", "600"], start_new_session=True)
    spawned.append(bystander)
    recorded = json.loads((folder / devrun.CHILDREN_FILE).read_text())
    recorded.append({"name": "beat", "pid": bystander.pid, "created": psutil.Process(bystander.pid).create_time() + 60})
    (folder / devrun.CHILDREN_FILE).write_text(json.dumps(recorded))

    devrun.orphans_stop(folder)  # what the next make run does first

    said = capsys.readouterr().out
    assert f"web (pid {web.process.pid}) of a previous make run that was killed is still running; stopping it" in said
    assert "beat" not in said
    assert web.process.wait(timeout=5) is not None and not _serving(port)
    assert bystander.poll() is None
    assert not (folder / devrun.CHILDREN_FILE).exists()


def test_a_stale_redis_pid_file_never_signals_the_process_that_has_its_number_now(
        folder: Path, spawned: list[subprocess.Popen[bytes]]) -> None:
    bystander = subprocess.Popen(["sleep", "600"], start_new_session=True)
    spawned.append(bystander)
    (folder / "redis").mkdir()
    (folder / "redis" / "redis.pid").write_text(f"{bystander.pid}\n")

    assert embedded.redis_pid() is None
    embedded.redis_stop()

    assert bystander.poll() is None
    assert not (folder / "redis" / "redis.pid").exists()


def test_a_stores_port_taken_by_another_program_is_not_mistaken_for_the_store(folder: Path) -> None:
    taken = free_port()
    (folder / "redis").mkdir()
    (folder / "redis" / "port").write_text(str(taken))
    with socket.socket() as stranger:
        stranger.bind(("127.0.0.1", taken))
        stranger.listen()

        url = embedded.redis_url()

        assert url != f"redis://127.0.0.1:{taken}"
        pid = embedded.redis_pid()
        assert pid is not None and psutil.Process(pid).name() == "redis-server"
        # The next caller finds the same store on its new port: one server for the folder.
        assert embedded.redis_url() == url
    embedded.redis_stop()
    wait_until(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE,
               timeout=10, message="the store stopped")


@pytest.fixture
def full_disk(folder: Path) -> Iterator[Path]:
    """The data folder on a small tmpfs (more than make run counts as full), filled to the last byte
    (only root may mount one)."""
    if os.geteuid() != 0:
        pytest.skip("a full disk needs a filesystem of its own to fill, and only root may mount one "
                    "(make test runs as root on this machine and in CI, where this test runs)")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(folder)], check=True)
    try:
        with open(folder / "filler", "wb", buffering=0) as filler, contextlib.suppress(OSError):
            while True:
                filler.write(b"\0" * 4096)
        yield folder
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], check=False)


def test_on_a_full_disk_the_supervisor_keeps_restarting_a_dying_child_and_running_without_its_record(
        full_disk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    worker = devrun.Child("worker", [sys.executable, "-c", "raise SystemExit(1)"], full_disk)
    worker.start()
    assert worker.process is not None
    worker.process.wait()
    worker.quick_crashes = len(devrun.RESTART_DELAYS_SECONDS)  # it has already died this often, quickly

    assert devrun.children_record(full_disk, [worker]) is False  # no room for the record: no crash either
    assert worker.check() is True, "given up on while the disk is full"
    assert "is full: free some space" in capsys.readouterr().out
    assert worker.restart_at is not None

    (full_disk / "filler").unlink()
    with contextlib.suppress(FileNotFoundError):
        (full_disk / f"{devrun.CHILDREN_FILE}.tmp").unlink()
    worker.restart_at = None  # as after its next quick death, now with room on the disk
    assert worker.check() is False, "a child that keeps dying for a reason of its own is given up on"
