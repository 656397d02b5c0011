"""Apikley's (kie.ai style) webhook signature: sign and verify."""

from __future__ import annotations

import base64
import hashlib
import hmac

__all__ = ["sign_kie_hmac", "verify_kie_hmac"]


def sign_kie_hmac(task_id: str, timestamp: int, secret: str) -> dict[str, str]:
    """Apikley (kie.ai style): base64 HMAC-SHA256 of ``"{taskId}.{timestamp}"``."""
    digest = hmac.new(secret.encode(), f"{task_id}.{timestamp}".encode(), hashlib.sha256).digest()
    return {
        "X-Webhook-Timestamp": str(timestamp),
        "X-Webhook-Signature": base64.b64encode(digest).decode(),
    }


def verify_kie_hmac(
    headers: dict[str, str], task_id: str, secret: str, *, now: float, max_age: float = 300.0
) -> bool:
    """Check an Apikley (kie.ai) signature as kie's sample verifiers do, plus a replay window.

    kie documents no window; ``max_age`` is the receiver's own choice (the
    WaveSpeed and Standard Webhooks value by default).
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        timestamp = int(lowered["x-webhook-timestamp"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > max_age:
        return False
    expected = sign_kie_hmac(task_id, timestamp, secret)["X-Webhook-Signature"]
    return hmac.compare_digest(expected, lowered.get("x-webhook-signature", ""))
