"""Every write to the knowledge base: importing sources, indexing them, re-indexing, deleting.

Importing only records what a source is (and refuses what cannot be imported, with the reason);
indexing (extract, chunk, embed, store) runs in the foreground for ops commands and the demo, or on
the workers (`medium` for imports, `low` for bulk re-indexing). A source whose content has not
changed since it was indexed is left alone; a changed one has only its own chunks replaced, and a
chunk whose text is unchanged keeps its vector. Chunks of a source are swapped in one transaction,
so a search sees the old version or the new one, never half of each.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from chat.knowledge import chunking, extraction
from chat.knowledge.embeddings import EmbeddingProvider, embedding_provider
from chat.knowledge.exceptions import (
    ExtractionFailed,
    FetchFailed,
    ImportRejected,
    SourceLimitReached,
    SourceNotFound,
)
from chat.knowledge.models import IndexingJob, IndexingJobItem, KnowledgeChunk, KnowledgeSource
from config.content_version import content_version_bump
from config.errors import ApplicationError
from config.outbox.services import outbox_send_many

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]
SUPPORTED_SUFFIXES = tuple(extraction.EXTENSION_FORMATS)
REEMBED_BATCH = 256
# Sources indexed together in the foreground; their texts are embedded in shared batches.
INDEX_BATCH_SOURCES = 50
# Passages: the target and most characters of each, and how much of the previous one repeats so an
# answer cut at a boundary is still found whole. Sized to the embedding model's input (MiniLM reads
# 256 tokens) and to what the assistant quotes; changing them changes only content indexed later.
CHUNK_TARGET_CHARS = 700
CHUNK_MAX_CHARS = 1000
CHUNK_OVERLAP_CHARS = 150


@dataclass(frozen=True)
class ImportOutcome:
    """What importing did to one source: created, updated, unchanged, or removed."""

    source_id: int
    title: str
    action: str


@dataclass
class ImportReport:
    outcomes: list[ImportOutcome] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (file or item, message)
    to_index: list[int] = field(default_factory=list)
    job_id: int | None = None

    def count(self, action: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.action == action)


# ------------------------------------------------------------------------------------ bookkeeping


def _schema() -> str:
    return str(connection.schema_name)


# The words of some sources' chunks: as written (typo correction) and as full-text lexemes.
_TERM_COUNTS_SQL = """
SELECT 'word', term, count(*)
FROM chat_knowledgechunk, unnest(tsvector_to_array(to_tsvector('simple', text))) AS term
WHERE source_id = ANY(%s) GROUP BY term
UNION ALL
SELECT 'lexeme', term, count(*)
FROM chat_knowledgechunk, unnest(tsvector_to_array(search_vector)) AS term
WHERE source_id = ANY(%s) AND search_vector IS NOT NULL GROUP BY term
"""


def _term_counts(source_ids: list[int]) -> dict[tuple[str, str], int]:
    """How many of these sources' chunks use each word and lexeme."""
    if not source_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(_TERM_COUNTS_SQL, [source_ids, source_ids])
        return {(kind, term): int(count) for kind, term, count in cursor.fetchall()}


def _term_counts_apply(*, before: dict[tuple[str, str], int], after: dict[tuple[str, str], int]) -> None:
    """Move the tenant's term statistics from some sources' old chunks to their new ones.

    One upsert in (kind, term) order, as the last write of its transaction: two transactions
    lock the rows of shared words in the same order and hold nothing else they wait for, so
    concurrent indexing cannot deadlock on them.
    """
    changed = sorted((key, after.get(key, 0) - before.get(key, 0)) for key in before.keys() | after.keys())
    changed = [(key, change) for key, change in changed if change]
    if not changed:
        return
    kinds = [kind for (kind, _term), _change in changed]
    terms = [term for (_kind, term), _change in changed]
    changes = [change for _key, change in changed]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO chat_knowledgeterm AS known (kind, term, chunks) "
            "SELECT kind, term, change FROM unnest(%s::text[], %s::text[], %s::int[]) AS delta(kind, term, change) "
            "ORDER BY kind, term "
            "ON CONFLICT (kind, term) DO UPDATE SET chunks = GREATEST(known.chunks + EXCLUDED.chunks, 0)",
            [kinds, terms, changes],
        )
        if any(change < 0 for change in changes):
            cursor.execute(
                "DELETE FROM chat_knowledgeterm WHERE chunks <= 0 AND (kind, term) IN "
                "(SELECT * FROM unnest(%s::text[], %s::text[]))",
                [kinds, terms],
            )


