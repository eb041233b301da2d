"""CPU and wall time of receiving a widget visitor's first message, one at a time, as the socket does.

    .venv/bin/python bench/widget_receive.py [--messages 200]

Calls `chat.widget.services.widget_message_receive` (the text checked and the rate limits
counted on the event loop's pipelined Redis, then one trip to a database thread that starts the
conversation with its event and stores the message through the core's `message_receive`; the two
live events published afterwards) for new visitors of one tenant, after 50 warm-up calls, and
prints the process's CPU time (event loop and database thread together) and the wall time per
message. This is the work a web process does for each first message before it acknowledges it.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
import uuid

from assistant import setup_for_answers


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args()
    setup_for_answers()  # as a web process runs: no debug, kept connections
    from django_tenants.utils import schema_context

    from chat.conversations.models import Contact
    from chat.widget.services import widget_message_receive
    from tenants.models import Tenant
    from tenants.services import tenant_create

    slug = f"r{uuid.uuid4().hex[:10]}"
    tenant_create(slug=slug, name="Receive bench", domain=f"{slug}.bench.localhost", plan_code="scale")
    tenant = Tenant.objects.get(schema_name=slug)
    warm_up = 50
    with schema_context(slug):
        contacts = [Contact.objects.create(visitor_id=f"visitor-{index}") for index in range(warm_up + args.messages)]

    async def receive(batch: list[Contact]) -> None:
        for contact in batch:
            await widget_message_receive(tenant=tenant, visitor_id=contact.visitor_id, contact_id=contact.pk,
                                         conversation_id=None, ip="203.0.113.7", limits=(10**6, 10**6),
                                         text="Hello, are you open on Sunday?", client_id="first")

    async def measure() -> tuple[float, float]:
        await receive(contacts[:warm_up])
        cpu, wall = cpu_seconds(), time.perf_counter()
        await receive(contacts[warm_up:])
        return cpu_seconds() - cpu, time.perf_counter() - wall

    cpu, wall = asyncio.run(measure())
    print(f"first message of {args.messages} new visitors: {cpu * 1000 / args.messages:.2f} ms of CPU, "
          f"{wall * 1000 / args.messages:.2f} ms wall each", flush=True)


if __name__ == "__main__":
    main()
