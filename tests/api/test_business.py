"""The business-side endpoints, used as a business's own system would use them, and probed on every
endpoint of the schema: another tenant's key is the same 401 as a wrong key, a missing scope a 403."""

from __future__ import annotations

import uuid

import httpx
from django_tenants.utils import schema_context

from tests.api.conftest import OWNER_EMAIL, ApiTenant, api_client, api_key_for
from tests.support.processes import WebServer

AREA_OF = {"conversations": "conversations", "contacts": "conversations", "knowledge": "knowledge",
           "products": "catalog", "stock": "catalog", "orders": "catalog", "opening-hours": "catalog",
           "webhooks": "webhooks", "customer": "conversations"}


def new_conversation(tenant: ApiTenant, *, email: str = "", text: str = "Where is my hoodie?") -> tuple[int, int]:
    from chat.conversations.services import contact_get_or_create, conversation_start, message_receive

    with schema_context(tenant.schema):
        contact = contact_get_or_create(visitor_id=f"v-{uuid.uuid4().hex}", name="Maria", email=email)
        conversation = conversation_start(contact=contact)
        message_receive(conversation=conversation, text=text)
        return conversation.pk, contact.pk


def operations(web: WebServer, tenant: ApiTenant) -> list[tuple[str, str]]:
    schema = httpx.get(f"{web.base_url}/api/v1/schema/", headers={"Host": tenant.domain,
                                                                   "Accept": "application/json"}).json()
    found = []
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            if any("ApiKey" in requirement for requirement in operation.get("security", [])):
                concrete = (path.replace("{conversation_id}", "1").replace("{contact_id}", "1")
                            .replace("{source_id}", "1").replace("{sku}", "TL-HOOD-001").replace("{number}", "TL-1")
                            .replace("{endpoint_id}", "1").replace("{delivery_id}", "1"))
                found.append((method.upper(), concrete.removeprefix("/api/v1")))
    return found


def test_every_endpoint_refuses_another_tenants_key_as_a_wrong_key_and_checks_scopes(
        web: WebServer, shop: ApiTenant, biz_b: ApiTenant) -> None:
    ops = operations(web, shop)
    assert len(ops) >= 25
    key_of_b = api_key_for(biz_b)
    wrong = "dpk_" + "0" * 16 + "_" + "x" * 43
    no_area = api_key_for(shop, scopes=["read", "write"])
    every_area_read_only = api_key_for(shop, scopes=["read", "conversations", "knowledge", "catalog", "webhooks"])
    clients = {name: api_client(web, shop, key) for name, key in
               (("foreign", key_of_b), ("wrong", wrong), ("no_area", no_area), ("read_only", every_area_read_only))}
    try:
        for method, path in ops:
            foreign = clients["foreign"].request(method, path, json={})
            wrong_answer = clients["wrong"].request(method, path, json={})
            assert foreign.status_code == wrong_answer.status_code == 401, (method, path)
            assert foreign.content == wrong_answer.content, (method, path)
            area = AREA_OF.get(path.split("/")[1])
            answer = clients["no_area"].request(method, path, json={})
            if area is None:
                assert answer.status_code != 403, (method, path)
            else:
                assert answer.status_code == 403, (method, path, answer.text)
                assert answer.json()["error"]["details"]["missing_scopes"] == [area]
            if method != "GET":
                answer = clients["read_only"].request(method, path, json={})
                assert answer.status_code == 403 and answer.json()["error"]["details"]["missing_scopes"] == ["write"]
    finally:
        for client in clients.values():
            client.close()


def test_a_team_works_a_conversation_through_the_api(web: WebServer, shop: ApiTenant) -> None:
    conversation_id, _ = new_conversation(shop)
    with api_client(web, shop, api_key_for(shop)) as client:
        listed = client.get("/conversations", params={"status": "bot"}).json()["data"]
        assert conversation_id in [row["id"] for row in listed]
        resolved_only = client.get("/conversations", params={"status": "resolved"}).json()["data"]
        assert conversation_id not in [row["id"] for row in resolved_only]

        taken = client.post(f"/conversations/{conversation_id}/take-over", json={"agent_email": OWNER_EMAIL})
        assert taken.status_code == 200, taken.text
        assert taken.json()["status"] == "human" and taken.json()["assignee"]["email"] == OWNER_EMAIL

        reply = client.post(f"/conversations/{conversation_id}/messages",
                            json={"text": "It ships tomorrow.", "agent_email": OWNER_EMAIL})
        assert reply.status_code == 201 and reply.json()["author"] == "agent" and not reply.json()["internal"]
        note = client.post(f"/conversations/{conversation_id}/notes", json={"text": "Check the warehouse."})
        assert note.status_code == 201 and note.json()["internal"] is True

        unassigned = client.post(f"/conversations/{conversation_id}/assign", json={"assignee_email": None})
        assert unassigned.status_code == 200 and unassigned.json()["assignee"] is None
        stranger = client.post(f"/conversations/{conversation_id}/assign", json={"assignee_email": "x@nowhere.test"})
        assert stranger.status_code == 400 and stranger.json()["error"]["code"] == "unknown_team_member"

        back = client.post(f"/conversations/{conversation_id}/hand-back", json={})
        assert back.status_code == 200 and back.json()["status"] == "bot"
        resolved = client.post(f"/conversations/{conversation_id}/resolve", json={})
        assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"

        read = client.get(f"/conversations/{conversation_id}").json()
        texts = [(message["author"], message["text"], message["internal"]) for message in read["messages"]]
        assert ("customer", "Where is my hoodie?", False) in texts
        assert ("agent", "It ships tomorrow.", False) in texts and ("agent", "Check the warehouse.", True) in texts
        assert client.get("/conversations/999999999").status_code == 404
    from chat.conversations.models import ConversationEvent

    with schema_context(shop.schema):
        actors = set(ConversationEvent.objects.filter(conversation_id=conversation_id).values_list("actor", flat=True))
    assert OWNER_EMAIL in actors and any(actor.startswith("api-key:") for actor in actors)


