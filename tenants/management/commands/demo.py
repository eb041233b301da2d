"""python manage.py demo load|logins"""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from tenants.demo import demo_load, demo_logins


class Command(BaseCommand):
    help = "Load the demo tenants (each once: later edits are kept) or print their URLs and logins."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("load")
        sub.add_parser("logins").add_argument("--port", default="8000")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "load":
            created = demo_load()
            self.stdout.write("Demo: " + (", ".join(created) if created else "already loaded; the demo businesses' own edits are kept."))
            return
        self.stdout.write("\n" + "=" * 72)
        self.stdout.write("Deskpilot is running. Open these in a browser:")
        for line in demo_logins(options["port"]):
            self.stdout.write("  " + line)
        self.stdout.write("Press Ctrl-C to stop.")
        self.stdout.write("=" * 72 + "\n")
