"""python manage.py customers export|erase --tenant SLUG --contact ID

    customers export --tenant SLUG --contact ID [--output FILE]   one customer's data as JSON
    customers erase --tenant SLUG --contact ID --confirm ID       delete them and everything they wrote
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import schema_context

from chat.conversations import customer_data
from config.errors import command_errors
from tenants.services import tenant_get


class Command(BaseCommand):
    help = "A customer's data rights: a copy of their data, or its erasure."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        export = sub.add_parser("export", help="Write one customer's data as JSON.")
        erase = sub.add_parser("erase", help="Delete one customer and everything they wrote, for good.")
        for action in (export, erase):
            action.add_argument("--tenant", required=True, help="The tenant's slug.")
            action.add_argument("--contact", required=True, type=int, help="The customer's id (the inbox shows it).")
        export.add_argument("--output", type=Path, help="A file to write (default: standard output).")
        erase.add_argument("--confirm", type=int, help="The customer's id again (asked for when missing).")

    @command_errors
    def handle(self, *args: Any, **options: Any) -> None:
        schema = tenant_get(slug=options["tenant"]).schema_name
        with schema_context(schema):
            getattr(self, f"_{options['action']}")(options)

    def _export(self, options: dict[str, Any]) -> None:
        document = json.dumps(customer_data.customer_data_export(contact_id=options["contact"]), indent=2,
                              ensure_ascii=False)
        if options["output"] is None:
            self.stdout.write(document)
            return
        options["output"].write_text(document + "\n")
        self.stdout.write(self.style.SUCCESS(f"Customer {options['contact']}'s data written to {options['output']}."))

    def _erase(self, options: dict[str, Any]) -> None:
        confirm = options["confirm"]
        if confirm is None:
            answer = input(f"Erase customer {options['contact']} and all their conversations? Type the id: ").strip()
            confirm = int(answer) if answer.isdigit() else None
        if confirm != options["contact"]:
            raise CommandError("Not confirmed: nothing was erased.")
        erased = customer_data.customer_data_erase(contact_id=options["contact"])
        self.stdout.write(self.style.SUCCESS(
            f"Customer {erased.contact_id} erased: {erased.conversations} conversations, {erased.messages} messages."))
