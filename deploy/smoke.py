"""Smoke test of a deployed environment, as the deploy workflow runs it after a rollout.

    python deploy/smoke.py --base-url https://shop.staging.deskpilot.example --widget-key PUBLIC_KEY

Passes when /readyz answers 200 and a widget conversation gets an answer: the socket opens with the
tenant's public key, a question is acknowledged, and the assistant's `answer.end` arrives. Exit status
0 or 1, with what failed on stderr.
"""

import argparse
import asyncio
import json
import sys
import urllib.request
import uuid
from urllib.parse import urlsplit

import websockets

ANSWER_TIMEOUT_SECONDS = 60


def check_ready(base_url: str) -> None:
    with urllib.request.urlopen(f"{base_url}/readyz", timeout=10) as response:
        if response.status != 200:
            raise RuntimeError(f"/readyz answered {response.status}")


async def converse(base_url: str, widget_key: str, question: str) -> str:
    parts = urlsplit(base_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    url = f"{scheme}://{parts.netloc}/ws/widget/?key={widget_key}"
    async with websockets.connect(url, origin=f"{parts.scheme}://{parts.netloc}", open_timeout=15) as socket:
        welcome = json.loads(await asyncio.wait_for(socket.recv(), 15))
        if welcome.get("type") != "welcome":
            raise RuntimeError(f"expected welcome, got {welcome}")
        client_id = f"smoke-{uuid.uuid4().hex[:12]}"
        await socket.send(json.dumps({"type": "message", "client_id": client_id, "text": question}))
        acknowledged = False
        async with asyncio.timeout(ANSWER_TIMEOUT_SECONDS):
            async for raw in socket:
                frame = json.loads(raw)
                if frame["type"] == "ack" and frame.get("client_id") == client_id:
                    acknowledged = True
                elif frame["type"] == "answer.end" and acknowledged:
                    return str(frame["message"]["text"])
                elif frame["type"] == "error":
                    raise RuntimeError(f"the widget answered an error: {frame}")
                elif frame["type"] == "ping":
                    await socket.send(json.dumps({"type": "pong", "ts": frame.get("ts")}))
    raise RuntimeError("the socket closed before the answer")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="a tenant's https:// address")
    parser.add_argument("--widget-key", required=True, help="that tenant's widget public key")
    parser.add_argument("--question", default="What are your opening hours?")
    args = parser.parse_args(argv)
    base_url = args.base_url.rstrip("/")
    try:
        check_ready(base_url)
        answer = asyncio.run(converse(base_url, args.widget_key, args.question))
    except Exception as error:  # noqa: BLE001 - any failure is the smoke test's verdict, reported whole
        print(f"smoke test failed: {error!r}", file=sys.stderr)
        return 1
    print(f"smoke test passed: /readyz 200, answer of {len(answer)} characters")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
