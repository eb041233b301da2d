"""python manage.py tenants create|list|suspend|resume"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from config.errors import command_errors
from tenants import services
from tenants.models import Tenant
from tenants.selectors import tenant_list


class Command(BaseCommand):
    help = "Create, list, suspend and resume tenants."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a tenant with its schema and domain.")
        create.add_argument("--slug", required=True, help="Schema name: lower-case letters, digits, underscores.")
        create.add_argument("--name", required=True)
        create.add_argument("--domain", required=True)
        create.add_argument("--owner-email", dest="owner_email")
        create.add_argument("--plan", dest="plan")
        create.add_argument("--timezone", default="UTC")
        listing = sub.add_parser("list", help="List tenants.")
        listing.add_argument("--json", action="store_true")
        for action in ("suspend", "resume"):
            sub.add_parser(action).add_argument("slug")

    @command_errors
    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"_{options['action']}")(options)

    def _create(self, options: dict[str, Any]) -> None:
        created = services.tenant_create(
            slug=options["slug"],
            name=options["name"],
            domain=options["domain"],
            owner_email=options.get("owner_email"),
            plan_code=options.get("plan"),
            timezone_name=options["timezone"],
        )
        self.stdout.write(self.style.SUCCESS(f"Created tenant '{created.tenant.schema_name}' at {created.domain.domain}"))
        if created.owner_email:
            self.stdout.write(f"Owner login: {created.owner_email} / {created.owner_password}")

    def _list(self, options: dict[str, Any]) -> None:
        rows = tenant_list()
        if options["json"]:
            self.stdout.write(json.dumps([
                {**row.__dict__, "created": row.created.isoformat()} for row in rows
            ], indent=2))
            return
        if not rows:
            self.stdout.write("No tenants yet.")
            return
        self.stdout.write(f"{'SLUG':<20} {'STATUS':<10} {'PLAN':<10} {'MSGS/MONTH':>10}  {'DOMAINS':<30} NAME")
        for row in rows:
            self.stdout.write(
                f"{row.slug:<20} {row.status:<10} {row.plan:<10} {row.messages_this_month:>10}  "
                f"{', '.join(row.domains):<30} {row.name}"
            )

    def _suspend(self, options: dict[str, Any]) -> None:
        services.tenant_set_status(slug=options["slug"], status=Tenant.Status.SUSPENDED)
        self.stdout.write(self.style.SUCCESS(f"Tenant '{options['slug']}' suspended."))

    def _resume(self, options: dict[str, Any]) -> None:
        services.tenant_set_status(slug=options["slug"], status=Tenant.Status.ACTIVE)
        self.stdout.write(self.style.SUCCESS(f"Tenant '{options['slug']}' resumed."))
