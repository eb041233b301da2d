"""A business's data as a portable archive, and that archive loaded into a new tenant.

The archive (a gzipped tar) holds `manifest.json` (format, version, the tenant's settings, and per
table its row count and checksum), one JSON-lines file per table under `data/`, and every binary
value (uploaded knowledge files, avatars) as a file of its own under `files/`, so a business can
read its data without Deskpilot. Unlike a backup (tenants.backups) it names tables by model, not by
PostgreSQL's layout, so it can be read by a later release.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core import serializers
from django.core.management.color import no_style
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from config.content_version import content_version_bump
from tenants.exceptions import TenantError
from tenants.models import Tenant
from tenants.schemas import read_snapshot
from tenants.services import CreatedTenant, tenant_create, tenant_get

logger = logging.getLogger(__name__)

EXPORT_FORMAT = "deskpilot-tenant-export"
EXPORT_VERSION = 1
MANIFEST_NAME = "manifest.json"
# Not the business's data: sign-ins, login throttling, the framework's own tables and the outbox's
# in-flight side effects (an imported tenant starts with none pending).
EXCLUDED_APP_LABELS = frozenset({"contenttypes", "sessions", "axes", "outbox", "admin"})
EXCLUDED_MODELS = frozenset({"auth.permission"})
# Many-to-many links to permissions name rows that are not exported (roles are groups, which are).
EXCLUDED_FIELDS = {"auth.user": {"user_permissions"}, "auth.group": {"permissions"}}
FILE_MARKER = "$file"
ROWS_PER_QUERY = 500


class ArchiveInvalid(TenantError):
    code = "archive_invalid"


@dataclass(frozen=True)
class ExportSummary:
    slug: str
    row_counts: dict[str, int]
    files: int


def tenant_models() -> list[type[models.Model]]:
    """The models whose rows live in a tenant's schema and make up the business's data."""
    tenant_app_names = set(settings.TENANT_APPS)
    found = []
    for app_config in apps.get_app_configs():
        if app_config.name not in tenant_app_names or app_config.label in EXCLUDED_APP_LABELS:
            continue
        for model in app_config.get_models():
            if model._meta.label_lower in EXCLUDED_MODELS or model._meta.proxy or not model._meta.managed:
                continue
            found.append(model)
    return found


def _fields_to_drop(model: type[models.Model]) -> set[str]:
    return EXCLUDED_FIELDS.get(model._meta.label_lower, set())


def _binary_fields(model: type[models.Model]) -> list[str]:
    return [field.name for field in model._meta.concrete_fields if isinstance(field, models.BinaryField)]


def _rows(model: type[models.Model]) -> Iterator[models.Model]:
    return model._default_manager.order_by("pk").iterator(chunk_size=ROWS_PER_QUERY)


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(timezone.now().timestamp())
    archive.addfile(info, io.BytesIO(data))


def tenant_export(*, slug: str, output: Path) -> ExportSummary:
    """Write tenant `slug`'s archive to `output` (written whole, then moved into place)."""
    tenant = tenant_get(slug=slug)
    output = Path(output)
    partial = output.with_name(output.name + ".partial")
    serializer = serializers.get_serializer("python")()
    tables: dict[str, dict[str, Any]] = {}
    file_count = 0
    # One snapshot for every table, so the archive's foreign keys all point at rows it holds.
    with tarfile.open(partial, "w:gz") as archive, read_snapshot(), schema_context(tenant.schema_name):
        for model in tenant_models():
            label = model._meta.label_lower
            drop, binary = _fields_to_drop(model), _binary_fields(model)
            lines, count = [], 0
            for obj in _rows(model):
                row = serializer.serialize([obj])[0]
                for name in drop:
                    row["fields"].pop(name, None)
                for name in binary:
                    value = getattr(obj, name)
                    if value is None:
                        continue
                    path = f"files/{label}/{obj.pk}/{name}"
                    data = bytes(value)
                    _add_bytes(archive, path, data)
                    row["fields"][name] = {FILE_MARKER: path, "sha256": hashlib.sha256(data).hexdigest()}
                    file_count += 1
                lines.append(json.dumps(row, cls=DjangoJSONEncoder, ensure_ascii=False))
                count += 1
            body = ("\n".join(lines) + "\n" if lines else "").encode()
            path = f"data/{label}.jsonl"
            _add_bytes(archive, path, body)
            tables[label] = {"file": path, "rows": count, "sha256": hashlib.sha256(body).hexdigest()}
        manifest = {
            "format": EXPORT_FORMAT, "version": EXPORT_VERSION, "created": timezone.now().isoformat(),
            "slug": tenant.schema_name,
            "tenant": {"name": tenant.name, "plan": tenant.plan.code if tenant.plan else None,
                       "timezone": tenant.timezone},
            "tables": tables,
        }
        _add_bytes(archive, MANIFEST_NAME, json.dumps(manifest, indent=2).encode())
    partial.replace(output)
    logger.info("tenant %s exported to %s", slug, output)
    return ExportSummary(slug=tenant.schema_name, row_counts={k: v["rows"] for k, v in tables.items()},
                         files=file_count)


