"""Local HTTP servers standing for the platform's own network, for the egress guard's tests.

`TrapServer` listens on every loopback form at once (IPv4 and IPv6 on one dual-stack socket, so
127.0.0.1, ::1 and ::ffff:127.0.0.1 all reach it) and records whatever arrives: a request it
records is a request the platform must never have made. `RedirectServer` answers every request
with a redirect to a target, as a hostile "public" endpoint would.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class _DualStackServer(ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


class _Recorder(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.owner.received.append(Received(method=self.command, path=self.path,
                                                   headers={k.lower(): v for k, v in self.headers.items()},
                                                   body=body))
        self.server.owner.answer(self)

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _record


class _Server:
    def __init__(self, server: ThreadingHTTPServer) -> None:
        self.received: list[Received] = []
        self._server = server
        server.owner = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    def __enter__(self) -> Any:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class TrapServer(_Server):
    """`with TrapServer() as trap:` on a free port of every loopback address; `trap.received`."""

    def __init__(self) -> None:
        super().__init__(_DualStackServer(("::", 0), _Recorder))

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        body = b'{"choices": [{"message": {"content": "TRAPPED"}}]}'
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


class RedirectServer(_Server):
    """Answers every request with `status` and a Location of `target` (307 keeps a POST's body)."""

    def __init__(self, *, host: str, target: str, status: int = 307) -> None:
        super().__init__(ThreadingHTTPServer((host, 0), _Recorder))
        self._server.daemon_threads = True
        self.host = host
        self.target = target
        self.status = status

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(self.status)
        handler.send_header("Location", self.target)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
