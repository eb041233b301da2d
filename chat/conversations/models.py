"""Business profile, contacts, conversations, messages, the record of every status change, and how a
teammate appears in a conversation."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from config.secrets_at_rest import EncryptedTextField


class BusinessProfile(models.Model):
    """How the business's assistant presents itself. One row per tenant schema.

    It lives in the tenant's own schema (not beside Tenant in the public one) because everything
    that reads it (the assistant, the widget, the dashboard) already runs in that schema, and a
    tenant's own LLM key should sit with the rest of its data.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    name = models.CharField(max_length=200)
    tagline = models.CharField(max_length=300, blank=True)
    tone = models.CharField(max_length=200, default="friendly, short and clear")
    languages = models.JSONField(default=list, blank=True, help_text="Language codes the business answers in.")
    human_only_topics = models.JSONField(default=list, blank=True,
                                         help_text="Topics that always go to a person (words or phrases).")
    contact_email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    address = models.CharField(max_length=300, blank=True)
    # Bring-your-own LLM: all three empty means the platform's provider (or offline mode).
    # Stored encrypted (config.secrets_at_rest): the attribute is the plain key, the column a token.
    llm_api_key = EncryptedTextField(blank=True)
    llm_base_url = models.URLField(blank=True)
    llm_chat_model = models.CharField(max_length=100, blank=True)
    # Empty: knowledge is embedded by the platform's embedding provider (the local model by default),
    # so an endpoint without embeddings works. Set: the business's endpoint embeds with this model.
    llm_embedding_model = models.CharField(max_length=100, blank=True)
    # What the saved endpoint was found to support when it was last tried (chat.assistant.probe).
    llm_probe = models.JSONField(default=dict, blank=True)
    # Conversations whose last message is older than this many days are deleted nightly, with the
    # customers left with none (chat.conversations.customer_data). Empty: kept until deleted by hand.
    conversation_retention_days = models.PositiveIntegerField(null=True, blank=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="business_profile_singleton")]

    def __str__(self) -> str:
        return self.name


class EmailStatus(models.TextChoices):
    """How much a contact's e-mail address is worth: typed into the pre-chat form ("given", anyone
    can type any address), or matched with an order the customer named by its number ("verified")."""

    NONE = "", "None"
    GIVEN = "given", "Given"
    VERIFIED = "verified", "Verified by an order"


class Contact(models.Model):
    """A customer: anonymous until they tell us who they are."""

    visitor_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    email_status = models.CharField(max_length=10, choices=EmailStatus.choices, blank=True, default=EmailStatus.NONE)
    phone = models.CharField(max_length=40, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name or self.email or self.visitor_id


class Channel(models.TextChoices):
    WIDGET = "widget", "Website widget"
    API = "api", "API"
    MESSAGING = "messaging", "Messaging platform"
    WHATSAPP = "whatsapp", "WhatsApp"
    TELEGRAM = "telegram", "Telegram"
    PLAYGROUND = "playground", "Playground"
    CONSOLE = "console", "Console"


class ConversationStatus(models.TextChoices):
    BOT = "bot", "Assistant"
    NEEDS_HUMAN = "needs_human", "Needs a human"
    HUMAN = "human", "Human"
    RESOLVED = "resolved", "Resolved"


class Conversation(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="conversations")
    channel = models.CharField(max_length=20, choices=Channel.choices, default=Channel.WIDGET)
    status = models.CharField(max_length=20, choices=ConversationStatus.choices, default=ConversationStatus.BOT)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="assigned_conversations")
    language = models.CharField(max_length=8, default="en")
    # Consecutive answers the assistant was not confident about; two in a row hand over.
    low_confidence_streak = models.PositiveSmallIntegerField(default=0)
    # The order-verification dialogue: the number the customer gave while we wait for a contact detail.
    pending_order_number = models.CharField(max_length=64, blank=True)
    failed_verifications = models.PositiveSmallIntegerField(default=0)
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    last_message_at = models.DateTimeField(null=True, blank=True, db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_message_at", "-id"]
        indexes = [models.Index(fields=["status", "-last_message_at"])]

    def __str__(self) -> str:
        return f"Conversation {self.pk} ({self.status})"

    @property
    def assistant_may_reply(self) -> bool:
        return self.assistant_may_reply_in(self.status)

    @staticmethod
    def assistant_may_reply_in(status: str) -> bool:
        # No bot reply once a person is asked for or has taken over, until it is handed back.
        return status in (ConversationStatus.BOT, ConversationStatus.RESOLVED)


class Author(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    ASSISTANT = "assistant", "Assistant"
    AGENT = "agent", "Agent"
    SYSTEM = "system", "System"


class AnswerState(models.TextChoices):
    """For customer messages: has the assistant dealt with it? The sweeper looks for `pending`."""

    PENDING = "pending", "Waiting for an answer"
    ANSWERED = "answered", "Answered"
    NOT_NEEDED = "not_needed", "No assistant answer (a human owns the conversation)"


class Message(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    author = models.CharField(max_length=20, choices=Author.choices)
    text = models.TextField()
    # The sender's own id for the message: a re-sent message is stored once.
    # NULL, not "": the unique constraint must let any number of messages have no client id.
    client_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    internal = models.BooleanField(default=False, help_text="An agents' note the customer never sees.")
    in_reply_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies")
    answer_state = models.CharField(max_length=20, choices=AnswerState.choices, blank=True)
    sources = models.JSONField(default=list, blank=True)
    tool_calls = models.JSONField(default=list, blank=True)
    quick_replies = models.JSONField(default=list, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    mode = models.CharField(max_length=20, blank=True, help_text="llm, offline or cache, for answers.")
    model = models.CharField(max_length=100, blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    first_token_ms = models.PositiveIntegerField(null=True, blank=True)
    cost_minor = models.PositiveIntegerField(default=0)
    # Set by whoever stores the message: an answer is dated when it finished streaming.
    created = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["created", "id"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "client_id"], condition=Q(client_id__isnull=False),
                                    name="message_client_id_once_per_conversation"),
            # One assistant answer per customer message, even when two processes race to answer it.
            models.UniqueConstraint(fields=["in_reply_to"], condition=Q(author="assistant"),
                                    name="one_assistant_answer_per_message"),
        ]
        indexes = [
            models.Index(fields=["conversation", "created"]),
            models.Index(fields=["answer_state", "created"], condition=Q(answer_state="pending"),
                         name="message_pending_answer"),
        ]

    def __str__(self) -> str:
        return f"{self.author}: {self.text[:40]}"


class ConversationEvent(models.Model):
    """Append-only: every status change, assignment and handoff, with who did it and why."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=40)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    actor = models.CharField(max_length=200, help_text="assistant, customer, system or the agent's email.")
    reason = models.CharField(max_length=300, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.from_status}->{self.to_status} by {self.actor}"


class TeamMemberProfile(models.Model):
    """How a teammate appears to customers: a display name and an optional avatar, never their e-mail.

    In the tenant's schema, beside the users themselves (django.contrib.auth is a tenant app here).
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_profile")
    display_name = models.CharField(max_length=80, blank=True)
    # Either an outside http(s) address (config.outside_urls) or an uploaded image, never both.
    avatar_url = models.URLField(max_length=2048, blank=True)
    avatar_image = models.BinaryField(null=True, blank=True)
    avatar_content_type = models.CharField(max_length=40, blank=True)
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.display_name or f"Profile of user {self.user_id}"
