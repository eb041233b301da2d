"""The live inbox: the conversation list, one conversation with its actions, canned responses.

Pages are rendered on the server; static/dashboard/inbox.js only asks for fresh fragments (the list's
rows, a transcript) when the agents' WebSocket says something changed.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from chat.conversations import services as conversation_services
from chat.conversations.models import Channel, Conversation, ConversationStatus
from chat.dashboard import forms, selectors, services
from chat.dashboard.permissions import agent_required, owner_required, user_is_owner
from config.errors import ApplicationError, NotFound

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
        "customer_orders": selectors.contact_orders(contact=conversation.contact),
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
    if form.is_valid():
        try:
            conversation_services.agent_message_send(conversation=conversation, agent=request.user,
                                                     text=form.cleaned_data["text"],
                                                     internal=form.cleaned_data["internal"])
        except ApplicationError as error:
            form.add_error("text", error.message)
    if request.htmx:
        response = render(request, "dashboard/inbox/_transcript.html", _conversation_context(request, conversation))
        if form.errors:
            response.status_code = 422
        return response
    for problem in form.errors.get("text", []):
        messages.error(request, problem)
    return redirect("dashboard:conversation", conversation_id=conversation.pk)


CONVERSATION_ACTIONS = {"take_over", "hand_back", "resolve", "reopen"}


@require_POST
@agent_required
def conversation_action(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation_or_404(conversation_id)
    action = request.POST.get("action", "")
    actor = request.user.get_username()
    try:
        if action == "take_over":
            conversation_services.conversation_take_over(conversation=conversation, agent=request.user)
        elif action == "hand_back":
            conversation_services.conversation_hand_back(conversation=conversation, agent=request.user)
        elif action == "resolve":
            conversation_services.conversation_resolve(conversation=conversation, actor=actor)
        elif action == "reopen":
            conversation_services.conversation_transition(conversation=conversation, to_status=str(ConversationStatus.BOT),
                                                          actor=actor, reason="Reopened.", kind="reopened")
        else:
            messages.error(request, "Unknown action.")
    except ApplicationError as error:
        messages.error(request, error.message)
    return redirect("dashboard:conversation", conversation_id=conversation.pk)


@require_POST
@agent_required
def conversation_assign(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation_or_404(conversation_id)
    assignee_id = request.POST.get("assignee", "")
    assignee = User.objects.filter(pk=assignee_id).first() if assignee_id.isdigit() else None
    if assignee_id and assignee is None:
        messages.error(request, "That person is not on the team.")
    else:
        try:
            services.conversation_assign(conversation=conversation, assignee=assignee, actor=request.user)
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
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
    if request.method == "POST" and form.is_valid():
        try:
            services.canned_response_save(title=form.cleaned_data["title"], text=form.cleaned_data["text"])
        except ApplicationError as error:
            form.add_error("title", error.message)
        else:
            messages.success(request, "Canned response saved.")
            return redirect(reverse("dashboard:canned-responses"))
    return render(request, "dashboard/inbox/canned_responses.html",
                  {"form": form, "canned_responses": selectors.canned_response_list()})


@require_POST
@owner_required
def canned_response_delete(request: HttpRequest, canned_response_id: int) -> HttpResponse:
    services.canned_response_delete(canned_response_id=canned_response_id)
    messages.success(request, "Canned response deleted.")
    return redirect("dashboard:canned-responses")
