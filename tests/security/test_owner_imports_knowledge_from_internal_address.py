"""An owner asks the knowledge base to import a "web page" on the platform's internal network.

Through the real dashboard of a real web process, the owner imports URLs that name a loopback
address (in several spellings), a name resolving to loopback, or an allowed endpoint that
redirects inside; a real worker process fetches them. The internal service (a trap on every
loopback address) must receive no request, and each import fails with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django_tenants.utils import schema_context

from chat.knowledge.models import KnowledgeSource
from tests.support.owner_session import form_post, owner_dashboard
from tests.support.processes import WebServer, Worker, child_env, wait_until
from tests.support.traps import RedirectServer, TrapServer

# Stands for an intranet site on the operator's allow-list: the first hop passes, its redirect must not.
ALLOWED_HOST = "127.0.0.2"
STORES_ENV = {"EGRESS_ALLOWED_NETWORKS": f"{ALLOWED_HOST}/32", "OPENAI_API_KEY": ""}


@pytest.fixture(scope="module")
def web() -> Iterator[WebServer]:
    server = WebServer(env=child_env(**STORES_ENV))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    process = Worker(queues="medium", env=child_env(**STORES_ENV))
    yield process
    process.stop()


@pytest.fixture
def trap() -> Iterator[TrapServer]:
    with TrapServer() as server:
        yield server


def import_and_wait(*, make_tenant: Any, web: WebServer, url: str) -> KnowledgeSource:
    created = make_tenant(name="Harbour Shop")
    schema = created.tenant.schema_name
    dashboard = owner_dashboard(web, schema=schema, domain=created.domain.domain)
    with dashboard:
        sent = form_post(dashboard, page="/app/knowledge/", action="/app/knowledge/url/", data={"url": url})
    assert sent.status_code in (302, 400), sent.text[:500]

    def finished() -> KnowledgeSource | None:
        with schema_context(schema):
            return KnowledgeSource.objects.filter(url=url).exclude(status__in=("pending", "indexing")).first()

    if sent.status_code == 400:  # refused at once: nothing stored, nothing fetched
        with schema_context(schema):
            assert not KnowledgeSource.objects.filter(url=url).exists()
        return KnowledgeSource(url=url, status="failed", error=sent.text)
    source = wait_until(finished, timeout=60, message=f"the import of {url} to finish")
    assert isinstance(source, KnowledgeSource)
    return source


@pytest.mark.parametrize("address", ["http://127.0.0.1:{port}/page", "http://[::1]:{port}/page",
                                     "http://[::ffff:127.0.0.1]:{port}/page", "http://localhost:{port}/page",
                                     "http://0x7f.1:{port}/page"])
def test_an_internal_page_is_never_fetched(address: str, make_tenant: Any, web: WebServer, worker: Worker,
                                           trap: TrapServer) -> None:
    url = address.format(port=trap.port)

    source = import_and_wait(make_tenant=make_tenant, web=web, url=url)

    assert source.status == "failed"
    assert trap.received == [], "the internal service received a request from the platform"


def test_an_allowed_site_that_redirects_inside_is_stopped_at_that_hop(make_tenant: Any, web: WebServer,
                                                                      worker: Worker, trap: TrapServer) -> None:
    with RedirectServer(host=ALLOWED_HOST, target=f"http://127.0.0.1:{trap.port}/page", status=302) as redirector:
        source = import_and_wait(make_tenant=make_tenant, web=web, url=f"{redirector.base_url}/start")

        assert [r.path for r in redirector.received] == ["/start"], "the allowed site itself was fetched"
    assert source.status == "failed" and "private or local address" in source.error
    assert trap.received == []