def test_contacts_are_read_corrected_and_show_only_orders_an_order_proved(web: WebServer, shop: ApiTenant) -> None:
    from chat.conversations.models import Contact, EmailStatus

    conversation_id, contact_id = new_conversation(shop, email="maria.jansen@example.com")
    with api_client(web, shop, api_key_for(shop)) as client:
        found = client.get("/contacts", params={"email": "MARIA.JANSEN@example.com"}).json()["data"]
        assert contact_id in [contact["id"] for contact in found]
        assert client.get(f"/contacts/{contact_id}/conversations").json()["data"][0]["id"] == conversation_id
        # Typed, not proved: no orders.
        assert client.get(f"/contacts/{contact_id}/orders").json() == {"data": [], "has_more": False,
                                                                      "next_cursor": None}
        with schema_context(shop.schema):
            Contact.objects.filter(pk=contact_id).update(email_status=EmailStatus.VERIFIED)
        orders = client.get(f"/contacts/{contact_id}/orders").json()["data"]
        assert "TL-10398" in [order["number"] for order in orders]

        patched = client.patch(f"/contacts/{contact_id}", json={"name": "Maria J.", "email": "maria@new.example"})
        assert patched.status_code == 200, patched.text
        assert patched.json()["email"] == "maria@new.example" and patched.json()["email_status"] == "given"
        assert client.get(f"/contacts/{contact_id}/orders").json()["data"] == []
        refused = client.patch(f"/contacts/{contact_id}", json={"nickname": "M"})
        assert refused.status_code == 400 and refused.json()["error"]["details"] == {"nickname": ["Unknown field."]}


