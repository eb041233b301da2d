"""python manage.py api_keys create|list|revoke --tenant SLUG

    api_keys create --tenant SLUG --name NAME [--scopes read,conversations]   prints the key once
    api_keys list --tenant SLUG
    api_keys revoke --tenant SLUG KEY_ID
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django_tenants.utils import schema_context

from chat.api.models import ApiKey, Scope
from chat.api.selectors import api_key_list
from chat.api.services import api_key_create, api_key_revoke, api_key_scopes_parse
from config.errors import command_errors
from tenants.services import tenant_get


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "never"


class Command(BaseCommand):
    help = "Create, list and revoke a tenant's API keys."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a key and print it (it is shown this once only).")
        create.add_argument("--tenant", required=True, help="The tenant's slug (schema name).")
        create.add_argument("--name", required=True, help="What the key is for, to tell it apart later.")
        create.add_argument("--scopes", help=f"Comma-separated, of {','.join(Scope.values)}; default all.")
        listing = sub.add_parser("list", help="The tenant's keys, with when each was last used.")
        listing.add_argument("--tenant", required=True, help="The tenant's slug (schema name).")
        revoke = sub.add_parser("revoke", help="Revoke a key: it stops working at once.")
        revoke.add_argument("--tenant", required=True, help="The tenant's slug (schema name).")
        revoke.add_argument("key_id", help="The key's id, as `api_keys list` shows it.")

    @command_errors
    def handle(self, *args: Any, **options: Any) -> None:
        slug = options["tenant"]
        tenant_get(slug=slug)
        with schema_context(slug):
            getattr(self, f"_{options['action']}")(options)

    def _create(self, options: dict[str, Any]) -> None:
        scopes = api_key_scopes_parse(text=options["scopes"]) if options["scopes"] is not None else None
        created = api_key_create(name=options["name"], scopes=scopes)
        self.stdout.write(created.key)
        self.stderr.write(f"Created API key {created.api_key.key_id} ({created.api_key.name}) with scopes "
                          f"{','.join(created.api_key.scopes)}. The key above is shown only now: store it safely.")

    def _list(self, options: dict[str, Any]) -> None:
        keys: list[ApiKey] = list(api_key_list())
        if not keys:
            self.stdout.write("No API keys.")
            return
        self.stdout.write(f"{'ID':<18}{'NAME':<30}{'SCOPES':<50}{'CREATED':<22}{'LAST USED':<22}STATUS")
        for key in keys:
            status = f"revoked {_when(key.revoked_at)}" if key.is_revoked else "active"
            self.stdout.write(f"{key.key_id:<18}{key.name[:28]:<30}{','.join(key.scopes):<50}"
                              f"{_when(key.created_at):<22}{_when(key.last_used_at):<22}{status}")

    def _revoke(self, options: dict[str, Any]) -> None:
        key = api_key_revoke(key_id=options["key_id"])
        self.stdout.write(f"Revoked API key {key.key_id} ({key.name}).")
