"""Runs a module as `python -m` would, with the clock set to a given moment and running on from there.

Test-only: a test whose server must live at a chosen time of day (a Sunday, when the shop is closed)
starts the very server command through this, so the product only ever reads the clock
(`timezone.now()`) and has no switch of its own for it. time-machine moves the wall clock (datetime,
time.time) of this process and of the processes it forks (gunicorn's workers); monotonic clocks, and so
timeouts and event loops, are untouched.

    python -m tests.support.clock_at 2026-11-15T12:00:00+01:00 gunicorn -c config/gunicorn_conf.py ...
"""

from __future__ import annotations

import runpy
import sys

import time_machine


def main() -> None:
    moment, module, *arguments = sys.argv[1:]
    sys.argv = [module, *arguments]
    with time_machine.travel(moment, tick=True):
        runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
