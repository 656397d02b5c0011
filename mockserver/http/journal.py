"""The request journal: one entry per request, secrets masked, bounded.

Entries live in the world's ring (``World.journal``), so a reset clears them
and a mock left running for a day keeps only the newest.

Bounded in count (``journal_size``, the ring's length) and in bytes
(``journal_bytes``): each body is cut to ``journal_body_bytes`` when it is
recorded (the entry says ``"body_truncated": true`` and the full size), the
bodies of uploads are not kept at all (the upload store has them), and the
oldest entries go while the kept bytes are over the bound.

Secrets never leave it in clear: headers, query parameters and body fields
are masked by the one rule of :mod:`mockserver.redact` (at most the last
four characters kept).
"""

from __future__ import annotations

import itertools
import json
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

from mockserver import wirejson
from mockserver.domain.world import World
from mockserver.http.paging import SCAN_BUDGET, Page, PageRequest, page_of

# The one redaction rule (mockserver.redact); re-exported: callers import them from here.
from mockserver.redact import mask_form, mask_headers, mask_query, mask_secret, mask_value
from mockserver.store.interface import JournalRecord
from mockserver.store.journal import BatchBuffer

if TYPE_CHECKING:
    from mockserver.store.redis_store import RedisStore

__all__ = [
    "BODY_CAP",
    "DEFAULT_JOURNAL_BYTES",
    "JOB_ID",
    "Journal",
    "StoreJournal",
    "StoredEntry",
    "exchange_entry",
    "journal_body",
    "mask_headers",
    "mask_secret",
    "mask_value",
    "request_body",
    "response_value",
    "wall_time",
]

#: Bodies are kept up to this many bytes; longer ones are cut and flagged.
BODY_CAP = 4096
#: Bytes the journal's entries may hold together (bodies, headers, query).
DEFAULT_JOURNAL_BYTES = 32 * 1024 * 1024
#: What an entry costs beside its bodies, headers and query text.
_ENTRY_OVERHEAD_BYTES = 512
#: What a stored entry costs in Redis beside its JSON (stream id, filter fields).
_STORED_OVERHEAD_BYTES = 64


def journal_body(body: bytes, *, cap: int = BODY_CAP, size: int | None = None) -> Any:
    """The body for the journal: parsed JSON (masked) if it is JSON, else text, capped.

    Returns None for an empty body. A body over ``cap`` bytes (or, for a
    body already cut when recorded, whose full ``size`` was larger) is kept
    as its first ``cap`` bytes of text with ``"...(N bytes)"`` appended,
    because a cut JSON document no longer parses.
    """
    size = len(body) if size is None else size
    if not size or not body:
        return None  # empty, or not kept (an upload: the upload store has it)
    if size <= cap:
        try:
            return mask_value(wirejson.loads(body))
        except (UnicodeDecodeError, json.JSONDecodeError):
            pass
    text = mask_form(body[:cap].decode("utf-8", "replace"))
    if size > cap:
        text += f"...({size} bytes)"
    return text


#: One exchange as :meth:`Journal.record` keeps it (see there).
_Exchange = tuple[
    int, float, str, str, "str | None", "str | None", Mapping[str, str], Mapping[str, str],
    bytes, int, "bytes | None", float, "str | None", bool, int, int, "str | None",
    "float | None", int,
]
#: Positions in an :data:`_Exchange` that readers filter on.
PROVIDER, ENDPOINT, STATUS, JOB_ID = 4, 5, 9, 16


#: Unix time minus ``time.perf_counter()``, taken once: the same entry always
#: reads the same wall time (to the precision of this one reading).
_WALL_OFFSET = time.time() - time.perf_counter()


def wall_time(started: float | None) -> float | None:
    """Unix time of a ``time.perf_counter()`` reading taken earlier in this process.

    The journal keeps the counter reading the request already took (no extra
    clock call per request) and converts it only when an entry is read.
    """
    if started is None:
        return None
    return round(started + _WALL_OFFSET, 6)


class StoredEntry(dict[str, Any]):
    """An entry read back from a shared store: :func:`exchange_entry` rendered it
    (masked) in the worker that recorded it, before it left that worker."""


#: What a journal keeps of one exchange: raw (in memory) or rendered (a store).
Kept = _Exchange | StoredEntry


