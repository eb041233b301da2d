"""docs/api.md's examples are run as written (curl with bash, Python with this interpreter) against a
real server: each must succeed and show what the text says it shows."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from django_tenants.utils import schema_context

from tests.api.conftest import OWNER_EMAIL, ApiTenant, api_key_for
from tests.support.processes import WebServer

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
BLOCK = re.compile(r"^ *```(sh|python) business-api\n(.*?)^ *```", re.MULTILINE | re.DOTALL)


# Names under .localhost are the machine itself (RFC 6761): curl and browsers know it, Python's resolver
# here does not, so a Python example is run with that one rule added in front of it.
LOCALHOST_NAMES = """
import socket
_getaddrinfo = socket.getaddrinfo
socket.getaddrinfo = lambda host, *rest, **kw: _getaddrinfo(
    "127.0.0.1" if isinstance(host, str) and host.endswith(".localhost") else host, *rest, **kw)
"""


def doc_examples() -> list[tuple[str, str]]:
    return [(language, "\n".join(line.removeprefix("   ") for line in code.splitlines()))
            for language, code in BLOCK.findall(DOC.read_text())]


@pytest.fixture(scope="module")
def documented(shop: ApiTenant, django_db_blocker: Any) -> tuple[ApiTenant, int]:
    """The demo shop with a conversation waiting for a person, as the quick start finds one."""
    from chat.conversations.services import (
        contact_get_or_create,
        conversation_request_human,
        conversation_start,
        message_receive,
    )

    tenant = shop
    with django_db_blocker.unblock():
        with schema_context(tenant.schema):
            contact = contact_get_or_create(visitor_id=f"v-{uuid.uuid4().hex}", name="Maria",
                                            email="maria@example.com")
            conversation = conversation_start(contact=contact)
            message_receive(conversation=conversation, text="Where is my parcel?")
            conversation_request_human(conversation=conversation, reason="The customer asked for a person.")
        return tenant, conversation.pk


def test_the_docs_have_an_example_for_each_step_of_the_quick_start() -> None:
    examples = doc_examples()
    assert [language for language, _ in examples].count("sh") >= 5 and ("python", examples[-1][1]) in examples


def test_every_example_in_the_docs_runs_against_a_server(web: WebServer, documented: tuple[ApiTenant, int]) -> None:
    tenant, conversation_id = documented
    env = {**os.environ, "DESKPILOT_API": f"http://{tenant.domain}:{web.port}/api/v1",
           "DESKPILOT_API_KEY": api_key_for(tenant, name="docs"), "CONVERSATION_ID": str(conversation_id),
           "AGENT_EMAIL": OWNER_EMAIL, "VARIANT_SKU": "TL-HOOD-001-BLK-S"}
    outputs = []
    for language, code in doc_examples():
        command = ["bash", "-euo", "pipefail", "-c", code] if language == "sh" else [sys.executable, "-c", LOCALHOST_NAMES + code]
        run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, f"{language} example failed:\n{code}\n{run.stdout}\n{run.stderr}"
        outputs.append(run.stdout)
    key, waiting, worked, knowledge, stock, contacts = outputs
    assert json.loads(key)["name"] == "docs"
    assert conversation_id in [row["id"] for row in json.loads(waiting)["data"]]
    taken, reply = (json.loads(line) for line in worked.replace("}{", "}\n{").splitlines())
    assert taken["status"] == "human" and reply["text"] == "Your parcel left our warehouse this morning."
    assert json.loads(knowledge)["sources"][0]["title"] == "Gift wrapping"
    assert json.loads(stock) == {"updated": 1}
    assert "Maria maria@example.com" in contacts
