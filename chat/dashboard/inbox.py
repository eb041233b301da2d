"""The live inbox: the conversation list, one conversation with its actions, canned responses.

Pages are rendered on the server; static/dashboard/inbox.js only asks for fresh fragments (the list's
rows, a transcript) when the agents' WebSocket says something changed.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from chat.conversations import selectors as conversation_selectors
from chat.conversations import services as conversation_services
from chat.conversations.models import Channel, Conversation, ConversationStatus
from chat.dashboard import forms, selectors, services
from chat.dashboard.permissions import agent_required, owner_required, user_is_owner
from config.errors import NotFound, errors_as_messages, form_submit

INBOX_PAGE_SIZE = 25


@agent_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("dashboard:inbox")


def _inbox_context(request: HttpRequest) -> dict[str, object]:
    filters = selectors.InboxFilters.from_params(request.GET)
    conversations = selectors.conversation_list_for_inbox(filters=filters, user=request.user)
    page = Paginator(conversations, INBOX_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return {"filters": filters, "page": page, "query_string": query.urlencode()}


@agent_required
def inbox(request: HttpRequest) -> HttpResponse:
    context = _inbox_context(request)
    context.update({
        "status_choices": [("open", "Open"), *ConversationStatus.choices, ("all", "All")],
        "channel_choices": Channel.choices,
    })
    return render(request, "dashboard/inbox/inbox.html", context)


@agent_required
def inbox_rows(request: HttpRequest) -> HttpResponse:
    """The list alone, for live refreshes and filter changes without a page load."""
    return render(request, "dashboard/inbox/_rows.html", _inbox_context(request))


def _conversation_or_404(conversation_id: int) -> Conversation:
    try:
        return selectors.conversation_get_for_agent(conversation_id=conversation_id)
    except NotFound as error:
        raise Http404(error.message) from error


def _conversation_context(request: HttpRequest, conversation: Conversation) -> dict[str, object]:
    return {
        "conversation": conversation,
        "transcript": selectors.conversation_transcript(conversation=conversation),
        "customer_orders": conversation_selectors.contact_orders(contact=conversation.contact)[:5],
        "viewers": selectors.presence_viewers(conversation_id=conversation.pk, exclude_user=request.user),
    }


@agent_required
def conversation_detail(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation_or_404(conversation_id)
    services.presence_touch(conversation_id=conversation.pk, user=request.user)
    context = _conversation_context(request, conversation)
    context.update({
        "reply_form": forms.ReplyForm(),
        "canned_responses": selectors.canned_response_list(),
        "team": selectors.team_member_choices(),
        "is_owner": user_is_owner(request.user),
    })
    return render(request, "dashboard/inbox/conversation.html", context)


@agent_required
def conversation_transcript(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation_or_404(conversation_id)
    return render(request, "dashboard/inbox/_transcript.html", _conversation_context(request, conversation))


@require_POST
@agent_required
def conversation_reply(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation_or_404(conversation_id)
    form = forms.ReplyForm(request.POST)
    submitted = form_submit(form, lambda data: conversation_services.agent_message_send(
        conversation=conversation, agent=request.user, text=data["text"], internal=data["internal"]),
        error_field="text")
    if request.htmx:
        response = render(request, "dashboard/inbox/_transcript.html", _conversation_context(request, conversation))
        if not submitted.accepted:
            response.status_code = 422
        return response
    for problem in form.errors.get("text", []):
        messages.error(request, problem)
    return redirect("dashboard:conversation", conversation_id=conversation.pk)


@require_POST
@agent_required
def conversation_action(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation_or_404(conversation_id)
    with errors_as_messages(request):
        services.conversation_action_apply(conversation=conversation, action=request.POST.get("action", ""),
                                           agent=request.user)
    return redirect("dashboard:conversation", conversation_id=conversation.pk)


@require_POST
@agent_required
def conversation_assign(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation_or_404(conversation_id)
    raw = request.POST.get("assignee", "")
    # Empty: nobody. Anything but a number names nobody on the team (0 is no one's id).
    assignee_id = None if not raw else int(raw) if raw.isdigit() else 0
    with errors_as_messages(request):
        assignee = conversation_services.conversation_assign(conversation=conversation, assignee_id=assignee_id,
                                                             actor=request.user).assignee
        messages.success(request, f"Assigned to {assignee.get_full_name() or assignee.get_username()}."
                         if assignee else "Nobody is assigned now.")
    return redirect("dashboard:conversation", conversation_id=conversation.pk)


@agent_required
def conversation_presence(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """POST: this agent is viewing (a heartbeat); both answer with who else is viewing."""
    conversation = _conversation_or_404(conversation_id)
    if request.method == "POST":
        services.presence_touch(conversation_id=conversation.pk, user=request.user)
    viewers = selectors.presence_viewers(conversation_id=conversation.pk, exclude_user=request.user)
    return render(request, "dashboard/inbox/_presence.html", {"conversation": conversation, "viewers": viewers})


@owner_required
def canned_responses(request: HttpRequest) -> HttpResponse:
    form = forms.CannedResponseForm(request.POST or None)
    status = 200
    if request.method == "POST":
        submitted = form_submit(form, lambda data: services.canned_response_save(title=data["title"], text=data["text"]),
                                error_field="title")
        if submitted.accepted:
            messages.success(request, "Canned response saved.")
            return redirect(reverse("dashboard:canned-responses"))
        status = submitted.status
    return render(request, "dashboard/inbox/canned_responses.html",
                  {"form": form, "canned_responses": selectors.canned_response_list()}, status=status)


@require_POST
@owner_required
def canned_response_delete(request: HttpRequest, canned_response_id: int) -> HttpResponse:
    services.canned_response_delete(canned_response_id=canned_response_id)
    messages.success(request, "Canned response deleted.")
    return redirect("dashboard:canned-responses")