def term_statistics_rebuild() -> None:
    """Count every word and lexeme of the tenant's chunks again (after chunks were loaded by other
    means than these services, such as the speed benchmark's COPY)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("LOCK TABLE chat_knowledgeterm IN EXCLUSIVE MODE")
        cursor.execute("DELETE FROM chat_knowledgeterm")
        cursor.execute(
            "INSERT INTO chat_knowledgeterm (kind, term, chunks) "
            "SELECT 'word', word, ndoc FROM ts_stat('SELECT to_tsvector(''simple'', text) FROM chat_knowledgechunk') "
            "UNION ALL SELECT 'lexeme', word, ndoc "
            "FROM ts_stat('SELECT search_vector FROM chat_knowledgechunk WHERE search_vector IS NOT NULL')"
        )
        content_version_bump()


@dataclass
class _Removal:
    """What deleting sources leaves to do at the end of the transaction (the last writes, so that
    rows shared with concurrent indexing are locked last): take their words out of the term
    statistics, and count them in the jobs still waiting for them (as done: nothing is left to do)."""

    terms: dict[tuple[str, str], int]
    pending_items: list[int]

    def finish(self) -> None:
        for item_id in self.pending_items:
            _job_item_finish(item_id, failed=False)
        _term_counts_apply(before=self.terms, after={})


def _sources_delete(source_ids: list[int]) -> _Removal:
    """Delete sources with their chunks; call finish() on the result as the transaction's last write."""
    # Locked first: an indexing transaction replacing their chunks finishes before they are counted.
    source_ids = list(KnowledgeSource.objects.select_for_update().filter(pk__in=source_ids).order_by("pk")
                      .values_list("pk", flat=True))
    removal = _Removal(terms=_term_counts(source_ids), pending_items=list(
        IndexingJobItem.objects.filter(source_id__in=source_ids, outcome=IndexingJobItem.Outcome.PENDING)
        .order_by("pk").values_list("pk", flat=True)))
    if KnowledgeSource.objects.filter(pk__in=source_ids).delete()[0]:
        content_version_bump()
    return removal


def _check_source_limit(*, adding: int) -> None:
    from tenants.models import Tenant

    tenant = Tenant.objects.filter(schema_name=_schema()).select_related("plan").first()
    if tenant is None or tenant.plan is None or adding <= 0:
        return
    existing = KnowledgeSource.objects.count()
    if existing + adding > tenant.plan.knowledge_sources:
        raise SourceLimitReached(
            f"The {tenant.plan.name} plan allows {tenant.plan.knowledge_sources} knowledge sources; "
            f"there are {existing} and this import would add {adding}.")


def _upsert(*, key: str, kind: str, content_hash: str, fields: dict[str, object]) -> tuple[KnowledgeSource, str]:
    """Create or update the source with this key; 'unchanged' when it is already indexed as it is."""
    source = KnowledgeSource.objects.filter(key=key).first()
    if source is None:
        source = KnowledgeSource.objects.create(key=key, kind=kind, content_hash=content_hash, **fields)
        content_version_bump()
        return source, "created"
    if (source.content_hash == content_hash and source.indexed_hash == content_hash
            and source.status == KnowledgeSource.Status.READY and kind != KnowledgeSource.Kind.URL):
        return source, "unchanged"
    for name, value in fields.items():
        setattr(source, name, value)
    source.kind = kind
    source.content_hash = content_hash
    source.status = KnowledgeSource.Status.PENDING
    source.error = ""
    source.save()
    content_version_bump()
    return source, "updated"


def _faq_key(question: str) -> str:
    return "faq:" + " ".join(question.lower().split())[:690]


# ---------------------------------------------------------------------------------------- imports


