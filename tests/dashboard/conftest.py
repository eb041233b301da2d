"""Dashboard fixtures: a tenant with an owner and an agent, and in-process clients on its domain."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django_tenants.utils import schema_context

from tenants.services import ROLE_AGENT, ROLE_OWNER, tenant_user_create

OWNER_PASSWORD = "owner-pass-1234"
AGENT_PASSWORD = "agent-pass-1234"


@dataclass
class Business:
    tenant: Any
    domain: str
    owner: User
    agent: User

    def client(self, user: User | None = None, *, csrf_checks: bool = False) -> Client:
        client = Client(HTTP_HOST=self.domain, enforce_csrf_checks=csrf_checks)
        if user is not None:
            with schema_context(self.tenant.schema_name):
                client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client


@pytest.fixture
def make_business(make_tenant: Callable[..., Any]) -> Callable[..., Business]:
    def _make(name: str = "Test business", **kwargs: Any) -> Business:
        created = make_tenant(name=name, **kwargs)
        tag = uuid.uuid4().hex[:6]
        with schema_context(created.tenant.schema_name):
            owner = tenant_user_create(email=f"owner-{tag}@example.test", password=OWNER_PASSWORD, role=ROLE_OWNER,
                                       name="Olivia Owner")
            agent = tenant_user_create(email=f"agent-{tag}@example.test", password=AGENT_PASSWORD, role=ROLE_AGENT,
                                       name="Anna Agent")
        return Business(tenant=created.tenant, domain=created.domain.domain, owner=owner, agent=agent)

    return _make


@pytest.fixture
def business(make_business: Callable[..., Business]) -> Business:
    return make_business(name="Business A")


@pytest.fixture
def other_business(make_business: Callable[..., Business]) -> Business:
    return make_business(name="Business B")
