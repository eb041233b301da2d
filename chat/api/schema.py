"""How the OpenAPI schema (drf-spectacular) describes what the API's own classes do."""

from __future__ import annotations

import inspect
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "chat.api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "http", "scheme": "bearer",
                "description": "An API key of the business (dashboard, Settings, API keys; or `manage.py api_keys`)."}


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string", "description": "Stable, for programs: `invalid`, `not_found`, ..."},
                "message": {"type": "string", "description": "For people."},
                "details": {"description": "More about the error (the fields at fault, say), or null."},
            },
        }
    },
}
_ERRORS_EVERYWHERE = {
    "400": "The request is not valid (`details` names the fields at fault).",
    "404": "No such thing on this business's domain.",
    "406": "Answers are JSON only.",
}
_ERRORS_WITH_A_KEY = {
    "401": "No key, or not a live key of this business: always this one answer.",
    "403": "The key lacks a scope this needs (`details.missing_scopes`).",
    "429": "Past the key's rate limit: retry after `Retry-After` seconds.",
}
_ERRORS_OF_WRITES = {
    "409": "A conflict: a change the conversation's state does not allow, or the same Idempotency-Key in flight.",
    "413": "The body is larger than the API takes.",
    "415": "The body is not in a media type this endpoint reads.",
    "422": "The Idempotency-Key was used before with a different request.",
}
_WRITES = {"post", "put", "patch"}
_HEADER = {"schema": {"type": "string"}}
_RATE_HEADERS = {
    "RateLimit-Limit": {"description": "Requests a window allows this key.", "schema": {"type": "integer"}},
    "RateLimit-Remaining": {"description": "Requests left in this window.", "schema": {"type": "integer"}},
    "RateLimit-Reset": {"description": "Seconds until the window ends.", "schema": {"type": "integer"}},
}


def conventions_hook(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular post-processing: what every operation shares (chat.api.conventions), written
    once here rather than on each view: the error answers and their one shape, the request id and
    rate-limit headers, and `Idempotency-Key` on every POST."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    error_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    from chat.api.conventions import ApiView

    shared_doc = inspect.getdoc(ApiView)
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if operation.get("description") == shared_doc:
                del operation["description"]  # the base class's, not the endpoint's: its summary says it
            keyed = any("ApiKey" in requirement for requirement in operation.get("security", []))
            errors = dict(_ERRORS_EVERYWHERE)
            if keyed:
                errors.update(_ERRORS_WITH_A_KEY)
            if method in _WRITES or method == "delete":
                errors.update(_ERRORS_OF_WRITES)
            responses = operation.setdefault("responses", {})
            for status, description in errors.items():
                responses.setdefault(status, {"description": description, "content": error_ref})
            for response in responses.values():
                headers = response.setdefault("headers", {})
                headers["X-Request-ID"] = {"description": "This request's id, for support and logs.", **_HEADER}
                if keyed:
                    headers.update(_RATE_HEADERS)
            if method == "post" and keyed:
                operation.setdefault("parameters", []).append({
                    "name": "Idempotency-Key", "in": "header", "required": False,
                    "description": "Any unique string (a UUID): the first answer is stored for a day and replayed "
                                   "for the same request; the same key with another request is a 422.",
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"}})
    return result
