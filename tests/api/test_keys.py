"""API keys: the `api_keys` command, Bearer authentication, scopes, and what every refusal looks like."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import schema_context

from tests.api.conftest import ApiTenant, api_client, api_key_for
from tests.support.processes import WebServer

KEY_SHAPE = re.compile(r"^dpk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$")


def run_command(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("api_keys", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_creates_a_key_it_prints_once_lists_it_and_revokes_it(web: WebServer, biz_a: ApiTenant) -> None:
    from chat.api.models import ApiKey

    out, err = run_command("create", "--tenant", biz_a.schema, "--name", "Shop backend",
                           "--scopes", "conversations,read")
    key = out.strip()
    assert KEY_SHAPE.match(key), out
    assert "shown only now" in err
    with schema_context(biz_a.schema):
        stored = ApiKey.objects.get(name="Shop backend")
    # Stored hashed: the key itself is nowhere in the row.
    assert key not in str(stored.__dict__) and key.split("_")[-1] not in stored.key_hash
    assert stored.scopes == ["read", "conversations"]

    listing, _ = run_command("list", "--tenant", biz_a.schema)
    assert stored.key_id in listing and "Shop backend" in listing and "read,conversations" in listing
    assert key not in listing
    assert re.search(rf"{stored.key_id}.*never\s+active", listing)

    with api_client(web, biz_a, key) as client:
        answer = client.get("/key")
        assert answer.status_code == 200, answer.text
        assert answer.json()["id"] == stored.key_id and answer.json()["scopes"] == ["read", "conversations"]
    listing, _ = run_command("list", "--tenant", biz_a.schema)
    assert re.search(rf"{stored.key_id}.*UTC\s+active", listing), listing

    out, _ = run_command("revoke", "--tenant", biz_a.schema, stored.key_id)
    assert f"Revoked API key {stored.key_id}" in out
    with api_client(web, biz_a, key) as client:
        assert client.get("/key").status_code == 401
    listing, _ = run_command("list", "--tenant", biz_a.schema)
    assert re.search(rf"{stored.key_id}.*revoked", listing)


def test_the_command_refuses_unknown_scopes_tenants_and_keys(biz_a: ApiTenant) -> None:
    with pytest.raises(CommandError, match="Unknown scope: admin"):
        run_command("create", "--tenant", biz_a.schema, "--name", "x", "--scopes", "read,admin")
    with pytest.raises(CommandError, match="no tenant"):
        run_command("create", "--tenant", "nosuchtenant", "--name", "x")
    with pytest.raises(CommandError, match="no API key"):
        run_command("revoke", "--tenant", biz_a.schema, "0123456789abcdef")


def test_a_key_without_scopes_given_gets_every_scope(biz_a: ApiTenant) -> None:
    out, _ = run_command("create", "--tenant", biz_a.schema, "--name", "Everything")
    listing, _ = run_command("list", "--tenant", biz_a.schema)
    assert "read,write,conversations,knowledge,catalog,webhooks" in listing
    assert KEY_SHAPE.match(out.strip())


def test_every_refused_key_gets_the_same_answer(web: WebServer, biz_a: ApiTenant, biz_b: ApiTenant) -> None:
    """Another tenant's key, a revoked key, a made-up key, a mangled key and no key at all: one 401,
    byte for byte, so a prober learns nothing about which keys exist where."""
    from chat.api.services import api_key_revoke

    key_of_b = api_key_for(biz_b)
    revoked = api_key_for(biz_a)
    with schema_context(biz_a.schema):
        api_key_revoke(key_id=revoked.split("_")[1])
    made_up = "dpk_" + key_of_b.split("_")[1] + "_" + "A" * 43  # B's key id, with a guessed secret
    mangled = key_of_b[:-1] + ("A" if key_of_b[-1] != "A" else "B")
    answers = []
    for presented in (key_of_b, revoked, made_up, mangled, "not-a-key", None):
        with api_client(web, biz_a, presented) as client:
            answer = client.get("/key")
        answers.append((answer.status_code, answer.content, answer.headers.get("WWW-Authenticate")))
        assert answer.headers["X-Request-ID"]
    assert {a[0] for a in answers} == {401}
    assert len(set(answers)) == 1, answers
    assert answers[0][1].startswith(b'{"error":{"code":"invalid_api_key"')
    # B's key still works on B's own domain.
    with api_client(web, biz_b, key_of_b) as client:
        assert client.get("/key").status_code == 200


def test_a_key_needs_the_scope_of_what_it_does(web: WebServer, biz_a: ApiTenant) -> None:
    write_only = api_key_for(biz_a, scopes=["write", "conversations"])
    with api_client(web, biz_a, write_only) as client:
        answer = client.get("/key")
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "insufficient_scope"
    assert answer.json()["error"]["details"]["missing_scopes"] == ["read"]


def test_unknown_api_paths_and_versions_answer_a_json_404_with_a_request_id(web: WebServer, biz_a: ApiTenant) -> None:
    key = api_key_for(biz_a)
    with api_client(web, biz_a, key) as client:
        # An id with a newline in it (as a fuzzer sends) is an unknown path too, not the site's HTML page.
        for path in ("/nothing-here", "/../v2/conversations", "/contacts/%0A/erase"):
            answer = client.get(path)
            assert answer.status_code == 404
            assert answer.json()["error"]["code"] == "not_found"
            assert answer.headers["X-Request-ID"]
        supplied = client.get("/key", headers={"X-Request-ID": "client-chosen-42"})
        assert supplied.headers["X-Request-ID"] == "client-chosen-42"
