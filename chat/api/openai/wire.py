"""The OpenAI Chat Completions wire format, as the official clients read it: pure functions.

Only this endpoint speaks OpenAI's error shape, `{"error": {"message", "type", "param", "code"}}`;
everything else of the API answers in the platform's own (config.errors).
"""

from __future__ import annotations

import json
from typing import Any

DONE = b"data: [DONE]\n\n"

# The `type` OpenAI gives each kind of failure, by HTTP status.
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def error_type_for(status: int) -> str:
    return _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


def error_body(*, message: str, status: int, code: str | None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type_for(status), "param": param, "code": code}}


def sse_data(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


def chunk(*, completion_id: str, created: int, model: str, delta: dict[str, Any] | None,
          finish_reason: str | None = None, usage: dict[str, int] | None = None) -> dict[str, Any]:
    """One `chat.completion.chunk`. The usage chunk (`delta` None) has no choices, as OpenAI sends it."""
    body: dict[str, Any] = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                            "model": model, "system_fingerprint": None}
    body["choices"] = [] if delta is None else [
        {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]
    body["usage"] = usage
    return body


def completion(*, completion_id: str, created: int, model: str, text: str, usage: dict[str, int],
               extra: dict[str, Any]) -> dict[str, Any]:
    """A whole `chat.completion`; `extra` is the platform's own field (`deskpilot`), which OpenAI's
    clients keep as an extra attribute."""
    return {
        "id": completion_id, "object": "chat.completion", "created": created, "model": model,
        "system_fingerprint": None,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": None},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": usage,
        "deskpilot": extra,
    }
