"""Upgrade tests: a tenant schema of its own, migrated only as far as a past state of the apps."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


@contextlib.contextmanager
def schema_migrated_to(*targets: tuple[str, str]) -> Iterator[str]:
    """Create a schema, migrate it to `targets` (app, migration) with contenttypes, work in it, and
    drop it afterwards whatever happens."""
    name = f"upgrade_{uuid.uuid4().hex[:10]}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{name}"')
    connection.set_schema(name)
    try:
        MigrationExecutor(connection).migrate([*targets, ("contenttypes", "0002_remove_content_type_name")])
        yield name
    finally:
        connection.set_schema_to_public()
        ContentType.objects.clear_cache()
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA "{name}" CASCADE')
