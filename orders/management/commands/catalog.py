"""python manage.py catalog import --tenant SLUG FILE.csv"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import schema_context
from tqdm import tqdm

from config.errors import ApplicationError
from orders.management.commands._tenant import tenant_schema
from orders.services.catalog import catalog_rows_read, catalog_rows_save


class Command(BaseCommand):
    help = "Import a catalog CSV into a tenant (one row per variant; all or nothing). See orders/README.md."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        importer = sub.add_parser("import", help="Import (create or update by SKU) products and variants.")
        importer.add_argument("--tenant", required=True, help="The tenant's slug.")
        importer.add_argument("file", type=Path, help="The CSV file.")
        importer.add_argument("--no-progress", action="store_true", help="Do not draw a progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path} is not a file.")
        schema = tenant_schema(options["tenant"])
        with schema_context(schema), path.open(newline="", encoding="utf-8-sig") as stream:
            try:
                rows = catalog_rows_read(stream=stream)
                with tqdm(total=len(rows), unit="variant", desc="Importing", disable=options["no_progress"],
                          file=self.stderr._out) as bar:
                    result = catalog_rows_save(rows=rows, progress=bar.update)
            except ApplicationError as exc:
                for error in (exc.details or {}).get("errors", [])[:50]:
                    self.stderr.write(f"  line {error['line']}: {error['message']}")
                raise CommandError(exc.message) from exc
            except UnicodeDecodeError as exc:
                raise CommandError(f"{path} is not UTF-8 text: {exc}") from exc
        self.stdout.write(f"Imported {result.products} products with {result.variants} variants into {schema}.")
