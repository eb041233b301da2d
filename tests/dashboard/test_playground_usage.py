"""The owner trying the assistant (the dashboard's playground, `manage.py assistant ask`) is no customer:
those questions leave the plan's monthly messages as they were and show apart on the usage page, while
a customer's message on the widget counts."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from typing import Any

from django_tenants.utils import schema_context

from chat.assistant.usage import usage_month
from chat.conversations.models import Channel, Conversation, ConversationStatus
from chat.widget.services import widget_settings_get
from tenants.models import UsageEntry
from tests.support.owner_session import form_post, owner_dashboard
from tests.support.processes import ROOT, WebServer, child_env, wait_until
from tests.support.ws import WidgetSocket


def plan_messages_shown(page: str) -> int:
    found = re.search(r"<strong>Customer messages answered</strong>: (\d+) of", page)
    assert found, page
    return int(found.group(1))


def playground_line(page: str) -> str:
    found = re.search(r'<p id="playground-usage">([^<]*)</p>', page)
    assert found, page
    return found.group(1)


def test_the_owners_questions_count_toward_no_plan_and_show_apart_while_a_customers_message_counts(
        make_tenant: Any) -> None:
    tenant = make_tenant(name="Practice Bakery").tenant
    domain = tenant.get_primary_domain().domain
    web = WebServer()
    try:
        dashboard = owner_dashboard(web, schema=tenant.schema_name, domain=domain)
        assert plan_messages_shown(dashboard.get("/app/usage/").text) == 0

        # When the owner asks in the playground, through the dashboard...
        asked = form_post(dashboard, page="/app/playground/", action="/app/playground/",
                          data={"question": "Are you open on Sunday?"})
        assert asked.status_code == 200
        assert "Are you open on Sunday?" in asked.text
        # (a question the assistant hands to a person is stored and recorded another way)
        handed = form_post(dashboard, page="/app/playground/", action="/app/playground/",
                           data={"question": "Can I talk to a person please?"})
        assert handed.status_code == 200
        with schema_context(tenant.schema_name):
            assert Conversation.objects.filter(channel=Channel.PLAYGROUND,
                                               status=ConversationStatus.NEEDS_HUMAN).exists()
        # ... and from the command line
        ran = subprocess.run([sys.executable, "manage.py", "assistant", "ask", "--tenant", tenant.schema_name,
                              "--json", "Do you have oat milk?"], cwd=ROOT, env=child_env(), capture_output=True,
                             text=True, timeout=120)
        assert ran.returncode == 0, ran.stderr
        assert '"replied": true' in ran.stdout

        # Then the plan's messages are as they were, and the usage page shows the two questions apart
        month = usage_month(schema_name=tenant.schema_name)
        assert (month.messages, month.tokens, month.playground_questions) == (0, 0, 3)
        usage = dashboard.get("/app/usage/").text
        assert plan_messages_shown(usage) == 0
        assert playground_line(usage) == ("Playground: 3 questions, $0.00 of model cost, "
                                          "not counted toward your plan.")
        assert UsageEntry.objects.filter(tenant=tenant, kind=UsageEntry.Kind.MESSAGE).count() == 0

        # When a customer writes on the widget, that message counts toward the plan
        with schema_context(tenant.schema_name):
            key = widget_settings_get().public_key
        socket = WidgetSocket(web.port, domain, f"/ws/widget/?key={key}", origin=f"http://{domain}:{web.port}")
        try:
            socket.recv_until("welcome")
            socket.send({"type": "message", "client_id": f"c-{uuid.uuid4().hex[:8]}", "text": "Are you open today?"})
            socket.recv_until("answer.end")
        finally:
            socket.close()
        wait_until(lambda: usage_month(schema_name=tenant.schema_name).messages == 1,
                   message="the customer's answer counted")
        usage = dashboard.get("/app/usage/").text
        assert plan_messages_shown(usage) == 1
        assert playground_line(usage).startswith("Playground: 3 questions,")
        dashboard.close()
    finally:
        web.stop()
