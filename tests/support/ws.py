"""A plain WebSocket client for protocol tests: real sockets against a real server process."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

from websockets.sync.client import ClientConnection, connect


class WidgetSocket:
    def __init__(self, port: int, host: str, path: str, *, origin: str | None = None,
                 cookie: str | None = None, answer_pings: bool = True) -> None:
        self.answer_pings = answer_pings
        headers = {}
        if origin:
            headers["Origin"] = origin
        if cookie:
            headers["Cookie"] = cookie
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.connection: ClientConnection = connect(f"ws://{host}:{port}{path}", sock=sock,
                                                    additional_headers=headers, open_timeout=10)
        self.frames: list[dict[str, Any]] = []

    def send(self, frame: dict[str, Any] | str) -> None:
        self.connection.send(frame if isinstance(frame, str) else json.dumps(frame))

    def recv(self, timeout: float = 20) -> dict[str, Any]:
        frame = json.loads(self.connection.recv(timeout=timeout))
        self.frames.append(frame)
        if frame.get("type") == "ping" and self.answer_pings:  # as a live widget does
            self.send({"type": "pong", "ts": frame.get("ts")})
        return frame

    def recv_until(self, frame_type: str, timeout: float = 30, **match: Any) -> dict[str, Any]:
        """Read frames until one of this type (and these field values) arrives; the others are kept."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {frame_type} frame within {timeout}s; got {[f['type'] for f in self.frames]}")
            frame = self.recv(timeout=remaining)
            if frame["type"] == frame_type and all(frame.get(k) == v for k, v in match.items()):
                return frame

    def of_type(self, frame_type: str) -> list[dict[str, Any]]:
        return [frame for frame in self.frames if frame["type"] == frame_type]

    def close(self) -> None:
        self.connection.close()
