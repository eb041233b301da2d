"""The AWS stack's database takes every connection its services can open at their largest: each web
process's request threads and database threads (config/request_threads.py, config/db.py), each
worker's processes, beat and the migration task, within `max_connections` (deploy/aws sizes.py)
less what PostgreSQL keeps for superusers. A larger default thread count or task count fails here
before it fails in production with "too many clients"."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent.parent
# PostgreSQL's superuser_reserved_connections default: those slots are not the application's.
SUPERUSER_RESERVED = 3


def _sizes() -> ModuleType:
    spec = importlib.util.spec_from_file_location("deploy_sizes", ROOT / "deploy" / "aws" / "deskpilot_cdk" / "sizes.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _default(pattern: str, text: str) -> int:
    match = re.search(pattern, text)
    assert match, pattern
    return int(match.group(1))


@pytest.mark.parametrize("environment", ["STAGING", "PRODUCTION"])
def test_the_database_takes_every_connection_the_services_can_open(environment: str) -> None:
    sizes = getattr(_sizes(), environment)
    # The stack sets none of these: the image runs the defaults.
    web_processes = _default(r'"WEB_CONCURRENCY", "(\d+)"', (ROOT / "config" / "gunicorn_conf.py").read_text())
    worker_processes = _default(r"WORKER_CONCURRENCY:-(\d+)", (ROOT / "deploy" / "entrypoint.sh").read_text())
    stack = (ROOT / "deploy" / "aws" / "deskpilot_cdk" / "stack.py").read_text()
    for name in ("WEB_CONCURRENCY", "WORKER_CONCURRENCY", "WEB_REQUEST_THREADS", "DATABASE_ASYNC_THREADS"):
        assert f'"{name}"' not in stack, f"the stack sets {name}: count its value here"

    # A web process: its request threads, its database threads, its main thread's start-up work, and
    # a load balancer's health check, which skips the request threads' queue.
    per_web_process = settings.WEB_REQUEST_THREADS + settings.DATABASE_ASYNC_THREADS + 2
    web = sizes.web_max_tasks * web_processes * per_web_process
    # A worker task: its pool's processes and the main process.
    workers = sum(group.max_tasks for group in sizes.worker_groups) * (worker_processes + 1)
    beat_and_migrate = 2
    needed = web + workers + beat_and_migrate
    assert needed <= sizes.db_max_connections - SUPERUSER_RESERVED, (
        f"{environment}: up to {needed} connections, max_connections {sizes.db_max_connections}")
