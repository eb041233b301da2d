"""Trying a business's own model endpoint once, when it is saved, before its customers meet it.

Three checks, each through the egress guard like every call to the endpoint: a short chat answer,
a chat request offering a tool (many self-hosted servers refuse tools, or ignore them), and, when
the business chose an embedding model, one embedding. The result is stored with the settings
(BusinessProfile.llm_probe) and shown on the settings page; a failed check says why.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import aclosing
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone

from chat.assistant.llm import (
    OPENAI_DEFAULT_BASE_URL,
    LLMError,
    ProviderConfig,
    StreamFinished,
    TextDelta,
    ToolCall,
    chat_stream,
    run_then_close_llm_clients,
)
from config.content_version import content_version_bump

logger = logging.getLogger(__name__)

PROBE_TOOL = {"type": "function", "function": {
    "name": "current_time",
    "description": "The current time. Call it whenever the user asks what time it is.",
    "parameters": {"type": "object", "properties": {}, "additionalProperties": False},
}}


@dataclass(frozen=True)
class ProbeCheck:
    """One check: `status` is "ok", "partial" (works, with a caveat), "failed" or "skipped"."""

    status: str
    detail: str
    seconds: float | None = None


@dataclass(frozen=True)
class ProbeResult:
    tried_at: str
    base_url: str
    chat_model: str
    embedding_model: str
    chat: ProbeCheck
    tools: ProbeCheck
    embeddings: ProbeCheck

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


async def _chat_check(config: ProviderConfig, tenant_schema: str, timeout: float) -> ProbeCheck:
    started = time.monotonic()
    text = ""
    try:
        async with asyncio.timeout(timeout):
            stream = chat_stream(config=config, tenant_schema=tenant_schema, tools=None, max_output_tokens=16,
                                 messages=[{"role": "user", "content": "Say hello in one short sentence."}])
            async with aclosing(stream) as events:
                async for event in events:
                    if isinstance(event, TextDelta):
                        text += event.text
    except TimeoutError:
        return ProbeCheck("failed", f"No answer within {timeout:g} seconds.", round(time.monotonic() - started, 2))
    except LLMError as error:
        return ProbeCheck("failed", error.message, round(time.monotonic() - started, 2))
    seconds = round(time.monotonic() - started, 2)
    if not text.strip():
        return ProbeCheck("failed", "The endpoint answered with no text.", seconds)
    return ProbeCheck("ok", f"Answered in {seconds:g} s.", seconds)


async def _tools_check(config: ProviderConfig, tenant_schema: str, timeout: float) -> ProbeCheck:
    started = time.monotonic()
    called = False
    try:
        async with asyncio.timeout(timeout):
            stream = chat_stream(config=config, tenant_schema=tenant_schema, tools=[PROBE_TOOL], max_output_tokens=64,
                                 messages=[{"role": "user", "content": "What time is it? Use the current_time tool."}])
            async with aclosing(stream) as events:
                async for event in events:
                    if isinstance(event, ToolCall) and event.name == "current_time":
                        called = True
                    elif isinstance(event, StreamFinished):
                        break
    except TimeoutError:
        return ProbeCheck("failed", f"No answer within {timeout:g} seconds to a request offering a tool.",
                          round(time.monotonic() - started, 2))
    except LLMError as error:
        return ProbeCheck("failed", f"A request offering tools was refused: {error.message} Without tools the "
                                    "assistant cannot look up orders, stock or opening hours with this model.",
                          round(time.monotonic() - started, 2))
    seconds = round(time.monotonic() - started, 2)
    if not called:
        return ProbeCheck("partial", "Tools are accepted, but the model did not call one when asked to: it may "
                                     "answer without looking orders, stock or opening hours up.", seconds)
    return ProbeCheck("ok", "The model called a tool when asked to.", seconds)


def _embeddings_check(config: ProviderConfig, embedding_model: str) -> ProbeCheck:
    from chat.knowledge.embeddings import EmbeddingConfig, OpenAIEmbeddingProvider
    from chat.knowledge.exceptions import EmbeddingFailed

    if not embedding_model:
        return ProbeCheck("skipped", "No embedding model set: the platform's embeddings search the knowledge base.")
    embedding = EmbeddingConfig(model=embedding_model, base_url=config.base_url, api_key=config.api_key,
                                egress_guarded=True)
    provider = OpenAIEmbeddingProvider(api_key=embedding.api_key, model=embedding.model, base_url=embedding.base_url,
                                       timeout=float(settings.LLM_PROBE_TIMEOUT_SECONDS), egress_guarded=True)
    started = time.monotonic()
    try:
        vectors = provider.embed(["Do you ship abroad?"])
    except EmbeddingFailed as error:
        return ProbeCheck("failed", f"{error.message} Remove the embedding model to use the platform's embeddings.",
                          round(time.monotonic() - started, 2))
    seconds = round(time.monotonic() - started, 2)
    return ProbeCheck("ok", f"{int(vectors.shape[1])} dimensions, in {seconds:g} s.", seconds)


def endpoint_probe(*, config: ProviderConfig, embedding_model: str, tenant_schema: str) -> ProbeResult:
    """Try the endpoint: chat, tool calling, and embeddings when a model is set (run outside an event loop)."""
    timeout = float(settings.LLM_PROBE_TIMEOUT_SECONDS)

    async def both() -> tuple[ProbeCheck, ProbeCheck]:
        chat = await _chat_check(config, tenant_schema, timeout)
        if chat.status == "failed":
            return chat, ProbeCheck("skipped", "Not tried: chat does not work.")
        return chat, await _tools_check(config, tenant_schema, timeout)

    chat, tools = run_then_close_llm_clients(both())
    embeddings = _embeddings_check(config, embedding_model)
    result = ProbeResult(tried_at=timezone.now().isoformat(), base_url=config.base_url, chat_model=config.chat_model,
                         embedding_model=embedding_model, chat=chat, tools=tools, embeddings=embeddings)
    logger.info("tenant %s: endpoint tried: chat %s, tools %s, embeddings %s", tenant_schema, chat.status,
                tools.status, embeddings.status)
    return result


def business_endpoint_probe(*, tenant_schema: str) -> dict[str, Any]:
    """Try the current business's saved endpoint and store what it supports with its settings."""
    from chat.conversations.services import business_profile_get

    profile = business_profile_get()
    if not profile.llm_api_key:
        profile.llm_probe = {}
    else:
        config = ProviderConfig(api_key=profile.llm_api_key, base_url=profile.llm_base_url or OPENAI_DEFAULT_BASE_URL,
                                chat_model=profile.llm_chat_model or ProviderConfig.chat_model)
        profile.llm_probe = endpoint_probe(config=config, embedding_model=profile.llm_embedding_model,
                                           tenant_schema=tenant_schema).as_json()
    profile.save(update_fields=["llm_probe", "updated"])
    content_version_bump()
    return dict(profile.llm_probe)
