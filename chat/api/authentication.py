"""`Authorization: Bearer <API key>` for the REST API, checked in the request's tenant schema."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from chat.api.models import ApiKey
from chat.api.services import api_key_authenticate


class InvalidApiKey(exceptions.AuthenticationFailed):
    # One answer for a missing, malformed, unknown, revoked or other tenant's key: which one it was
    # would tell a prober what exists.
    default_detail = "A valid API key is required: send it as 'Authorization: Bearer <key>'."
    default_code = "invalid_api_key"


@dataclass(frozen=True)
class ApiClient:
    """Who is calling: the holder of one of this tenant's API keys (request.user in API views)."""

    api_key: ApiKey
    schema_name: str
    is_authenticated: bool = True
    is_anonymous: bool = False

    @property
    def pk(self) -> int:
        return self.api_key.pk

    def get_username(self) -> str:
        return f"api-key:{self.api_key.key_id}"


class ApiKeyAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[ApiClient, ApiKey]:
        parts = get_authorization_header(request).split()
        presented = parts[1].decode("latin-1") if len(parts) == 2 and parts[0].lower() == self.keyword else ""
        api_key = api_key_authenticate(presented=presented)
        if api_key is None:
            raise InvalidApiKey()
        return ApiClient(api_key=api_key, schema_name=connection.schema_name), api_key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
