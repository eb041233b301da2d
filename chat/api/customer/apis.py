"""The customer side of `/api/v1/` (docs/api.md, "Mobile app quick start"): a business's backend
exchanges its API key for a customer token; the business's app, holding that token, acts as that
one customer. Thin views: parse, call one service or selector, render."""

from __future__ import annotations

from typing import Any, ClassVar

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connection
from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from chat.api.conventions import ApiView, PayloadTooLarge, StrictSerializer, query_params_check
from chat.api.customer import selectors, services
from chat.api.customer.authentication import CustomerTokenAuthentication, IsCustomer
from chat.api.customer.schema import EVENT_STREAM, UNAUTHORIZED
from chat.api.customer.sse import answer_events, event_stream_response
from chat.api.customer.streaming import FAILED, answer_wait
from chat.conversations.events import message_wire
from chat.conversations.models import Conversation


class WholeNumberField(serializers.IntegerField):
    """A JSON number with no fraction: "5" (a string) and true are not numbers."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(super().to_internal_value(data))


class TokenIn(StrictSerializer):
    customer_id = serializers.CharField(max_length=60, help_text="Your own id for this customer.")
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True, default="")


class CustomerConversationOut(serializers.ModelSerializer):
    class Meta:
        model = Conversation
        fields = ["id", "status", "created", "last_message_at", "rating"]


class ProductCardOut(serializers.Serializer):
    """events.recommended_products' card: a product an assistant's answer recommends."""

    product_id = serializers.IntegerField(allow_null=True)
    sku = serializers.CharField()
    name = serializers.CharField()
    price = serializers.CharField(help_text='As the answer states it: "€24.95", "from €19.95".')
    availability = serializers.ChoiceField(choices=["in_stock", "sold_out", "pre_order", ""])
    url = serializers.CharField(allow_blank=True,
                                help_text='The product\'s page, an http(s) address, or "" where the catalog has none.')
    image = serializers.CharField(allow_blank=True,
                                  help_text='A picture of the product, an http(s) address, or "" where the catalog '
                                            'has none.')


class CustomerMessageOut(serializers.Serializer):
    """events.message_wire's shape."""

    id = serializers.IntegerField()
    author = serializers.CharField()
    text = serializers.CharField()
    client_id = serializers.CharField(allow_null=True)
    internal = serializers.BooleanField()
    sources = serializers.ListField(child=serializers.JSONField())
    quick_replies = serializers.ListField(child=serializers.CharField())
    products = ProductCardOut(many=True, help_text="Product cards under an assistant's answer (at most four); "
                                                   "empty on every other message.")
    agent = serializers.CharField(allow_null=True)
    agent_avatar = serializers.CharField(allow_null=True)
    created = serializers.DateTimeField()


