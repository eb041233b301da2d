"""An ApplicationError reaches whoever asked one way per medium (config/errors.py): JSON in the one
shape with its status, a dashboard form showing the message on the form with a 4xx, a socket's
`error` frame; and never a traceback."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django_tenants.utils import schema_context
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from chat.widget.services import widget_settings_get
from config.errors import ApplicationError, ValidationFailed, error_frame
from tenants.services import ROLE_OWNER, tenant_user_create
from tests.support.processes import WebServer, child_env
from tests.support.ws import WidgetSocket

TRACEBACK_WORDS = ("Traceback", 'File "', "RuntimeError")


def domain_of(tenant: Any) -> str:
    return tenant.get_primary_domain().domain


def owner_client(tenant: Any) -> tuple[Client, User]:
    with schema_context(tenant.schema_name):
        owner = tenant_user_create(email=f"owner-{uuid.uuid4().hex[:6]}@example.test", password="owner-pass-1234",
                                   role=ROLE_OWNER, name="Olivia Owner")
        client = Client(HTTP_HOST=domain_of(tenant))
        client.force_login(owner, backend="django.contrib.auth.backends.ModelBackend")
    return client, owner


# ------------------------------------------------------------------------------------------ JSON


def test_a_json_endpoint_answers_the_one_shape_with_the_errors_status(tenant_a) -> None:
    limit = settings.ORDERS_WEBHOOK_MAX_BODY_BYTES
    response = Client(HTTP_HOST=domain_of(tenant_a)).post("/webhooks/shopify/", data=b"x" * (limit + 1),
                                                         content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {"error": {"code": "payload_too_large",
                                         "message": f"The body is larger than {limit} bytes.",
                                         "details": {"limit_bytes": limit}}}


class _Refusing(APIView):
    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []

    def get(self, request: Any) -> Any:
        raise ValidationFailed("The period starts after it ends.", code="invalid_period", details={"field": "from"})


class _Failing(APIView):
    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []

    def get(self, request: Any) -> Any:
        raise RuntimeError("secret internals")


def test_a_rest_api_view_answers_the_same_shape_and_an_unexpected_failure_no_traceback() -> None:
    refused = _Refusing.as_view()(APIRequestFactory().get("/api/x"))
    assert refused.status_code == 400
    assert refused.data == {"error": {"code": "invalid_period", "message": "The period starts after it ends.",
                                      "details": {"field": "from"}}}
    failed = _Failing.as_view()(APIRequestFactory().get("/api/x"))
    failed.render()
    body = failed.content.decode()
    assert failed.status_code == 500
    assert failed.data == {"error": {"code": "server_error", "message": "Something went wrong on our side.",
                                     "details": None}}
    assert "secret internals" not in body and not any(word in body for word in TRACEBACK_WORDS)


# ------------------------------------------------------------------------------------- HTML forms


def test_a_dashboard_form_shows_the_services_refusal_on_the_form_with_a_4xx(tenant_a) -> None:
    client, _owner = owner_client(tenant_a)
    with schema_context(tenant_a.schema_name):
        before = widget_settings_get().primary_color
    response = client.post("/app/settings/widget/", {
        "greeting": "Hi!", "primary_color": "#zzzzzz", "text_color": "#ffffff", "position": "right",
        "language": "en", "messages_per_minute_per_ip": 20, "messages_per_minute_per_visitor": 10})
    page = response.content.decode()
    assert response.status_code == 400
    form_start = page.index("<form")
    assert page.index("The main colour must be a colour like #1f6feb.") > form_start, "shown on the form"
    assert not any(word in page for word in TRACEBACK_WORDS)
    with schema_context(tenant_a.schema_name):
        assert widget_settings_get().primary_color == before


def test_a_button_that_posts_shows_the_refusal_on_the_page_it_leads_to(tenant_a) -> None:
    client, owner = owner_client(tenant_a)
    response = client.post(f"/app/team/{owner.pk}/remove", follow=True)
    assert response.redirect_chain[-1][0].endswith("/app/team/")
    assert "You cannot remove yourself. Ask another owner." in response.content.decode()
    with schema_context(tenant_a.schema_name):
        assert User.objects.get(pk=owner.pk).is_active


def test_a_page_that_cannot_be_shown_answers_its_error_page_with_the_errors_status(tenant_a) -> None:
    response = Client(HTTP_HOST=domain_of(tenant_a)).get("/app/invite/not-a-signed-token/")
    assert response.status_code == 404
    assert "This invitation link is not valid or has expired." in response.content.decode()


# ----------------------------------------------------------------------------------------- sockets


def test_error_frame_is_the_widget_protocols_error_frame() -> None:
    limited = ApplicationError("Slow down a little.", code="rate_limited", status=429, details={"retry_after": 7})
    assert error_frame(limited, client_id="c-3") == {
        "type": "error", "code": "rate_limited", "message": "Slow down a little.", "details": {"retry_after": 7},
        "retry_after": 7, "client_id": "c-3"}
    assert error_frame(ValidationFailed("No.")) == {"type": "error", "code": "invalid", "message": "No."}


@pytest.fixture(scope="module")
def web() -> Iterator[WebServer]:
    server = WebServer(env=child_env(OPENAI_API_KEY=""))
    yield server
    server.stop()


def test_a_socket_answers_a_refused_frame_with_an_error_frame(web: WebServer, tenant_a) -> None:
    with schema_context(tenant_a.schema_name):
        key = widget_settings_get().public_key
    ws = WidgetSocket(web.port, domain_of(tenant_a), f"/ws/widget/?key={key}")
    try:
        ws.recv_until("welcome")
        ws.send({"type": "message", "client_id": "c-9"})
        assert ws.recv_until("error") == {"type": "error", "code": "invalid", "message": "A message needs a text.",
                                          "client_id": "c-9"}
    finally:
        ws.close()
