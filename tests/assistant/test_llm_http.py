"""chat.assistant.http's contract: the `openai` client's requests to an endpoint a tenant chose go
only to addresses the egress guard allowed, to the address that was checked, with the host's name
for HTTP and TLS; what was refused is a connection error with the refusal as its cause."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2
import pytest

from chat.assistant.http import llm_http_client
from config.egress import egress_refusal_in
from tests.support.fake_openai import FakeOpenAIServer
from tests.support.tls import local_tls


def ask(url: str, **client_options: Any) -> httpx2.Response:
    """A chat request (the fake server records those) to `url`'s /chat/completions."""
    async def fetch() -> httpx2.Response:
        async with llm_http_client(**client_options) as client:
            response = await client.post(f"{url}/chat/completions", json={
                "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Are you open?"}]})
            await response.aread()
            return response

    return asyncio.run(fetch())


def test_a_name_is_resolved_checked_and_verified_by_its_certificate(settings: Any) -> None:
    settings.EGRESS_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    tls = local_tls(dns_names=("localhost",))  # not for 127.0.0.1, the address connected to
    with FakeOpenAIServer(tls=tls.server) as server:
        port = server.port
        response = ask(f"https://localhost:{port}/v1", ssl_context=tls.client)

    assert response.status_code == 200
    assert [request.headers["host"] for request in server.requests] == [f"localhost:{port}"]


def test_a_certificate_not_for_the_name_is_refused_though_the_address_was_allowed(settings: Any) -> None:
    settings.EGRESS_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    tls = local_tls()  # for 127.0.0.1 only: connecting by address must not pass it off as "localhost"
    with FakeOpenAIServer(tls=tls.server) as server, pytest.raises(httpx2.ConnectError):
        ask(f"https://localhost:{server.port}/v1", ssl_context=tls.client)

    assert server.requests == []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]", "2130706433"])
def test_an_internal_address_is_a_connection_error_caused_by_the_refusal(host: str) -> None:
    with FakeOpenAIServer() as server:
        with pytest.raises(httpx2.ConnectError) as raised:
            ask(f"http://{host}:{server.port}/v1")

        assert server.requests == []
    refusal = egress_refusal_in(raised.value)
    assert refusal is not None and refusal.code == "egress_refused"


def test_the_operators_own_endpoint_is_not_guarded() -> None:
    with FakeOpenAIServer() as server:
        assert ask(f"http://127.0.0.1:{server.port}/v1", egress_guarded=False).status_code == 200


def test_through_the_environments_proxy_the_name_is_checked_first(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOpenAIServer() as proxy:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
        with pytest.raises(httpx2.ConnectError):
            ask("http://localhost:8/v1")

        assert proxy.requests == []


@pytest.mark.parametrize(("no_proxy", "via_proxy"), [("", True), ("localhost", False), (".localhost", False),
                                                     ("example.com", True)])
def test_an_allowed_name_goes_through_the_proxy_unless_no_proxy_names_it(
        monkeypatch: pytest.MonkeyPatch, settings: Any, no_proxy: str, via_proxy: bool) -> None:
    settings.EGRESS_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    with FakeOpenAIServer() as proxy, FakeOpenAIServer() as direct:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
        monkeypatch.setenv("NO_PROXY", no_proxy)

        assert ask(f"http://localhost:{direct.port}/v1").status_code == 200

        assert (len(proxy.requests), len(direct.requests)) == ((1, 0) if via_proxy else (0, 1))
