"""A webhook receiver as a business would run one: a local HTTP server that verifies every request
with the `standardwebhooks` package (the specification's own library) and keeps what it got.

Each path is one receiver (one endpoint URL, one secret); a test scripts what a path answers next
(a status, headers) and reads what it received, verified or not.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    # The parsed payload when the signature verified with the path's secret(s), else None.
    verified: dict[str, Any] | None
    verified_with: list[str] = field(default_factory=list)

    @property
    def payload(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str = "ok"


class Receiver:
    def __init__(self) -> None:
        self.secrets: dict[str, list[str]] = defaultdict(list)
        self.received: dict[str, list[Received]] = defaultdict(list)
        self.script: dict[str, deque[Answer]] = defaultdict(deque)
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path}"

    def trust(self, path: str, secret: str) -> None:
        """The receiver at `path` verifies with `secret` (besides any it trusted before)."""
        with self.lock:
            self.secrets[path].append(secret)

    def answer_next(self, path: str, *answers: Answer) -> None:
        with self.lock:
            self.script[path].extend(answers)

    def got(self, path: str) -> list[Received]:
        with self.lock:
            return list(self.received[path])

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                path = self.path.strip("/")
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {key.lower(): value for key, value in self.headers.items()}
                with receiver.lock:
                    secrets = list(receiver.secrets[path])
                    answer = receiver.script[path].popleft() if receiver.script[path] else Answer()
                verified, used = None, []
                for secret in secrets:
                    try:
                        verified = Webhook(secret).verify(body, headers)
                        used.append(secret)
                    except WebhookVerificationError:
                        continue
                with receiver.lock:
                    receiver.received[path].append(Received(headers=headers, body=body, verified=verified,
                                                            verified_with=used))
                data = answer.body.encode()
                self.send_response(answer.status)
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    @contextmanager
    def running(self) -> Iterator[Receiver]:
        self.thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()
