"""The `webhooks` area of the business API (/api/v1/webhooks/…): endpoints (the secret shown once,
on creation and rotation), their deliveries with each attempt, a test event, send again.

Thin views on chat.webhooks' services and selectors; keys need the `webhooks` scope (chat.api).
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from chat.api.conventions import ApiView
from chat.webhooks import selectors, services
from chat.webhooks.models import SUBSCRIBABLE, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from config.errors import NotFound, ValidationFailed
from config.secrets_at_rest import secret_masked


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know: a typo is an error, not a silently ignored change."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise ValidationFailed(f"Unknown field: {', '.join(unknown)}.", code="unknown_field",
                                       details={"unknown_fields": unknown})
        return super().to_internal_value(data)


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


class WebhooksApi(ApiView):
    api_scope = "webhooks"

    def page(self, rows: list[Any], serializer: type[serializers.BaseSerializer]) -> Response:
        """The list conventions' envelope (the paginator's when the API has one)."""
        page = self.paginate_queryset(rows)
        if page is not None:
            return self.get_paginated_response(serializer(page, many=True).data)
        return Response({"data": serializer(rows, many=True).data, "has_more": False, "next_cursor": None})


class EndpointListApi(WebhooksApi):
    serializer_class = EndpointOut

    def get(self, request: Request) -> Response:
        return self.page(list(selectors.webhook_endpoint_list()), EndpointOut)

    def post(self, request: Request) -> Response:
        data = EndpointIn(data=request.data)
        data.is_valid(raise_exception=True)
        created = services.webhook_endpoint_create(**data.validated_data)
        return Response(EndpointWithSecretOut(created.endpoint, context={"secret": created.secret}).data,
                        status=status.HTTP_201_CREATED)


class EndpointApi(WebhooksApi):
    serializer_class = EndpointOut

    def get(self, request: Request, endpoint_id: int) -> Response:
        return Response(EndpointOut(_endpoint(endpoint_id)).data)

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

    def delete(self, request: Request, endpoint_id: int) -> Response:
        services.webhook_endpoint_delete(endpoint=_endpoint(endpoint_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndpointSecretRotateApi(WebhooksApi):
    serializer_class = EndpointWithSecretOut

    def post(self, request: Request, endpoint_id: int) -> Response:
        rotated = services.webhook_endpoint_secret_rotate(endpoint=_endpoint(endpoint_id))
        return Response(EndpointWithSecretOut(rotated.endpoint, context={"secret": rotated.secret}).data)


class EndpointTestApi(WebhooksApi):
    serializer_class = DeliveryOut

    def post(self, request: Request, endpoint_id: int) -> Response:
        delivery = services.webhook_test_send(endpoint=_endpoint(endpoint_id))
        return Response(DeliveryOut(delivery).data, status=status.HTTP_202_ACCEPTED)


class DeliveryListApi(WebhooksApi):
    serializer_class = DeliveryOut

    def get(self, request: Request, endpoint_id: int) -> Response:
        return self.page(selectors.webhook_delivery_list(endpoint=_endpoint(endpoint_id)), DeliveryOut)


class DeliveryResendApi(WebhooksApi):
    serializer_class = DeliveryOut

    def post(self, request: Request, delivery_id: int) -> Response:
        delivery = selectors.webhook_delivery_get(delivery_id=delivery_id)
        if delivery is None:
            raise NotFound("No such webhook delivery.", code="webhook_delivery_not_found")
        return Response(DeliveryOut(services.webhook_delivery_resend(delivery=delivery)).data,
                        status=status.HTTP_202_ACCEPTED)