def faq_upsert(*, question: str, answer: str, variants: Iterable[str] = (), origin: str = "") -> ImportOutcome:
    """One FAQ entry; its title is its question."""
    question = " ".join(question.split())
    answer = answer.strip()
    if not question or not answer:
        raise ImportRejected("An FAQ entry needs a question and an answer.", code="kb_bad_faq")
    cleaned = [variant for variant in extraction.split_variants("|".join(variants))
               if variant.lower() != question.lower()]
    key = _faq_key(question)
    if not KnowledgeSource.objects.filter(key=key).exists():
        _check_source_limit(adding=1)
    source, action = _upsert(
        key=key, kind=str(KnowledgeSource.Kind.FAQ),
        content_hash=chunking.content_hash("faq", question, answer, *cleaned),
        fields={"title": question[:500], "question": question, "answer": answer, "variants": cleaned,
                "origin": origin},
    )
    return ImportOutcome(source_id=source.pk, title=source.title, action=action)


@transaction.atomic
def faq_import_csv(*, text: str, name: str, origin: str) -> ImportReport:
    """All rows of an FAQ CSV, or none (any bad line refuses the file, naming the line).

    Entries imported earlier from the same `origin` that the file no longer has are removed.
    """
    rows = extraction.parse_faq_csv(text, name=name)
    new_keys = {_faq_key(row.question) for row in rows}
    existing_keys = set(KnowledgeSource.objects.filter(key__in=new_keys).values_list("key", flat=True))
    removed = KnowledgeSource.objects.filter(kind=str(KnowledgeSource.Kind.FAQ), origin=origin).exclude(key__in=new_keys)
    _check_source_limit(adding=len(new_keys - existing_keys) - removed.count())
    report = ImportReport()
    for gone in removed:
        report.outcomes.append(ImportOutcome(source_id=gone.pk, title=gone.title, action="removed"))
    removal = _sources_delete(list(removed.values_list("pk", flat=True)))
    for row in rows:
        try:
            outcome = faq_upsert(question=row.question, answer=row.answer, variants=row.variants, origin=origin)
        except ApplicationError as exc:
            raise ImportRejected(f"'{name}' line {row.line}: {exc.message}", code=exc.code) from exc
        report.outcomes.append(outcome)
    removal.finish()
    report.to_index = [outcome.source_id for outcome in report.outcomes if outcome.action in ("created", "updated")]
    return report


def page_upsert(*, title: str, text: str, key: str | None = None, document_format: str = "markdown") -> ImportOutcome:
    """A text, Markdown or HTML page given as text (HTML is reduced to text here, never stored)."""
    if document_format not in extraction.TEXT_FORMATS:
        raise ImportRejected(f"Pages are markdown, text or html, not '{document_format}'.", code="kb_bad_page")
    if document_format == "html":
        document = extraction.html_to_text(text)
        text, title = document.text, title or document.title
    text = text.strip()
    title = " ".join(title.split()) or chunking.first_heading(text) or "Untitled page"
    if not text:
        raise ImportRejected(f"The page '{title}' has no text.", code="kb_empty_document")
    key = key or f"page:{title.lower()}"
    if not KnowledgeSource.objects.filter(key=key).exists():
        _check_source_limit(adding=1)
    source, action = _upsert(
        key=key[:700], kind=str(KnowledgeSource.Kind.PAGE), content_hash=chunking.content_hash("page", title, text),
        fields={"title": title[:500], "body": text, "document_format": document_format},
    )
    return ImportOutcome(source_id=source.pk, title=source.title, action=action)


