"""The chat app's tables, one module per area; import them from here."""

from chat.models.knowledge import IndexingJob, KnowledgeChunk, KnowledgeSource

__all__ = ["IndexingJob", "KnowledgeChunk", "KnowledgeSource"]
