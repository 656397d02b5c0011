"""The request journal: one entry per request, secrets masked, bounded.

Entries live in the world's ring (``World.journal``), so a reset clears them
and a mock left running for a day keeps only the newest. Secrets never reach
the journal in clear: credential headers and secret-looking body fields keep
at most their last four characters, enough to tell two keys apart.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping
from typing import Any

from mockserver import wirejson
from mockserver.domain.world import World

__all__ = [
    "BODY_CAP",
    "SECRET_FIELDS",
    "SECRET_HEADERS",
    "Deferred",
    "Journal",
    "UnmaskedHeaders",
    "deferred_body",
    "journal_body",
    "mask_headers",
    "mask_secret",
    "mask_value",
]

#: Header names (lower-case) whose values are masked.
SECRET_HEADERS = frozenset(
    {"authorization", "x-api-key", "x-webhook-secret", "cookie", "set-cookie",
     "proxy-authorization"}
)
#: JSON body field names (lower-case) whose values are masked, at any depth.
SECRET_FIELDS = frozenset(
    {"webhook_secret", "secret", "api_key", "apikey", "token", "password", "access_token"}
)
#: Bodies are kept up to this many bytes; longer ones are cut and flagged.
BODY_CAP = 4096

_MASK = "***"


def mask_secret(value: str) -> str:
    """``"***"`` plus at most the last four characters, fewer for short secrets.

    A secret shorter than 16 characters keeps a quarter of its length, so a
    short key is never mostly revealed. An auth scheme word (``Bearer``,
    ``Basic``) is kept in front, since it is not secret and helps debugging.
    """
    scheme, _, rest = value.partition(" ")
    if rest and scheme.isalpha() and len(scheme) <= 10:
        return f"{scheme} {mask_secret(rest.strip())}"
    keep = min(4, len(value) // 4)
    return _MASK + (value[-keep:] if keep else "")


def mask_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers with secret ones masked (names lower-cased)."""
    return {
        name.lower(): mask_secret(value) if name.lower() in SECRET_HEADERS else value
        for name, value in headers.items()
    }


def mask_value(value: Any) -> Any:
    """A JSON value with every secret-named field masked, recursively."""
    if isinstance(value, dict):
        return {
            key: mask_secret(str(item))
            if isinstance(key, str) and key.lower() in SECRET_FIELDS and item is not None
            else mask_value(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [mask_value(item) for item in value]
    return value


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
    text = body[:cap].decode("utf-8", "replace")
    if len(body) > cap:
        text += f"...({len(body)} bytes)"
    return text


class Deferred:
    """A body kept as bytes until somebody reads the journal.

    Parsing and masking every request and response body costs more than the
    rest of a poll; most entries are never read before the ring drops them.
    :meth:`Journal.entries` turns each into :func:`journal_body`'s result on
    first read (so what a reader sees is the same, masked).
    """

    __slots__ = ("raw",)

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def resolve(self) -> Any:
        return journal_body(self.raw)


def deferred_body(body: bytes) -> Deferred | None:
    """``body`` for a journal entry, parsed and masked only when read (None if empty)."""
    return Deferred(body) if body else None


class UnmaskedHeaders:
    """Request headers kept as received until somebody reads the journal.

    Masking copies every header per request; like :class:`Deferred` bodies,
    :meth:`Journal.entries` masks them on first read, so a reader never sees
    a secret in clear. The mapping is the request's own (never mutated).
    """

    __slots__ = ("headers",)

    def __init__(self, headers: Mapping[str, str]) -> None:
        self.headers = headers

    def resolve(self) -> dict[str, str]:
        return mask_headers(self.headers)


def _resolve(entry: dict[str, Any]) -> dict[str, Any]:
    headers = entry.get("headers")
    if isinstance(headers, UnmaskedHeaders):
        entry["headers"] = headers.resolve()
    for name in ("body", "response"):
        value = entry.get(name)
        if isinstance(value, Deferred):
            entry[name] = value.resolve()
    return entry


class Journal:
    """Appends entries to the world's ring and reads them back, filtered."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._ids = itertools.count(1)

    def record(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Append an entry (given a sequence number ``seq``) and return it."""
        entry["seq"] = next(self._ids)
        self.world.journal.append(entry)
        return entry

    def entries(
        self, *, provider: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Entries oldest first; only ``provider``'s; only the newest ``limit``."""
        selected: Iterable[dict[str, Any]] = self.world.journal
        if provider is not None:
            selected = (e for e in selected if e.get("provider") == provider)
        items = list(selected)
        if limit is not None:
            items = items[-limit:] if limit > 0 else []
        return [_resolve(entry) for entry in items]
