"""The playground: the owner asks what a customer would ask and sees exactly what the customer would get.

The question goes the customer's way (a contact, a conversation on the `playground` channel, the
stored message) and the same engine answers it, cache, usage and handoff included; the page then
shows what a customer would not see: the sources with their scores, the knowledge search's passages
and the confidence. Playground conversations are left out of the analytics, and their answers count
toward no plan limit: the usage page shows them apart (chat.assistant.usage, PRACTICE_CHANNELS).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from chat.assistant.engine import AnswerResult, answer_customer_message_sync
from chat.conversations import services as conversation_services
from chat.conversations.models import Channel, Conversation
from chat.dashboard.permissions import agent_required
from config.errors import ApplicationError

SESSION_CONVERSATION = "playground_conversation_id"


@dataclass(frozen=True)
class PlaygroundPassage:
    title: str
    text: str
    score: float


@dataclass
class PlaygroundAnswer:
    question: str
    conversation_id: int
    result: AnswerResult
    threshold: float
    passages: list[PlaygroundPassage] = field(default_factory=list)

    @property
    def confident(self) -> bool:
        return self.result.confidence is not None and self.result.confidence >= self.threshold


def _passages(tool_calls: list[dict[str, Any]]) -> list[PlaygroundPassage]:
    """What the knowledge search found, cited or not: why the assistant answered as it did."""
    found = []
    for call in tool_calls:
        if call.get("name") != "knowledge_search":
            continue
        for passage in (call.get("result") or {}).get("passages") or []:
            found.append(PlaygroundPassage(title=str(passage.get("title", "")), text=str(passage.get("text", ""))[:400],
                                           score=float(passage.get("score") or 0.0)))
    return found


def playground_ask(*, schema_name: str, visitor_id: str, question: str,
                   conversation_id: int | None) -> PlaygroundAnswer:
    """Ask as a customer in the playground conversation (a new one when there is none, or when a
    person would now own it, since then the assistant would stay silent as it does for customers)."""
    contact = conversation_services.contact_get_or_create(visitor_id=visitor_id, name="Playground")
    conversation = None
    if conversation_id is not None:
        conversation = Conversation.objects.filter(pk=conversation_id, contact=contact,
                                                   channel=Channel.PLAYGROUND).first()
    if conversation is None or not conversation.assistant_may_reply:
        conversation = conversation_services.conversation_start(contact=contact, channel=Channel.PLAYGROUND)
    received = conversation_services.message_receive(conversation=conversation, text=question)
    result = answer_customer_message_sync(schema_name=schema_name, message_id=received.message.pk)
    return PlaygroundAnswer(question=received.message.text, conversation_id=conversation.pk, result=result,
                            threshold=float(settings.KB_ANSWER_THRESHOLD), passages=_passages(result.tool_calls))


class AskForm(forms.Form):
    question = forms.CharField(label="Ask as a customer would", max_length=4000,
                               widget=forms.TextInput(attrs={"size": 80, "autocomplete": "off"}))


@agent_required
def playground_page(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "dashboard/knowledge/playground.html", {"form": AskForm()})
    if request.POST.get("restart"):
        request.session.pop(SESSION_CONVERSATION, None)
        return render(request, "dashboard/knowledge/playground.html", {"form": AskForm()})
    form = AskForm(request.POST)
    if not form.is_valid():
        return render(request, "dashboard/knowledge/playground.html", {"form": form}, status=400)
    try:
        answer = playground_ask(schema_name=request.tenant.schema_name, visitor_id=f"playground:{request.user.pk}",
                                question=form.cleaned_data["question"],
                                conversation_id=request.session.get(SESSION_CONVERSATION))
    except ApplicationError as error:
        return render(request, "dashboard/knowledge/playground.html", {"form": form, "error": error.message},
                      status=error.status)
    request.session[SESSION_CONVERSATION] = answer.conversation_id
    template = ("dashboard/knowledge/_playground_answer.html" if request.headers.get("HX-Request")
                else "dashboard/knowledge/playground.html")
    return render(request, template, {"form": AskForm(), "answer": answer})

