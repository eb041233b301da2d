"""Bootstrap for benchmarks: Django on throw-away embedded stores (or DATABASE_URL / REDIS_URL if set)."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def setup() -> None:
    # Python puts a script's own folder first on the path; bench/ goes last, where bench/channels.py
    # cannot stand in for the `channels` package (Django Channels) the product imports.
    sys.path[:] = [str(ROOT)] + [entry for entry in sys.path if Path(entry or ".").resolve() != BENCH] + [str(BENCH)]
    if "DESKPILOT_DATA_DIR" not in os.environ:
        data_dir = tempfile.mkdtemp(prefix="deskpilot-bench-")
        os.environ["DESKPILOT_DATA_DIR"] = data_dir

        def _cleanup() -> None:
            from config import embedded

            embedded.stop_all()
            shutil.rmtree(data_dir, ignore_errors=True)

        atexit.register(_cleanup)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ.setdefault("DESKPILOT_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from tenants.services import schemas_migrate_all

    schemas_migrate_all()
    # As the web and worker processes do once loaded (config.asgi, config.celery).
    from config.startup import freeze_loaded_objects

    freeze_loaded_objects()


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]
