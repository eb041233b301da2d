"""An owner signed in to a real web process's dashboard, as a browser holds it: a session cookie."""

from __future__ import annotations

import uuid

import httpx
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from django_tenants.utils import schema_context

from tenants.services import ROLE_OWNER, tenant_user_create
from tests.support.processes import WebServer


def team_member_create(schema: str, *, role: str, email: str, password: str, name: str = "") -> User:
    """A new dashboard user of the tenant in `schema`, in the owner or agent group."""
    with schema_context(schema):
        created = tenant_user_create(email=email, password=password, role=role, name=name)
        return User.objects.get(pk=created.pk)


def session_key_for(schema: str, user: User) -> str:
    """A signed-in session for `user`, stored in the tenant's `schema`: its key, as the session cookie holds it."""
    with schema_context(schema):
        session = SessionStore()
        session["_auth_user_id"] = str(user.pk)
        session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
        session["_auth_user_hash"] = user.get_session_auth_hash()
        session.create()
        return session.session_key or ""


def session_cookie_for(schema: str, user: User) -> str:
    """`user` signed in to the tenant in `schema`, as a Cookie header's value."""
    return f"sessionid={session_key_for(schema, user)}"


def owner_dashboard(web: WebServer, *, schema: str, domain: str) -> httpx.Client:
    """An httpx client on `web` for the tenant's `domain`, signed in as a new owner of the tenant."""
    owner = team_member_create(schema, role=ROLE_OWNER, email=f"owner-{uuid.uuid4().hex[:6]}@example.test",
                               password="owner-pass-1234")
    client = web.client(domain)
    client.cookies.set("sessionid", session_key_for(schema, owner), domain="127.0.0.1")
    return client


def form_post(client: httpx.Client, *, page: str, action: str, data: dict[str, str]) -> httpx.Response:
    """Open the page (for its CSRF cookie) and send its form, as a browser does."""
    opened = client.get(page)
    assert opened.status_code == 200, f"{page} answered {opened.status_code}"
    return client.post(action, data={**data, "csrfmiddlewaretoken": client.cookies.get("csrftoken") or ""})
