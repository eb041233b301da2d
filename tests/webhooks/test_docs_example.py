"""docs/api.md, "Verifying webhooks" (of its "Webhooks" section): each example, run as written, accepts a real delivery
and refuses a forged, a tampered and a replayed one."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context
from standardwebhooks.webhooks import WebhookVerificationError

from chat.webhooks.models import WebhookDelivery
from chat.webhooks.services import webhook_delivery_attempt, webhook_event_enqueue
from chat.webhooks.signing import secret_generate
from tests.webhooks.conftest import endpoint_for

DOC = Path(__file__).resolve().parent.parent.parent / "docs" / "api.md"


def examples() -> list[str]:
    # From its heading to the next section of the same or a higher level.
    section = re.split(r"\n#{1,3} ", DOC.read_text().split("### Verifying webhooks\n", 1)[1], maxsplit=1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def test_the_doc_has_both_examples() -> None:
    assert len(examples()) == 2


@pytest.mark.usefixtures("receiver_allowed", "empty_queues")
@pytest.mark.parametrize("example", [0, 1], ids=["standardwebhooks", "standard-library"])
def test_each_example_verifies_a_real_delivery_and_refuses_forgeries(tenant_a, receiver, example) -> None:
    namespace: dict[str, Any] = {}
    exec(compile(examples()[example], str(DOC), "exec"), namespace)  # noqa: S102 (the doc's own code)
    verify = namespace["verify_webhook"]

    hooked = endpoint_for(tenant_a, receiver, path=f"docs-{example}", events=["order.updated"])
    with schema_context(tenant_a.schema_name):
        with transaction.atomic():
            webhook_event_enqueue(type="order.updated", data={"order_id": 42, "number": "#42", "status": "shipped",
                                                              "created": False})
        webhook_delivery_attempt(delivery_id=WebhookDelivery.objects.get().pk, attempt=0)
    got = receiver.got(f"docs-{example}")[-1]

    assert verify(hooked.secret, got.body, got.headers)["data"]["order_id"] == 42
    # The first example raises the library's error, the second ValueError, as each says.
    refused = WebhookVerificationError if example == 0 else ValueError
    with pytest.raises(refused):
        verify(secret_generate(), got.body, got.headers)  # someone else's secret
    with pytest.raises(refused):
        verify(hooked.secret, got.body.replace(b"shipped", b"refunded"), got.headers)  # tampered
    with time_machine.travel(timezone.now().timestamp() + 600):
        assert time.time() > int(got.headers["webhook-timestamp"]) + 500
        with pytest.raises(refused):
            verify(hooked.secret, got.body, got.headers)  # replayed ten minutes later
