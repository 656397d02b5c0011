"""Eachlabs' webhook "signature": the create's secret echoed in a header."""

from __future__ import annotations

__all__ = ["secret_header"]


def secret_header(secret: str) -> dict[str, str]:
    """Eachlabs: the secret given at create, sent verbatim."""
    return {"X-Webhook-Secret": secret}
