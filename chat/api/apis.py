"""Business-side endpoints about the API itself."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from chat.api.conventions import ApiView
from chat.api.models import ApiKey


class ApiKeyOut(serializers.ModelSerializer):
    id = serializers.CharField(source="key_id")

    class Meta:
        model = ApiKey
        fields = ["id", "name", "scopes", "created_at", "last_used_at"]


class CurrentKeyApi(ApiView):
    """The key this request is made with: its id, name and scopes (a way to check a key works)."""

    serializer_class = ApiKeyOut

    def get(self, request: Request) -> Response:
        return Response(ApiKeyOut(request.auth).data)
