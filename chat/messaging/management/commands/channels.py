"""python manage.py channels connect whatsapp|telegram --tenant SLUG ... | list [--tenant SLUG] |
disconnect --tenant SLUG CHANNEL_ID

Credentials are checked with the platform before anything is saved. A secret given as "-" is read
from standard input, so it stays out of the shell's history and the process list.
"""

from __future__ import annotations

import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django_tenants.utils import get_public_schema_name, schema_context

from chat.messaging import selectors, services
from chat.messaging.models import Platform
from config.errors import command_errors
from tenants.models import Domain, Tenant


def _tenant_schema(slug: str) -> str:
    connection.set_schema_to_public()
    tenant = Tenant.objects.filter(schema_name=slug).exclude(schema_name=get_public_schema_name()).first()
    if tenant is None:
        raise CommandError(f"There is no tenant '{slug}'.")
    return tenant.schema_name


def _webhook_base(slug: str, given: str | None) -> str:
    if given:
        return given
    if settings.MESSAGING_WEBHOOK_BASE_URL:
        return settings.MESSAGING_WEBHOOK_BASE_URL
    domain = Domain.objects.filter(tenant__schema_name=slug).order_by("-is_primary", "domain").first()
    if domain is None:
        raise CommandError(f"Tenant '{slug}' has no domain: pass --webhook-base-url.")
    return f"https://{domain.domain}"


def _secret(value: str) -> str:
    return sys.stdin.readline().strip() if value == "-" else value


class Command(BaseCommand):
    help = "Connect, list and disconnect a tenant's WhatsApp numbers and Telegram bots."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        connect = sub.add_parser("connect", help="Connect a WhatsApp number or a Telegram bot (checked first).")
        connect.add_argument("platform", choices=[Platform.WHATSAPP, Platform.TELEGRAM])
        connect.add_argument("--tenant", required=True, help="The tenant's slug.")
        connect.add_argument("--phone-number-id", help="WhatsApp: the phone number id (WhatsApp Manager, API setup).")
        connect.add_argument("--business-account-id", help="WhatsApp: the WhatsApp business account id.")
        connect.add_argument("--access-token", help="WhatsApp: a system user's access token ('-': read stdin).")
        connect.add_argument("--app-secret", help="WhatsApp: the Meta app's secret, which signs webhooks ('-': stdin).")
        connect.add_argument("--template", default="", help="WhatsApp: template sent outside the 24-hour window.")
        connect.add_argument("--template-language", default="en_US")
        connect.add_argument("--bot-token", help="Telegram: the bot's token from @BotFather ('-': read stdin).")
        connect.add_argument("--webhook-base-url", help="Telegram: https address the webhook is set to "
                                                        "(default: MESSAGING_WEBHOOK_BASE_URL, else the tenant's domain).")
        listing = sub.add_parser("list", help="Every channel of one tenant, or of all.")
        listing.add_argument("--tenant", help="The tenant's slug (default: every tenant).")
        disconnect = sub.add_parser("disconnect", help="Stop a channel and forget its credentials.")
        disconnect.add_argument("channel_id", type=int)
        disconnect.add_argument("--tenant", required=True)

    @command_errors
    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"_{options['action']}")(options)

    def _connect(self, options: dict[str, Any]) -> None:
        slug = options["tenant"]
        schema = _tenant_schema(slug)
        if options["platform"] == Platform.WHATSAPP:
            missing = [name for name in ("phone_number_id", "business_account_id", "access_token", "app_secret")
                       if not options[name]]
            if missing:
                raise CommandError("WhatsApp needs " + ", ".join(f"--{m.replace('_', '-')}" for m in missing) + ".")
            with schema_context(schema):
                channel = services.channel_whatsapp_connect(
                    phone_number_id=options["phone_number_id"], business_account_id=options["business_account_id"],
                    access_token=_secret(options["access_token"]), app_secret=_secret(options["app_secret"]),
                    template_name=options["template"], template_language=options["template_language"])
            base = _webhook_base(slug, options["webhook_base_url"])
            self.stdout.write(f"Connected WhatsApp {channel.name} as channel {channel.pk} of {schema}.\n"
                              f"In the Meta app's WhatsApp webhook settings, set:\n"
                              f"  Callback URL: {services.webhook_url(base_url=base, platform=Platform.WHATSAPP, channel_id=channel.pk)}\n"
                              f"  Verify token: {channel.verify_token}\n"
                              f"and subscribe to the 'messages' field.")
            return
        if not options["bot_token"]:
            raise CommandError("Telegram needs --bot-token.")
        base = _webhook_base(slug, options["webhook_base_url"])
        with schema_context(schema):
            channel = services.channel_telegram_connect(bot_token=_secret(options["bot_token"]), webhook_base_url=base)
        self.stdout.write(f"Connected Telegram {channel.name} as channel {channel.pk} of {schema}; its webhook "
                          f"is {services.webhook_url(base_url=base, platform=Platform.TELEGRAM, channel_id=channel.pk)}")

    def _list(self, options: dict[str, Any]) -> None:
        if options["tenant"]:
            schemas = [_tenant_schema(options["tenant"])]
        else:
            connection.set_schema_to_public()
            schemas = list(Tenant.objects.exclude(schema_name=get_public_schema_name())
                           .order_by("schema_name").values_list("schema_name", flat=True))
        self.stdout.write("tenant\tid\tplatform\tname\tstate\tlast inbound\tlast outbound\tsignature failures\t"
                          "delivery failures")
        for schema in schemas:
            with schema_context(schema):
                for channel in selectors.channel_list():
                    self.stdout.write("\t".join(str(value) for value in (
                        schema, channel.pk, channel.platform, channel.name,
                        "connected" if channel.connected else "disconnected",
                        channel.last_inbound_at.isoformat() if channel.last_inbound_at else "-",
                        channel.last_outbound_at.isoformat() if channel.last_outbound_at else "-",
                        channel.signature_failures, channel.delivery_failures)))

    def _disconnect(self, options: dict[str, Any]) -> None:
        schema = _tenant_schema(options["tenant"])
        with schema_context(schema):
            channel = services.channel_disconnect(channel_id=options["channel_id"])
        self.stdout.write(f"Disconnected {channel} (channel {channel.pk} of {schema}).")
