"""A local server speaking CloudWatch's PutMetricData as botocore sends it (the AWS JSON 1.0 protocol:
`X-Amz-Target: GraniteServiceVersion20100801.PutMetricData`, signed with SigV4), so the real boto3
client runs in tests against `endpoint_url`."""

from __future__ import annotations

import json
import threading
from typing import Any

from tests.support.local_http import LocalHttpServer, QuietHandler

PUT_METRIC_DATA_TARGET = "GraniteServiceVersion20100801.PutMetricData"
JSON_CONTENT_TYPE = "application/x-amz-json-1.0"


class FakeCloudWatch(LocalHttpServer):
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        # Set to refuse every call as AWS refuses a role without cloudwatch:PutMetricData.
        self.deny = False
        self.lock = threading.Lock()
        server = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.read_body()
                if not self.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256 Credential="):
                    self._reply(403, {"__type": "MissingAuthenticationTokenException", "message": "Not signed."})
                elif server.deny:
                    self._reply(403, {"__type": "AccessDeniedException", "message": "Not authorized."})
                elif self.headers.get("X-Amz-Target") != PUT_METRIC_DATA_TARGET:
                    self._reply(400, {"__type": "InvalidAction", "message": "Only PutMetricData here."})
                else:
                    with server.lock:
                        server.calls.append(json.loads(body))
                    self._reply(200, {})

            def _reply(self, status: int, payload: dict[str, Any]) -> None:
                self.reply(status, json.dumps(payload).encode(), JSON_CONTENT_TYPE,
                           {"x-amzn-RequestId": "fake-request"})

        super().__init__(Handler)