def file_import(*, name: str, data: bytes, origin: str | None = None) -> ImportReport:
    """An uploaded file: an FAQ CSV becomes FAQ entries; a document is stored until it is extracted.

    Refused here (ImportRejected, nothing stored): empty or over-size files, unsupported types,
    content that contradicts the extension, undecodable text, a malformed CSV.
    """
    if len(data) > settings.KB_MAX_FILE_BYTES:
        raise _too_large(name, len(data))
    document_format = extraction.check_content_matches(filename=name, data=data)
    if document_format == "csv":
        try:
            text = extraction.decode_text(data, name=name)
        except ExtractionFailed as exc:
            raise ImportRejected(exc.message, code=exc.code) from exc
        return faq_import_csv(text=text, name=name, origin=origin or f"file:{name}")
    if document_format in extraction.TEXT_FORMATS:
        try:
            extraction.decode_text(data, name=name)
        except ExtractionFailed as exc:
            raise ImportRejected(exc.message, code=exc.code) from exc
    key = f"file:{name}"[:700]
    if not KnowledgeSource.objects.filter(key=key).exists():
        _check_source_limit(adding=1)
    source, action = _upsert_file(key=key, name=name, data=data, document_format=document_format)
    report = ImportReport(outcomes=[ImportOutcome(source_id=source.pk, title=source.title, action=action)])
    report.to_index = [source.pk] if action != "unchanged" else []
    return report


def _upsert_file(*, key: str, name: str, data: bytes, document_format: str) -> tuple[KnowledgeSource, str]:
    import hashlib

    digest = hashlib.sha256(data).hexdigest()
    existing = KnowledgeSource.objects.filter(key=key).first()
    title = existing.title if existing and existing.content_hash == digest else _title_from_filename(name)
    return _upsert(key=key, kind=str(KnowledgeSource.Kind.FILE), content_hash=digest,
                   fields={"title": title, "filename": name[:500], "document_format": document_format,
                           "raw": data})


def _title_from_filename(name: str) -> str:
    stem = Path(name).stem.replace("-", " ").replace("_", " ").strip()
    return (stem[:1].upper() + stem[1:])[:500] if stem else name[:500]


def _too_large(name: str, size: int) -> ImportRejected:
    limit_mb = settings.KB_MAX_FILE_BYTES / (1024 * 1024)
    return ImportRejected(f"'{name}' is {size / (1024 * 1024):.1f} MB; the limit is {limit_mb:g} MB.",
                          code="kb_file_too_large")


def file_import_from_path(*, path: Path, name: str | None = None) -> ImportReport:
    """Like file_import, but the size is checked before a single byte is read."""
    name = name or path.name
    size = path.stat().st_size
    if size > settings.KB_MAX_FILE_BYTES:
        raise _too_large(name, size)
    extraction.format_for_filename(name)
    return file_import(name=name, data=path.read_bytes())


def url_import(*, url: str) -> ImportReport:
    """A web page, fetched when it is indexed (each import fetches it again)."""
    from urllib.parse import urlsplit

    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImportRejected(f"'{url}' is not an http(s) address.", code="kb_url_invalid")
    key = f"url:{url}"
    if not KnowledgeSource.objects.filter(key=key[:700]).exists():
        _check_source_limit(adding=1)
    existing = KnowledgeSource.objects.filter(key=key[:700]).first()
    source, action = _upsert(key=key[:700], kind=str(KnowledgeSource.Kind.URL),
                             content_hash=existing.content_hash if existing else "",
                             fields={"title": existing.title if existing else url[:500], "url": url})
    report = ImportReport(outcomes=[ImportOutcome(source_id=source.pk, title=source.title, action=action)])
    report.to_index = [source.pk]
    return report


def kb_import_path(*, path: Path) -> ImportReport:
    """A file, or every supported file under a folder; a bad file is reported and the others go on."""
    if not path.exists():
        raise ImportRejected(f"'{path}' does not exist.", code="kb_path_missing")
    if path.is_file():
        files, root = [path], path.parent
    else:
        files = sorted(candidate for candidate in path.rglob("*")
                       if candidate.is_file() and not any(part.startswith(".") for part in candidate.relative_to(path).parts))
        root = path
    report = ImportReport()
    for file in files:
        name = str(file.relative_to(root))
        try:
            part = file_import_from_path(path=file, name=name)
        except ApplicationError as exc:
            report.errors.append((name, exc.message))
            continue
        report.outcomes += part.outcomes
        report.to_index += part.to_index
    return report


# --------------------------------------------------------------------------------------- indexing


