"""Pages of the admin lists: ``limit``, an opaque ``cursor``, a bounded scan.

Every admin list (jobs, requests, accounts, uploads, webhooks, queued
scenarios) answers one page: at most ``limit`` items (default
:data:`DEFAULT_LIMIT`, at most :data:`MAX_LIMIT`), plus ``next_cursor``, the
``cursor`` that asks for the page after it (null on the last page). Filters
are applied while the store is walked, and the walk stops after
:data:`SCAN_BUDGET` stored items even when the page is not full: a filter
that matches little in a huge store answers a short page (with a cursor)
in a few milliseconds instead of holding the event loop for a full scan.
A client keeps following ``next_cursor`` until it is null.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "SCAN_BUDGET",
    "Page",
    "PageRequest",
    "PagingError",
    "page_of",
]

#: Items per page when ``limit`` is not given.
DEFAULT_LIMIT = 100
#: The largest ``limit`` a caller may ask for.
MAX_LIMIT = 500
#: Stored items one request examines at most (filters included): about 10 ms with a filter on jobs.
SCAN_BUDGET = 5_000

T = TypeVar("T")


class PagingError(ValueError):
    """A bad ``limit``, ``cursor`` or ``order``: the message names it and its range."""


@dataclass(frozen=True)
class PageRequest:
    """What the caller asked for: page size, where to continue, which way."""

    limit: int = DEFAULT_LIMIT
    cursor: str | None = None
    newest_first: bool = True

    @classmethod
    def parse(
        cls, query: Mapping[str, str], *, newest_first: bool = True, default: int = DEFAULT_LIMIT
    ) -> PageRequest:
        """From query parameters ``limit``, ``cursor``, ``order`` (``newest``/``oldest``)."""
        raw = query.get("limit")
        limit = default
        if raw is not None:
            try:
                limit = int(raw)
            except ValueError:
                raise PagingError(
                    f"limit must be an integer from 0 to {MAX_LIMIT}, got {raw[:40]!r}"
                ) from None
            if not 0 <= limit <= MAX_LIMIT:
                raise PagingError(f"limit must be from 0 to {MAX_LIMIT}, got {limit}")
        order = query.get("order")
        if order is not None:
            if order not in ("newest", "oldest"):
                raise PagingError(f"order must be 'newest' or 'oldest', got {order[:40]!r}")
            newest_first = order == "newest"
        cursor = query.get("cursor") or None
        if cursor is not None and len(cursor) > 1024:
            raise PagingError("cursor is longer than 1024 characters")
        return cls(limit, cursor, newest_first)

    def int_cursor(self) -> int | None:
        """The cursor as the integer position the integer-keyed lists use."""
        if self.cursor is None:
            return None
        try:
            return int(self.cursor)
        except ValueError:
            raise PagingError(
                f"cursor {self.cursor[:40]!r} is not one this list gave (an integer)"
            ) from None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page: its items and the cursor of the next page (None: no more)."""

    items: list[T]
    next_cursor: str | None


def page_of(
    candidates: Iterable[tuple[str, T]],
    limit: int,
    keep: Callable[[T], bool] | None = None,
    *,
    budget: int = SCAN_BUDGET,
) -> Page[T]:
    """The first ``limit`` items of ``candidates`` that ``keep`` accepts.

    ``candidates`` yields ``(cursor, item)`` in page order, where ``cursor``
    continues right after ``item``. At most ``budget`` candidates are
    examined; then the page ends early with the cursor of the last one.
    """
    items: list[T] = []
    iterator = iter(candidates)
    last: str | None = None
    if limit <= 0:
        return Page(items, None)
    for examined, (cursor, item) in enumerate(iterator, start=1):
        last = cursor
        if keep is None or keep(item):
            items.append(item)
            if len(items) >= limit:
                more = next(iterator, None) is not None
                return Page(items, last if more else None)
        if examined >= budget:
            more = next(iterator, None) is not None
            return Page(items, last if more else None)
    return Page(items, None)
