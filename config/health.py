"""Readiness: a real database query, Redis answering and able to write, room on the embedded stores'
disk, and no unapplied migrations."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.migrations.executor import MigrationExecutor

from config.embedded import stores_disk_full


def _timed(check: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        detail = check()
        result: dict[str, Any] = {"ok": True}
        if detail:
            result["detail"] = detail
    except Exception as exc:  # every failure is reported, none escapes as a 500
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def _database() -> None:
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        # A broken connection must not stay cached: the next check reconnects.
        connection.close()
        raise


def _redis() -> None:
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        persistence = client.info("persistence")
    finally:
        client.close()
    # Redis that could not write its append-only file or its snapshot refuses every write (MISCONF)
    # while still answering pings.
    for field, what in (("aof_last_write_status", "append-only file"), ("rdb_last_bgsave_status", "snapshot")):
        if persistence.get(field, "ok") != "ok":
            raise RuntimeError(f"Redis cannot write its {what} to disk, so it refuses writes")


def _disk() -> None:
    full = stores_disk_full()
    if full is not None:
        raise RuntimeError(f"the disk of the data folder {full} is full: the stores cannot write")


def _migrations() -> str | None:
    connection = connections["default"]
    connection.set_schema_to_public()
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    # The public schema's plan counts the shared apps; tenant apps are checked per tenant by migrate_all.
    shared = [m for m, _ in plan if m.app_label in _shared_app_labels()]
    if shared:
        raise RuntimeError(f"{len(shared)} unapplied migrations in the public schema")
    return None


def _shared_app_labels() -> set[str]:
    from django.apps import apps

    labels = set()
    for app in settings.SHARED_APPS:
        for config in apps.get_app_configs():
            if config.name == app:
                labels.add(config.label)
    return labels


def readiness_checks() -> dict[str, dict[str, Any]]:
    database = _timed(_database)
    checks = {"database": database, "redis": _timed(_redis), "disk": _timed(_disk)}
    checks["migrations"] = _timed(_migrations) if database["ok"] else {"ok": False, "error": "database unavailable"}
    return checks