def job_start(*, kind: str, source_ids: list[int], description: str = "") -> IndexingJob:
    source_ids = list(dict.fromkeys(source_ids))
    with transaction.atomic():
        job = IndexingJob.objects.create(
            kind=kind, total=len(source_ids), description=description[:300],
            status=IndexingJob.Status.FINISHED if not source_ids else IndexingJob.Status.RUNNING,
            finished=timezone.now() if not source_ids else None)
        IndexingJobItem.objects.bulk_create(IndexingJobItem(job=job, source_id=source_id) for source_id in source_ids)
        KnowledgeSource.objects.filter(pk__in=source_ids).update(job=job)
    return job


def _job_note(job_id: int | None, *, source_id: int, failed: bool, error: str = "") -> None:
    """Count a source as done or failed in its job, once however often its task runs; a later
    success (a replayed task) turns its failure into done. The job finishes with its last source."""
    if job_id is None:
        return
    item_id = IndexingJobItem.objects.filter(job_id=job_id, source_id=source_id).values_list("pk", flat=True).first()
    if item_id is not None:
        _job_item_finish(item_id, failed=failed, error=error)


def _job_item_finish(item_id: int, *, failed: bool, error: str = "") -> None:
    outcome = IndexingJobItem.Outcome.FAILED if failed else IndexingJobItem.Outcome.DONE
    with transaction.atomic():
        item = IndexingJobItem.objects.select_for_update().filter(pk=item_id).first()
        if item is None or item.outcome == outcome:
            return
        counters = {str(outcome): F(str(outcome)) + 1}
        if item.outcome != IndexingJobItem.Outcome.PENDING:
            counters[item.outcome] = F(item.outcome) - 1
        IndexingJobItem.objects.filter(pk=item.pk).update(outcome=outcome, error=error[:2000])
        IndexingJob.objects.filter(pk=item.job_id).update(**counters)
        IndexingJob.objects.filter(pk=item.job_id, total__lte=F("done") + F("failed")).update(
            status=Case(When(failed=0, then=Value(IndexingJob.Status.FINISHED)),
                        default=Value(IndexingJob.Status.FINISHED_WITH_FAILURES)),
            finished=timezone.now())


def source_index_given_up(*, source_id: int, job_id: int | None, attempts: int, error: str) -> None:
    """Indexing a source failed for good (its task used up its retries and went to the dead-letter
    store): the source shows it failed and why, and its job counts it as failed, so it can finish."""
    reason = f"Indexing failed after {attempts} attempt{'s' if attempts != 1 else ''}: {error}"[:2000]
    with transaction.atomic():
        KnowledgeSource.objects.filter(pk=source_id).update(status=KnowledgeSource.Status.FAILED, error=reason)
        _job_note(job_id, source_id=source_id, failed=True, error=reason)
    logger.warning("knowledge source %s failed for good: %s", source_id, reason)


def sources_index_in_background(*, source_ids: list[int], job_id: int | None, bulk: bool = False) -> None:
    """Promise indexing through the outbox (queued after the current transaction commits, and by the
    relay if Redis cannot take it then): `medium` for imports, `low` for bulk work."""
    from chat.knowledge.tasks import kb_index_source, kb_reindex_source

    task = kb_reindex_source if bulk else kb_index_source
    with transaction.atomic():
        outbox_send_many(task=task, calls=[(source_id, job_id) for source_id in source_ids])


def source_index(*, source_id: int, job_id: int | None = None, provider: EmbeddingProvider | None = None,
                 force: bool = False) -> KnowledgeSource | None:
    """Extract, chunk, embed and store one source. Bad content marks the source failed with the reason.

    Safe to run twice: a source already indexed as it is (with the current model) is left alone.
    Errors that may pass (the embeddings endpoint) are raised for the task to retry.
    """
    sources_index_now(source_ids=[source_id], job_id=job_id, provider=provider, force=force)
    return KnowledgeSource.objects.filter(pk=source_id).first()


@dataclass
class _Prepared:
    source: KnowledgeSource
    drafts: list[chunking.ChunkDraft]
    extracted: _Extracted | None
    vectors: dict[str, tuple[object, int]]


