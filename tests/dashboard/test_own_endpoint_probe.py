"""A business that saves its own model endpoint sees at once what it supports (issue 26): Deskpilot
tries it once, through the egress guard, for chat, tool calling and (when an embedding model is set)
embeddings, stores the result with the settings and shows it on the page, a failure with its reason.

The endpoint is the fake provider on 127.0.0.1, which the operator allows here as a private model
server (EGRESS_ALLOWED_NETWORKS); where it is not allowed, the probe must not reach it.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from chat.assistant.probe import business_endpoint_probe
from chat.assistant.resilience import circuit_reset
from chat.conversations.models import BusinessProfile
from tests.dashboard.conftest import Business
from tests.support.fake_openai import FakeOpenAIServer

SAVE = "/app/settings/profile/llm/"


def capable(body: dict[str, Any]) -> dict[str, Any] | None:
    """A model that calls the tool it is offered, and answers in words otherwise."""
    if body.get("tools") and body["messages"][-1]["role"] == "user":
        return {"tool_calls": [{"name": body["tools"][0]["function"]["name"], "arguments": {}}]}
    return {"text": "Hello there, how can I help?"}


@pytest.fixture
def allowed(settings: Any) -> Any:
    settings.EGRESS_ALLOWED_NETWORKS = ["127.0.0.1"]
    settings.LLM_MAX_RETRIES = 0
    settings.LLM_PROBE_TIMEOUT_SECONDS = 5
    return settings


def own_endpoint(**options: Any) -> FakeOpenAIServer:
    server = FakeOpenAIServer(responder=capable, **options).start()
    from chat.assistant.llm import run_then_close_llm_clients

    run_then_close_llm_clients(circuit_reset(base_url=server.base_url))
    return server


@pytest.fixture
def reembeds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    from chat.knowledge import tasks

    requested: list[str] = []
    monkeypatch.setattr(tasks.kb_reembed_stale, "delay", lambda: requested.append(str(connection.schema_name)))
    return requested


def page_text(business: Business) -> str:
    return html.unescape(business.client(business.owner).get("/app/settings/profile/").content.decode())


def stored_probe(business: Business) -> dict[str, Any]:
    with schema_context(business.tenant.schema_name):
        return dict(BusinessProfile.objects.get().llm_probe)


def test_an_endpoint_that_does_everything_is_shown_as_working(business: Business, allowed: Any,
                                                              reembeds: list[str]) -> None:
    server = own_endpoint()
    try:
        saved = business.client(business.owner).post(SAVE, {
            "api_key": "sk-own-key", "base_url": server.base_url, "chat_model": "own-chat",
            "embedding_model": "text-embedding-3-small"})
        page = page_text(business)
    finally:
        server.stop()

    assert saved.status_code == 302
    probe = stored_probe(business)
    assert [probe[key]["status"] for key in ("chat", "tools", "embeddings")] == ["ok", "ok", "ok"]
    assert "Chat: works." in page and "Tool calling: works." in page and "Embeddings: works." in page
    assert "1536 dimensions" in page
    assert {request.headers["authorization"] for request in server.requests} == {"Bearer sk-own-key"}
    assert {request.json["model"] for request in server.chat_requests} == {"own-chat"}
    assert reembeds == [business.tenant.schema_name], "the knowledge base is embedded again with the new model"


def test_a_chat_only_endpoint_without_tools_says_so_before_customers_meet_it(business: Business, allowed: Any,
                                                                            reembeds: list[str]) -> None:
    # llama.cpp's server as many run it: no --jinja (tools refused), no --embeddings.
    server = own_endpoint(tools_status=500, embeddings_status=404)
    try:
        business.client(business.owner).post(SAVE, {
            "api_key": "sk-own-key", "base_url": server.base_url, "chat_model": "gemma-270m",
            "embedding_model": "nomic-embed"})
        page = page_text(business)
    finally:
        server.stop()

    probe = stored_probe(business)
    assert [probe[key]["status"] for key in ("chat", "tools", "embeddings")] == ["ok", "failed", "failed"]
    assert "Chat: works." in page
    assert "Tool calling: does not work." in page and "HTTP 500" in probe["tools"]["detail"]
    assert "Embeddings: does not work." in page and "404" in probe["embeddings"]["detail"]
    assert "Remove the embedding model" in page


def test_without_an_embedding_model_the_platform_embeds_and_nothing_is_embedded_again(
        business: Business, allowed: Any, reembeds: list[str]) -> None:
    server = own_endpoint(embeddings_status=500)
    try:
        business.client(business.owner).post(SAVE, {"api_key": "sk-own-key", "base_url": server.base_url,
                                                    "chat_model": "own-chat", "embedding_model": ""})
        page = page_text(business)
    finally:
        server.stop()

    assert stored_probe(business)["embeddings"]["status"] == "skipped"
    assert "Embeddings: not tried." in page and "platform's embeddings" in page
    assert not [request for request in server.requests if request.path.endswith("/embeddings")]
    assert reembeds == []


def test_a_model_that_ignores_the_tool_is_a_caveat(business: Business, allowed: Any) -> None:
    server = own_endpoint()
    server.responder = lambda body: {"text": "It is noon."}
    try:
        business.client(business.owner).post(SAVE, {"api_key": "sk-own-key", "base_url": server.base_url,
                                                    "chat_model": "own-chat", "embedding_model": ""})
    finally:
        server.stop()

    assert stored_probe(business)["tools"]["status"] == "partial"
    assert "did not call one" in page_text(business)


def test_an_endpoint_the_guard_refuses_is_never_reached_by_the_probe(business: Business, settings: Any) -> None:
    # Saved before the guard existed (the form refuses it now): the probe still goes through the guard.
    settings.LLM_MAX_RETRIES = 0
    server = own_endpoint()
    try:
        with schema_context(business.tenant.schema_name):
            BusinessProfile.objects.update_or_create(pk=1, defaults={
                "name": "Shop", "llm_api_key": "sk-own-key", "llm_base_url": server.base_url})
            probe = business_endpoint_probe(tenant_schema=business.tenant.schema_name)
    finally:
        server.stop()

    assert probe["chat"]["status"] == "failed" and "refused" in probe["chat"]["detail"]
    assert server.requests == []


@pytest.fixture(autouse=True)
def _public_afterwards() -> Iterator[None]:
    yield
    connection.set_schema_to_public()
