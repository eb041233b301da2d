"""python manage.py deadletters list|show ID|replay ID|replay --all|purge ID"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.errors import command_errors
from tenants import services
from tenants.selectors import deadletter_list


class Command(BaseCommand):
    help = "Inspect and replay tasks that exhausted their retries."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list")
        listing.add_argument("--all", action="store_true", help="Include letters already replayed.")
        listing.add_argument("--json", action="store_true")
        sub.add_parser("show").add_argument("id", type=int)
        replay = sub.add_parser("replay")
        replay.add_argument("id", type=int, nargs="?")
        replay.add_argument("--all", action="store_true", help="Replay every letter not replayed yet.")
        sub.add_parser("purge").add_argument("id", type=int)

    @command_errors
    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"_{options['action']}")(options)

    def _list(self, options: dict[str, Any]) -> None:
        letters = list(deadletter_list(include_replayed=options["all"]))
        if options["json"]:
            self.stdout.write(json.dumps([
                {"id": letter.pk, "task": letter.task_name, "tenant": letter.schema_name, "queue": letter.queue,
                 "attempts": letter.attempts, "error": letter.error,
                 "first_failed_at": letter.first_failed_at.isoformat(),
                 "last_failed_at": letter.last_failed_at.isoformat(),
                 "replayed_at": letter.replayed_at.isoformat() if letter.replayed_at else None}
                for letter in letters
            ], indent=2))
            return
        if not letters:
            self.stdout.write("No dead letters.")
            return
        self.stdout.write(f"{'ID':>5}  {'TENANT':<16} {'QUEUE':<8} {'TRIES':>5}  {'LAST FAILURE':<20} TASK / ERROR")
        for letter in letters:
            self.stdout.write(
                f"{letter.pk:>5}  {letter.schema_name or '-':<16} {letter.queue:<8} {letter.attempts:>5}  "
                f"{letter.last_failed_at:%Y-%m-%d %H:%M:%S}  {letter.task_name}: {letter.error[:80]}"
            )

    def _show(self, options: dict[str, Any]) -> None:
        letter = services.deadletter_get(letter_id=options["id"])
        for label, value in (
            ("id", letter.pk), ("task", letter.task_name), ("task id", letter.task_id),
            ("tenant", letter.schema_name or "-"), ("queue", letter.queue), ("attempts", letter.attempts),
            ("first failure", letter.first_failed_at.isoformat()), ("last failure", letter.last_failed_at.isoformat()),
            ("replayed", letter.replayed_at.isoformat() if letter.replayed_at else "never"),
            ("args", json.dumps(letter.args)), ("kwargs", json.dumps(letter.kwargs)), ("error", letter.error),
        ):
            self.stdout.write(f"{label:>14}: {value}")
        self.stdout.write("traceback:\n" + letter.traceback)

    def _replay(self, options: dict[str, Any]) -> None:
        if options["all"] == (options["id"] is not None):
            raise CommandError("Give either one dead-letter ID or --all.")
        ids = [options["id"]] if options["id"] is not None else list(
            deadletter_list().values_list("pk", flat=True)
        )
        for letter_id in ids:
            task_id = services.deadletter_replay(letter_id=letter_id)
            self.stdout.write(f"Replayed dead letter {letter_id} as task {task_id}.")
        if not ids:
            self.stdout.write("Nothing to replay.")

    def _purge(self, options: dict[str, Any]) -> None:
        services.deadletter_purge(letter_id=options["id"])
        self.stdout.write(f"Purged dead letter {options['id']}.")
