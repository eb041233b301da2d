"""python manage.py outbox status|relay [--tenant SLUG]

    outbox status [--tenant SLUG]   per tenant: not queued, under way, overdue, given up, done
    outbox relay --tenant SLUG      send what is owed now, as beat's relay pass would
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import schema_context

from config.outbox.selectors import outbox_counts
from config.outbox.services import outbox_relay
from tenants.selectors import active_tenant_schemas


class Command(BaseCommand):
    help = "What each tenant's outbox still owes (tasks promised by stored changes), and a relay pass by hand."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        status = sub.add_parser("status", help="Counts per tenant (every active tenant by default).")
        status.add_argument("--tenant", help="One tenant's slug (schema name).")
        relay = sub.add_parser("relay", help="Send again what was never queued or is overdue.")
        relay.add_argument("--tenant", required=True, help="The tenant's slug (schema name).")

    def handle(self, *args: Any, **options: Any) -> None:
        schemas = [options["tenant"]] if options.get("tenant") else active_tenant_schemas()
        if options["tenant"] and options["tenant"] not in active_tenant_schemas():
            raise CommandError(f"There is no active tenant '{options['tenant']}'.")
        for schema in schemas:
            with schema_context(schema):
                if options["action"] == "relay":
                    self.stdout.write(f"{schema}: {outbox_relay()} sent")
                    continue
                counts = outbox_counts()
            self.stdout.write(f"{schema}: {counts.not_queued} not queued, {counts.under_way} under way, "
                              f"{counts.overdue} overdue, {counts.given_up} given up, {counts.done} done")