def exchange_entry(kept: Kept) -> dict[str, Any]:
    """The journal entry (masked, bodies parsed) of an exchange kept raw."""
    if isinstance(kept, StoredEntry):
        return dict(kept)  # rendered by this function when it was recorded
    (seq, at, method, path, provider, endpoint, query, headers, body, status, response,
     duration_ms, scenario, dropped, body_size, response_size, job_id, started, _) = kept
    cap = max(len(body), len(response or b""), BODY_CAP)
    return {
        "at": at,
        "method": method,
        "path": path,
        "provider": provider,
        "endpoint": endpoint,
        "query": mask_query(query),
        "headers": mask_headers(headers),
        "body": journal_body(body, cap=cap, size=body_size),
        "body_bytes": body_size,
        "body_truncated": body_size > len(body),
        "status": status,
        "response": journal_body(response, cap=cap, size=response_size)
        if response is not None else None,
        "response_bytes": response_size,
        "response_truncated": response is not None and response_size > len(response),
        "duration_ms": round(duration_ms, 3),
        "scenario": scenario,
        "dropped": dropped,
        "seq": seq,
        "job_id": job_id,
        "wall": wall_time(started),
    }


def request_body(kept: Kept) -> bytes:
    """The request body as kept (a stored entry's: its masked JSON or text again)."""
    if not isinstance(kept, StoredEntry):
        return kept[8]
    body = kept.get("body")
    if body is None:
        return b""
    return body.encode() if isinstance(body, str) else wirejson.dumps(body, lenient=True)


def response_value(kept: Kept) -> Any:
    """The response body parsed as JSON, None if it is not JSON (a stored entry's as
    it was rendered, masked: its text when it was not JSON)."""
    if isinstance(kept, StoredEntry):
        return kept.get("response")
    response = kept[10]
    if not response:
        return None
    try:
        return wirejson.loads(response)
    except ValueError:
        return None


