"""The chat app's tables, one module per area; import them from here."""

from chat.models.analytics import AnalyticsDay, AnalyticsQuestion
from chat.models.conversations import (
    AnswerState,
    Author,
    BusinessProfile,
    Channel,
    Contact,
    Conversation,
    ConversationEvent,
    ConversationStatus,
    EmailStatus,
    Message,
)
from chat.models.dashboard import CannedResponse, Invitation, TeamMemberProfile
from chat.models.knowledge import IndexingJob, IndexingJobItem, KnowledgeChunk, KnowledgeSource, KnowledgeTerm
from chat.models.widget import WidgetSettings

__all__ = [
    "AnalyticsDay",
    "AnalyticsQuestion",
    "AnswerState",
    "Author",
    "BusinessProfile",
    "CannedResponse",
    "Channel",
    "Contact",
    "Conversation",
    "ConversationEvent",
    "ConversationStatus",
    "EmailStatus",
    "IndexingJob",
    "IndexingJobItem",
    "Invitation",
    "KnowledgeChunk",
    "KnowledgeSource",
    "KnowledgeTerm",
    "Message",
    "TeamMemberProfile",
    "WidgetSettings",
]
