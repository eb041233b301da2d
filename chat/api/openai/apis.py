"""`/v1/chat/completions` and `/v1/models` on a business's own domain: its assistant, for any OpenAI
client (docs/api.md, "OpenAI-compatible clients"). Authenticated with the business's API keys
(scope `conversations`); errors in OpenAI's shape, this path alone."""

from __future__ import annotations

import logging
import time
from typing import Any, ClassVar

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connection
from django.http import Http404, HttpRequest, JsonResponse, StreamingHttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions as drf_exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from chat.api.conventions import IDEMPOTENCY_HEADER, ApiView
from chat.api.customer.selectors import answer_outcome_stored
from chat.api.customer.streaming import ANSWERED, FAILED, answer_wait
from chat.api.openai import services
from chat.api.openai.stream import CompletionHead, completion_chunks
from chat.api.openai.wire import completion, error_body
from config.errors import ApplicationError

logger = logging.getLogger(__name__)

CONVERSATION_HEADER = "X-Conversation-Id"


def openai_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Every refusal of this path in OpenAI's error shape, with its real HTTP status."""
    headers: dict[str, str] = {}
    if isinstance(exc, ApplicationError):
        status, code, message = exc.status, exc.code, exc.message
        details = exc.details if isinstance(exc.details, dict) else {}
        param = details.get("param") or details.get("field")
    elif isinstance(exc, drf_exceptions.APIException):
        status, param = exc.status_code, None
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else "invalid_request"
        detail = exc.detail
        if isinstance(detail, dict) and detail:
            param, first = next(iter(detail.items()))
            message = str(first[0] if isinstance(first, list) and first else first)
        elif isinstance(detail, list) and detail:
            message = str(detail[0])
        else:
            message = str(detail)
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
    elif isinstance(exc, Http404):
        status, code, message, param = 404, "not_found", "Not found.", None
    else:
        logger.exception("unhandled error on the OpenAI-compatible endpoint")
        status, code, message, param = 500, "server_error", "Something went wrong on our side.", None
    return Response(error_body(message=message, status=status, code=code, param=param), status=status,
                    headers=headers)


@extend_schema(exclude=True)  # OpenAI's own specification describes it, not /api/v1/'s schema
class OpenAIApi(ApiView):
    api_scope: ClassVar[str | None] = "conversations"

    def get_exception_handler(self) -> Any:
        return openai_exception_handler


def _model() -> dict[str, Any]:
    tenant = connection.tenant
    created = getattr(tenant, "created", None)
    return {"id": services.MODEL_ID, "object": "model", "created": int(created.timestamp()) if created else 0,
            "owned_by": getattr(tenant, "schema_name", "")}


class ModelsApi(OpenAIApi):
    """GET: the one model this business has, its assistant."""

    def get(self, request: Request) -> Response:
        return Response({"object": "list", "data": [_model()]})


class ModelApi(OpenAIApi):
    def get(self, request: Request, model: str) -> Response:
        if model != services.MODEL_ID:
            raise services.CompletionRequestInvalid(f"The model `{model[:100]}` does not exist.", param="model",
                                                    code="model_not_found", status=404)
        return Response(_model())


class ChatCompletionsApi(OpenAIApi):
    """POST: the request's last user message through the core path; the answer streamed as
    `chat.completion.chunk` objects (`stream: true`) or whole."""

    def post(self, request: Request) -> Response | StreamingHttpResponse:
        parsed = services.completion_request_parse(body=request.data)
        if parsed.stream and IDEMPOTENCY_HEADER in request.headers:
            # A stream cannot be kept and replayed; this refusal is what the key replays.
            raise services.CompletionRequestInvalid("Idempotency-Key cannot be used with `stream: true`.",
                                                    param=IDEMPOTENCY_HEADER)
        stored = services.completion_message_receive(request=parsed,
                                                     conversation_id=request.headers.get(CONVERSATION_HEADER))
        schema_name = connection.schema_name
        message_id = stored.received.message.pk
        outcome = None if stored.received.needs_answer else answer_outcome_stored(customer_message_id=message_id)
        head = CompletionHead(completion_id=f"chatcmpl-{message_id}", created=int(time.time()), model=services.MODEL_ID,
                              conversation_id=stored.conversation_id)
        headers = {CONVERSATION_HEADER: str(stored.conversation_id)}
        if parsed.stream:
            return StreamingHttpResponse(
                completion_chunks(head=head, schema_name=schema_name, reply_to=message_id, outcome=outcome,
                                  include_usage=parsed.include_usage),
                content_type="text/event-stream; charset=utf-8",
                headers={**headers, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        if outcome is None:
            outcome = async_to_sync(answer_wait)(schema_name=schema_name, customer_message_id=message_id,
                                                 timeout=settings.API_ANSWER_TIMEOUT_SECONDS)
        if outcome is None:
            raise ApplicationError("The answer took longer than this endpoint waits; it will be in the "
                                   "conversation shortly.", code="timeout", status=504)
        if outcome.kind == FAILED:
            raise ApplicationError("The assistant could not answer just now. Please try again shortly.",
                                   code="answer_failed", status=503)
        text = outcome.message["text"] if outcome.kind == ANSWERED and outcome.message else ""
        body = completion(completion_id=head.completion_id, created=head.created, model=head.model, text=text,
                          usage=outcome.usage,
                          extra={"conversation_id": stored.conversation_id,
                                 "handoff": outcome.handoff or outcome.kind != ANSWERED,
                                 "sources": (outcome.message or {}).get("sources", [])})
        return Response(body, headers=headers)


def openai_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Any other path under /v1/: OpenAI's 404."""
    return JsonResponse(error_body(message=f"Unknown request URL: {request.method} {request.path}.", status=404,
                                   code="unknown_url"), status=404)
