"""A local server speaking CloudWatch's PutMetricData as botocore sends it (the AWS JSON 1.0 protocol:
`X-Amz-Target: GraniteServiceVersion20100801.PutMetricData`, signed with SigV4), so the real boto3
client runs in tests against `endpoint_url`."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PUT_METRIC_DATA_TARGET = "GraniteServiceVersion20100801.PutMetricData"
JSON_CONTENT_TYPE = "application/x-amz-json-1.0"


class FakeCloudWatch:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        # Set to refuse every call as AWS refuses a role without cloudwatch:PutMetricData.
        self.deny = False
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
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
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", JSON_CONTENT_TYPE)
                self.send_header("x-amzn-RequestId", "fake-request")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
