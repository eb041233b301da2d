"""Webhook fixtures: the receiver, and a tenant with an endpoint pointing at it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django_tenants.utils import schema_context

from config.redis import redis_client

# The dashboard's tenant with an owner and an agent, for the pages' tests.
from tests.dashboard.conftest import business, make_business, other_business  # noqa: F401
from tests.webhooks.receiver import Receiver


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver().running() as running:
        yield running


@pytest.fixture
def receiver_allowed(settings: Any) -> None:
    """The receiver stands for a business's server on the internet: its loopback address is let through."""
    settings.EGRESS_ALLOWED_NETWORKS = ["127.0.0.1/32"]


@pytest.fixture
def empty_queues() -> None:
    redis_client().flushdb()


@dataclass
class Hooked:
    tenant: Any
    endpoint_id: int
    path: str
    secret: str


def endpoint_for(tenant: Any, receiver: Receiver, *, path: str, events: list[str] | None = None) -> Hooked:
    """An endpoint of `tenant` at the receiver's `path`, created as an owner would (allowed address)."""
    from django.test import override_settings

    from chat.webhooks.models import SUBSCRIBABLE
    from chat.webhooks.services import webhook_endpoint_create

    with schema_context(tenant.schema_name), override_settings(EGRESS_ALLOWED_NETWORKS=["127.0.0.1/32"]):
        created = webhook_endpoint_create(url=receiver.url(path), events=events or SUBSCRIBABLE)
    receiver.trust(path, created.secret)
    return Hooked(tenant=tenant, endpoint_id=created.endpoint.pk, path=path, secret=created.secret)
