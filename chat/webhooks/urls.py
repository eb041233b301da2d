"""/api/v1/webhooks/…, included by chat.api.urls (after it registers the `row` converter)."""

from django.urls import path

from chat.webhooks import api

urlpatterns = [
    path("endpoints", api.EndpointListApi.as_view(), name="webhook-endpoints"),
    path("endpoints/<row:endpoint_id>", api.EndpointApi.as_view(), name="webhook-endpoint"),
    path("endpoints/<row:endpoint_id>/rotate-secret", api.EndpointSecretRotateApi.as_view(),
         name="webhook-endpoint-rotate-secret"),
    path("endpoints/<row:endpoint_id>/test", api.EndpointTestApi.as_view(), name="webhook-endpoint-test"),
    path("endpoints/<row:endpoint_id>/deliveries", api.DeliveryListApi.as_view(), name="webhook-deliveries"),
    path("deliveries/<row:delivery_id>/resend", api.DeliveryResendApi.as_view(), name="webhook-delivery-resend"),
]
