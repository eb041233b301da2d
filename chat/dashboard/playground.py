"""The playground: the owner asks what a customer would ask and sees exactly what the customer would get.

The question goes the customer's way (a contact, a conversation on the `playground` channel, the
stored message) and the same engine answers it, cache, usage and handoff included; the page then
shows what a customer would not see: the sources with their scores, the knowledge search's passages
and the confidence. Playground conversations are left out of the analytics, and their answers count
toward no plan limit: the usage page shows them apart (chat.assistant.usage, PRACTICE_CHANNELS).
"""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from chat.dashboard.permissions import agent_required
from chat.dashboard.services import playground_ask
from config.errors import form_submit

SESSION_CONVERSATION = "playground_conversation_id"


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
    submitted = form_submit(form, lambda data: playground_ask(
        schema_name=request.tenant.schema_name, visitor_id=f"playground:{request.user.pk}",
        question=data["question"], conversation_id=request.session.get(SESSION_CONVERSATION)))
    if submitted.result is None:
        return render(request, "dashboard/knowledge/playground.html", {"form": form}, status=submitted.status)
    request.session[SESSION_CONVERSATION] = submitted.result.conversation_id
    template = ("dashboard/knowledge/_playground_answer.html" if request.headers.get("HX-Request")
                else "dashboard/knowledge/playground.html")
    return render(request, template, {"form": AskForm(), "answer": submitted.result})