def test_catalog_stock_orders_and_hours_round_trip(web: WebServer, shop: ApiTenant) -> None:
    with api_client(web, shop, api_key_for(shop)) as client:
        hoodie = client.get("/products/TL-HOOD-001").json()
        assert hoodie["currency"] == "EUR" and hoodie["price_minor"] == 5995 and len(hoodie["variants"]) > 1

        assert hoodie["page_url"] == "https://threadline.example/products/essential-hoodie"
        assert hoodie["image_url"] == ""

        created = client.put("/products/API-MUG", json={
            "name": "Enamel mug", "currency": "eur", "category": "Home",
            "page_url": "https://shop.example/mug", "image_url": "https://cdn.shop.example/mug.png",
            "variants": [{"sku": "API-MUG-W", "colour": "White", "price_minor": 1495, "stock": 3}]})
        assert created.status_code == 200, created.text
        assert created.json()["variants"][0]["stock"] == 3 and created.json()["currency"] == "EUR"
        assert (created.json()["page_url"], created.json()["image_url"]) == ("https://shop.example/mug",
                                                                             "https://cdn.shop.example/mug.png")
        for field, planted in (("page_url", "javascript:alert(1)"), ("image_url", "data:image/svg+xml,<svg/>"),
                               ("page_url", "/products/mug"), ("image_url", "https://x.example/" + "a" * 2100)):
            refused = client.put("/products/API-MUG", json={
                "name": "Enamel mug", "currency": "EUR", field: planted,
                "variants": [{"sku": "API-MUG-W", "price_minor": 1495, "stock": 3}]})
            assert refused.status_code == 400 and field in refused.json()["error"]["details"], refused.text
        assert client.get("/products/API-MUG").json()["page_url"] == "https://shop.example/mug"
        bulk = client.post("/products", json={"products": [
            {"sku": "API-CAP", "name": "Cap", "currency": "EUR",
             "variants": [{"sku": "API-CAP-1", "price_minor": 1999, "stock": 5}]},
            {"sku": "API-SOCK", "name": "Socks", "currency": "EUR",
             "variants": [{"sku": "API-SOCK-1", "price_minor": 899, "stock": 9}]}]})
        assert bulk.status_code == 200 and bulk.json() == {"products": 2, "variants": 2}

        assert client.put("/stock/API-MUG-W", json={"stock": 0}).json() == {"updated": 1}
        refused = client.post("/stock", json={"levels": [{"sku": "API-CAP-1", "stock": 1},
                                                         {"sku": "NOPE", "stock": 1}]})
        assert refused.status_code == 400 and refused.json()["error"]["details"] == {"skus": ["NOPE"]}
        assert client.get("/products/API-CAP").json()["variants"][0]["stock"] == 5  # all or none
        assert client.get("/products/API-MUG").json()["variants"][0]["stock"] == 0
        assert client.put("/products/API-BAD", json={"name": "x", "currency": "XXX",
                                                     "variants": [{"sku": "b", "price_minor": 1, "stock": 1}]}
                          ).json()["error"]["code"] == "unknown_currency"

        order = {"email": "Ben@Example.com", "currency": "EUR", "status": "paid", "subtotal_minor": 1495,
                 "total_minor": 1495, "placed_at": "2026-11-30T10:00:00Z", "updated_at": "2026-11-30T10:00:00Z",
                 "items": [{"sku": "API-MUG-W", "name": "Enamel mug", "quantity": 1, "unit_price_minor": 1495}]}
        put = client.put("/orders/API-1001", json=order)
        assert put.status_code == 200, put.text
        assert put.json()["status"] == "paid" and put.json()["items"][0]["quantity"] == 1
        shipped = client.put("/orders/API-1001", json={**order, "status": "shipped", "updated_at": "2026-12-01T09:00:00Z",
                                                       "tracking": {"carrier": "PostNL", "tracking_number": "3S1"}})
        assert shipped.json()["status"] == "shipped" and shipped.json()["carrier"] == "PostNL"
        assert [step["to_status"] for step in shipped.json()["history"]] == ["pending", "paid", "shipped"]
        assert client.get("/orders", params={"email": "ben@example.com"}).json()["data"][0]["number"] == "API-1001"
        assert client.get("/orders/NOPE-1").status_code == 404

        hours = client.get("/opening-hours").json()
        assert set(hours["weekly"]) == {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
        new_hours = {"weekly": {**hours["weekly"], "sun": [["10:00", "16:00"]]},
                     "exceptions": [{"date": "2026-12-25", "closed": True, "note": "Christmas"}]}
        replaced = client.put("/opening-hours", json=new_hours)
        assert replaced.status_code == 200, replaced.text
        assert replaced.json()["weekly"]["sun"] == [["10:00", "16:00"]]
        assert replaced.json()["exceptions"] == [{"date": "2026-12-25", "closed": True, "note": "Christmas",
                                                  "ranges": []}]
        bad = client.put("/opening-hours", json={**new_hours, "weekly": {**new_hours["weekly"], "sun": [["10", "x"]]}})
        assert bad.status_code == 400

        usage = client.get("/usage").json()
        assert {"messages", "tokens", "cost_minor", "level"} <= set(usage)


def test_knowledge_sources_are_added_listed_searched_and_deleted(web: WebServer, shop: ApiTenant) -> None:
    from chat.knowledge.services import sources_index_now

    with api_client(web, shop, api_key_for(shop)) as client:
        text = client.post("/knowledge/sources/text", json={
            "title": "Gift wrapping", "text": "We gift wrap any order for 3 euros: tick the box at checkout."})
        assert text.status_code == 201, text.text
        source = text.json()["sources"][0]
        assert source["kind"] == "page" and source["status"] == "pending" and text.json()["job"]["total"] == 1
        with schema_context(shop.schema):
            sources_index_now(source_ids=[source["id"]])
        assert client.get(f"/knowledge/sources/{source['id']}").json()["status"] == "ready"
        ready = client.get("/knowledge/sources", params={"status": "ready", "kind": "page"}).json()["data"]
        assert source["id"] in [row["id"] for row in ready]
        hits = client.get("/knowledge/search", params={"q": "can you gift wrap my order"}).json()["data"]
        assert hits[0]["source_id"] == source["id"]

        faq = client.post("/knowledge/sources/file",
                          files={"file": ("faq.csv", b"question,answer\nDo you ship to Belgium?,Yes: 2 to 3 days.\n",
                                          "text/csv")})
        assert faq.status_code == 201, faq.text
        assert [row["kind"] for row in faq.json()["sources"]] == ["faq"]
        assert client.post("/knowledge/sources/url", json={"url": "ftp://example.com/x"}).status_code == 400
        page = client.post("/knowledge/sources/url", json={"url": "https://shop.example/returns"})
        assert page.status_code == 201 and page.json()["sources"][0]["kind"] == "url"

        assert client.delete(f"/knowledge/sources/{source['id']}").status_code == 204
        assert client.get(f"/knowledge/sources/{source['id']}").status_code == 404
        assert client.delete(f"/knowledge/sources/{source['id']}").status_code == 404
