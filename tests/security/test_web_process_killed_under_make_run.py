"""The machine kills `make run`'s web process (`kill -9`, as the OOM killer does): make run starts it
again and the site answers, without anyone restarting make run. Stopping make run (SIGTERM from a
process manager, SIGHUP from a closed terminal, Ctrl-C's SIGINT) leaves no child, no embedded store
and no port behind, and the next start on the same folder reaches /readyz. When make run itself is
killed (`kill -9`), its children die with it, and the next start stops what survived, reuses the
stores the killed run left, and serves on the same port.

One real `python -m config.devrun` on a data folder of its own (a copy of one make run has started
on once: stores, migrations, the demo), web, worker and beat. The tests run in order on that folder,
each starting where the one before stopped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.support.make_run import (
    STARTUP_TIMEOUT_SECONDS,
    STOP_TIMEOUT_SECONDS,
    data_dir_started_once,
    make_run,
    port_free,
    process_alive,
    processes_of,
)
from tests.support.processes import ROOT, wait_until


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="deskpilot-devrun-data-"))
    data_dir_started_once(folder)
    yield folder
    env = {**os.environ, "DESKPILOT_DATA_DIR": str(folder)}
    subprocess.run([sys.executable, "-m", "config.embedded", "down"], cwd=ROOT, env=env, check=False)
    subprocess.run(["rm", "-rf", str(folder)], check=False)


def test_a_killed_web_process_is_restarted_and_sigterm_stops_everything(data_dir: Path) -> None:
    with make_run(data_dir) as run:
        run.wait_ready()
        [web] = run.children("gunicorn")
        web.send_signal(signal.SIGKILL)
        wait_until(lambda: "web exited with code -9; restarting in 1s" in run.output(), timeout=30,
                   message="make run saying it restarts web")
        wait_until(lambda: [p.pid for p in run.children("gunicorn")] not in ([], [web.pid]), timeout=30,
                   message="a new web process")
        run.wait_ready()
        run.stop(signal.SIGTERM)


def test_a_closed_terminal_sighup_stops_everything(data_dir: Path) -> None:
    with make_run(data_dir) as run:
        run.wait_ready()
        run.stop(signal.SIGHUP)


def test_ctrl_c_stops_everything(data_dir: Path) -> None:
    with make_run(data_dir) as run:
        run.wait_ready()  # after the SIGHUP above: the start after a closed terminal is clean
        run.stop(signal.SIGINT)


def _pid_in(pid_file: Path) -> int:
    return int(pid_file.read_text().split()[0])


def test_a_killed_make_run_takes_its_children_along_and_the_next_start_is_clean(data_dir: Path) -> None:
    postmaster, redis = data_dir / "postgres" / "pgdata" / "postmaster.pid", data_dir / "redis" / "redis.pid"
    with make_run(data_dir) as first:
        first.wait_ready()  # after Ctrl-C above
        [web] = first.children("gunicorn")
        web_workers = web.children(recursive=True)
        frozen = {web.pid, *(worker.pid for worker in web_workers)}
        others = [p for p in psutil.Process(first.process.pid).children(recursive=True) if p.pid not in frozen]
        stores = [psutil.Process(_pid_in(postmaster)), psutil.Process(_pid_in(redis))]
        # A frozen web server (Ctrl-Z'd, or stuck), its workers with it, outlives its parent's death:
        # it still holds the port.
        for process in (web, *web_workers):
            process.suspend()
        first.process.kill()
        first.process.wait()
        wait_until(lambda: not any(process_alive(p) for p in others), timeout=STOP_TIMEOUT_SECONDS,
                   message="worker and beat of the killed make run gone")
        assert process_alive(web) and not port_free(first.port)
        assert all(process_alive(store) for store in stores)  # daemons of their own: the next start finds them

        with make_run(data_dir, port=first.port) as second:
            second.seen += [web, *stores]
            second.wait_ready()
            output = second.output()
            assert f"web (pid {web.pid}) of a previous make run that was killed is still running; stopping it" \
                in output, output[-4000:]
            assert not process_alive(web) and not any(process_alive(worker) for worker in web_workers)
            for store, what in zip(stores, ("PostgreSQL", "Redis"), strict=True):
                assert f"{what} (pid {store.pid}) is still running on {data_dir}" in output, output[-4000:]
            # Reused, not a second server on the same folder.
            assert [_pid_in(postmaster), _pid_in(redis)] == [store.pid for store in stores]
            second.stop(signal.SIGTERM)
        assert not any(process_alive(p) for p in [web, *web_workers, *others, *stores])


def test_a_web_process_that_keeps_dying_at_start_is_given_up_on_plainly(data_dir: Path) -> None:
    # gunicorn cannot start on this host address, so the web child dies at once, every time.
    with make_run(data_dir, HOST="256.0.0.1") as run:
        assert run.process.wait(timeout=STARTUP_TIMEOUT_SECONDS) == 1, run.output()[-4000:]
        output = run.output()
        for delay in (1, 2, 4, 8, 15):
            assert f"web exited with code 1; restarting in {delay}s" in output, output[-4000:]
        assert "giving up" in output and "Stopped." in output, output[-4000:]
        assert processes_of(data_dir) == []
