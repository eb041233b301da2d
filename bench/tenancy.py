"""Tenancy costs: time to create a tenant, and the per-request overhead of resolving it.

    .venv/bin/python bench/tenancy.py [--tenants 200]

Prints tenant creation p50/p95 over 20 creations, and the ratio of a tenant request's time to a
public request's time on the same trivial view (robots.txt), with few tenants and with 200.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid

from _django import percentile, setup


def create_tenants(count: int) -> list[float]:
    from django.db import connection

    from tenants.services import tenant_create

    timings = []
    for _ in range(count):
        slug = f"b{uuid.uuid4().hex[:12]}"
        started = time.perf_counter()
        tenant_create(slug=slug, name=f"Bench {slug}", domain=f"{slug}.bench.localhost")
        timings.append((time.perf_counter() - started) * 1000)
        connection.set_schema_to_public()
    return timings


def request_ratio(tenant_host: str, rounds: int) -> tuple[float, float, float]:
    from django.test import Client

    tenant_client, public_client = Client(HTTP_HOST=tenant_host), Client(HTTP_HOST="localhost")
    for client in (tenant_client, public_client):  # warm up
        for _ in range(50):
            assert client.get("/robots.txt").status_code == 200

    def timed(client: Client) -> list[float]:
        samples = []
        for _ in range(rounds):
            started = time.perf_counter()
            client.get("/robots.txt")
            samples.append((time.perf_counter() - started) * 1000)
        return samples

    tenant_ms = statistics.median(timed(tenant_client))
    public_ms = statistics.median(timed(public_client))
    return tenant_ms, public_ms, tenant_ms / public_ms


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    setup()

    creation = create_tenants(20)
    print(f"tenant creation (20, few tenants present): p50 {percentile(creation, 50):.0f} ms, "
          f"p95 {percentile(creation, 95):.0f} ms")
    from tenants.models import Domain

    host = Domain.objects.exclude(tenant__schema_name="public").first().domain
    tenant_ms, public_ms, ratio = request_ratio(host, args.rounds)
    print(f"request, {Domain.objects.count() - 1} tenants: tenant {tenant_ms:.2f} ms, public {public_ms:.2f} ms, "
          f"ratio {ratio:.2f}")

    filler = create_tenants(max(0, args.tenants - 20))
    creation_many = create_tenants(20)
    print(f"tenant creation (20 more, {args.tenants} present): p50 {percentile(creation_many, 50):.0f} ms, "
          f"p95 {percentile(creation_many, 95):.0f} ms (filler mean {statistics.mean(filler or [0]):.0f} ms)")
    tenant_ms, public_ms, ratio = request_ratio(host, args.rounds)
    print(f"request, {Domain.objects.count() - 1} tenants: tenant {tenant_ms:.2f} ms, public {public_ms:.2f} ms, "
          f"ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
