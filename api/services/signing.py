"""Standard Webhooks signatures: secrets are `whsec_` and the base64 of random bytes; a message
is signed with HMAC-SHA256 over "{webhook-id}.{webhook-timestamp}.{body}"."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Iterable

PREFIX = "whsec_"
MIN_KEY_BYTES = 24
MAX_KEY_BYTES = 64
NEW_KEY_BYTES = 32


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(NEW_KEY_BYTES)).decode()


def key(secret: str) -> bytes:
    """The key a secret stands for; ValueError saying why when it is not a usable secret."""
    if not secret.startswith(PREFIX):
        raise ValueError(f"must start with '{PREFIX}', then the base64 of the key")
    encoded = secret.removeprefix(PREFIX)
    try:
        decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"what follows '{PREFIX}' is not base64") from None
    if not MIN_KEY_BYTES <= len(decoded) <= MAX_KEY_BYTES:
        raise ValueError(
            f"the key is {len(decoded)} bytes; it must be {MIN_KEY_BYTES} to {MAX_KEY_BYTES}"
        )
    return decoded


def signature(secrets_: Iterable[str], message_id: str, timestamp: int, body: str) -> str:
    """The webhook-signature header: a `v1,<base64>` signature per secret, space-separated."""
    signed = f"{message_id}.{timestamp}.{body}".encode()
    return " ".join(
        "v1," + base64.b64encode(hmac.new(key(s), signed, hashlib.sha256).digest()).decode()
        for s in secrets_
    )