class Journal:
    """Appends entries to the world's ring and reads them back, filtered."""

    def __init__(
        self,
        world: World,
        *,
        max_bytes: int = DEFAULT_JOURNAL_BYTES,
        body_bytes: int = BODY_CAP,
    ) -> None:
        self.world = world
        self.max_bytes = max_bytes
        self.body_bytes = body_bytes
        #: Estimated bytes of the entries in the ring (bodies as kept, headers, query).
        self.bytes = 0
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
        keep_body: bool = True,
        job_id: str | None = None,
        started: float | None = None,
    ) -> None:
        """Append one request and its answer, kept raw until somebody reads the journal.

        Every request is journaled and most entries leave the ring unread: a
        tuple of what the request already holds costs a tenth of a fifteen-key
        dict (0.1 µs against 1.1). :meth:`entries` turns it into the entry a
        reader sees, headers masked and bodies parsed and masked. ``response``
        is None for a body the journal does not keep (media). ``query`` and
        ``headers`` are the request's own mappings, which nothing mutates.
        Bodies over ``body_bytes`` are cut now (``keep_body=False``, for an
        upload, keeps none of the request body), and the oldest entries go
        while the ring holds more than ``max_bytes``. ``job_id`` links the
        entry to the job the request created or read (``?job=`` and the job
        timeline); ``started`` is the request's ``time.perf_counter()`` start.
        """
        cap = self.body_bytes
        body_size = len(body)
        if not keep_body:
            body = b""
        elif body_size > cap:
            body = body[:cap]
        response_size = 0
        if response is not None:
            response_size = len(response)
            if response_size > cap:
                response = response[:cap]
        size = _ENTRY_OVERHEAD_BYTES + len(body) + len(response or b"") + len(path)
        # Values summed in C; names (short, a known few) at 32 bytes each.
        size += sum(map(len, headers.values())) + 32 * len(headers)
        if query:
            size += sum(map(len, query.values())) + 32 * len(query)
        ring = self.world.journal
        if not ring:
            self.bytes = 0  # the world was reset
        elif len(ring) == ring.maxlen:
            self.bytes -= ring[0][-1]  # appending drops the oldest
        ring.append(
            (next(self._ids), at, method, path, provider, endpoint, query, headers, body,
             status, response, duration_ms, scenario, dropped, body_size, response_size, job_id,
             started, size)
        )
        self.bytes += size
        while self.bytes > self.max_bytes and len(ring) > 1:
            self.bytes -= ring.popleft()[-1]

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
        return [exchange_entry(kept) for kept in items]

    def of_job(self, job_id: str, *, budget: int) -> tuple[list[Kept], bool]:
        """The kept exchanges linked to ``job_id``, oldest first, examining at most
        ``budget`` entries from the newest back; and whether the scan stopped early."""
        ring = self.world.journal
        found: list[Kept] = []
        for examined, kept in enumerate(reversed(ring)):
            if examined >= budget:
                return found[::-1], True
            if kept[JOB_ID] == job_id:
                found.append(kept)
        return found[::-1], False

    def get(self, seq: int) -> Kept | None:
        """The kept exchange with sequence number ``seq``, if it is still in the ring."""
        ring = self.world.journal
        if not ring:
            return None
        index = seq - ring[0][0]  # numbers are consecutive in the ring
        if 0 <= index < len(ring) and ring[index][0] == seq:
            kept: _Exchange = ring[index]
            return kept
        return None

    def page(
        self, request: PageRequest, *, provider: str | None = None, status: int | None = None,
        endpoint: str | None = None, job: str | None = None,
        view: Callable[[_Exchange], dict[str, Any]] | None = None,
    ) -> Page[dict[str, Any]]:
        """One page of entries (newest first unless asked otherwise), filtered as it walks.

        The cursor is an entry's sequence number; entries' numbers are
        consecutive in the ring, so a page starts by index, not by a scan.
        """
        ring = self.world.journal
        after = request.int_cursor()

        def candidates() -> Iterable[tuple[str, _Exchange]]:
            if not ring:
                return
            first = ring[0][0]
            if request.newest_first:
                start = len(ring) - 1 if after is None else min(after - first - 1, len(ring) - 1)
                indices: Iterable[int] = range(start, -1, -1)
            else:
                start = 0 if after is None else max(after - first + 1, 0)
                indices = range(start, len(ring))
            for index in indices:
                kept = ring[index]
                yield str(kept[0]), kept

        def keep(kept: _Exchange) -> bool:
            return (provider is None or kept[PROVIDER] == provider) and (
                status is None or kept[STATUS] == status) and (
                endpoint is None or kept[ENDPOINT] == endpoint) and (
                job is None or kept[JOB_ID] == job)

        found = page_of(candidates(), request.limit, keep)
        render = view or exchange_entry
        return Page([render(kept) for kept in found.items], found.next_cursor)

    def stats(self) -> tuple[int, int]:
        """(entries kept, their bytes)."""
        return len(self.world.journal), self.bytes

    def last_seq(self) -> int:
        """The newest entry's sequence number (0: none)."""
        ring = self.world.journal
        return int(ring[-1][0]) if ring else 0

    def flush(self) -> None:
        """Nothing: the memory journal keeps entries where it reads them."""

    def close(self) -> None:
        """Nothing to write at shutdown."""


class _Scratch:
    """Where :class:`StoreJournal` lets :meth:`Journal.record` put one exchange."""

    def __init__(self) -> None:
        self.journal: deque[Any] = deque()