def _needs_indexing(source: KnowledgeSource, model_id: str, force: bool) -> bool:
    if force or source.kind == KnowledgeSource.Kind.URL:
        return True
    if source.status != KnowledgeSource.Status.READY or source.indexed_hash != source.content_hash:
        return True
    return source.chunks.exclude(embedding_model=model_id).exists()


def _prepare(source: KnowledgeSource, *, model_id: str, job_id: int | None) -> _Prepared | None:
    """The source's chunks and the vectors it can keep; None (source marked failed) for bad content."""
    KnowledgeSource.objects.filter(pk=source.pk).update(status=KnowledgeSource.Status.INDEXING, error="")
    try:
        drafts, extracted = _drafts_for(source)
    except (ExtractionFailed, FetchFailed, ImportRejected) as exc:
        KnowledgeSource.objects.filter(pk=source.pk).update(status=KnowledgeSource.Status.FAILED, error=exc.message,
                                                            raw=None)
        logger.info("knowledge source %s failed: %s", source.pk, exc.message)
        _job_note(job_id, source_id=source.pk, failed=True, error=exc.message)
        return None
    # Vectors of chunks whose text has not changed are kept: only new or changed text is embedded.
    kept = {
        chunk_hash: (embedding, dims)
        for chunk_hash, embedding, dims in source.chunks.filter(embedding_model=model_id)
        .exclude(embedding=None).values_list("content_hash", "embedding", "embedding_dims")
    }
    return _Prepared(source=source, drafts=drafts, extracted=extracted, vectors=kept)


def sources_index_now(*, source_ids: list[int], job_id: int | None = None, provider: EmbeddingProvider | None = None,
                      force: bool = False, on_progress: ProgressCallback | None = None) -> None:
    """Index sources in this process. Texts of many sources are embedded together: batches of
    similar-length texts make the local model about twice as fast as one source at a time.
    """
    provider = provider or embedding_provider()
    model_id = provider.model_id
    done = 0
    for start in range(0, len(source_ids), INDEX_BATCH_SOURCES):
        batch_ids = source_ids[start:start + INDEX_BATCH_SOURCES]
        sources = {source.pk: source for source in KnowledgeSource.objects.filter(pk__in=batch_ids)}
        prepared: list[_Prepared] = []
        for source_id in batch_ids:
            source = sources.get(source_id)
            if source is None:
                logger.info("knowledge source %s is gone; nothing to index", source_id)
            elif _needs_indexing(source, model_id, force):
                item = _prepare(source, model_id=model_id, job_id=job_id)
                if item is not None:
                    prepared.append(item)
            else:  # already indexed as it is (a task run twice, say): nothing left to do
                _job_note(job_id, source_id=source_id, failed=False)
        missing = {draft.content_hash: draft.text for item in prepared for draft in item.drafts
                   if draft.content_hash not in item.vectors}
        try:
            vectors = provider.embed(list(missing.values())) if missing else None
        except Exception as exc:
            KnowledgeSource.objects.filter(pk__in=[item.source.pk for item in prepared]).update(
                status=KnowledgeSource.Status.FAILED, error=f"Indexing failed and will be retried: {exc}"[:2000])
            raise
        fresh = {chunk_hash: (vectors[index], int(vectors.shape[1]))
                 for index, chunk_hash in enumerate(missing)} if vectors is not None else {}
        for item in prepared:
            for draft in item.drafts:
                if draft.content_hash not in item.vectors:
                    item.vectors[draft.content_hash] = fresh[draft.content_hash]
            _store_chunks(item, model_id=model_id, job_id=job_id)
        done += len(batch_ids)
        if on_progress:
            on_progress(done, len(source_ids))


@dataclass(frozen=True)
class _Extracted:
    body: str
    title: str
    content_hash: str
    document_format: str


