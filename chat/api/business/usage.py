"""This month's usage against the plan. Any key with `read` may see it."""

from __future__ import annotations

from django.db import connection
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from chat.api.conventions import ApiView
from chat.assistant.usage import usage_month


class UsageOut(serializers.Serializer):
    messages = serializers.IntegerField(help_text="Customer messages answered this month.")
    tokens = serializers.IntegerField(help_text="LLM tokens counted toward the plan this month.")
    cost_minor = serializers.IntegerField(help_text="LLM cost this month, in minor units.")
    message_limit = serializers.IntegerField(allow_null=True, help_text="The plan's messages a month; null: none.")
    token_limit = serializers.IntegerField(allow_null=True, help_text="The plan's tokens a month; null: none.")
    percent = serializers.FloatField(help_text="The larger of messages and tokens used, in percent of the plan.")
    level = serializers.ChoiceField(choices=["ok", "warning", "exhausted"], help_text="How much of the plan is used.")


class UsageApi(ApiView):
    serializer_class = UsageOut

    @extend_schema(summary="This month's usage against the plan")
    def get(self, request: Request) -> Response:
        return Response(UsageOut(usage_month(schema_name=connection.schema_name)).data)
