"""Per-tenant backups with PostgreSQL's own tools, and their restore into a new tenant.

A backup is a tar file: `manifest.json` (format, version, the tenant's settings, row counts per table
and the checksum of the dump) and `schema.dump`, `pg_dump --format=custom` of the tenant's schema.
Restoring goes through a scratch database: the dump is restored there, its schema renamed to the new
slug, dumped again and restored into the platform's database. PostgreSQL can rename a schema but
pg_restore cannot restore into another name, and renaming in the live database would take the
original tenant offline while it happens. docs/runbooks/restore-one-tenant.md says when to use it.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import secrets
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from django_tenants.utils import schema_context, schema_exists

from tenants.exceptions import TenantError
from tenants.models import Domain, Plan, Tenant
from tenants.schemas import read_snapshot
from tenants.services import tenant_get, tenant_new_validate

logger = logging.getLogger(__name__)

BACKUP_FORMAT = "deskpilot-tenant-backup"
BACKUP_VERSION = 1
MANIFEST_NAME = "manifest.json"
DUMP_NAME = "schema.dump"


class BackupInvalid(TenantError):
    code = "backup_invalid"


@dataclass(frozen=True)
class BackupManifest:
    slug: str
    row_counts: dict[str, int]
    sha256: str


def pg_tool(name: str) -> str:
    """The PostgreSQL client program `name`: from POSTGRES_BIN_DIR when set, else the embedded
    server's own (its version matches the server `make run` starts), else the one on PATH."""
    folder = settings.POSTGRES_BIN_DIR
    if not folder:
        from config import embedded

        try:
            candidate = embedded.pg_bin(name)
        except RuntimeError:  # no embedded server installed (the production image)
            candidate = ""
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name, path=folder or None)
    if found is None:
        raise TenantError(f"The PostgreSQL program '{name}' is not installed (set POSTGRES_BIN_DIR).",
                          code="pg_tools_missing")
    return found


def _pg_environment(database: str | None = None) -> dict[str, str]:
    db = settings.DATABASES["default"]
    env = {**os.environ, "PGDATABASE": database or db["NAME"], "PGUSER": db.get("USER") or "",
           "PGHOST": db.get("HOST") or "", "PGPORT": str(db.get("PORT") or ""),
           "PGPASSWORD": db.get("PASSWORD") or "", "PGCONNECT_TIMEOUT": "10"}
    sslmode = (db.get("OPTIONS") or {}).get("sslmode")
    if sslmode:
        env["PGSSLMODE"] = sslmode
    return {key: value for key, value in env.items() if value != ""}