def _drafts_for(source: KnowledgeSource) -> tuple[list[chunking.ChunkDraft], _Extracted | None]:
    if source.kind == KnowledgeSource.Kind.FAQ:
        return chunking.faq_chunks(question=source.question, answer=source.answer, variants=list(source.variants)), None
    extracted = None
    body, title = source.body, source.title
    if source.kind == KnowledgeSource.Kind.FILE and source.raw is not None:
        document = extraction.document_to_text(data=bytes(source.raw), document_format=source.document_format,
                                               name=source.filename or source.title)
        body = document.text
        title = document.title or chunking.first_heading(body) or source.title
        extracted = _Extracted(body=body, title=title, content_hash=source.content_hash,
                               document_format=source.document_format)
    elif source.kind == KnowledgeSource.Kind.URL:
        extracted = _fetch_url_source(source)
        body, title = extracted.body, extracted.title
    drafts = chunking.document_chunks(title=title, text=body, target=CHUNK_TARGET_CHARS, maximum=CHUNK_MAX_CHARS,
                                      overlap=CHUNK_OVERLAP_CHARS)
    if not drafts:
        raise ExtractionFailed(f"'{source.title}' has no text to index.", code="kb_empty_document")
    return drafts, extracted


def _fetch_url_source(source: KnowledgeSource) -> _Extracted:
    import hashlib

    from chat.knowledge.fetching import url_fetch

    page = url_fetch(url=source.url)
    name = source.url
    if page.content_type == "application/pdf" or page.data.startswith(b"%PDF-"):
        document_format = "pdf"
    elif page.content_type in ("text/plain", "text/markdown"):
        document_format = "markdown"
    else:
        document_format = "html"
    if not page.data:
        raise FetchFailed(f"'{name}' returned an empty page.", code="kb_url_empty")
    if document_format != "pdf" and extraction.sniff_binary(page.data[:8192]) is not None:
        raise FetchFailed(f"'{name}' did not return text.", code="kb_url_type")
    if document_format == "markdown" and extraction.looks_like_html(extraction.decode_text(page.data, name=name)):
        document_format = "html"
    document = extraction.document_to_text(data=page.data, document_format=document_format, name=name)
    title = document.title or chunking.first_heading(document.text) or source.url
    return _Extracted(body=document.text, title=title[:500], content_hash=hashlib.sha256(page.data).hexdigest(),
                      document_format=document_format)


def _store_chunks(item: _Prepared, *, model_id: str, job_id: int | None) -> None:
    source, drafts, extracted = item.source, item.drafts, item.extracted
    with transaction.atomic():
        locked = KnowledgeSource.objects.select_for_update().filter(pk=source.pk).first()
        if locked is None:
            return
        before = _term_counts([locked.pk])
        locked.chunks.all().delete()
        rows = []
        for position, draft in enumerate(drafts):
            embedding, dims = item.vectors[draft.content_hash]
            rows.append(KnowledgeChunk(
                source=locked, position=position, role=draft.role, heading=draft.heading, text=draft.text,
                content=draft.content, content_hash=draft.content_hash, embedding=embedding,
                embedding_model=model_id, embedding_dims=dims,
            ))
        created = KnowledgeChunk.objects.bulk_create(rows)
        searchable = [(draft.search_title, draft.search_body, chunk.pk)
                      for draft, chunk in zip(drafts, created, strict=True) if draft.search_title or draft.search_body]
        if searchable:
            with connection.cursor() as cursor:
                cursor.executemany(
                    "UPDATE chat_knowledgechunk SET search_vector = "
                    "setweight(to_tsvector('english', %s), 'A') || setweight(to_tsvector('english', %s), 'B') "
                    "WHERE id = %s",
                    searchable,
                )
        updates: dict[str, object] = {
            "status": KnowledgeSource.Status.READY, "error": "", "indexed": timezone.now(),
            "indexed_hash": locked.content_hash,
        }
        if extracted is not None:
            updates.update(body=extracted.body, title=extracted.title[:500], raw=None,
                           document_format=extracted.document_format)
            if locked.kind == KnowledgeSource.Kind.URL:
                updates.update(content_hash=extracted.content_hash, indexed_hash=extracted.content_hash)
        KnowledgeSource.objects.filter(pk=locked.pk).update(**updates)
        # Counted in its job with the chunks it is about (a worker killed in between leaves neither);
        # the rows shared with other sources' indexing (job, term statistics) are locked last.
        _job_note(job_id, source_id=locked.pk, failed=False)
        _term_counts_apply(before=before, after=_term_counts([locked.pk]))
        content_version_bump()


