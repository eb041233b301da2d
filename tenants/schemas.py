"""Creating a tenant's schema as a structural copy of the migrated template schema.

django-tenants can clone a template with a large generic PL/pgSQL function, but it re-creates that
function on every call (so concurrent creations queue on its lock) and walks the catalog slowly; we
measured tens of seconds per tenant under load. The copy here issues plain DDL read from the
catalog: tables (columns, defaults, identity, generated columns), then every constraint and index
under its template name (so later migrations that rename or drop them by name keep working), then
the foreign keys, then the tables' own triggers, then the template's migration records. It runs in
the caller's transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction

_TABLES = """
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY c.relname
"""
# Constraints in an order that can be replayed: keys before the foreign keys that need them.
_CONSTRAINTS = """
    SELECT c.relname, k.conname, pg_get_constraintdef(k.oid, true)
    FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = %s AND k.contype IN ('p', 'u', 'c', 'x', 'f')
    ORDER BY CASE k.contype WHEN 'p' THEN 0 WHEN 'u' THEN 1 WHEN 'x' THEN 2 WHEN 'c' THEN 3 ELSE 4 END, k.conname
"""
# Indexes that no constraint owns (the constraints above create their own).
_INDEXES = """
    SELECT pg_get_indexdef(i.indexrelid)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = %s AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
    ORDER BY i.indexrelid
"""

# Triggers of our own (an append-only table's, chat.audit): the constraint triggers are the constraints'.
_TRIGGERS = """
    SELECT pg_get_triggerdef(t.oid)
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = %s AND NOT t.tgisinternal
    ORDER BY t.oid
"""


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def schema_copy_structure(*, source: str, target: str) -> None:
    """Create schema `target` with the structure and migration records of `source`."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('search_path')")
        original_path = cursor.fetchone()[0]
        # Definitions are read with only the source on the path, so they name its objects unqualified
        # (anything elsewhere, like pgvector's type in public, stays qualified) and replay in the target.
        cursor.execute("SELECT set_config('search_path', %s, true)", [_quote(source)])
        cursor.execute(_TABLES, [source])
        tables = [row[0] for row in cursor.fetchall()]
        cursor.execute(_CONSTRAINTS, [source])
        constraints = cursor.fetchall()
        cursor.execute(_INDEXES, [source])
        indexes = [row[0] for row in cursor.fetchall()]
        cursor.execute(_TRIGGERS, [source])
        triggers = [row[0] for row in cursor.fetchall()]
        # pg_get_indexdef always names the table with its schema: point it at the target.
        table_of_source = re.compile(rf" ON (ONLY )?({re.escape(_quote(source))}|{re.escape(source)})\.")
        cursor.execute(f"CREATE SCHEMA {_quote(target)}")
        # Local settings end with the transaction; on success the caller's path is restored below.
        cursor.execute("SELECT set_config('search_path', %s, true)", [_quote(target) + ", public"])
        for table in tables:
            cursor.execute(
                f"CREATE TABLE {_quote(table)} (LIKE {_quote(source)}.{_quote(table)} INCLUDING DEFAULTS "
                "INCLUDING IDENTITY INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS)")
        for table, name, definition in constraints:
            cursor.execute(f"ALTER TABLE {_quote(table)} ADD CONSTRAINT {_quote(name)} {definition}")
        for definition in indexes:
            cursor.execute(table_of_source.sub(lambda match: f" ON {match.group(1) or ''}{_quote(target)}.",
                                               definition, count=1))
        for definition in triggers:  # named with their table's schema too, as the indexes are
            cursor.execute(table_of_source.sub(lambda match: f" ON {match.group(1) or ''}{_quote(target)}.",
                                               definition, count=1))
        cursor.execute(f"INSERT INTO django_migrations (app, name, applied) "
                       f"SELECT app, name, applied FROM {_quote(source)}.django_migrations")
        cursor.execute("SELECT set_config('search_path', %s, false)", [original_path])


@contextmanager
def read_snapshot() -> Iterator[None]:
    """A read-only transaction that sees one snapshot of the whole database throughout.

    The isolation level must be set before the transaction's first statement, and django-tenants
    sends `SET search_path` first on any cursor, so it is set on the database connection itself.
    """
    with transaction.atomic():
        connection.ensure_connection()
        connection.connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield
