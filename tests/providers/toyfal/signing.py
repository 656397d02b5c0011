"""The toy provider's webhook signature.

Hex HMAC-SHA256 of ``"{request_id}.{timestamp}.{body}"`` keyed by the
account's webhook secret, in ``X-Toyfal-*`` headers.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping


def sign(request_id: str, timestamp: int, body: bytes, secret: str) -> dict[str, str]:
    """The signature headers of one delivery attempt."""
    signed = f"{request_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return {
        "X-Toyfal-Request-Id": request_id,
        "X-Toyfal-Timestamp": str(timestamp),
        "X-Toyfal-Signature": digest,
    }


def verify(headers: Mapping[str, str], body: bytes, secret: str, *, now: float,
           max_age: float = 300.0) -> bool:
    """Check a delivery as a receiver would: the HMAC, and a timestamp within ``max_age``."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        timestamp = int(lowered["x-toyfal-timestamp"])
        expected = sign(lowered["x-toyfal-request-id"], timestamp, body, secret)
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > max_age:
        return False
    return hmac.compare_digest(expected["X-Toyfal-Signature"],
                               lowered.get("x-toyfal-signature", ""))
