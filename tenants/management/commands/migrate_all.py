from typing import Any

from django.core.management.base import BaseCommand

from tenants.services import schemas_migrate_all


class Command(BaseCommand):
    help = "Migrate the public schema, the tenant template schema and every tenant schema."

    def handle(self, *args: Any, **options: Any) -> None:
        schemas_migrate_all(verbosity=max(0, options["verbosity"] - 1))
        self.stdout.write(self.style.SUCCESS("All schemas are up to date."))
