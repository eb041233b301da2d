"""The `webhooks` area of the business API (/api/v1/webhooks/…): endpoints (the secret shown once,
on creation and rotation), their deliveries with each attempt, a test event, send again.

Thin views on chat.webhooks' services and selectors, on the API's conventions (chat.api.conventions:
keys with the `webhooks` scope, strict bodies, cursor pages, Idempotency-Key on POST).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from chat.api.conventions import ApiView, StrictSerializer, query_params_check
from chat.api.models import Scope
from chat.webhooks import selectors, services
from chat.webhooks.models import SUBSCRIBABLE, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from config.errors import NotFound
from config.secrets_at_rest import secret_masked

PAGE_PARAMS = {"cursor", "limit"}


class EndpointIn(StrictSerializer):
    url = serializers.URLField(max_length=2000)
    events = serializers.ListField(child=serializers.ChoiceField(choices=SUBSCRIBABLE), min_length=1)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class EndpointPatch(StrictSerializer):
    url = serializers.URLField(max_length=2000, required=False)
    events = serializers.ListField(child=serializers.ChoiceField(choices=SUBSCRIBABLE), min_length=1, required=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False)


class EndpointOut(serializers.ModelSerializer):
    secret = serializers.SerializerMethodField(help_text="Masked; the whole secret is shown only when made.")

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "events", "enabled", "disabled_reason", "secret", "created", "updated"]

    def get_secret(self, endpoint: WebhookEndpoint) -> str:
        return secret_masked(endpoint.secret)


class EndpointWithSecretOut(EndpointOut):
    secret = serializers.SerializerMethodField(help_text="`whsec_…`: shown this once, store it now.")

    def get_secret(self, endpoint: WebhookEndpoint) -> str:
        return str(self.context["secret"])


class AttemptOut(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["attempted_at", "status_code", "latency_ms", "response_body", "error"]


class DeliveryOut(serializers.ModelSerializer):
    message_id = serializers.CharField(source="message.msg_id")
    type = serializers.CharField(source="message.type")
    payload = serializers.JSONField(source="message.payload")
    attempt_log = AttemptOut(many=True)

    class Meta:
        model = WebhookDelivery
        fields = ["id", "message_id", "type", "status", "attempts", "next_attempt_at", "created", "payload",
                  "attempt_log"]


def _endpoint(endpoint_id: int) -> WebhookEndpoint:
    return services.webhook_endpoint_get(endpoint_id=endpoint_id)


class EndpointListApi(ApiView):
    api_scope = Scope.WEBHOOKS
    serializer_class = EndpointOut

    @extend_schema(responses=EndpointOut(many=True), summary="List webhook endpoints (secrets masked)")
    def get(self, request: Request) -> Response:
        query_params_check(request, allowed=PAGE_PARAMS)
        page = self.paginate_queryset(selectors.webhook_endpoint_list())
        return self.get_paginated_response(EndpointOut(page, many=True).data)

    @extend_schema(request=EndpointIn, responses={201: EndpointWithSecretOut},
                   summary="Add a webhook endpoint (its secret is in this answer only)")
    def post(self, request: Request) -> Response:
        data = EndpointIn(data=request.data)
        data.is_valid(raise_exception=True)
        created = services.webhook_endpoint_create(**data.validated_data)
        return Response(EndpointWithSecretOut(created.endpoint, context={"secret": created.secret}).data,
                        status=status.HTTP_201_CREATED)


class EndpointApi(ApiView):
    api_scope = Scope.WEBHOOKS
    serializer_class = EndpointOut

    @extend_schema(summary="Read a webhook endpoint")
    def get(self, request: Request, endpoint_id: int) -> Response:
        return Response(EndpointOut(_endpoint(endpoint_id)).data)

    @extend_schema(request=EndpointPatch, responses=EndpointOut,
                   summary="Change a webhook endpoint's URL, events, description or enabled flag")
    def patch(self, request: Request, endpoint_id: int) -> Response:
        endpoint = _endpoint(endpoint_id)
        data = EndpointPatch(data=request.data)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        enabled = changes.pop("enabled", None)
        if changes:
            services.webhook_endpoint_update(endpoint=endpoint, **changes)
        if enabled is not None and enabled != endpoint.enabled:
            services.webhook_endpoint_enabled_set(endpoint=endpoint, enabled=enabled, reason="Disabled through the API.")
        return Response(EndpointOut(endpoint).data)

    @extend_schema(responses={204: None}, summary="Delete a webhook endpoint")
    def delete(self, request: Request, endpoint_id: int) -> Response:
        services.webhook_endpoint_delete(endpoint=_endpoint(endpoint_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndpointSecretRotateApi(ApiView):
    api_scope = Scope.WEBHOOKS
    serializer_class = EndpointWithSecretOut

    @extend_schema(request=None, responses=EndpointWithSecretOut,
                   summary="Rotate the secret (the new one is in this answer only; the old signs for 24 hours more)")
    def post(self, request: Request, endpoint_id: int) -> Response:
        rotated = services.webhook_endpoint_secret_rotate(endpoint=_endpoint(endpoint_id))
        return Response(EndpointWithSecretOut(rotated.endpoint, context={"secret": rotated.secret}).data)


class EndpointTestApi(ApiView):
    api_scope = Scope.WEBHOOKS
    serializer_class = DeliveryOut

    @extend_schema(request=None, responses={202: DeliveryOut}, summary="Send a test event to this endpoint")
    def post(self, request: Request, endpoint_id: int) -> Response:
        delivery = services.webhook_test_send(endpoint=_endpoint(endpoint_id))
        return Response(DeliveryOut(delivery).data, status=status.HTTP_202_ACCEPTED)


class DeliveryListApi(ApiView):
    api_scope = Scope.WEBHOOKS
    serializer_class = DeliveryOut

    @extend_schema(responses=DeliveryOut(many=True), summary="List an endpoint's deliveries with their attempts")
    def get(self, request: Request, endpoint_id: int) -> Response:
        query_params_check(request, allowed=PAGE_PARAMS)
        page = self.paginate_queryset(selectors.webhook_delivery_list(endpoint=_endpoint(endpoint_id)))
        return self.get_paginated_response(DeliveryOut(page, many=True).data)


class DeliveryResendApi(ApiView):
    api_scope = Scope.WEBHOOKS
    serializer_class = DeliveryOut

    @extend_schema(request=None, responses={202: DeliveryOut},
                   summary="Send a delivery again now, with a fresh round of retries")
    def post(self, request: Request, delivery_id: int) -> Response:
        delivery = selectors.webhook_delivery_get(delivery_id=delivery_id)
        if delivery is None:
            raise NotFound("No such webhook delivery.", code="webhook_delivery_not_found")
        return Response(DeliveryOut(services.webhook_delivery_resend(delivery=delivery)).data,
                        status=status.HTTP_202_ACCEPTED)
