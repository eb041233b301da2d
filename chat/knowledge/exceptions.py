"""Knowledge-base errors: each has a code, and a message a business owner can act on."""

from __future__ import annotations

from config.errors import ApplicationError, NotFound, ValidationFailed


class SourceNotFound(NotFound):
    code = "kb_source_not_found"


class ImportRejected(ValidationFailed):
    """The input cannot be imported as it is (too big, empty, wrong type, bad CSV...)."""

    code = "kb_import_rejected"


class ExtractionFailed(ValidationFailed):
    """A document's text could not be read (no text layer, broken file, undecodable text)."""

    code = "kb_extraction_failed"


class FetchFailed(ValidationFailed):
    """A web page could not be fetched (refused address, timeout, HTTP error)."""

    code = "kb_fetch_failed"


class EmbeddingFailed(ApplicationError):
    """The embeddings provider failed; indexing is retried by its task."""

    code = "kb_embedding_failed"
    status = 503


class SourceLimitReached(ApplicationError):
    code = "kb_source_limit"
    status = 403