def kb_reindex(*, background: bool, on_progress: ProgressCallback | None = None) -> IndexingJob:
    """Re-chunk every source and embed what the current model has not embedded yet."""
    source_ids = list(KnowledgeSource.objects.exclude(status=KnowledgeSource.Status.FAILED, indexed_hash="")
                      .order_by("pk").values_list("pk", flat=True))
    if background:
        with transaction.atomic():  # the job and the promise of its tasks commit together
            job = job_start(kind=str(IndexingJob.Kind.REINDEX), source_ids=source_ids,
                            description="re-index every source")
            sources_index_in_background(source_ids=source_ids, job_id=job.pk, bulk=True)
        return job
    job = job_start(kind=str(IndexingJob.Kind.REINDEX), source_ids=source_ids, description="re-index every source")
    sources_index_now(source_ids=source_ids, job_id=job.pk, force=True, on_progress=on_progress)
    job.refresh_from_db()
    return job


def chunks_reembed_stale(*, limit: int | None = None) -> int:
    """Embed again, with the current model, chunks another model made. Returns how many."""
    provider = embedding_provider()
    model_id = provider.model_id
    total = 0
    while limit is None or total < limit:
        stale = list(KnowledgeChunk.objects.exclude(embedding_model=model_id).order_by("pk")
                     .values_list("pk", "text")[:REEMBED_BATCH])
        if not stale:
            break
        vectors = provider.embed([text for _pk, text in stale])
        with transaction.atomic():
            for (chunk_id, _text), vector in zip(stale, vectors, strict=True):
                KnowledgeChunk.objects.filter(pk=chunk_id).update(embedding=vector, embedding_model=model_id,
                                                                  embedding_dims=int(vector.shape[0]))
            content_version_bump()
        total += len(stale)
    if total:
        logger.info("re-embedded %s chunks with %s", total, model_id)
    return total


@transaction.atomic
def source_delete(*, source_id: int) -> None:
    if not KnowledgeSource.objects.filter(pk=source_id).exists():
        raise SourceNotFound(f"There is no knowledge source {source_id}.")
    _sources_delete([source_id]).finish()


# ------------------------------------------------------------------------------ the dashboard's


def faq_save(*, question: str, answer: str, variants: list[str], replacing: KnowledgeSource | None = None) -> int:
    """An FAQ entry written on the dashboard, indexed inside the request (a few short texts) so the
    owner can try the answer in the playground right away. An edited question is a new key, so the
    entry it replaces goes. Returns the entry's source id."""
    outcome = faq_upsert(question=question, answer=answer, variants=variants,
                         origin=replacing.origin if replacing else "")
    if replacing is not None and replacing.pk != outcome.source_id:
        source_delete(source_id=replacing.pk)
    if outcome.action != "unchanged":
        sources_index_now(source_ids=[outcome.source_id])
    return outcome.source_id


def _import_index_start(*, report: ImportReport, description: str) -> IndexingJob:
    job = job_start(kind=IndexingJob.Kind.IMPORT, source_ids=report.to_index, description=description)
    sources_index_in_background(source_ids=report.to_index, job_id=job.pk)
    return job


def file_import_and_index(*, name: str, data: bytes) -> IndexingJob:
    """An uploaded file imported now and indexed by the workers; the job shows their progress."""
    return _import_index_start(report=file_import(name=name, data=data), description=f"upload {name}")


def url_import_and_index(*, url: str) -> IndexingJob:
    """A web page imported now and fetched and indexed by the workers; the job shows their progress."""
    return _import_index_start(report=url_import(url=url), description=f"web page {url}")


def page_import_and_index(*, title: str, text: str, document_format: str = "markdown") -> IndexingJob:
    """A page given as text imported now and indexed by the workers; the job shows their progress."""
    outcome = page_upsert(title=title, text=text, document_format=document_format)
    report = ImportReport(outcomes=[outcome])
    report.to_index = [outcome.source_id] if outcome.action != "unchanged" else []
    return _import_index_start(report=report, description=f"page {outcome.title}")
