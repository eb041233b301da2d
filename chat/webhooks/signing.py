"""Standard Webhooks signatures: pure functions, one job each.

A secret is `whsec_` followed by the base64 of random bytes; the signed content is
`{webhook-id}.{webhook-timestamp}.{body}`; a signature is `v1,` and the base64 of its HMAC-SHA256
under the secret's bytes; several signatures (a rotation) are separated by spaces.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def secret_generate() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key a `whsec_…` secret stands for."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    return base64.b64decode(encoded + "=" * (-len(encoded) % 4))


def signature(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(*, secrets_in_use: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: one signature per secret in use, the newest first."""
    return " ".join(signature(secret=secret, msg_id=msg_id, timestamp=timestamp, body=body)
                    for secret in secrets_in_use if secret)
