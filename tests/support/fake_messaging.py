"""Local servers that speak the WhatsApp Cloud API (Graph API) and the Telegram Bot API, so the
product's real client code runs against them in tests and benchmarks.

Each records what it was asked (`requests`, `sent`) and can be told to fail (`down`: answer 503 or
502 until set back, as an outage does) or to keep a message on its way (`gate`: a slow platform). Shapes follow the platforms' documented answers: the Graph
API's `{"messaging_product": "whatsapp", "contacts": [...], "messages": [{"id": "wamid..."}]}` and
`{"error": {"message", "type", "code", "fbtrace_id"}}`; the Bot API's `{"ok": true, "result": ...}`
and `{"ok": false, "error_code", "description"}`.

    python -m tests.support.fake_messaging --port 8200     # both, for a benchmark in another process
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: dict[str, Any]
    at: float
    status: int = 0  # what the fake answered


@dataclass
class SendGate:
    """Messages sent to `to` after the first `let_through` stay on their way (unanswered) until
    `release` is set, as on a slow platform; `holding` is set once one is held."""

    to: str
    let_through: int = 0
    seen: int = 0
    holding: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


@dataclass
class PlatformState:
    """What the fake knows (tokens, numbers, bots) and what it was asked."""

    whatsapp_numbers: dict[str, dict[str, str]] = field(default_factory=dict)  # phone number id -> token, name
    bots: dict[str, dict[str, Any]] = field(default_factory=dict)  # token -> id, username, webhook
    requests: list[Recorded] = field(default_factory=list)
    down: bool = False
    gate: SendGate | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def sent(self, kind: str) -> list[Recorded]:
        """Requests that sent a message and were answered with success: WhatsApp's messages endpoint
        ("whatsapp") or the Bot API's sendMessage ("telegram")."""
        with self.lock:
            requests = list(self.requests)
        if kind == "whatsapp":
            return [r for r in requests if r.path.endswith("/messages") and r.status == 200]
        return [r for r in requests if r.path.endswith("/sendMessage") and r.status == 200]

    def calls(self, suffix: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.path.endswith(suffix)]


class _Handler(BaseHTTPRequestHandler):
    server: FakeMessagingServer  # type: ignore[assignment]
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _reply(self, status: int, body: Any, record: Recorded) -> None:
        record.status = status
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _handle(self) -> None:
        state = self.server.state
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        record = Recorded(self.command, parts.path, parse_qs(parts.query),
                          {k.lower(): v for k, v in self.headers.items()}, body, time.time())
        with state.lock:
            state.requests.append(record)
        if self.server.delay:
            time.sleep(self.server.delay)
        if parts.path.startswith("/bot"):
            self._bot(record)
        else:
            self._graph(record)

    do_GET = _handle
    do_POST = _handle

    # ------------------------------------------------------------------ Graph API (WhatsApp)
    def _graph_error(self, record: Recorded, status: int, message: str, code: int) -> None:
        self._reply(status, {"error": {"message": message, "type": "OAuthException", "code": code,
                                       "fbtrace_id": "AbCdEf123"}}, record)

    def _graph(self, record: Recorded) -> None:
        state = self.server.state
        if state.down:
            self._graph_error(record, 503, "Service temporarily unavailable", 2)
            return
        match = re.fullmatch(r"/(v\d+\.\d+)/(\d+)(/messages)?", record.path)
        if match is None:
            self._graph_error(record, 400, "Unknown path components", 2500)
            return
        number = state.whatsapp_numbers.get(match.group(2))
        token = record.headers.get("authorization", "").removeprefix("Bearer ")
        if number is None or token != number["token"]:
            self._graph_error(record, 401, "Invalid OAuth access token - Cannot parse access token", 190)
            return
        if not match.group(3):
            self._reply(200, {"display_phone_number": number["display"], "verified_name": number["name"],
                              "id": match.group(2)}, record)
            return
        to = str(record.body.get("to") or "")
        gate = state.gate
        if gate is not None and to == gate.to:
            with state.lock:
                gate.seen += 1
                held = gate.seen > gate.let_through
            if held:
                gate.holding.set()
                gate.release.wait(timeout=120)
        self._reply(200, {"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}],
                          "messages": [{"id": f"wamid.FAKE{next(state.ids):08d}"}]}, record)

    # ------------------------------------------------------------------ Bot API (Telegram)
    def _bot(self, record: Recorded) -> None:
        state = self.server.state
        match = re.fullmatch(r"/bot([^/]+)/(\w+)", record.path)
        if state.down:
            self._reply(502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}, record)
            return
        bot = state.bots.get(match.group(1)) if match else None
        if match is None or bot is None:
            self._reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"}, record)
            return
        method, params = match.group(2), record.body
        if method == "getMe":
            result: Any = {"id": bot["id"], "is_bot": True, "first_name": bot["username"], "username": bot["username"]}
        elif method == "setWebhook":
            bot["webhook"] = {"url": params.get("url", ""), "secret_token": params.get("secret_token"),
                              "allowed_updates": params.get("allowed_updates")}
            result = True
        elif method == "deleteWebhook":
            bot["webhook"] = {}
            result = True
        elif method == "getWebhookInfo":
            hook = bot.get("webhook") or {}
            result = {"url": hook.get("url", ""), "has_custom_certificate": False,
                      "pending_update_count": bot.get("pending", 0), "max_connections": 40}
            if bot.get("last_error"):
                result.update(last_error_date=int(time.time()), last_error_message=bot["last_error"])
        elif method == "sendChatAction":
            result = True
        elif method == "sendMessage":
            if not params.get("chat_id") or not params.get("text"):
                self._reply(400, {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"},
                            record)
                return
            result = {"message_id": next(state.ids), "date": int(time.time()), "text": params["text"],
                      "chat": {"id": int(params["chat_id"]), "type": "private"},
                      "from": {"id": bot["id"], "is_bot": True, "first_name": bot["username"]}}
        else:
            self._reply(404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}, record)
            return
        self._reply(200, {"ok": True, "result": result}, record)


class FakeMessagingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int = 0, delay: float = 0.0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.state = PlatformState()
        self.delay = delay
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> FakeMessagingServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def whatsapp_number_add(self, *, phone_number_id: str, token: str, display: str = "+1 555 0100",
                            name: str = "Test Shop") -> None:
        self.state.whatsapp_numbers[phone_number_id] = {"token": token, "display": display, "name": name}

    def bot_add(self, *, token: str, bot_id: int, username: str) -> None:
        self.state.bots[token] = {"id": bot_id, "username": username, "webhook": {}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8200)
    parser.add_argument("--number", action="append", default=[], help="PHONE_NUMBER_ID:TOKEN")
    parser.add_argument("--bot", action="append", default=[], help="TOKEN:ID:USERNAME")
    arguments = parser.parse_args()
    server = FakeMessagingServer(arguments.port)
    for number in arguments.number:
        phone_number_id, token = number.split(":", 1)
        server.whatsapp_number_add(phone_number_id=phone_number_id, token=token)
    for bot in arguments.bot:
        token, bot_id, username = bot.rsplit(":", 2)
        server.bot_add(token=token, bot_id=int(bot_id), username=username)
    server.serve_forever()


if __name__ == "__main__":
    main()
