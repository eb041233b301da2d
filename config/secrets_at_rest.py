"""Tenants' secrets at rest: stored encrypted, read back only by the code that uses them.

A tenant's own LLM API key and its shops' webhook secrets (later, messaging channel tokens) are
columns of `EncryptedTextField`: the database, its backups and anyone reading them with SQL see
only a Fernet token; the model attribute is the plain value. The keys come from the environment
(DESKPILOT_SECRETS_KEYS, comma-separated Fernet keys): the first encrypts, every one decrypts, so a
key is rotated by putting a new one first, running `manage.py secrets_reencrypt`, then dropping the
old one (docs/operations.md).

Fernet tokens are randomised, so an encrypted column cannot be searched by value: only the empty
string is stored as itself, so "is a secret set" stays a plain comparison (and a constraint).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

# Marks a stored value as a token of ours: a value without it is plaintext from before encryption.
PREFIX = "fernet:"
MASK_SHOWN_TAIL = 4
MASK_SHOWN_HEAD = 3
MASK_MIN_LENGTH = 16


class SecretUnreadable(Exception):
    """A stored secret none of the configured keys can decrypt (a key was dropped too early)."""


@functools.lru_cache(maxsize=4)
def _box_for(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("DESKPILOT_SECRETS_KEYS is empty: tenants' secrets cannot be stored.")
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as error:
        raise ImproperlyConfigured("DESKPILOT_SECRETS_KEYS holds a value that is not a Fernet key "
                                   "(32 url-safe base64-encoded bytes).") from error


def _box() -> MultiFernet:
    return _box_for(tuple(key.strip() for key in settings.DESKPILOT_SECRETS_KEYS if key.strip()))


def is_encrypted(stored: str) -> bool:
    return stored.startswith(PREFIX)


def secret_encrypt(plain: str) -> str:
    """The value to store for `plain`, encrypted with the first key ("" stays "")."""
    if not plain:
        return ""
    return PREFIX + _box().encrypt(plain.encode()).decode()


def secret_decrypt(stored: str | None) -> str:
    """The plain value of a stored secret (plaintext from before encryption is returned as is)."""
    if not stored:
        return ""
    if not is_encrypted(stored):
        return stored
    try:
        return _box().decrypt(stored[len(PREFIX):].encode()).decode()
    except InvalidToken as error:
        raise SecretUnreadable("A stored secret cannot be decrypted with any key in DESKPILOT_SECRETS_KEYS.") from error


def secret_masked(plain: str) -> str:
    """Enough of a secret to recognise it ("sk-…abcd"), never enough to use it."""
    if not plain:
        return ""
    if len(plain) < MASK_MIN_LENGTH:
        return "…" + "•" * 8
    return f"{plain[:MASK_SHOWN_HEAD]}…{plain[-MASK_SHOWN_TAIL:]}"


class EncryptedTextField(models.TextField):
    """A text column stored encrypted (see the module's docstring); the attribute is plain text."""

    description = "Text stored encrypted with DESKPILOT_SECRETS_KEYS"

    if TYPE_CHECKING:
        # For type checkers only (Django itself is untyped here): on a model instance the field
        # reads and writes the plain text, as a TextField does.
        def __get__(self, instance: Any, owner: Any) -> Any: ...

        def __set__(self, instance: Any, value: str) -> None: ...

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> str | None:
        return value if value is None else secret_decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        # Always encrypted, even a value that looks like a token: what a tenant types is never
        # taken for ciphertext.
        value = super().get_prep_value(value)
        return secret_encrypt(value) if isinstance(value, str) else value


def column_encrypt_in_place(*, app_label: str, model_name: str, field_name: str, decrypt: bool = False) -> Any:
    """A RunPython function that encrypts the plaintext values of a column (or, with `decrypt`,
    turns its tokens back into plaintext, for the migration's reverse), in the current schema.

    Raw SQL on purpose: the field class would encrypt whatever it is given, in both directions.
    """

    def run(apps: Any, schema_editor: Any) -> None:
        model = apps.get_model(app_label, model_name)
        quote = schema_editor.connection.ops.quote_name
        table, column = quote(model._meta.db_table), quote(model._meta.get_field(field_name).column)
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(f"SELECT id, {column} FROM {table} WHERE {column} <> ''")
            for pk, stored in cursor.fetchall():
                if decrypt and is_encrypted(stored):
                    cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", [secret_decrypt(stored), pk])
                elif not decrypt and not is_encrypted(stored):
                    cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", [secret_encrypt(stored), pk])

    return run


@dataclass
class ReencryptReport:
    written: int = 0
    # Values no configured key can decrypt: left as they are, for the operator to deal with.
    unreadable: list[str] = field(default_factory=list)


def secrets_reencrypt_current_schema() -> ReencryptReport:
    """Every encrypted column's values in the current schema, encrypted again with the first key
    (plaintext left from before encryption too). Safe to run twice."""
    from django.apps import apps
    from django.db import connection

    report = ReencryptReport()
    tables = set(connection.introspection.table_names())
    quote = connection.ops.quote_name
    for model in apps.get_models():
        table = model._meta.db_table
        for column_field in model._meta.concrete_fields:
            if not isinstance(column_field, EncryptedTextField) or table not in tables:
                continue
            column, pk = quote(column_field.column), quote(model._meta.pk.column)
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT {pk}, {column} FROM {quote(table)} WHERE {column} <> ''")
                for row_pk, stored in cursor.fetchall():
                    try:
                        plain = secret_decrypt(stored)
                    except SecretUnreadable:
                        report.unreadable.append(f"{table}.{column_field.column} id={row_pk}")
                        continue
                    cursor.execute(f"UPDATE {quote(table)} SET {column} = %s WHERE {pk} = %s",
                                   [secret_encrypt(plain), row_pk])
                    report.written += 1
    return report