class _Archive:
    """An export archive opened for reading, every member checked against the manifest."""

    def __init__(self, path: Path) -> None:
        try:
            self._tar = tarfile.open(path, "r:gz")
            self.manifest = json.loads(self._member(MANIFEST_NAME))
        except (tarfile.TarError, OSError, KeyError, ValueError) as exc:
            raise ArchiveInvalid(f"This file is not a Deskpilot tenant export: {exc}") from exc
        if self.manifest.get("format") != EXPORT_FORMAT:
            raise ArchiveInvalid("This file is not a Deskpilot tenant export.")
        if self.manifest.get("version") != EXPORT_VERSION:
            raise ArchiveInvalid(f"Export format version {self.manifest.get('version')} is not supported.")

    def _member(self, name: str) -> bytes:
        member = self._tar.extractfile(name)
        if member is None:
            raise KeyError(name)
        return member.read()

    def checked(self, name: str, sha256: str) -> bytes:
        try:
            data = self._member(name)
        except KeyError as exc:
            raise ArchiveInvalid(f"The archive lacks {name}.") from exc
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ArchiveInvalid(f"{name} does not match its checksum: the archive is damaged.")
        return data

    def close(self) -> None:
        self._tar.close()


def tenant_import(*, archive: Path, slug: str, domain: str) -> CreatedTenant:
    """Load an export archive into a new tenant `slug` at `domain`. Nothing is left behind when any
    of it fails: the new tenant is deleted with its schema."""
    opened = _Archive(Path(archive))
    try:
        manifest = opened.manifest
        known = {model._meta.label_lower: model for model in tenant_models()}
        unknown = sorted(set(manifest["tables"]) - set(known))
        if unknown:
            raise ArchiveInvalid(f"The archive has tables this release does not know: {', '.join(unknown)}.")
        created = tenant_create(slug=slug, name=manifest["tenant"]["name"], domain=domain,
                                plan_code=manifest["tenant"].get("plan"),
                                timezone_name=manifest["tenant"].get("timezone") or "UTC")
        try:
            with schema_context(slug), transaction.atomic():
                for label, table in manifest["tables"].items():
                    _table_load(opened, known[label], table)
                with connection.cursor() as cursor:
                    for statement in connection.ops.sequence_reset_sql(no_style(), list(known.values())):
                        cursor.execute(statement)
        except Exception:
            Tenant.objects.get(schema_name=slug).delete(force_drop=True)
            raise
        finally:
            connection.set_schema_to_public()
    finally:
        opened.close()
    content_version_bump(schema_name=slug)
    logger.info("archive of %s imported as tenant %s at %s", manifest["slug"], slug, domain)
    return created


def _table_load(opened: _Archive, model: type[models.Model], table: dict[str, Any]) -> None:
    body = opened.checked(table["file"], table["sha256"])
    rows = []
    for line in body.decode().splitlines():
        row = json.loads(line)
        for name, value in row["fields"].items():
            if isinstance(value, dict) and FILE_MARKER in value:
                data = opened.checked(value[FILE_MARKER], value["sha256"])
                row["fields"][name] = base64.b64encode(data).decode()
        rows.append(row)
    if len(rows) != table["rows"]:
        raise ArchiveInvalid(f"{table['file']} holds {len(rows)} rows, the manifest says {table['rows']}.")
    # Foreign keys are checked at commit (Django creates them deferrable), so tables load in any order.
    for deserialized in serializers.deserialize("python", rows):
        deserialized.save()
