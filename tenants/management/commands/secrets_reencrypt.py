"""python manage.py secrets_reencrypt: every tenant's stored secrets, encrypted again with the first
key of DESKPILOT_SECRETS_KEYS (the last step of a key rotation, docs/operations.md)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import get_public_schema_name, schema_context

from config.secrets_at_rest import secrets_reencrypt_current_schema
from tenants.models import Tenant


class Command(BaseCommand):
    help = ("Encrypt every tenant's LLM API key and shop webhook secrets again with the first key of "
            "DESKPILOT_SECRETS_KEYS; run it after putting a new key first, before dropping the old one.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", action="append", default=[], dest="tenants", metavar="SCHEMA",
                            help="Only this tenant (repeatable); every tenant when not given.")

    def handle(self, *args: Any, **options: Any) -> None:
        total, unreadable = 0, []
        schemas = Tenant.objects.exclude(schema_name=get_public_schema_name()).values_list("schema_name", flat=True)
        if options["tenants"]:
            schemas = schemas.filter(schema_name__in=options["tenants"])
            missing = set(options["tenants"]) - set(schemas)
            if missing:
                raise CommandError(f"There is no tenant {', '.join(sorted(missing))}.")
        for schema in schemas.order_by("schema_name"):
            with schema_context(schema):
                report = secrets_reencrypt_current_schema()
            total += report.written
            unreadable += [f"{schema}: {where}" for where in report.unreadable]
            if options["verbosity"] > 1:
                self.stdout.write(f"{schema}: {report.written} secrets")
        self.stdout.write(f"{total} secrets in {len(schemas)} tenants encrypted with the first key.")
        if unreadable:
            # Left untouched: do not drop an old key until this list is empty.
            raise CommandError("No key in DESKPILOT_SECRETS_KEYS decrypts these stored secrets:\n"
                               + "\n".join(unreadable))
        self.stdout.write(self.style.SUCCESS("Every stored secret is encrypted with the first key."))
