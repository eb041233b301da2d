"""Knowledge base tables, in each tenant's schema: sources, their chunks and bulk indexing jobs.

Embeddings live on the chunk in one `vector` column without a fixed dimension, with the model that
made them and its dimension beside it. The search reads only rows of the model in use, so a model
change is safe while the background re-embedding catches up, and any provider's dimension fits.
HNSW needs a fixed dimension, so the migration adds one partial expression index per supported
dimension (`(embedding::vector(384)) ... WHERE embedding_dims = 384`, see EMBEDDING_INDEX_DIMENSIONS).
Beside the chunks, KnowledgeTerm keeps how many chunks use each word, so a search knows which of a
customer's words are rare in this business without counting them over the whole table.
Tables keep the chat_* names they had before this app had a label of its own (docs/decisions/0101).
"""

from __future__ import annotations

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from pgvector.django import VectorField

# Dimensions with an HNSW index: the local MiniLM (384) and OpenAI's text-embedding-3-small and
# ada-002 (1536). Other dimensions still work, searched exactly (fine up to tens of thousands of chunks).
EMBEDDING_INDEX_DIMENSIONS = (384, 1536)


class IndexingJob(models.Model):
    """Progress of one bulk operation (a folder import, a re-index): how many sources, how far.

    `done` and `failed` count the job's items (one per source), each once: the job finishes when
    every source is done or failed, including a source whose task failed for good.
    """

    class Kind(models.TextChoices):
        IMPORT = "import", "Import"
        REINDEX = "reindex", "Re-index"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        FINISHED_WITH_FAILURES = "finished_with_failures", "Finished with failures"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=30, choices=Status.choices, default=Status.RUNNING)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    description = models.CharField(max_length=300, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "chat_indexingjob"
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.kind} {self.done + self.failed}/{self.total} ({self.status})"


class KnowledgeSource(models.Model):
    """One thing the business told us: an FAQ entry, a page, an uploaded file or a web page."""

    class Kind(models.TextChoices):
        FAQ = "faq", "FAQ entry"
        PAGE = "page", "Page"
        FILE = "file", "Uploaded file"
        URL = "url", "Web page"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        INDEXING = "indexing", "Indexing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    # What makes a source "the same one" when it is imported again: the FAQ's question, the file's
    # name, the page's slug, the URL. Re-importing by key updates in place instead of duplicating.
    key = models.CharField(max_length=700, unique=True)
    title = models.CharField(max_length=500)
    question = models.TextField(blank=True)
    answer = models.TextField(blank=True)
    variants = models.JSONField(default=list, blank=True, help_text="Other ways customers ask the question.")
    # Plain text (Markdown headings kept) of pages, files and web pages; never markup.
    body = models.TextField(blank=True)
    document_format = models.CharField(max_length=20, blank=True, help_text="markdown, text, html, pdf or docx.")
    url = models.URLField(max_length=2000, blank=True)
    filename = models.CharField(max_length=500, blank=True)
    # The file an FAQ entry was imported from: re-importing that file removes entries it no longer has.
    origin = models.CharField(max_length=500, blank=True, db_index=True)
    # An uploaded file's bytes, kept only until they are extracted into `body`.
    raw = models.BinaryField(null=True, blank=True, editable=False)
    content_hash = models.CharField(max_length=64, help_text="Hash of the content as last imported.")
    indexed_hash = models.CharField(max_length=64, blank=True, help_text="Hash of the content the chunks came from.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True)
    error = models.TextField(blank=True)
    job = models.ForeignKey(IndexingJob, on_delete=models.SET_NULL, null=True, blank=True, related_name="sources")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    indexed = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "chat_knowledgesource"
        ordering = ["kind", "title"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.title}"


class IndexingJobItem(models.Model):
    """One source's part in a bulk job: pending until it is counted as done or failed, once, however
    often its task runs (retries, a redelivery after a crash, a replayed dead letter)."""

    class Outcome(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    job = models.ForeignKey(IndexingJob, on_delete=models.CASCADE, related_name="items")
    # Kept (without its source) when the source is deleted, so the job's total stays what it was.
    source = models.ForeignKey(KnowledgeSource, on_delete=models.SET_NULL, null=True, related_name="job_items")
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.PENDING)
    error = models.TextField(blank=True)

    class Meta:
        db_table = "chat_indexingjobitem"
        constraints = [models.UniqueConstraint(fields=["job", "source"], name="kb_job_item_unique")]

    def __str__(self) -> str:
        return f"job {self.job_id} source {self.source_id}: {self.outcome}"


class KnowledgeChunk(models.Model):
    """A piece of a source that is embedded and searched on its own."""

    class Role(models.TextChoices):
        QUESTION = "question", "FAQ question"
        PHRASING = "phrasing", "FAQ alternative phrasing"
        QUESTION_ANSWER = "qa", "FAQ question and answer"
        PASSAGE = "passage", "Passage of a document"

    source = models.ForeignKey(KnowledgeSource, on_delete=models.CASCADE, related_name="chunks")
    position = models.PositiveIntegerField()
    role = models.CharField(max_length=10, choices=Role.choices)
    heading = models.CharField(max_length=500, blank=True, help_text="Section path within the document.")
    text = models.TextField(help_text="What is embedded.")
    content = models.TextField(help_text="What a reader is shown: the passage, or the FAQ's answer.")
    content_hash = models.CharField(max_length=64)
    search_vector = SearchVectorField(null=True)
    embedding = VectorField(null=True)
    embedding_model = models.CharField(max_length=200, blank=True)
    embedding_dims = models.PositiveSmallIntegerField(null=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "chat_knowledgechunk"
        ordering = ["source_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["source", "position"], name="kb_chunk_unique_position"),
        ]
        indexes = [
            GinIndex(fields=["search_vector"], name="kb_chunk_search_gin"),
            models.Index(fields=["embedding_model"], name="kb_chunk_model"),
        ]

    def __str__(self) -> str:
        return f"{self.source_id}#{self.position} {self.role}"


class KnowledgeTerm(models.Model):
    """How many chunks use a word: kept exact as chunks are stored and deleted (services).

    Two kinds: the words of the chunks' text as written (what typo correction compares a customer's
    words with) and the stemmed `english` lexemes of their full-text vectors (how many chunks a
    full-text word matches, so a search can start from the rare ones).
    """

    class Kind(models.TextChoices):
        WORD = "word", "Word of the chunk text"
        LEXEME = "lexeme", "Full-text lexeme"

    pk = models.CompositePrimaryKey("kind", "term")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    term = models.TextField()
    # Not a PositiveIntegerField: its CHECK would refuse the negative change an upsert proposes for a
    # term that is only being taken away; services clamp at zero and remove rows that reach it.
    chunks = models.IntegerField()

    class Meta:
        db_table = "chat_knowledgeterm"

    def __str__(self) -> str:
        return f"{self.kind} {self.term}: {self.chunks}"
