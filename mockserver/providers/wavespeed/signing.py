"""WaveSpeed's webhook signature (Standard Webhooks, ``v3`` tag): sign and verify."""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["sign_standard_webhooks_v3", "verify_standard_webhooks_v3"]


def sign_standard_webhooks_v3(
    message_id: str, timestamp: int, body: bytes, secret: str
) -> dict[str, str]:
    """WaveSpeed: hex HMAC-SHA256 of ``"{id}.{timestamp}.{body}"``.

    The key is the account's webhook secret without its ``whsec_`` prefix.
    """
    key = secret.removeprefix("whsec_").encode()
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).hexdigest()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"v3,{digest}",
    }


def verify_standard_webhooks_v3(
    headers: dict[str, str], body: bytes, secret: str, *, now: float, max_age: float = 300.0
) -> bool:
    """Check a WaveSpeed-style signature as a receiver would (for tests and examples)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        timestamp = int(lowered["webhook-timestamp"])
        expected = sign_standard_webhooks_v3(lowered["webhook-id"], timestamp, body, secret)
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > max_age:
        return False
    return hmac.compare_digest(expected["webhook-signature"], lowered.get("webhook-signature", ""))
