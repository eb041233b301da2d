"""python manage.py assistant ask --tenant SLUG [--conversation ID] [--json] "TEXT"

Asks the tenant's assistant exactly as a customer would (same services, same engine) and prints the
answer, its sources, tool calls, handoff flag and timings.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import schema_context

from chat.assistant.engine import answer_customer_message_sync
from chat.conversations import services
from chat.conversations.models import Channel, Conversation
from config.errors import command_errors
from tenants.services import tenant_get


class Command(BaseCommand):
    help = "Ask a tenant's assistant a question from the command line."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        ask = sub.add_parser("ask", help="Ask one question (in a new or an existing conversation).")
        ask.add_argument("--tenant", required=True, help="Tenant slug.")
        ask.add_argument("--conversation", type=int, help="Continue this conversation.")
        ask.add_argument("--json", action="store_true", help="Print one JSON object.")
        ask.add_argument("text")

    @command_errors
    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_get(slug=options["tenant"])
        with schema_context(tenant.schema_name):
            conversation = self._conversation(options.get("conversation"))
            received = services.message_receive(conversation=conversation, text=options["text"],
                                                channel_message_id=uuid.uuid4().hex)
        result = answer_customer_message_sync(schema_name=tenant.schema_name, message_id=received.message.pk)
        with schema_context(tenant.schema_name):
            status = Conversation.objects.get(pk=conversation.pk).status
        payload = {
            "conversation_id": conversation.pk,
            "message_id": result.message_id,
            "answer": result.text,
            "replied": result.replied,
            "mode": result.mode,
            "sources": result.sources,
            "tool_calls": result.tool_calls,
            "quick_replies": result.quick_replies,
            "handoff": result.handoff,
            "status": status,
            "confidence": result.confidence,
            "timings": {"first_token_ms": result.first_token_ms, "total_ms": result.total_ms},
            "usage": {"model": result.model, "tokens_in": result.tokens_in, "tokens_out": result.tokens_out,
                      "cost_minor": result.cost_minor},
        }
        if options["json"]:
            self.stdout.write(json.dumps(payload, ensure_ascii=False, default=str))
            return
        self.stdout.write(result.text if result.replied else "(no reply: a person owns this conversation)")
        for source in result.sources:
            self.stdout.write(f"  source: {source['title']} (score {source['score']})")
        self.stdout.write(f"  [{result.mode}, conversation {conversation.pk}, status {status}, "
                          f"{result.total_ms} ms{', handed over' if result.handoff else ''}]")

    def _conversation(self, conversation_id: int | None) -> Conversation:
        if conversation_id is None:
            contact = services.contact_get_or_create(visitor_id=f"console-{uuid.uuid4().hex[:16]}")
            return services.conversation_start(contact=contact, channel=Channel.CONSOLE)
        conversation = Conversation.objects.filter(pk=conversation_id).first()
        if conversation is None:
            raise CommandError(f"There is no conversation {conversation_id} for this tenant.")
        return conversation
