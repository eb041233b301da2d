"""An owner points the business's own LLM endpoint at the platform's internal network.

The attacker is a tenant owner: through the real dashboard form of a real web process they set the
LLM base URL to a loopback address (in every spelling) or to an endpoint that redirects there, and
then a customer asks a question. The internal service (a trap listening on every loopback address)
must receive nothing, neither the key nor the prompt, and the customer still gets an answer.

Whatever the form lets through (an allow-listed first hop, a name that resolves elsewhere
tomorrow, a row saved before the guard existed), the connection itself is guarded: the second
half of each case stores the URL straight into the database and asks again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from django_tenants.utils import schema_context

from chat.conversations.models import BusinessProfile
from chat.widget.services import widget_settings_get
from tests.support.owner_session import form_post, owner_dashboard
from tests.support.processes import WebServer, child_env
from tests.support.traps import RedirectServer, TrapServer
from tests.support.ws import WidgetSocket

OWN_KEY = "sk-owner-secret-key-do-not-leak-7f3a"
# Stands for an allow-listed model server on the operator's private network: the first hop passes.
ALLOWED_HOST = "127.0.0.2"


@pytest.fixture
def trap() -> Iterator[TrapServer]:
    with TrapServer() as server:
        yield server


@pytest.fixture
def redirector(trap: TrapServer) -> Iterator[RedirectServer]:
    with RedirectServer(host=ALLOWED_HOST, target=f"http://127.0.0.1:{trap.port}/v1/chat/completions") as server:
        yield server


@pytest.fixture(scope="module")
def web() -> Iterator[WebServer]:
    # The platform has no provider of its own (offline answers); the operator allows one private host.
    server = WebServer(env=child_env(OPENAI_API_KEY="", EGRESS_ALLOWED_NETWORKS=f"{ALLOWED_HOST}/32",
                                     ASSISTANT_CACHE_ENABLED="false", LLM_MAX_RETRIES="0"))
    yield server
    server.stop()


@dataclass
class Shop:
    schema: str
    domain: str
    dashboard: httpx.Client

    def ask(self, web: WebServer, text: str) -> dict[str, Any]:
        with schema_context(self.schema):
            key = widget_settings_get().public_key
        customer = WidgetSocket(web.port, self.domain, f"/ws/widget/?key={key}")
        try:
            customer.recv_until("welcome")
            customer.send({"type": "message", "client_id": "c-1", "text": text})
            try:
                return customer.recv_until("answer.end", timeout=60)
            except TimeoutError as error:
                raise AssertionError(f"no answer; frames: {customer.frames}") from error
        finally:
            customer.close()


@pytest.fixture
def shop(make_tenant: Any, web: WebServer) -> Iterator[Shop]:
    created = make_tenant(name="Harbour Shop")
    schema, domain = created.tenant.schema_name, created.domain.domain
    dashboard = owner_dashboard(web, schema=schema, domain=domain)
    yield Shop(schema=schema, domain=domain, dashboard=dashboard)
    dashboard.close()


def llm_settings_post(shop: Shop, base_url: str) -> httpx.Response:
    """The owner's own-provider form, filled in and sent as a browser would."""
    return form_post(shop.dashboard, page="/app/settings/profile/", action="/app/settings/profile/llm/",
                     data={"api_key": OWN_KEY, "base_url": base_url, "chat_model": "gpt-4o-mini"})


def stored_base_url(shop: Shop) -> str:
    with schema_context(shop.schema):
        return BusinessProfile.objects.get().llm_base_url


def assert_nothing_reached(trap: TrapServer) -> None:
    leaked = [(r.method, r.path, OWN_KEY in r.headers.get("authorization", ""), r.body[:200]) for r in trap.received]
    assert leaked == [], "the internal service received a request from the platform"


INTERNAL_URLS = {
    "ipv4 loopback": "http://127.0.0.1:{port}/v1",
    "ipv6 loopback": "http://[::1]:{port}/v1",
    "ipv4-mapped ipv6": "http://[::ffff:127.0.0.1]:{port}/v1",
    "a name that resolves to loopback": "http://localhost:{port}/v1",
}


@pytest.mark.parametrize("case", list(INTERNAL_URLS))
def test_an_internal_llm_url_is_refused_by_the_form_and_never_called(
        case: str, shop: Shop, web: WebServer, trap: TrapServer) -> None:
    url = INTERNAL_URLS[case].format(port=trap.port)

    refused = llm_settings_post(shop, url)

    assert refused.status_code == 400, f"the form accepted {url}"
    assert "cannot be used" in refused.text
    assert stored_base_url(shop) == ""

    # A row that holds such a URL anyway (saved before the guard, or a name that moved since).
    with schema_context(shop.schema):
        BusinessProfile.objects.filter(pk=1).update(llm_api_key=OWN_KEY, llm_base_url=url)
    answer = shop.ask(web, "Do you ship to Norway?")

    assert answer["message"]["text"].strip(), "the customer still gets an (offline) answer"
    assert "TRAPPED" not in answer["message"]["text"]
    assert_nothing_reached(trap)


@pytest.mark.parametrize("spelling", ["2130706433", "0177.0.0.1", "0x7f.1", "127.1", "[::127.0.0.1]"])
def test_unusual_spellings_of_loopback_are_never_called(
        spelling: str, shop: Shop, web: WebServer, trap: TrapServer) -> None:
    url = f"http://{spelling}:{trap.port}/v1"
    assert llm_settings_post(shop, url).status_code == 400
    with schema_context(shop.schema):
        BusinessProfile.objects.filter(pk=1).update(llm_api_key=OWN_KEY, llm_base_url=url)

    answer = shop.ask(web, "What are your opening hours?")

    assert answer["message"]["text"].strip()
    assert_nothing_reached(trap)


def test_an_allowed_endpoint_that_redirects_inside_is_stopped_at_that_hop(
        shop: Shop, web: WebServer, trap: TrapServer, redirector: RedirectServer) -> None:
    # The first hop is on the operator's allow-list, so the form accepts it; its 307 (which keeps
    # the POST and its prompt) points at the internal service.
    accepted = llm_settings_post(shop, f"{redirector.base_url}/v1")
    assert accepted.status_code == 302
    assert stored_base_url(shop) == f"{redirector.base_url}/v1"
    # Saving tries the endpoint once (chat): that request is stopped at the same hop.
    assert [r.method for r in redirector.received] == ["POST"], "the saved endpoint was tried"
    assert_nothing_reached(trap)

    answer = shop.ask(web, "Where is my order?")

    assert [r.method for r in redirector.received] == ["POST", "POST"], "the allowed endpoint was called"
    assert answer["message"]["text"].strip()
    assert_nothing_reached(trap)
