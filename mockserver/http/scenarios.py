"""What a fault scenario does to the HTTP response: a dropped connection, a broken body.

Which scenario applies is decided in :mod:`mockserver.faults.selection`
(pure); this module holds only what needs the wire: the exception that makes
the server drop the connection and the body corruption.
"""

from __future__ import annotations

from dataclasses import replace

from mockserver.faults.effects import Scenario
from mockserver.providers.base import WireResponse

__all__ = ["ConnectionDropped", "corrupt"]


class ConnectionDropped(Exception):
    """Raised out of the app so the server drops the connection: before the status line
    (``drop_connection``; the server protocol closes it) or after the headers
    (``drop_after_headers``)."""


def corrupt(scenario: Scenario | None, response: WireResponse, body: bytes) -> WireResponse:
    """The response with a malformed or truncated body, when the scenario asks."""
    if scenario is None:
        return response
    effect = scenario.response
    if effect.malformed_body:
        return replace(response, raw=b'{"status": <not json>' + body[:32], schema=None)
    if effect.truncated_body:
        return replace(response, raw=body[: max(1, len(body) // 2)], schema=None)
    return response
