"""CPU and wall time of storing a widget visitor's first message, one at a time.

    .venv/bin/python bench/widget_receive.py [--messages 200]

Calls `chat.widget.services.widget_message_receive` (rate limits, the new conversation, its event,
the message, the two live events) for new visitors of one tenant, after 50 warm-up calls, and
prints the CPU time and wall time per message. This is the database and Redis work a web process
does for each first message, before it acknowledges it.
"""

from __future__ import annotations

import argparse
import time
import uuid

from assistant import setup_for_answers


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args()
    setup_for_answers()  # as a web process runs: no debug, kept connections
    from django_tenants.utils import schema_context

    from chat.models import Contact
    from chat.widget.services import widget_message_receive
    from tenants.services import tenant_create

    slug = f"r{uuid.uuid4().hex[:10]}"
    tenant_create(slug=slug, name="Receive bench", domain=f"{slug}.bench.localhost", plan_code="scale")
    warm_up = 50
    with schema_context(slug):
        contacts = [Contact.objects.create(visitor_id=f"visitor-{index}") for index in range(warm_up + args.messages)]

        def receive(batch: list[Contact]) -> None:
            for contact in batch:
                widget_message_receive(contact_id=contact.pk, conversation_id=None, ip="203.0.113.7",
                                       limits=(10**6, 10**6), text="Hello, are you open on Sunday?",
                                       client_id="first")

        receive(contacts[:warm_up])
        cpu, wall = time.process_time(), time.perf_counter()
        receive(contacts[warm_up:])
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"first message of {args.messages} new visitors: {cpu * 1000 / args.messages:.2f} ms of CPU, "
          f"{wall * 1000 / args.messages:.2f} ms wall each", flush=True)


if __name__ == "__main__":
    main()
