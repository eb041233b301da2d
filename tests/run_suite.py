"""`make test`: the whole suite on throw-away embedded PostgreSQL and Redis, in parallel.

The data folder is created fresh for the run and removed afterwards; the embedded servers are
started by the first process that needs them (see config.embedded) and stopped here at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="deskpilot-test-"))
    env = {**os.environ, "DESKPILOT_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    # Tests get throw-away stores of their own unless told to use the external ones.
    if os.environ.get("DESKPILOT_TEST_EXTERNAL_STORES") != "1":
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)
    workers = os.environ.get("DESKPILOT_TEST_WORKERS", "2")
    command = [sys.executable, "-m", "pytest", "-n", workers, "--dist", "loadfile", "-q", "--durations=15", *argv]
    try:
        return subprocess.run(command, cwd=ROOT, env=env).returncode
    finally:
        subprocess.run([sys.executable, "-m", "config.embedded", "down"], cwd=ROOT, env=env)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
