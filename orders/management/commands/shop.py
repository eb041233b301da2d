"""python manage.py shop secret --tenant SLUG --platform shopify|woocommerce --set VALUE | --clear"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django_tenants.utils import schema_context

from config.errors import command_errors
from config.secrets_at_rest import secret_masked
from orders.management.commands._tenant import tenant_schema
from orders.models import Platform, ShopConnection
from orders.services.catalog import shop_secret_clear, shop_secret_set


class Command(BaseCommand):
    help = "Manage a tenant's shop connections: the secret its Shopify or WooCommerce webhooks are signed with."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        secret = sub.add_parser("secret", help="Set, clear or check a platform's webhook secret.")
        secret.add_argument("--tenant", required=True, help="The tenant's slug.")
        secret.add_argument("--platform", required=True, choices=[Platform.SHOPIFY, Platform.WOOCOMMERCE])
        action = secret.add_mutually_exclusive_group()
        action.add_argument("--set", dest="value", help="The secret from the shop's webhook settings.")
        action.add_argument("--clear", action="store_true", help="Remove it: webhooks are refused (401).")

    @command_errors
    def handle(self, *args: Any, **options: Any) -> None:
        schema = tenant_schema(options["tenant"])
        platform = options["platform"]
        with schema_context(schema):
            if options["value"] is not None:
                shop_secret_set(platform=platform, secret=options["value"])
                self.stdout.write(f"{platform} webhook secret set for {schema}.")
            elif options["clear"]:
                cleared = shop_secret_clear(platform=platform)
                self.stdout.write(f"{platform} webhook secret {'removed' if cleared else 'was not set'} for {schema}.")
            else:
                connection = ShopConnection.objects.filter(platform=platform).first()
                # Enough to recognise the secret, never the secret: a terminal's scrollback is not a vault.
                state = f"set ({secret_masked(connection.webhook_secret)})" if connection else "not set"
                self.stdout.write(f"{platform} webhook secret is {state} for {schema}.")
