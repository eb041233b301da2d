"""python manage.py tenants create|list|suspend|resume|delete|export|import|backup|restore"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from config.errors import command_errors
from tenants import backups, deletion, portability, services
from tenants.models import Tenant
from tenants.selectors import tenant_list


class Command(BaseCommand):
    help = "Create, list, suspend, resume, delete, export, import, back up and restore tenants."

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
        delete = sub.add_parser("delete", help="Suspend a tenant now and purge it after the grace period.")
        delete.add_argument("slug")
        delete.add_argument("--confirm", help="The slug again (asked for when missing).")
        delete.add_argument("--cancel", action="store_true", help="Cancel a scheduled deletion.")
        export = sub.add_parser("export", help="Write the tenant's data as a portable archive.")
        export.add_argument("slug")
        export.add_argument("--output", required=True, type=Path)
        load = sub.add_parser("import", help="Load an export archive into a new tenant.")
        load.add_argument("file", type=Path)
        load.add_argument("--slug", required=True)
        load.add_argument("--domain", required=True)
        backup = sub.add_parser("backup", help="Back up the tenant's schema with pg_dump.")
        backup.add_argument("slug")
        backup.add_argument("--output", required=True, type=Path)
        restore = sub.add_parser("restore", help="Restore a backup as a new tenant.")
        restore.add_argument("file", type=Path)
        restore.add_argument("--slug", required=True)
        restore.add_argument("--domain", required=True)

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

    def _delete(self, options: dict[str, Any]) -> None:
        slug = options["slug"]
        if options["cancel"]:
            deletion.tenant_delete_cancel(slug=slug)
            self.stdout.write(self.style.SUCCESS(f"Deletion of '{slug}' cancelled; the tenant is active again."))
            return
        confirm = options.get("confirm")
        if confirm is None:
            confirm = input(f"This suspends '{slug}' now and deletes all its data after the grace period. "
                            "Type the slug to confirm: ").strip()
        scheduled = deletion.tenant_delete_request(slug=slug, confirm=confirm)
        self.stdout.write(self.style.WARNING(
            f"Tenant '{slug}' is suspended and will be deleted after {scheduled.purge_after:%Y-%m-%d %H:%M} UTC. "
            f"Until then `manage.py tenants delete {slug} --cancel` brings it back."))

    def _export(self, options: dict[str, Any]) -> None:
        summary = portability.tenant_export(slug=options["slug"], output=options["output"])
        rows = sum(summary.row_counts.values())
        self.stdout.write(self.style.SUCCESS(
            f"Exported '{summary.slug}' to {options['output']}: {rows} rows in {len(summary.row_counts)} tables, "
            f"{summary.files} files."))

    def _import(self, options: dict[str, Any]) -> None:
        created = portability.tenant_import(archive=options["file"], slug=options["slug"], domain=options["domain"])
        self.stdout.write(self.style.SUCCESS(
            f"Imported {options['file']} as tenant '{created.tenant.schema_name}' at {created.domain.domain}."))

    def _backup(self, options: dict[str, Any]) -> None:
        manifest = backups.tenant_backup(slug=options["slug"], output=options["output"])
        self.stdout.write(self.style.SUCCESS(
            f"Backed up '{manifest.slug}' to {options['output']}: {sum(manifest.row_counts.values())} rows "
            f"in {len(manifest.row_counts)} tables, sha256 {manifest.sha256[:16]}."))

    def _restore(self, options: dict[str, Any]) -> None:
        tenant = backups.tenant_restore(archive=options["file"], slug=options["slug"], domain=options["domain"])
        self.stdout.write(self.style.SUCCESS(
            f"Restored {options['file']} as tenant '{tenant.schema_name}' at {options['domain']}."))
