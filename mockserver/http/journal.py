"""The request journal: one entry per request, secrets masked, bounded.

Entries live in the world's ring (``World.journal``), so a reset clears them
and a mock left running for a day keeps only the newest. Secrets never leave
it in clear: headers, query parameters and body fields are masked by the one
rule of :mod:`mockserver.redact` (at most the last four characters kept).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping
from typing import Any

from mockserver import wirejson
from mockserver.domain.world import World

# The one redaction rule (mockserver.redact); re-exported: callers import them from here.
from mockserver.redact import mask_form, mask_headers, mask_query, mask_secret, mask_value

__all__ = [
    "BODY_CAP",
    "Journal",
    "journal_body",
    "mask_headers",
    "mask_secret",
    "mask_value",
]

#: Bodies are kept up to this many bytes; longer ones are cut and flagged.
BODY_CAP = 4096


def journal_body(body: bytes, *, cap: int = BODY_CAP) -> Any:
    """The body for the journal: parsed JSON (masked) if it is JSON, else text, capped.

    Returns None for an empty body. A body over ``cap`` bytes is kept as its
    first ``cap`` bytes of text with ``"...(N bytes)"`` appended, because a
    cut JSON document no longer parses.
    """
    if not body:
        return None
    if len(body) <= cap:
        try:
            return mask_value(wirejson.loads(body))
        except (UnicodeDecodeError, json.JSONDecodeError):
            pass
    text = mask_form(body[:cap].decode("utf-8", "replace"))
    if len(body) > cap:
        text += f"...({len(body)} bytes)"
    return text


#: One exchange as :meth:`Journal.record` keeps it (see there).
_Exchange = tuple[
    int, float, str, str, "str | None", "str | None", Mapping[str, str], Mapping[str, str],
    bytes, int, "bytes | None", float, "str | None", bool,
]


def _exchange_entry(kept: _Exchange) -> dict[str, Any]:
    """The journal entry (masked, bodies parsed) of an exchange kept raw."""
    (seq, at, method, path, provider, endpoint, query, headers, body, status, response,
     duration_ms, scenario, dropped) = kept
    return {
        "at": at,
        "method": method,
        "path": path,
        "provider": provider,
        "endpoint": endpoint,
        "query": mask_query(query),
        "headers": mask_headers(headers),
        "body": journal_body(body),
        "status": status,
        "response": journal_body(response) if response is not None else None,
        "duration_ms": round(duration_ms, 3),
        "scenario": scenario,
        "dropped": dropped,
        "seq": seq,
    }


class Journal:
    """Appends entries to the world's ring and reads them back, filtered."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._ids = itertools.count(1)

    def record(
        self,
        at: float,
        method: str,
        path: str,
        provider: str | None,
        endpoint: str | None,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
        status: int,
        response: bytes | None,
        duration_ms: float,
        scenario: str | None = None,
        dropped: bool = False,
    ) -> None:
        """Append one request and its answer, kept raw until somebody reads the journal.

        Every request is journaled and most entries leave the ring unread: a
        tuple of what the request already holds costs a tenth of a fifteen-key
        dict (0.1 µs against 1.1). :meth:`entries` turns it into the entry a
        reader sees, headers masked and bodies parsed and masked. ``response``
        is None for a body the journal does not keep (media). ``query`` and
        ``headers`` are the request's own mappings, which nothing mutates.
        """
        self.world.journal.append(
            (next(self._ids), at, method, path, provider, endpoint, query, headers, body,
             status, response, duration_ms, scenario, dropped)
        )

    def entries(
        self, *, provider: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Entries oldest first; only ``provider``'s; only the newest ``limit``."""
        selected: Iterable[_Exchange] = self.world.journal
        if provider is not None:
            selected = (kept for kept in selected if kept[4] == provider)
        items = list(selected)
        if limit is not None:
            items = items[-limit:] if limit > 0 else []
        return [_exchange_entry(kept) for kept in items]
