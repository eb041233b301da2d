"""Shared fixtures for the assistant's tests: short LLM limits and a fake provider per test."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from chat.assistant.resilience import circuit_reset
from tests.support.fake_openai import FakeOpenAIServer


@pytest.fixture
def fast_limits(settings: Any) -> Any:
    """Timeouts and delays scaled down so failures show within a test's patience."""
    settings.LLM_CONNECT_TIMEOUT_SECONDS = 2
    settings.LLM_FIRST_TOKEN_TIMEOUT_SECONDS = 5
    settings.LLM_TOTAL_TIMEOUT_SECONDS = 10
    settings.LLM_MAX_RETRIES = 2
    settings.LLM_RETRY_BASE_DELAY_SECONDS = 0.01
    settings.LLM_RETRY_MAX_DELAY_SECONDS = 0.05
    settings.LLM_RETRY_AFTER_MAX_SECONDS = 1
    settings.LLM_CIRCUIT_FAILURES = 5
    settings.LLM_CIRCUIT_WINDOW_SECONDS = 60
    settings.LLM_CIRCUIT_COOLDOWN_SECONDS = 30
    settings.LLM_TENANT_MAX_CONCURRENCY = 8
    return settings


@pytest.fixture
def llm(fast_limits: Any) -> Iterator[FakeOpenAIServer]:
    """A fake model on a port of its own, with a closed circuit."""
    with FakeOpenAIServer() as server:
        # The OS reuses ports between tests, and the circuit is keyed by the address.
        asyncio.run(circuit_reset(base_url=server.base_url))
        yield server
        asyncio.run(circuit_reset(base_url=server.base_url))
