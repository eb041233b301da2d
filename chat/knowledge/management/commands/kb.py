"""python manage.py kb import|reindex|search|eval|status --tenant SLUG

    kb import PATH [--background]          a file or folder; FAQ CSVs, pages, PDF/DOCX/HTML/TXT/MD
    kb import --url URL [--background]     a web page
    kb reindex [--all-tenants] [--background]
    kb search "QUERY" [--k 5] [--json]     or --queries-file FILE: one JSON object per line
    kb eval FILE.csv [--k 5] [--show-misses]   header query,expected (the right source's title)
    kb status [--json]
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import get_public_schema_name, schema_context

from config.errors import command_errors


class Command(BaseCommand):
    help = "Import, index, search and evaluate a tenant's knowledge base."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)

        def with_tenant(command: CommandParser, required: bool = True) -> CommandParser:
            command.add_argument("--tenant", required=required, help="The tenant's slug (schema name).")
            return command

        importing = with_tenant(sub.add_parser("import", help="Import a file, a folder or a web page."))
        importing.add_argument("path", nargs="?", help="A file or a folder.")
        importing.add_argument("--url", help="A web page to import instead of a path.")
        importing.add_argument("--background", action="store_true", help="Hand indexing to the workers.")

        reindex = with_tenant(sub.add_parser("reindex", help="Re-chunk and re-embed every source."), required=False)
        reindex.add_argument("--all-tenants", action="store_true")
        reindex.add_argument("--background", action="store_true", help="Run on the workers (queue low).")

        search = with_tenant(sub.add_parser("search", help="Search like the assistant does."))
        search.add_argument("query", nargs="?")
        search.add_argument("--k", type=int, default=5)
        search.add_argument("--json", action="store_true")
        search.add_argument("--mode", choices=["hybrid", "vector", "text"], default="hybrid")
        search.add_argument("--queries-file", help="One query per line; prints one JSON object per line.")

        evaluate = with_tenant(sub.add_parser("eval", help="Top-1, top-3 and MRR on a labelled CSV."))
        evaluate.add_argument("file")
        evaluate.add_argument("--k", type=int, default=5)
        evaluate.add_argument("--mode", choices=["hybrid", "vector", "text"], default="hybrid")
        evaluate.add_argument("--show-misses", action="store_true")
        evaluate.add_argument("--json", action="store_true")

        status = with_tenant(sub.add_parser("status", help="Sources by status, failures and bulk jobs."))
        status.add_argument("--json", action="store_true")

    @command_errors
    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "reindex" and options["all_tenants"]:
            self._reindex_all(options)
            return
        slug = options.get("tenant")
        if not slug:
            raise CommandError("--tenant SLUG is required (or --all-tenants).")
        self._require_tenant(slug)
        with schema_context(slug):
            getattr(self, f"_{action}")(options)

    # ----------------------------------------------------------------------------- helpers

    def _require_tenant(self, slug: str) -> None:
        from tenants.services import tenant_get

        tenant_get(slug=slug)

    def _progress(self, label: str) -> Any:
        started = time.monotonic()

        def report(done: int, total: int) -> None:
            width = 30
            filled = int(width * done / total) if total else width
            elapsed = time.monotonic() - started
            self.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {elapsed:.0f}s",
                              ending="\n" if done >= total else "")
            self.stderr.flush()

        return report

    # ----------------------------------------------------------------------------- import

    def _import(self, options: dict[str, Any]) -> None:
        from chat.knowledge import services
        from chat.knowledge.models import IndexingJob

        if bool(options["path"]) == bool(options["url"]):
            raise CommandError("Give either a PATH or --url URL.")
        if options["url"]:
            report = services.url_import(url=options["url"])
        else:
            report = services.kb_import_path(path=Path(options["path"]))
        for name, message in report.errors:
            self.stderr.write(self.style.ERROR(f"✗ {name}: {message}"))
        summary = (f"{report.count('created')} new, {report.count('updated')} changed, "
                   f"{report.count('unchanged')} unchanged, {report.count('removed')} removed, "
                   f"{len(report.errors)} refused")
        job = services.job_start(kind=str(IndexingJob.Kind.IMPORT), source_ids=report.to_index,
                                 description=options["path"] or options["url"])
        if options["background"]:
            services.sources_index_in_background(source_ids=report.to_index, job_id=job.pk)
            self.stdout.write(f"Imported: {summary}. Indexing {len(report.to_index)} sources on the workers "
                              f"(job {job.pk}; `kb status` shows progress).")
            return
        if report.to_index:
            services.sources_index_now(source_ids=report.to_index, job_id=job.pk,
                                       on_progress=self._progress("Indexing"))
        job.refresh_from_db()
        self.stdout.write(self.style.SUCCESS(f"Imported: {summary}. Indexed {job.done}, failed {job.failed}."))
        self._print_failures(report.to_index)
        if report.errors or job.failed:
            raise CommandError(f"{len(report.errors) + job.failed} item(s) could not be imported.")

    def _print_failures(self, source_ids: list[int]) -> None:
        from chat.knowledge.models import KnowledgeSource

        for source in KnowledgeSource.objects.filter(pk__in=source_ids, status=KnowledgeSource.Status.FAILED):
            self.stderr.write(self.style.ERROR(f"✗ {source.filename or source.url or source.title}: {source.error}"))

    # ----------------------------------------------------------------------------- reindex

    def _reindex(self, options: dict[str, Any]) -> None:
        from chat.knowledge import services

        job = services.kb_reindex(background=options["background"],
                                  on_progress=None if options["background"] else self._progress("Re-indexing"))
        if options["background"]:
            self.stdout.write(f"Re-indexing {job.total} sources on the workers (job {job.pk}).")
        else:
            self.stdout.write(self.style.SUCCESS(f"Re-indexed {job.done} sources, {job.failed} failed."))

    def _reindex_all(self, options: dict[str, Any]) -> None:
        from tenants.selectors import active_tenant_schemas

        with schema_context(get_public_schema_name()):
            schemas = active_tenant_schemas()
        if options["background"]:
            from tenants.tasks import dispatch_to_active_tenants

            count = dispatch_to_active_tenants("chat.knowledge.tasks.kb_reindex_all")
            self.stdout.write(f"Re-indexing queued for {count} tenants (queue low).")
            return
        for schema in schemas:
            self.stdout.write(f"{schema}:")
            with schema_context(schema):
                self._reindex({**options, "background": False})

    # ----------------------------------------------------------------------------- search

    def _search(self, options: dict[str, Any]) -> None:
        from chat.knowledge.selectors import kb_search

        if options["queries_file"]:
            with open(options["queries_file"], encoding="utf-8") as handle:
                for line in handle:
                    query = line.rstrip("\n")
                    if not query.strip():
                        continue
                    results = kb_search(query=query, k=options["k"], mode=options["mode"])
                    self.stdout.write(json.dumps({"query": query, "results": [
                        {"source_id": r.source_id, "title": r.title, "score": r.score} for r in results
                    ]}, ensure_ascii=False))
            return
        if not options["query"]:
            raise CommandError("Give a QUERY or --queries-file FILE.")
        results = kb_search(query=options["query"], k=options["k"], mode=options["mode"])
        if options["json"]:
            self.stdout.write(json.dumps({"query": options["query"], "results": [
                {"source_id": r.source_id, "chunk_id": r.chunk_id, "title": r.title, "score": r.score,
                 "kind": r.kind, "url": r.url, "snippet": r.snippet} for r in results
            ]}, ensure_ascii=False, indent=2))
            return
        if not results:
            self.stdout.write("No results.")
        for position, result in enumerate(results, start=1):
            self.stdout.write(f"{position}. [{result.score:.2f}] {result.title} ({result.kind} #{result.source_id})")
            self.stdout.write(f"   {result.snippet}")

    # ----------------------------------------------------------------------------- eval

    def _eval(self, options: dict[str, Any]) -> None:
        from chat.knowledge.evaluation import evaluate_queries

        with open(options["file"], encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or not {"query", "expected"} <= {name.strip() for name in reader.fieldnames}:
                raise CommandError(f"{options['file']}: the header must be query,expected.")
            cases = [(row["query"], row["expected"]) for row in reader if (row.get("query") or "").strip()]
        summary = evaluate_queries(cases=cases, k=options["k"], mode=options["mode"])
        if options["json"]:
            self.stdout.write(json.dumps(summary.as_dict(), ensure_ascii=False))
        else:
            self.stdout.write(f"queries {summary.answerable}  top-1 {summary.top1:.3f}  top-3 {summary.top3:.3f}  "
                              f"MRR {summary.mrr:.3f}")
            if summary.unanswerable:
                self.stdout.write(f"out-of-scope queries {summary.unanswerable}: correctly below the threshold "
                                  f"{summary.abstain_rate:.3f}; answerable queries above it {summary.answer_rate:.3f}")
        if options["show_misses"]:
            for miss in summary.misses:
                found = miss.found[0] if miss.found else "(nothing)"
                rank = f"rank {miss.rank}" if miss.rank else "not in results"
                self.stdout.write(f"MISS {miss.query!r}: expected {miss.expected!r} ({rank}); got {found!r}")

    # ----------------------------------------------------------------------------- status

    def _status(self, options: dict[str, Any]) -> None:
        from chat.knowledge.embeddings import current_model_id
        from chat.knowledge.models import IndexingJob
        from chat.knowledge.selectors import (
            kb_embedding_failures,
            kb_failed_sources,
            kb_status_counts,
            search_embedding,
        )
        from orders.discovery import product_embedding_status

        counts = kb_status_counts()
        products = product_embedding_status(model_id=current_model_id())
        jobs = list(IndexingJob.objects.all()[:5])
        failures = kb_failed_sources()
        embedding = kb_embedding_failures()
        search_config = search_embedding()
        searched_with = search_config.model_id if search_config is not None else "no model (full text only)"
        if options["json"]:
            self.stdout.write(json.dumps({
                "sources": counts.__dict__,
                "search_model": searched_with,
                "products": products.as_dict(),
                "embedding_failures": {"count": embedding.count, "last_error": embedding.last_error,
                                       "last_at": embedding.last_at, "model": embedding.model},
                "failed": [{"source_id": s.pk, "title": s.title, "error": s.error} for s in failures],
                "jobs": [{"id": j.pk, "kind": j.kind, "status": j.status, "total": j.total, "done": j.done,
                          "failed": j.failed} for j in jobs],
            }))
            return
        self.stdout.write(f"Sources: {counts.ready} ready, {counts.pending} pending, {counts.indexing} indexing, "
                          f"{counts.failed} failed")
        for source in failures:
            self.stdout.write(f"  ✗ #{source.pk} {source.title}: {source.error}")
        for job in jobs:
            self.stdout.write(f"Job {job.pk} {job.kind}: {job.done + job.failed}/{job.total} "
                              f"({job.failed} failed) {job.get_status_display().lower()}")
        self.stdout.write(f"Product vectors: {products.embedded}/{products.total} embedded with {products.model_id}"
                          + (f", {products.pending} waiting" if products.pending else ""))
        self.stdout.write(f"Questions are embedded with {searched_with}.")
        if embedding.count:
            self.stdout.write(f"Questions searched by full text only because embedding failed: {embedding.count} "
                              f"(last: {embedding.last_error})")
