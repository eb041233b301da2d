"""What every endpoint does alike: Idempotency-Key, rate limits, cursor pagination, strict bodies,
413, the one error shape and the request id, seen by a real client against a real server."""

from __future__ import annotations

import uuid
from typing import Any

from django_tenants.utils import schema_context

from tests.api.conftest import MAX_BODY_BYTES, RATE_LIMIT, ApiTenant, api_client, api_key_for
from tests.support.processes import WebServer


def contacts_made(tenant: ApiTenant, count: int) -> list[int]:
    from chat.conversations.services import contact_get_or_create

    with schema_context(tenant.schema):
        return [contact_get_or_create(visitor_id=f"v-{uuid.uuid4().hex}", name=f"Customer {n}").pk
                for n in range(count)]


def conversation_made(tenant: ApiTenant) -> int:
    from chat.conversations.services import contact_get_or_create, conversation_start

    with schema_context(tenant.schema):
        contact = contact_get_or_create(visitor_id=f"v-{uuid.uuid4().hex}", name="Ada")
        return conversation_start(contact=contact).pk


def test_a_post_with_an_idempotency_key_runs_once_and_replays_its_first_answer(web: WebServer,
                                                                                biz_a: ApiTenant) -> None:
    from chat.conversations.models import Message

    conversation_id = conversation_made(biz_a)
    key = api_key_for(biz_a)
    body = {"text": "Your parcel left our warehouse this morning."}
    with api_client(web, biz_a, key) as client:
        first = client.post(f"/conversations/{conversation_id}/messages", json=body,
                            headers={"Idempotency-Key": "reply-1"})
        again = client.post(f"/conversations/{conversation_id}/messages", json=body,
                            headers={"Idempotency-Key": "reply-1"})
        other_body = client.post(f"/conversations/{conversation_id}/messages", json={"text": "Something else"},
                                 headers={"Idempotency-Key": "reply-1"})
        without_key = client.post(f"/conversations/{conversation_id}/messages", json=body)
    assert first.status_code == 201, first.text
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert other_body.status_code == 422 and other_body.json()["error"]["code"] == "idempotency_key_reused"
    assert without_key.status_code == 201 and without_key.json()["id"] != first.json()["id"]
    with schema_context(biz_a.schema):
        texts = list(Message.objects.filter(conversation_id=conversation_id).values_list("text", flat=True))
    assert texts.count(body["text"]) == 2  # the keyed one once, the unkeyed one once

    # Another key of the same business has its own idempotency keys.
    with api_client(web, biz_a, api_key_for(biz_a)) as client:
        fresh = client.post(f"/conversations/{conversation_id}/messages", json=body,
                            headers={"Idempotency-Key": "reply-1"})
    assert fresh.status_code == 201 and fresh.json()["id"] != first.json()["id"]


def test_a_refused_request_is_replayed_as_refused_and_a_bad_key_is_a_400(web: WebServer, biz_a: ApiTenant) -> None:
    conversation_id = conversation_made(biz_a)
    with api_client(web, biz_a, api_key_for(biz_a)) as client:
        refused = client.post(f"/conversations/{conversation_id}/messages", json={"txt": "typo"},
                              headers={"Idempotency-Key": "typo-1"})
        replayed = client.post(f"/conversations/{conversation_id}/messages", json={"txt": "typo"},
                               headers={"Idempotency-Key": "typo-1"})
        bad = client.post(f"/conversations/{conversation_id}/messages", json={"text": "hi"},
                          headers={"Idempotency-Key": "has spaces"})
    assert refused.status_code == 400 and replayed.status_code == 400 and replayed.json() == refused.json()
    assert refused.json()["error"]["details"] == {"txt": ["Unknown field."], "text": ["This field is required."]}
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "idempotency_key_invalid"


def test_every_answer_says_the_rate_limit_and_past_it_is_a_429_with_retry_after(web: WebServer,
                                                                                biz_a: ApiTenant) -> None:
    key = api_key_for(biz_a)
    answers = []
    with api_client(web, biz_a, key) as client:
        for _ in range(RATE_LIMIT + 1):
            answers.append(client.get("/usage"))
    first, last_allowed, refused = answers[0], answers[RATE_LIMIT - 1], answers[RATE_LIMIT]
    assert first.status_code == 200 and first.headers["RateLimit-Limit"] == str(RATE_LIMIT)
    assert first.headers["RateLimit-Remaining"] == str(RATE_LIMIT - 1)
    assert 1 <= int(first.headers["RateLimit-Reset"]) <= 60
    assert last_allowed.status_code == 200 and last_allowed.headers["RateLimit-Remaining"] == "0"
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # Per key: the business's other key is not held back.
    with api_client(web, biz_a, api_key_for(biz_a)) as client:
        assert client.get("/usage").status_code == 200


def test_a_list_walks_page_by_page_with_cursors_to_the_end(web: WebServer, biz_b: ApiTenant) -> None:
    made = contacts_made(biz_b, 7)
    seen: list[int] = []
    pages = 0
    with api_client(web, biz_b, api_key_for(biz_b)) as client:
        params: dict[str, Any] = {"limit": 3}
        while True:
            page = client.get("/contacts", params=params)
            assert page.status_code == 200, page.text
            body = page.json()
            pages += 1
            seen += [contact["id"] for contact in body["data"]]
            assert body["has_more"] == (body["next_cursor"] is not None)
            if not body["has_more"]:
                break
            params = {"limit": 3, "cursor": body["next_cursor"]}
        assert sorted(seen) == sorted(made) and len(seen) == len(set(seen)) and pages == 3
        for bad in ({"limit": 101}, {"limit": 0}, {"limit": "ten"}, {"cursor": "not-a-cursor"}, {"colour": "red"}):
            refused = client.get("/contacts", params=bad)
            assert refused.status_code == 400, (bad, refused.text)
            assert set(refused.json()["error"]) == {"code", "message", "details"}


def test_an_oversize_body_is_a_413_and_malformed_json_a_400(web: WebServer, biz_a: ApiTenant) -> None:
    conversation_id = conversation_made(biz_a)
    with api_client(web, biz_a, api_key_for(biz_a)) as client:
        huge = client.post(f"/conversations/{conversation_id}/notes", json={"text": "x" * (MAX_BODY_BYTES + 1)})
        broken = client.post(f"/conversations/{conversation_id}/notes", content=b'{"text": ',
                             headers={"Content-Type": "application/json"})
        wrong_type = client.post(f"/conversations/{conversation_id}/notes", content=b"text=hi",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "payload_too_large"
    assert huge.json()["error"]["details"] == {"limit_bytes": MAX_BODY_BYTES}
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "parse_error"
    assert wrong_type.status_code == 415
    for answer in (huge, broken, wrong_type):
        assert answer.headers["X-Request-ID"]
