"""Dashboard pages: server time of every part-2 page on a tenant with a realistic amount of history.

    .venv/bin/python bench/dashboard.py [--conversations 10000] [--messages-per-conversation 10] [--runs 7]
                                        [--pages analytics]

Starts its own embedded PostgreSQL and Redis in a temporary data folder (DESKPILOT_DATA_DIR) and builds
one tenant with `--conversations` conversations over the last 60 days, each with
`--messages-per-conversation` messages (customer and assistant in turn, an agent in some; about 15%
of the answers unanswered; handoffs, resolutions and ratings on a share of them), 50 FAQ entries,
600 catalog variants, 2,000 orders and 5,000 usage entries. Rows are written with bulk_create and
their real timestamps (the `auto_now_add` stamp is switched off for the load, so the history spreads
over the period as it would in production).

Then it opens each page through Django's in-process client, logged in as the owner, `--runs` times
after one warm-up request, and prints p50 / p95 / max server time (the whole request: middleware,
tenant lookup, session, queries, template). The first request of the unanswered-questions page is
shown apart: it embeds the distinct questions once, later requests reuse the vectors. The first request
of an analytics page is also shown apart: it rolls up the finished days of its period that beat has
not rolled up yet (all of them, on data loaded this way). `--pages` measures only the pages whose
label contains one of the given words.
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from datetime import timedelta

from _django import percentile, setup

QUESTIONS = [
    "What are your opening hours?", "Do you ship abroad?", "How do I return an item?", "Where is my order?",
    "Do you have this in size M?", "How much is shipping?", "Can I change my delivery address?",
    "Do you sell gift cards?", "Is there parking nearby?", "Do you have vegan options?",
    "Can I pay with PayPal?", "How long does delivery take?", "Can I cancel my order?", "Do you have a discount?",
] + [f"Question number {n} about product {n % 37}" for n in range(180)]
UNANSWERED_SHARE = 0.15


def build(*, conversations: int, per_conversation: int) -> tuple[str, str]:
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from chat.conversations.models import Author, Channel, Contact, Conversation, ConversationEvent, Message
    from chat.knowledge.services import faq_upsert, sources_index_now
    from orders.models import Order, Platform
    from orders.services.catalog import CatalogRow, catalog_rows_save
    from tenants.models import UsageEntry
    from tenants.services import ROLE_OWNER, tenant_create, tenant_user_create

    rng = random.Random(8)
    slug = f"bench{uuid.uuid4().hex[:8]}"
    tenant = tenant_create(slug=slug, name="Bench shop", domain=f"{slug}.bench.localhost").tenant
    now = timezone.now()
    started = time.monotonic()
    # Real timestamps spread over the period: auto_now_add would stamp every row "now".
    for model in (Conversation, Message, ConversationEvent, UsageEntry):
        model._meta.get_field("created").auto_now_add = False  # type: ignore[attr-defined]
    with schema_context(slug):
        tenant_user_create(email="owner@bench.example", password="bench-owner-pass", role=ROLE_OWNER)
        ids = [faq_upsert(question=f"{QUESTIONS[n % 14]} ({n})", answer=f"Answer number {n}.").source_id
               for n in range(50)]
        sources_index_now(source_ids=ids)
        catalog_rows_save(rows=[CatalogRow(line=n, product_sku=f"P-{n // 3}", name=f"Product {n // 3}", category="Misc",
                                           description="", price_minor=1000 + n, currency="EUR", synonyms=(),
                                           variant_sku=f"P-{n // 3}-{n % 3}", size="SML"[n % 3], colour="Red",
                                           stock=n % 5) for n in range(600)])
        Order.objects.bulk_create([Order(number=f"B-{n}", lookup_key=f"b{n}", email=f"c{n}@example.com",
                                         currency="EUR", total_minor=2500, platform=Platform.IMPORT,
                                         placed_at=now - timedelta(minutes=n * 37)) for n in range(2000)],
                                  batch_size=1000)
        contacts = Contact.objects.bulk_create([Contact(visitor_id=f"v{n}") for n in range(conversations)],
                                               batch_size=2000)
        rows = []
        for contact in contacts:
            opened = now - timedelta(seconds=rng.randint(0, 60 * 86400))
            resolved = rng.random() < 0.6
            rows.append(Conversation(contact=contact, channel=Channel.WIDGET, created=opened, last_message_at=opened,
                                     status="resolved" if resolved else "bot",
                                     resolved_at=opened + timedelta(minutes=rng.randint(1, 180)) if resolved else None,
                                     rating=rng.randint(1, 5) if rng.random() < 0.3 else None))
        conversations_made = Conversation.objects.bulk_create(rows, batch_size=2000)
        ConversationEvent.objects.bulk_create(
            [ConversationEvent(conversation=c, kind="handoff_requested", actor="assistant", created=c.created)
             for c in conversations_made if rng.random() < 0.2], batch_size=2000)
        customer_rows, answers = [], []
        for conversation in conversations_made:
            at = conversation.created
            for turn in range(per_conversation // 2):
                question = Message(conversation=conversation, author=Author.CUSTOMER, answer_state="answered",
                                   text=rng.choice(QUESTIONS) if turn == 0 else "Thanks, and one more thing?",
                                   created=at)
                customer_rows.append(question)
                unanswered = rng.random() < UNANSWERED_SHARE
                author = Author.AGENT if turn == 1 and rng.random() < 0.2 else Author.ASSISTANT
                answers.append((question, Message(
                    conversation=conversation, author=author, text="Here is the answer.", mode="offline",
                    confidence=0.2 if unanswered else 0.85, created=at + timedelta(seconds=rng.randint(1, 90)),
                    sources=[] if unanswered else [{"source_id": ids[0], "title": "FAQ", "score": 0.85}])))
                at += timedelta(minutes=2)
        Message.objects.bulk_create(customer_rows, batch_size=5000)
        for question, answer in answers:
            if answer.author == Author.ASSISTANT:
                answer.in_reply_to = question
        Message.objects.bulk_create([answer for _question, answer in answers], batch_size=5000)
    UsageEntry.objects.bulk_create([UsageEntry(tenant=tenant, kind=UsageEntry.Kind.MESSAGE, tokens_in=300,
                                               tokens_out=80, cost_minor=1,
                                               created=now - timedelta(seconds=rng.randint(0, 60 * 86400)))
                                    for _ in range(5000)], batch_size=5000)
    for model in (Conversation, Message, ConversationEvent, UsageEntry):
        model._meta.get_field("created").auto_now_add = True  # type: ignore[attr-defined]
    from django.db import connection

    with schema_context(slug), connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"built {conversations} conversations, {len(customer_rows) + len(answers)} messages "
          f"in {time.monotonic() - started:.0f} s")
    return slug, f"{slug}.bench.localhost"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--messages-per-conversation", type=int, default=10)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--pages", nargs="*", default=[], help="only pages whose label contains one of these")
    args = parser.parse_args()
    setup()
    from django.contrib.auth.models import User
    from django.test import Client
    from django_tenants.utils import schema_context

    from orders.models import Product

    slug, domain = build(conversations=args.conversations, per_conversation=args.messages_per_conversation)
    client = Client(HTTP_HOST=domain)
    with schema_context(slug):
        client.force_login(User.objects.get(username="owner@bench.example"),
                           backend="django.contrib.auth.backends.ModelBackend")
        product_id = Product.objects.values_list("pk", flat=True).first()
        from chat.conversations.models import Conversation

        conversation_id = Conversation.objects.order_by("-pk").values_list("pk", flat=True).first()
    pages = [
        ("inbox (open)", "/app/inbox/"), ("inbox (all, page 50)", "/app/inbox/?status=all&page=50"),
        ("inbox (needs a human)", "/app/inbox/?status=needs_human"), ("inbox search", "/app/inbox/?status=all&q=order"),
        ("inbox rows (live refresh)", "/app/inbox/rows?status=all"),
        ("conversation", f"/app/inbox/{conversation_id}/"),
        ("conversation transcript", f"/app/inbox/{conversation_id}/transcript"),
        ("canned responses", "/app/canned-responses/"), ("team", "/app/team/"),
        ("knowledge", "/app/knowledge/"), ("unanswered questions", "/app/knowledge/unanswered/"),
        ("playground", "/app/playground/"), ("catalog", "/app/catalog/"), ("catalog search", "/app/catalog/?q=product"),
        ("product", f"/app/catalog/{product_id}/"), ("orders", "/app/orders/"), ("webhooks", "/app/webhooks/"),
        ("profile and hours", "/app/settings/profile/"), ("widget", "/app/settings/widget/"),
        ("usage", "/app/usage/"), ("analytics (30 days)", "/app/analytics/"),
        ("analytics (60 days)", "/app/analytics/?from=" + _days_ago(59)),
    ]
    print(f"{'page':<24} {'first':>8} {'p50':>8} {'p95':>8} {'max':>8}  (ms, {args.runs} runs after the first)")
    for label, path in pages:
        if args.pages and not any(word in label for word in args.pages):
            continue
        started = time.perf_counter()
        response = client.get(path)
        first = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, (path, response.status_code)
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            client.get(path)
            times.append((time.perf_counter() - started) * 1000)
        print(f"{label:<24} {first:8.1f} {percentile(times, 50):8.1f} {percentile(times, 95):8.1f} {max(times):8.1f}")


def _days_ago(days: int) -> str:
    from django.utils import timezone

    return (timezone.now() - timedelta(days=days)).date().isoformat()


if __name__ == "__main__":
    main()
