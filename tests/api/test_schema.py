"""The OpenAPI schema and its docs: served on each business's domain, the docs' assets from our own
static files; and Schemathesis over the whole schema against a running server: no server errors,
every answer as the schema says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django_tenants.utils import schema_context

from tests.api.conftest import ApiTenant, api_key_for, api_tenant_create
from tests.support.processes import WebServer, child_env

ROOT = Path(__file__).resolve().parents[2]
FUZZ_CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,"
               "response_headers_conformance")


@pytest.fixture(scope="module")
def web() -> Iterator[WebServer]:
    """A server of this module's own: Schemathesis sends many requests a second with one key, past the
    package server's rate limit (which has its own test in test_conventions)."""
    server = WebServer(env=child_env(OPENAI_API_KEY="", API_RATE_LIMIT_PER_MINUTE="0"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fuzzed_shop(django_db_setup: None, django_db_blocker: object) -> ApiTenant:
    """The demo shop, with a few conversations, contacts and a knowledge page, for the fuzzer to find."""
    from chat.conversations.services import contact_get_or_create, conversation_start, message_receive
    from chat.knowledge.services import page_upsert

    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        tenant = api_tenant_create("Fuzzed shop", demo="shop")
        with schema_context(tenant.schema):
            for n in range(3):
                contact = contact_get_or_create(visitor_id=f"v-{uuid.uuid4().hex}", name=f"Customer {n}",
                                                email=f"customer{n}@example.com")
                message_receive(conversation=conversation_start(contact=contact), text="Where is my order?")
            page_upsert(title="Returns", text="You can return anything within 30 days.")
    return tenant


def test_the_schema_is_openapi_3_1_and_describes_every_endpoint(web: WebServer, fuzzed_shop: ApiTenant) -> None:
    answer = httpx.get(f"{web.base_url}/api/v1/schema/", headers={"Host": fuzzed_shop.domain, "Accept": "application/json"})
    assert answer.status_code == 200, answer.text
    schema = answer.json()
    assert schema["openapi"].startswith("3.1")
    paths = set(schema["paths"])
    for expected in ("/api/v1/conversations/{conversation_id}/take-over", "/api/v1/contacts/{contact_id}/orders",
                     "/api/v1/knowledge/sources/file", "/api/v1/knowledge/search", "/api/v1/products/{sku}",
                     "/api/v1/stock", "/api/v1/orders/{number}", "/api/v1/opening-hours", "/api/v1/usage"):
        assert expected in paths
    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http", "scheme": "bearer", "description": schema["components"]["securitySchemes"]["ApiKey"]["description"]}
    post = schema["paths"]["/api/v1/conversations/{conversation_id}/messages"]["post"]
    assert any(parameter["name"] == "Idempotency-Key" for parameter in post["parameters"])
    assert post["responses"]["429"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_schemathesis_finds_no_server_error_and_no_answer_off_the_schema(web: WebServer, fuzzed_shop: ApiTenant,
                                                                        tmp_path: Path, artifacts_dir: Path) -> None:
    schema = httpx.get(f"{web.base_url}/api/v1/schema/", headers={"Host": fuzzed_shop.domain,
                                                                   "Accept": "application/json"}).json()
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps(schema))
    key = api_key_for(fuzzed_shop, name="fuzzer")
    started = time.monotonic()
    run = subprocess.run(
        [str(Path(sys.executable).parent / "st"), "run", str(schema_file), "--url", web.base_url,
         "-H", f"Host: {fuzzed_shop.domain}", "-H", f"Authorization: Bearer {key}",
         "--checks", FUZZ_CHECKS, "--max-examples", "4", "--seed", "21", "--workers", "2",
         "--phases", "examples,fuzzing", "--request-timeout", "20", "--no-color",
         "--suppress-health-check", "all"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""})
    elapsed = time.monotonic() - started
    (artifacts_dir / "schemathesis.txt").write_text(run.stdout + run.stderr)
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
    assert "No issues found" in run.stdout or "passed" in run.stdout, run.stdout[-3000:]
    print(f"schemathesis: {elapsed:.1f} s")  # noqa: T201
