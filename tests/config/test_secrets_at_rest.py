"""Secrets at rest: the column holds a token, keys rotate without losing a secret, old rows are encrypted."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection
from django_tenants.utils import schema_context

from chat.conversations.models import BusinessProfile
from config.secrets_at_rest import SecretUnreadable, secret_decrypt, secret_encrypt, secret_masked
from orders.models import ShopConnection
from orders.services.catalog import shop_secret_set

KEY = "sk-live-a-tenants-own-key-7788"


def column(schema: str, table: str, name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT "{name}" FROM "{schema}"."{table}"')
        return str(cursor.fetchone()[0])


def only(schemas: list[str]) -> list[str]:
    # The session's other tenants keep the test key: the command is run for this test's tenants.
    return [argument for schema in schemas for argument in ("--tenant", schema)]


def test_a_key_rotation_re_encrypts_every_tenants_secrets_and_then_the_old_key_can_go(
        make_tenant: Any, settings: Any, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.DESKPILOT_SECRETS_KEYS = [old]
    schemas = [make_tenant().tenant.schema_name for _ in range(2)]
    for schema in schemas:
        with schema_context(schema):
            BusinessProfile.objects.update_or_create(pk=1, defaults={"name": "Shop", "llm_api_key": KEY})
            shop_secret_set(platform="shopify", secret="shpss_rotating_secret_123")
    before = column(schemas[0], "chat_businessprofile", "llm_api_key")

    settings.DESKPILOT_SECRETS_KEYS = [new, old]  # step 1: the new key first, the old one still there
    call_command("secrets_reencrypt", *only(schemas))  # step 2
    settings.DESKPILOT_SECRETS_KEYS = [new]  # step 3: the old key is gone

    for schema in schemas:
        with schema_context(schema):
            assert BusinessProfile.objects.get().llm_api_key == KEY
            assert secret_masked(BusinessProfile.objects.get().llm_api_key) == "sk-…7788"
        assert column(schema, "orders_shopconnection", "webhook_secret").startswith("fernet:")
    assert column(schemas[0], "chat_businessprofile", "llm_api_key") != before
    assert "Every stored secret is encrypted with the first key." in capsys.readouterr().out

    # A key dropped too early: the command names what it cannot read and leaves it as it is.
    settings.DESKPILOT_SECRETS_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(SecretUnreadable):
        secret_decrypt(before)
    with pytest.raises(CommandError, match=f"{schemas[0]}: chat_businessprofile.llm_api_key id=1"):
        call_command("secrets_reencrypt", *only(schemas))
    settings.DESKPILOT_SECRETS_KEYS = [new]
    for schema in schemas:  # later tests run with the default key
        with schema_context(schema):
            BusinessProfile.objects.update(llm_api_key="")
            ShopConnection.objects.all().delete()


def test_plaintext_from_before_encryption_is_read_and_encrypted_by_the_next_reencrypt(make_tenant: Any) -> None:
    schema = make_tenant().tenant.schema_name
    with schema_context(schema):
        BusinessProfile.objects.update_or_create(pk=1, defaults={"name": "Shop"})
    with connection.cursor() as cursor:  # as the migration found it: plaintext
        cursor.execute(f'UPDATE "{schema}"."chat_businessprofile" SET llm_api_key = %s', [KEY])
    with schema_context(schema):
        assert BusinessProfile.objects.get().llm_api_key == KEY
    call_command("secrets_reencrypt", *only([schema]))
    assert KEY not in column(schema, "chat_businessprofile", "llm_api_key")
    with schema_context(schema):
        assert BusinessProfile.objects.get().llm_api_key == KEY


def test_what_a_tenant_types_is_always_encrypted_even_if_it_looks_like_a_token() -> None:
    looks_like_a_token = "fernet:not-really"
    assert secret_decrypt(secret_encrypt(looks_like_a_token)) == looks_like_a_token
    assert secret_encrypt("") == "" and secret_decrypt("") == ""
    assert secret_masked("short") == "…••••••••"
