"""Conversations and contacts: list, read, reply as a team member, take over, hand back, resolve,
assign, notes; contacts' details, conversations and orders; a contact's data rights (a copy of
everything held about them, and its erasure). Scope: `conversations`."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from chat.api.conventions import ApiView, StrictSerializer, query_params_check
from chat.api.models import Scope
from chat.conversations import customer_data
from chat.conversations import selectors as conversation_selectors
from chat.conversations import services as conversation_services
from chat.conversations.models import Channel, Contact, Conversation, ConversationStatus, Message
from config.errors import NotFound
from orders.models import Order

PAGE_PARAMS = {"cursor", "limit"}


# ------------------------------------------------------------------------------ shapes


class ContactOut(serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = ["id", "visitor_id", "name", "email", "email_status", "phone", "created"]


class AssigneeOut(serializers.Serializer):
    email = serializers.EmailField(source="username")
    name = serializers.SerializerMethodField()

    def get_name(self, user: Any) -> str:
        return conversation_selectors.agent_identity(user=user).name


class ConversationOut(serializers.ModelSerializer):
    contact = ContactOut()
    assignee = AssigneeOut(allow_null=True)

    class Meta:
        model = Conversation
        fields = ["id", "status", "channel", "language", "contact", "assignee", "rating", "created", "updated",
                  "last_message_at", "resolved_at"]


class MessageOut(serializers.ModelSerializer):
    agent = AssigneeOut(allow_null=True)

    class Meta:
        model = Message
        fields = ["id", "author", "text", "internal", "agent", "client_id", "sources", "created"]


class ConversationWithMessagesOut(ConversationOut):
    messages = MessageOut(many=True)

    class Meta(ConversationOut.Meta):
        fields = [*ConversationOut.Meta.fields, "messages"]


class OrderOut(serializers.ModelSerializer):
    class Meta:
        model = Order
        fields = ["number", "email", "phone", "status", "currency", "subtotal_minor", "shipping_minor", "total_minor",
                  "carrier", "tracking_number", "tracking_url", "estimated_delivery", "placed_at", "updated"]


class ConversationFilters(serializers.Serializer):
    status = serializers.ChoiceField(choices=ConversationStatus.choices, required=False)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    contact_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    assignee = serializers.CharField(required=False, max_length=254,
                                     help_text="A team member's e-mail address, or `none` for unassigned.")


class ActingAs(StrictSerializer):
    agent_email = serializers.EmailField(required=False, help_text="The team member doing it; none: the API key.")


class TextIn(ActingAs):
    text = serializers.CharField(max_length=conversation_services.MAX_MESSAGE_CHARS, trim_whitespace=True)


class TakeOverIn(StrictSerializer):
    agent_email = serializers.EmailField(help_text="The team member who takes the conversation.")


class AssignIn(StrictSerializer):
    assignee_email = serializers.EmailField(allow_null=True, help_text="A team member, or null for nobody.")


class ContactIn(StrictSerializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)


class ExportMessageOut(serializers.Serializer):
    id = serializers.IntegerField()
    author = serializers.CharField(help_text="customer, assistant, agent or system.")
    text = serializers.CharField()
    created = serializers.DateTimeField()


class ExportConversationOut(serializers.Serializer):
    id = serializers.IntegerField()
    channel = serializers.ChoiceField(choices=Channel.choices)
    status = serializers.ChoiceField(choices=ConversationStatus.choices)
    language = serializers.CharField()
    created = serializers.DateTimeField()
    rating = serializers.IntegerField(allow_null=True)
    messages = ExportMessageOut(many=True, help_text="What the customer and the business's side wrote to each "
                                                     "other; the team's internal notes are not the customer's.")


class ExportContactOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(allow_blank=True)
    email = serializers.CharField(allow_blank=True)
    phone = serializers.CharField(allow_blank=True)
    created = serializers.DateTimeField()


class ExportOrderOut(serializers.Serializer):
    number = serializers.CharField()
    status = serializers.CharField()
    placed = serializers.DateTimeField()


class CustomerDataOut(serializers.Serializer):
    format = serializers.ChoiceField(choices=[customer_data.EXPORT_FORMAT])
    version = serializers.IntegerField(help_text="Of this document's layout; raised when it changes.")
    exported = serializers.DateTimeField()
    contact = ExportContactOut()
    conversations = ExportConversationOut(many=True)
    orders = ExportOrderOut(many=True, help_text="Only orders an order verification proved are theirs.")


class ErasureIn(StrictSerializer):
    """No fields: the request is the decision."""


class ErasureOut(serializers.Serializer):
    contact_id = serializers.IntegerField()
    conversations = serializers.IntegerField(help_text="Conversations erased with the contact.")
    messages = serializers.IntegerField(help_text="Messages erased with those conversations.")


# ------------------------------------------------------------------------------ helpers


def _conversation(conversation_id: int) -> Conversation:
    return conversation_selectors.conversation_get(conversation_id=conversation_id)


def _contact(contact_id: int) -> Contact:
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None:
        raise NotFound("There is no such contact.")
    return contact


def _acting(request: Request, email: str | None) -> Any:
    """The team member named, or the API client itself (its key's id is recorded as the actor)."""
    return conversation_selectors.team_member_get(email=email) if email else request.user


def _validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# ------------------------------------------------------------------------------ conversations


class ConversationListApi(ApiView):
    api_scope = str(Scope.CONVERSATIONS)
    serializer_class = ConversationOut

    @extend_schema(parameters=[ConversationFilters], responses=ConversationOut(many=True), summary="List conversations")
    def get(self, request: Request) -> Response:
        query_params_check(request, allowed=PAGE_PARAMS | set(ConversationFilters().fields))
        filters = _validated(ConversationFilters, request.query_params)
        if "assignee" in filters and filters["assignee"] != "none":
            filters["assignee"] = conversation_selectors.team_member_get(email=filters["assignee"])
        conversations: QuerySet[Conversation] = conversation_selectors.conversation_list(**filters)
        page = self.paginate_queryset(conversations)
        return self.get_paginated_response(ConversationOut(page, many=True).data)


class ConversationApi(ApiView):
    api_scope = str(Scope.CONVERSATIONS)
    serializer_class = ConversationWithMessagesOut

    @extend_schema(summary="Read a conversation with its messages (internal notes included, marked)")
    def get(self, request: Request, conversation_id: int) -> Response:
        conversation = conversation_selectors.conversation_with_messages(conversation_id=conversation_id)
        return Response(ConversationWithMessagesOut(conversation).data)


class ConversationReplyApi(ApiView):
    api_scope = str(Scope.CONVERSATIONS)

    @extend_schema(request=TextIn, responses={201: MessageOut}, summary="Reply to the customer as the team")
    def post(self, request: Request, conversation_id: int) -> Response:
        data = _validated(TextIn, request.data)
        conversation = _conversation(conversation_id)
        agent = conversation_selectors.team_member_get(email=data["agent_email"]) if data.get("agent_email") else None
        message = conversation_services.agent_message_send(conversation=conversation, agent=agent, text=data["text"])
        return Response(MessageOut(message).data, status=201)


class ConversationNoteApi(ApiView):
    api_scope = str(Scope.CONVERSATIONS)

    @extend_schema(request=TextIn, responses={201: MessageOut}, summary="Add an internal note the customer never sees")
    def post(self, request: Request, conversation_id: int) -> Response:
        data = _validated(TextIn, request.data)
        conversation = _conversation(conversation_id)
        agent = conversation_selectors.team_member_get(email=data["agent_email"]) if data.get("agent_email") else None
        message = conversation_services.agent_message_send(conversation=conversation, agent=agent, text=data["text"],
                                                           internal=True)
        return Response(MessageOut(message).data, status=201)


class ConversationTakeOverApi(ApiView):
    api_scope = str(Scope.CONVERSATIONS)

    @extend_schema(request=TakeOverIn, responses=ConversationOut, summary="A team member takes the conversation over")
    def post(self, request: Request, conversation_id: int) -> Response:
        data = _validated(TakeOverIn, request.data)
        conversation = _conversation(conversation_id)
        agent = conversation_selectors.team_member_get(email=data["agent_email"])
        taken = conversation_services.conversation_take_over(conversation=conversation, agent=agent)
        return Response(ConversationOut(taken).data)


class ConversationHandBackApi(ApiView):
    api_scope = str(Scope.CONVERSATIONS)

    @extend_schema(request=ActingAs, responses=ConversationOut, summary="Hand the conversation back to the assistant")
    def post(self, request: Request, conversation_id: int) -> Response:
        data = _validated(ActingAs, request.data)
        conversation = _conversation(conversation_id)
        handed = conversation_services.conversation_hand_back(conversation=conversation,
                                                              agent=_acting(request, data.get("agent_email")))
        return Response(ConversationOut(handed).data)


class ConversationResolveApi(ApiView):
    api_scope = str(Scope.CONVERSATIONS)

    @extend_schema(request=ActingAs, responses=ConversationOut, summary="Resolve the conversation")
    def post(self, request: Request, conversation_id: int) -> Response:
        data = _validated(ActingAs, request.data)
        conversation = _conversation(conversation_id)
        resolved = conversation_services.conversation_resolve(
            conversation=conversation, actor=_acting(request, data.get("agent_email")).get_username())
        return Response(ConversationOut(resolved).data)


class ConversationAssignApi(ApiView):
    api_scope = str(Scope.CONVERSATIONS)

    @extend_schema(request=AssignIn, responses=ConversationOut, summary="Assign the conversation to a team member")
    def post(self, request: Request, conversation_id: int) -> Response:
        data = _validated(AssignIn, request.data)
        conversation = _conversation(conversation_id)
        email = data["assignee_email"]
        assignee_id = conversation_selectors.team_member_get(email=email).pk if email else None
        assigned = conversation_services.conversation_assign(conversation=conversation, assignee_id=assignee_id,
                                                             actor=request.user)
        return Response(ConversationOut(assigned).data)


# ------------------------------------------------------------------------------ contacts


class ContactFilters(serializers.Serializer):
    email = serializers.CharField(required=False, max_length=254, help_text="Exactly this address (any case).")


class ContactListApi(ApiView):
    api_scope = str(Scope.CONVERSATIONS)
    serializer_class = ContactOut

    @extend_schema(parameters=[ContactFilters], responses=ContactOut(many=True), summary="List contacts")
    def get(self, request: Request) -> Response:
        query_params_check(request, allowed=PAGE_PARAMS | {"email"})
        filters = _validated(ContactFilters, request.query_params)
        page = self.paginate_queryset(conversation_selectors.contact_list(**filters))
        return self.get_paginated_response(ContactOut(page, many=True).data)


class ContactApi(ApiView):
    api_scope = str(Scope.CONVERSATIONS)
    serializer_class = ContactOut

    @extend_schema(summary="Read a contact")
    def get(self, request: Request, contact_id: int) -> Response:
        return Response(ContactOut(_contact(contact_id)).data)

    @extend_schema(request=ContactIn, responses=ContactOut, summary="Update a contact's name, e-mail or phone")
    def patch(self, request: Request, contact_id: int) -> Response:
        data = _validated(ContactIn, request.data)
        contact = conversation_services.contact_update(contact=_contact(contact_id), **data)
        return Response(ContactOut(contact).data)


class ContactConversationsApi(ApiView):
    api_scope = str(Scope.CONVERSATIONS)
    serializer_class = ConversationOut

    @extend_schema(responses=ConversationOut(many=True), summary="A contact's conversations")
    def get(self, request: Request, contact_id: int) -> Response:
        query_params_check(request, allowed=PAGE_PARAMS)
        contact = _contact(contact_id)
        page = self.paginate_queryset(conversation_selectors.conversation_list(contact_id=contact.pk))
        return self.get_paginated_response(ConversationOut(page, many=True).data)


class ContactOrdersApi(ApiView):
    api_scope = str(Scope.CONVERSATIONS)
    serializer_class = OrderOut

    @extend_schema(responses=OrderOut(many=True),
                   summary="A contact's orders (only once an order proved their e-mail address is theirs)")
    def get(self, request: Request, contact_id: int) -> Response:
        query_params_check(request, allowed=PAGE_PARAMS)
        page = self.paginate_queryset(conversation_selectors.contact_orders(contact=_contact(contact_id)))
        return self.get_paginated_response(OrderOut(page, many=True).data)


class ContactExportApi(ApiView):
    api_scope = str(Scope.CONVERSATIONS)
    serializer_class = CustomerDataOut

    @extend_schema(responses=CustomerDataOut, summary="A copy of everything the business holds about a contact "
                   "(their right of access; leaves an entry in the audit log)")
    def get(self, request: Request, contact_id: int) -> Response:
        query_params_check(request, allowed=set())
        return Response(customer_data.customer_data_export(contact_id=contact_id, actor=request.user))


class ContactEraseApi(ApiView):
    api_scope = str(Scope.CONVERSATIONS)
    serializer_class = ErasureOut

    @extend_schema(request=ErasureIn, responses=ErasureOut, summary="Erase a contact with every conversation and "
                   "message, for good (their right to erasure; leaves an entry in the audit log)")
    def post(self, request: Request, contact_id: int) -> Response:
        _validated(ErasureIn, request.data)
        erased = customer_data.customer_data_erase(contact_id=contact_id, actor=request.user)
        return Response(ErasureOut(erased).data)