class StoreJournal(Journal):
    """The journal of a worker on a shared store: every worker's entries, one numbering.

    :meth:`record` is the memory journal's (bodies cut the same way), into a
    scratch ring it takes the exchange from at once; the exchange waits in a
    bounded :class:`~mockserver.store.journal.BatchBuffer` and is rendered
    (masked: nothing unmasked reaches the store) and written with the
    others of its batch by the buffer's thread, every
    :data:`~mockserver.store.journal.FLUSH_SECONDS`. The store numbers them
    (``seq``, unique across the fleet) and keeps the newest within
    ``journal_size`` entries and ``max_bytes`` bytes. Every read flushes this
    worker's buffer first, then reads the store.
    """

    def __init__(
        self, world: World, store: RedisStore, *, max_bytes: int = DEFAULT_JOURNAL_BYTES,
        body_bytes: int = BODY_CAP,
    ) -> None:
        super().__init__(cast(World, _Scratch()), max_bytes=max_bytes, body_bytes=body_bytes)
        self.shared_world = world
        self.store = store
        #: Entries kept (the world's ``journal_size``, as in memory).
        self.max_entries = world.journal.maxlen or store.bounds.journal_size
        self.buffer: BatchBuffer[tuple[int, _Exchange]] = BatchBuffer(
            self._write, max_items=self.max_entries, max_bytes=max_bytes,
            stopped=lambda: store.closed,
        )
        # The world's own ring stays empty but for this mark: a reset clears it, and
        # entries recorded before the reset (their generation) are then forgotten,
        # not written after it, even by a batch the writing thread already took.
        self._mark = world.journal
        self._mark.append(None)
        self._generation = 0

    def record(self, *args: Any, **kwargs: Any) -> None:
        """:meth:`Journal.record`, buffered for the store (no round trip)."""
        if not self._mark:
            self._reset_seen()
        Journal.record(self, *args, **kwargs)
        kept = self.world.journal.pop()
        self.buffer.add((self._generation, kept), kept[-1])

    def _reset_seen(self) -> None:
        self._generation += 1
        self.buffer.discard()
        self._mark.append(None)

    def _write(self, batch: list[tuple[int, _Exchange]]) -> None:
        if not self._mark:
            return  # a reset since: these entries belong to the state it forgot
        records = []
        for generation, kept in batch:
            if generation != self._generation:
                continue
            entry = exchange_entry(kept)
            del entry["seq"]  # the store's, given when it is written
            text = json.dumps(entry, separators=(",", ":"), default=str).encode()
            # Literal positions (PROVIDER, STATUS, ENDPOINT, JOB_ID) so each is typed.
            records.append(JournalRecord(text, kept[4], kept[9], kept[5], kept[16],
                                         len(text) + _STORED_OVERHEAD_BYTES))
        if records:
            self.store.journal_add(records, max_bytes=self.max_bytes,
                                   max_entries=self.max_entries)

    def flush(self) -> None:
        """Write this worker's buffered entries now (a read does, first)."""
        if not self._mark:
            self._reset_seen()
        self.buffer.flush()

    def close(self) -> None:
        """Write what is buffered and stop the writing thread (at shutdown)."""
        self.buffer.close()

    @staticmethod
    def _stored(seq: int, text: bytes) -> StoredEntry:
        entry = StoredEntry(json.loads(text))
        entry["seq"] = seq
        return entry

    def _scan(self, after: int | None, limit: int, *, newest_first: bool = True,
              budget: int = SCAN_BUDGET, **filters: Any) -> tuple[list[StoredEntry], int | None]:
        self.flush()
        items, cursor = self.store.journal_scan(after, limit, newest_first=newest_first,
                                                budget=budget, **filters)
        return [self._stored(seq, text) for seq, text in items], cursor

    def entries(
        self, *, provider: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Every worker's entries oldest first; only ``provider``'s; the newest ``limit``."""
        size = self.max_entries
        found, _ = self._scan(None, size if limit is None else max(limit, 0),
                              budget=size, provider=provider)
        return [dict(entry) for entry in reversed(found)]

    def of_job(self, job_id: str, *, budget: int) -> tuple[list[Kept], bool]:
        """Every worker's entries linked to ``job_id``, oldest first (as the memory one)."""
        found, cursor = self._scan(None, budget, budget=budget, job_id=job_id)
        return list[Kept](reversed(found)), cursor is not None

    def get(self, seq: int) -> Kept | None:
        """The entry with sequence number ``seq`` (any worker's), if the store keeps it."""
        self.flush()
        text = self.store.journal_entry(seq)
        return None if text is None else self._stored(seq, text)

    def page(
        self, request: PageRequest, *, provider: str | None = None, status: int | None = None,
        endpoint: str | None = None, job: str | None = None,
        view: Callable[[Any], dict[str, Any]] | None = None,
    ) -> Page[dict[str, Any]]:
        """One page of every worker's entries, filtered in the store as it walks."""
        found, cursor = self._scan(request.int_cursor(), request.limit,
                                   newest_first=request.newest_first, provider=provider,
                                   status=status, endpoint=endpoint, job_id=job)
        render = view or exchange_entry
        return Page([render(entry) for entry in found],
                    None if cursor is None else str(cursor))

    def stats(self) -> tuple[int, int]:
        """(entries the store keeps, their bytes)."""
        self.flush()
        count, size, _ = self.store.journal_stats()
        return count, size

    def last_seq(self) -> int:
        """The fleet's newest sequence number (this worker's buffer flushed first)."""
        self.flush()
        return self.store.journal_stats()[2]
