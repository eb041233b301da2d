"""How the OpenAPI schema (drf-spectacular) describes the customer side's token and answers."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers


class CustomerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "chat.api.customer.authentication.CustomerTokenAuthentication"
    name = "CustomerToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "http", "scheme": "bearer",
                "description": "A customer token (`ct_...`) from POST /api/v1/customer/tokens."}


_ERROR = inline_serializer("CustomerError", fields={
    "error": inline_serializer("CustomerErrorBody", fields={
        "code": serializers.CharField(), "message": serializers.CharField(),
        "details": serializers.JSONField()})})
UNAUTHORIZED = OpenApiResponse(_ERROR, description="No customer token, or not a live one of this business: "
                                                   "always this one answer.")
EVENT_STREAM = OpenApiResponse(OpenApiTypes.STR, description="With `stream` true: the answer as Server-Sent Events "
                                                             "(docs/api.md, \"Mobile app quick start\").")