def _run(args: list[str], *, database: str | None = None) -> None:
    completed = subprocess.run(args, env=_pg_environment(database), capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise TenantError(f"{Path(args[0]).name} failed: {completed.stderr.strip()[:2000]}", code="pg_tool_failed")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def schema_row_counts(schema: str) -> dict[str, int]:
    """Exact row counts of every table in `schema`, by table name."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename", [schema])
        tables = [row[0] for row in cursor.fetchall()]
        counts = {}
        for table in tables:
            cursor.execute(f"SELECT count(*) FROM {_quote(schema)}.{_quote(table)}")
            counts[table] = cursor.fetchone()[0]
    return counts


def tenant_backup(*, slug: str, output: Path) -> BackupManifest:
    """Write a backup of tenant `slug` to `output` (written whole, then moved into place)."""
    tenant = tenant_get(slug=slug)
    output = Path(output)
    with tempfile.TemporaryDirectory(prefix="deskpilot-backup-") as scratch:
        dump = Path(scratch) / DUMP_NAME
        # The counts are read in the same snapshot pg_dump copies: the manifest describes the dump.
        with read_snapshot():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_export_snapshot()")
                snapshot = cursor.fetchone()[0]
            counts = schema_row_counts(tenant.schema_name)
            _run([pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
                  f"--snapshot={snapshot}", f"--schema={tenant.schema_name}", f"--file={dump}"])
        digest = _sha256(dump)
        manifest = {
            "format": BACKUP_FORMAT, "version": BACKUP_VERSION, "created": timezone.now().isoformat(),
            "slug": tenant.schema_name,
            "tenant": {"name": tenant.name, "plan": tenant.plan.code if tenant.plan else None,
                       "timezone": tenant.timezone},
            "row_counts": counts, "dump_sha256": digest,
        }
        partial = output.with_name(output.name + ".partial")
        with tarfile.open(partial, "w") as archive:
            data = json.dumps(manifest, indent=2).encode()
            info = tarfile.TarInfo(MANIFEST_NAME)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
            archive.add(dump, arcname=DUMP_NAME)
        partial.replace(output)
    logger.info("tenant %s backed up to %s", slug, output)
    return BackupManifest(slug=tenant.schema_name, row_counts=counts, sha256=digest)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def backup_read(*, archive: Path, into: Path) -> dict[str, Any]:
    """Unpack `archive` into the folder `into` and return its manifest, refusing anything that is
    not a whole, unaltered backup of this format."""
    try:
        with tarfile.open(archive, "r") as tar:
            names = set(tar.getnames())
            if names != {MANIFEST_NAME, DUMP_NAME}:
                raise BackupInvalid("This file is not a Deskpilot tenant backup.")
            tar.extractall(into, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise BackupInvalid(f"The backup cannot be read: {exc}") from exc
    try:
        manifest = json.loads((into / MANIFEST_NAME).read_text())
    except ValueError as exc:
        raise BackupInvalid("The backup's manifest is not valid JSON.") from exc
    if manifest.get("format") != BACKUP_FORMAT:
        raise BackupInvalid("This file is not a Deskpilot tenant backup.")
    if manifest.get("version") != BACKUP_VERSION:
        raise BackupInvalid(f"Backup format version {manifest.get('version')} is not supported.")
    if _sha256(into / DUMP_NAME) != manifest.get("dump_sha256"):
        raise BackupInvalid("The backup's dump does not match its checksum: the file is damaged.")
    return manifest


def tenant_restore(*, archive: Path, slug: str, domain: str) -> Tenant:
    """Restore a backup as a new tenant `slug` at `domain`, migrated to this release's schema."""
    slug, domain = slug.strip(), domain.strip().lower()
    tenant_new_validate(slug=slug, name=slug, domain=domain)
    with tempfile.TemporaryDirectory(prefix="deskpilot-restore-") as scratch_dir:
        folder = Path(scratch_dir)
        manifest = backup_read(archive=Path(archive), into=folder)
        renamed = folder / "renamed.dump"
        scratch_db = f"deskpilot_restore_{secrets.token_hex(6)}"
        _scratch_restore_renamed(dump=folder / DUMP_NAME, old=manifest["slug"], new=slug,
                                 scratch_db=scratch_db, output=renamed)
        if schema_exists(slug):
            raise TenantError(f"A schema named '{slug}' already exists.", code="duplicate_slug")
        _run([pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error",
              "--single-transaction", f"--dbname={settings.DATABASES['default']['NAME']}", str(renamed)])
        plan = Plan.objects.filter(code=manifest["tenant"].get("plan")).first()
        with transaction.atomic():
            tenant = Tenant.objects.create(schema_name=slug, name=manifest["tenant"]["name"], plan=plan,
                                           timezone=manifest["tenant"]["timezone"])
            Domain.objects.create(domain=domain, tenant=tenant, is_primary=True)
    # A backup from an earlier release gets this release's migrations; one from this release is left
    # exactly as it was backed up.
    with schema_context(slug):
        executor = MigrationExecutor(connection)
        unapplied = executor.migration_plan(executor.loader.graph.leaf_nodes())
    connection.set_schema_to_public()
    if unapplied:
        call_command("migrate_schemas", schema_name=slug, interactive=False, verbosity=0)
        connection.set_schema_to_public()
    logger.info("backup of %s restored as tenant %s at %s", manifest["slug"], slug, domain)
    return tenant


def _public_functions() -> list[str]:
    """The definitions of the functions in the platform's public schema that no extension owns."""
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT pg_get_functiondef(p.oid) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'public' AND p.prokind = 'f'
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
        """)
        return [row[0] for row in cursor.fetchall()]


def _scratch_restore_renamed(*, dump: Path, old: str, new: str, scratch_db: str, output: Path) -> None:
    """Restore `dump` into a throwaway database, rename schema `old` to `new` there and dump it to
    `output`; the throwaway database is dropped whatever happens."""
    admin_database = settings.DATABASES["default"]["NAME"]
    _run([pg_tool("psql"), "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-c", f"CREATE DATABASE {_quote(scratch_db)}"],
         database=admin_database)
    try:
        _run([pg_tool("psql"), "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-c", "CREATE EXTENSION IF NOT EXISTS vector"],
             database=scratch_db)
        # The tenant's triggers call the platform's own functions in public (the audit log's guard).
        for definition in _public_functions():
            _run([pg_tool("psql"), "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-c", definition], database=scratch_db)
        _run([pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error",
              f"--dbname={scratch_db}", str(dump)], database=scratch_db)
        _run([pg_tool("psql"), "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-c",
              f"ALTER SCHEMA {_quote(old)} RENAME TO {_quote(new)}"], database=scratch_db)
        _run([pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--schema={new}",
              f"--file={output}"], database=scratch_db)
    finally:
        _run([pg_tool("psql"), "--no-psqlrc", "-c", f"DROP DATABASE IF EXISTS {_quote(scratch_db)} WITH (FORCE)"],
             database=admin_database)