class AnswerUsageOut(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()


class AnsweredOut(serializers.Serializer):
    conversation_id = serializers.IntegerField()
    status = serializers.CharField()
    message = CustomerMessageOut()
    answer = CustomerMessageOut(allow_null=True)
    answer_pending = serializers.BooleanField()
    handoff = serializers.BooleanField()
    usage = AnswerUsageOut(allow_null=True)


class TokenOut(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()
    customer_id = serializers.CharField()


class MessageIn(StrictSerializer):
    text = serializers.CharField(max_length=4000, trim_whitespace=False)
    client_id = serializers.CharField(max_length=64, required=False, default=None,
                                      help_text="Your app's own id for the message: sent again, it is stored once.")
    stream = serializers.BooleanField(required=False, default=True)


class RatingIn(StrictSerializer):
    score = WholeNumberField(min_value=1, max_value=5)


class HandoffIn(StrictSerializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class CustomerTokenApi(ApiView):
    """POST: a customer token for one of the business's customers (for the business's backend, with
    an API key holding the `conversations` scope)."""

    api_scope: ClassVar[str | None] = "conversations"

    @extend_schema(summary="A customer token for one of the business's customers", request=TokenIn,
                   responses={201: TokenOut})
    def post(self, request: Request) -> Response:
        data = _valid(TokenIn, request)
        issued = services.customer_token_issue(api_key_id=request.auth.pk, customer_id=data["customer_id"],
                                               name=data["name"], email=data["email"])
        return Response({"token": issued.token, "expires_at": issued.expires_at,
                         "customer_id": issued.identity.customer_id}, status=201)


class CustomerApi(ApiView):
    """Endpoints for the business's app, acting for the one customer its token names."""

    authentication_classes = [CustomerTokenAuthentication]
    permission_classes = [IsCustomer]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # No Idempotency-Key records here: they are kept per API key, which every customer of one app
        # shares, so one customer's key could replay another's answer. A message's Idempotency-Key
        # is its id instead (stored once, its answer sent again); a rating or a handoff asked twice
        # changes nothing more. The body's size is checked first, as everywhere.
        limit = self.max_body_bytes or settings.API_MAX_BODY_BYTES
        declared = request.META.get("CONTENT_LENGTH") or ""
        if declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"The body is larger than {limit} bytes.", details={"limit_bytes": limit})
        GenericAPIView.initial(self, request, *args, **kwargs)


class CustomerConversationsApi(CustomerApi):
    @extend_schema(summary="The customer's conversations", responses={200: CustomerConversationOut(many=True),
                                                                      401: UNAUTHORIZED})
    def get(self, request: Request) -> Response:
        query_params_check(request, allowed={"cursor", "limit"})
        page = self.paginate_queryset(selectors.customer_conversation_list(identity=request.auth))
        return self.get_paginated_response(CustomerConversationOut(page, many=True).data)

    @extend_schema(summary="Start a conversation of the customer", request=None,
                   responses={201: CustomerConversationOut, 401: UNAUTHORIZED})
    def post(self, request: Request) -> Response:
        _valid(StrictSerializer, request)
        conversation = services.customer_conversation_start(identity=request.auth)
        return Response(CustomerConversationOut(conversation).data, status=201)


class CustomerConversationApi(CustomerApi):
    @extend_schema(summary="One of the customer's conversations", responses={200: CustomerConversationOut, 401: UNAUTHORIZED})
    def get(self, request: Request, conversation_id: int) -> Response:
        conversation = services.customer_conversation_get(identity=request.auth, conversation_id=conversation_id)
        return Response(CustomerConversationOut(conversation).data)


class CustomerMessagesApi(CustomerApi):
    @extend_schema(summary="The conversation's history as the customer sees it",
                   responses={200: CustomerMessageOut(many=True), 401: UNAUTHORIZED})
    def get(self, request: Request, conversation_id: int) -> Response:
        query_params_check(request, allowed={"cursor", "limit"})
        page = self.paginate_queryset(selectors.customer_message_list(identity=request.auth,
                                                                      conversation_id=conversation_id))
        return self.get_paginated_response([message_wire(message) for message in page])

    @extend_schema(summary="Send the customer's message; the answer streams (SSE) or comes whole", request=MessageIn,
                   responses={(200, "application/json"): AnsweredOut, (200, "text/event-stream"): EVENT_STREAM,
                              (202, "application/json"): OpenApiResponse(AnsweredOut, description=(
                                  "Blocking: the answer was not ready in time; it will be in the history.")),
                              401: UNAUTHORIZED})
    def post(self, request: Request, conversation_id: int) -> Response | StreamingHttpResponse:
        data = _valid(MessageIn, request)
        client_id = data["client_id"] or request.headers.get("Idempotency-Key") or None
        received = services.customer_message_receive(identity=request.auth, conversation_id=conversation_id,
                                                     text=data["text"], client_id=client_id)
        schema_name = connection.schema_name
        message_id = received.message.pk
        outcome = None if received.needs_answer else selectors.answer_outcome_stored(customer_message_id=message_id)
        if data["stream"]:
            return event_stream_response(answer_events(schema_name=schema_name, conversation_id=conversation_id,
                                                       reply_to=message_id, outcome=outcome))
        if outcome is None:
            outcome = async_to_sync(answer_wait)(schema_name=schema_name, customer_message_id=message_id,
                                                 timeout=settings.API_ANSWER_TIMEOUT_SECONDS)
        conversation = services.customer_conversation_get(identity=request.auth, conversation_id=conversation_id)
        body: dict[str, Any] = {"conversation_id": conversation.pk, "status": conversation.status,
                                "message": message_wire(received.message)}
        if outcome is None or outcome.kind == FAILED:  # still being written, or left to the sweeper
            return Response({**body, "answer": None, "answer_pending": True, "handoff": False, "usage": None},
                            status=202)
        return Response({**body, "answer": outcome.message, "answer_pending": False,
                         "handoff": outcome.handoff or outcome.message is None, "usage": outcome.usage})


class CustomerRatingApi(CustomerApi):
    @extend_schema(summary="Rate the conversation", request=RatingIn, responses={200: CustomerConversationOut, 401: UNAUTHORIZED})
    def post(self, request: Request, conversation_id: int) -> Response:
        data = _valid(RatingIn, request)
        conversation = services.customer_conversation_rate(identity=request.auth, conversation_id=conversation_id,
                                                           score=data["score"])
        return Response(CustomerConversationOut(conversation).data)


class CustomerHandoffApi(CustomerApi):
    @extend_schema(summary="Ask for a person", request=HandoffIn, responses={200: CustomerConversationOut, 401: UNAUTHORIZED})
    def post(self, request: Request, conversation_id: int) -> Response:
        data = _valid(HandoffIn, request)
        conversation = services.customer_handoff_request(identity=request.auth, conversation_id=conversation_id,
                                                         reason=data["reason"])
        return Response(CustomerConversationOut(conversation).data)


def _valid(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data if request.data is not None else {})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
