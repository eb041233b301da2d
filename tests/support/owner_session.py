"""An owner signed in to a real web process's dashboard, as a browser holds it: a session cookie."""

from __future__ import annotations

import uuid

import httpx
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from django_tenants.utils import schema_context

from tenants.services import ROLE_OWNER, tenant_user_create
from tests.support.processes import WebServer


def owner_dashboard(web: WebServer, *, schema: str, domain: str) -> httpx.Client:
    """An httpx client on `web` for the tenant's `domain`, signed in as a new owner of the tenant."""
    with schema_context(schema):
        owner = tenant_user_create(email=f"owner-{uuid.uuid4().hex[:6]}@example.test", password="owner-pass-1234",
                                   role=ROLE_OWNER)
        owner = User.objects.get(pk=owner.pk)
        session = SessionStore()
        session["_auth_user_id"] = str(owner.pk)
        session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
        session["_auth_user_hash"] = owner.get_session_auth_hash()
        session.create()
    client = web.client(domain)
    client.cookies.set("sessionid", session.session_key or "", domain="127.0.0.1")
    return client


def form_post(client: httpx.Client, *, page: str, action: str, data: dict[str, str]) -> httpx.Response:
    """Open the page (for its CSRF cookie) and send its form, as a browser does."""
    opened = client.get(page)
    assert opened.status_code == 200, f"{page} answered {opened.status_code}"
    return client.post(action, data={**data, "csrfmiddlewaretoken": client.cookies.get("csrftoken") or ""})
