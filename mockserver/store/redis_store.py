"""The store on Redis: state shared by every worker and kept across restarts.

Import this through :func:`mockserver.store.connect_redis`, which checks the
``redis`` extra first. Each atomic operation is one Lua script of
:mod:`mockserver.store.lua`, loaded once and called by its SHA (``EVALSHA``;
on ``NOSCRIPT``, after a Redis restart, it is loaded again and called once
more). A poll is one round trip, a create two (the caller's clock-and-key
read, then :meth:`RedisStore.create_job`); :class:`RoundTrips` counts them.

Every key starts with ``<prefix>:`` (ARCHITECTURE.md, "The store boundary",
lists them); :meth:`RedisStore.reset` removes only those, with ``SCAN`` and
``UNLINK`` in batches (never ``FLUSHDB``).

An unreachable Redis raises :class:`StoreUnavailable` within the socket and
connect timeouts (one quick retry included), never a driver exception; the
connection pool reconnects on the next operation once Redis is back.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Literal, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.connection import Connection
from redis.exceptions import (
    BusyLoadingError,
    NoScriptError,
    ReadOnlyError,
    RedisError,
    ResponseError,
)
from redis.retry import Retry

from mockserver.store import lua
from mockserver.store.interface import (
    AccountBalance,
    AdmitRequest,
    AdmitResult,
    Claim,
    ClockSettings,
    CreateContext,
    CreateResult,
    JobEnd,
    JobEndResult,
    JobRecord,
    JobView,
    JournalRecord,
    NewDelivery,
    NewJob,
    QueuedEntry,
    SlotResult,
    Store,
    StoredDelivery,
    StoredUpload,
    StoreError,
    StoreUnavailable,
    WindowResult,
    from_units,
    to_units,
)

__all__ = ["DEFAULT_TIMEOUT_SECONDS", "RedisStore", "RoundTrips", "StoreBounds"]

#: Socket and connect timeout: an unreachable Redis fails an operation in about this.
DEFAULT_TIMEOUT_SECONDS = 1.0
#: Prefixes are plain words: they appear in SCAN patterns and key names.
_PREFIX = re.compile(r"[A-Za-z0-9_.-]{1,64}")
#: Stream ids are ``<ms>-<seq>`` of unsigned 64-bit numbers; the journal's entry
#: numbers are the first part.
_MAX_STREAM_SEQ = 2**64 - 1
#: Keys unlinked per command by reset().
_RESET_BATCH = 500

T = TypeVar("T")


class RoundTrips:
    """Requests written to Redis (a pipeline is one): the cost of an operation."""

    def __init__(self) -> None:
        self.count = 0

    @contextmanager
    def measure(self) -> Iterator[list[int]]:
        """``with trips.measure() as spent:`` then ``spent[0]`` is the trips inside."""
        spent = [0]
        before = self.count
        try:
            yield spent
        finally:
            spent[0] = self.count - before


def _counting_connection(trips: RoundTrips) -> type[Connection]:
    class CountingConnection(Connection):
        def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            trips.count += 1
            super().send_packed_command(command, check_health)  # type: ignore[no-untyped-call]

    return CountingConnection


class StoreBounds:
    """The memory store's bounds (World, Outbox, UploadStore, ScenarioQueue, Accounts)."""

    def __init__(
        self,
        *,
        max_jobs: int = 100_000,
        max_job_bytes: int = 256 * 1024 * 1024,
        journal_size: int = 2_000,
        max_deliveries: int = 10_000,
        max_pending: int = 10_000,
        max_pending_bytes: int = 64 * 1024 * 1024,
        attempt_log: int = 5_000,
        max_uploads: int = 1_000,
        max_upload_bytes: int = 128 * 1024 * 1024,
        max_queued: int = 1_000,
        max_keys: int = 10_000,
        max_key_bytes: int = 32 * 1024 * 1024,
    ) -> None:
        self.max_jobs = max_jobs
        self.max_job_bytes = max_job_bytes
        self.journal_size = journal_size
        self.max_deliveries = max_deliveries
        self.max_pending = max_pending
        self.max_pending_bytes = max_pending_bytes
        self.attempt_log = attempt_log
        self.max_uploads = max_uploads
        self.max_upload_bytes = max_upload_bytes
        self.max_queued = max_queued
        self.max_keys = max_keys
        self.max_key_bytes = max_key_bytes


#: What one stored delivery costs beside its body (webhooks.DELIVERY_OVERHEAD_BYTES).
DELIVERY_OVERHEAD_BYTES = 1024
#: What one key costs beside 4 bytes a character (accounts.KEY_OVERHEAD_BYTES).
KEY_OVERHEAD_BYTES = 1536


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _due(due: float | None) -> str:
    return "" if due is None else repr(float(due))


class _Script:
    def __init__(self, name: str, body: str) -> None:
        self.name = name
        self.source = lua.script_source(body)
        self.sha = hashlib.sha1(self.source.encode()).hexdigest()


class RedisStore:
    """Every store family on one Redis database, under one key prefix."""

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "genmock",
        bounds: StoreBounds | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        token: str | None = None,
        breaker: float = 0.0,
    ) -> None:
        if not _PREFIX.fullmatch(prefix):
            raise ValueError(f"prefix {prefix!r}: 1-64 letters, digits, '_', '.', '-'")
        self.prefix = prefix
        self._p = prefix + ":"
        self.bounds = bounds or StoreBounds()
        self.trips = RoundTrips()
        #: This worker's lease token: leases it holds carry it.
        self.token = token or secrets.token_hex(8)
        pool = redis.ConnectionPool.from_url(
            url,
            connection_class=_counting_connection(self.trips),
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            # One immediate retry: the first command after a Redis restart meets a
            # dead pooled socket; a second failure is reported, not waited out.
            retry=Retry(NoBackoff(), 1),
            health_check_interval=0,
        )
        self._redis = redis.Redis(connection_pool=pool)
        #: Seconds after an unavailable Redis during which operations fail at once
        #: (StoreUnavailable, no I/O) instead of each waiting out the timeout: a
        #: synchronous client on the event loop would otherwise block every
        #: connection of the worker for the timeout, per operation. 0: off.
        self.breaker = breaker
        self._open_until = 0.0
        self._scripts = {name: _Script(name, body) for name, body in lua.SCRIPTS.items()}
        self._loaded = False
        self._closed = False
        self._watchers: list[Callable[[str, str], None]] = []
        self._watch_thread: threading.Thread | None = None

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (threads working for this store stop)."""
        return self._closed

    def close(self) -> None:
        """Close the connections (and stop a scenario watch)."""
        self._closed = True
        self._redis.close()

    # --- plumbing --------------------------------------------------------------
    def _guard(self, call: Callable[[], T]) -> T:
        if self._open_until:
            left = self._open_until - time.monotonic()
            if left > 0:
                raise StoreUnavailable(
                    f"Redis is unavailable (an operation failed; next try in {left:.2f} s)")
            self._open_until = 0.0  # this operation is the probe
        try:
            return call()
        except (redis.ConnectionError, redis.TimeoutError, BusyLoadingError,
                ReadOnlyError, OSError) as error:
            if self.breaker:
                self._open_until = time.monotonic() + self.breaker
            raise StoreUnavailable(f"Redis is unavailable: {error}") from None
        except ResponseError as error:
            if str(error).startswith("OOM"):
                raise StoreUnavailable(f"Redis is out of memory: {error}") from None
            raise StoreError(f"Redis refused the operation: {error}") from None
        except RedisError as error:
            raise StoreError(f"Redis failed: {error}") from None

    def _run(self, name: str, *args: Any) -> Any:
        script = self._scripts[name]

        def call() -> Any:
            if not self._loaded:
                self._load_scripts()
            try:
                return self._redis.evalsha(script.sha, 0, self._p, *args)
            except NoScriptError:  # Redis restarted (or SCRIPT FLUSH): load them again
                self._load_scripts()
                return self._redis.evalsha(script.sha, 0, self._p, *args)

        return self._guard(call)

    def _load_scripts(self) -> None:
        """Every script in one pipeline (one round trip), so none meets NOSCRIPT later."""
        pipe = self._redis.pipeline(transaction=False)
        for script in self._scripts.values():
            pipe.script_load(script.source)
        pipe.execute()
        self._loaded = True

    def ping(self) -> bool:
        """Whether Redis answers (StoreUnavailable if not)."""
        return bool(self._guard(self._redis.ping))

    # --- clock -------------------------------------------------------------------
    def init_clock(
        self, mode: Literal["manual", "real"], start: float, speed: float
    ) -> ClockSettings:
        """Set up the shared clock unless it exists (the first worker's settings win);
        the settings in force."""
        found, found_speed = self._run("clock_init", mode, repr(float(start)), repr(float(speed)))
        text = _text(found)
        if text not in ("manual", "real"):
            raise StoreError(f"the store's clock has an unknown mode {text!r}")
        return ClockSettings("manual" if text == "manual" else "real", float(_text(found_speed)))

    def now(self) -> float:
        """Current mock time, from the store's clock."""
        return float(self._run("clock_now"))

    def advance(self, seconds: float) -> float:
        """Move every worker's mock time forward."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        return float(self._run("clock_advance", repr(float(seconds))))

    def clock_origin(self) -> tuple[float, float]:
        """A real clock's epoch and offset (one round trip)."""
        found: Any = self._guard(
            lambda: self._redis.hmget(self._p + "clock", "epoch", "offset"))
        epoch, offset = found
        return float(epoch or 0.0), float(offset or 0.0)

    # --- jobs ---------------------------------------------------------------------
    def create_job(self, job: NewJob, admit: AdmitRequest | None = None) -> CreateResult:
        """Admit and store a job in one atomic script (one round trip)."""
        admit_args: list[str] = [""] * 8
        if admit is not None:
            admit_args = [
                "1",
                repr(float(admit.now)),
                repr(float(admit.window_seconds)),
                "" if admit.creates_per_window is None else str(admit.creates_per_window),
                "" if admit.concurrent is None else str(admit.concurrent),
                "1" if admit.queue_when_full else "",
                "" if admit.amount is None else str(to_units(admit.amount)),
                str(to_units(admit.starting_balance)),
            ]
        reply = self._run(
            "create_job", job.id, job.provider, job.key, job.doc, job.state, job.size,
            _due(job.due), self.bounds.max_jobs, self.bounds.max_job_bytes, *admit_args,
            KEY_OVERHEAD_BYTES + 4 * len(job.key), self.bounds.max_keys,
            self.bounds.max_key_bytes,
        )
        status, queued, window_count, in_flight, free_at, available = (
            _text(v) for v in reply[0]
        )
        result = AdmitResult(
            admitted=status == "ok",
            refused="" if status == "ok" else status,  # type: ignore[arg-type]
            queued=queued == "1",
            in_flight=int(in_flight),
            window_count=int(window_count),
            window_free_at=float(free_at) if free_at else None,
            available=from_units(available) if available else None,
        )
        evicted = tuple((_text(i), _text(p), _text(k)) for i, p, k in reply[1])
        return CreateResult(result, evicted)

    @staticmethod
    def _job(reply: Any) -> JobRecord | None:
        if not reply:
            return None
        job_id, doc, state, polls, number, admitted = reply
        return JobRecord(_text(job_id), bytes(doc), _text(state), int(polls), int(number),
                         int(admitted or 0))

    def get_job(self, job_id: str, *, count_poll: bool = False) -> JobView:
        """The job and the clock in one round trip (counting a poll if asked)."""
        now, record, first = self._run("job_read", job_id, "1" if count_poll else "")
        return JobView(self._job(record), float(now), _optional_float(first))

    def save_job(
        self, job_id: str, doc: bytes, state: str, due: float | None, *, expect_state: str
    ) -> bool:
        """Compare-and-set the job's state; reschedule it."""
        return bool(self._run("job_save", job_id, doc, state, _due(due), expect_state))

    def _claims(self, queue: str, kind: str, now: float, limit: int,
                lease_seconds: float) -> list[Any]:
        lease_ms = max(1, math.ceil(lease_seconds * 1000))
        return list(self._run("claim", queue, repr(float(now)), limit, lease_ms, self.token, kind))

    def claim_due(self, now: float, limit: int, lease_seconds: float) -> list[Claim]:
        """Lease the jobs due by ``now`` to this worker."""
        return [
            Claim(_text(job_id), float(due), self.token, job=self._job(record))
            for job_id, due, record in self._claims("due", "job", now, limit, lease_seconds)
        ]

    def finish_claim(self, claim: Claim, doc: bytes, state: str, due: float | None) -> bool:
        """Write the claimed job's transition if our lease still holds."""
        return bool(self._run("job_finish_claim", claim.id, claim.token, doc, state, _due(due)))

    def commit_job(
        self,
        job_id: str,
        doc: bytes,
        state: str,
        due: float | None,
        *,
        claim: Claim | None = None,
        expect_state: str | None = None,
        end: JobEnd | None = None,
    ) -> JobEndResult:
        """Write a transition and its end's money, slot and webhook in one script."""
        if (claim is None) == (expect_state is None):
            raise ValueError("commit_job needs a claim or an expected state, not both")
        mode, check = ("claim", claim.token) if claim is not None else ("cas", expect_state)
        end_args: list[Any] = [""] * 13
        if end is not None:
            delivery = end.delivery
            bounds = self.bounds
            end_args = [
                end.money, end.provider, end.key, "1" if end.free_slot else "",
                "" if end.slot_limit is None else str(end.slot_limit),
                *(("", "", "", "", 0) if delivery is None else (
                    delivery.id, delivery.doc, delivery.body, repr(float(delivery.due)),
                    len(delivery.body) + DELIVERY_OVERHEAD_BYTES)),
                bounds.max_pending, bounds.max_pending_bytes, bounds.max_deliveries,
            ]
        written, charged, promoted, dropped = self._run(
            "job_commit", job_id, mode, check, doc, state, _due(due), *end_args
        )
        return JobEndResult(
            written=bool(int(written)),
            charged=from_units(_text(charged)),
            promoted=tuple(_text(p) for p in promoted),
            dropped=tuple(_text(d) for d in dropped),
        )

    def next_due(self) -> float | None:
        """Earliest scheduled transition (one round trip)."""
        return self._first_score(self._p + "due")

    def _first_score(self, key: str) -> float | None:
        first = self._guard(lambda: self._redis.zrange(key, 0, 0, withscores=True))
        return float(first[0][1]) if first else None

    def jobs_page(
        self, after: int | None, limit: int, *, newest_first: bool = True
    ) -> list[JobRecord]:
        """Jobs by creation number from just past ``after`` (ids, then one pipeline)."""
        key = self._p + "jobs"

        def read() -> list[JobRecord]:
            if newest_first:
                top = "+inf" if after is None else f"({after}"
                ids = self._redis.zrevrangebyscore(key, top, "-inf", start=0, num=limit)
            else:
                low = "-inf" if after is None else f"({after}"
                ids = self._redis.zrangebyscore(key, low, "+inf", start=0, num=limit)
            pipe = self._redis.pipeline(transaction=False)
            for job_id in ids:
                pipe.hmget(self._p + "job:" + _text(job_id), "doc", "state", "polls", "num",
                           "adm")
            records = []
            for job_id, fields in zip(ids, pipe.execute(), strict=True):
                if fields[0] is not None:
                    records.append(self._job([job_id, *fields]))
            return [r for r in records if r is not None]

        return self._guard(read)

    def job_count(self) -> int:
        """Jobs stored."""
        return int(self._guard(lambda: self._redis.zcard(self._p + "jobs")))

    def job_bytes(self) -> int:
        """Estimated bytes of the stored jobs (their byte bound)."""
        return int(self._guard(lambda: self._redis.get(self._p + "jobs:bytes")) or 0)

    # --- money -------------------------------------------------------------------
    def reserve(
        self, provider: str, key: str, job_id: str, amount: Decimal, starting_balance: Decimal
    ) -> Decimal | None:
        """Hold ``amount``; None if held, else the (too small) available balance."""
        if amount < 0:
            raise ValueError("cannot reserve a negative amount")
        short = self._run("reserve", provider, key, job_id, str(to_units(amount)),
                          str(to_units(starting_balance)))
        return None if short is None else from_units(_text(short))

    def settle(self, job_id: str) -> Decimal:
        """Charge the job's reservation."""
        return from_units(_text(self._run("end_reservation", job_id, "1")))

    def release(self, job_id: str) -> Decimal:
        """Give the job's reservation back."""
        return from_units(_text(self._run("end_reservation", job_id, "")))

    def account(self, provider: str, key: str) -> AccountBalance | None:
        """The account's balance and reservations, None before its first use."""
        balance, reserved = self._guard(
            lambda: self._redis.hmget(f"{self._p}acct:{provider}:{key}", "balance", "reserved")
        )
        if balance is None:
            return None
        return AccountBalance(from_units(_text(balance)), from_units(_text(reserved or b"0")))

    def set_balance(self, provider: str, key: str, amount: Decimal) -> None:
        """Set the balance; reservations stay."""
        account_key = f"{self._p}acct:{provider}:{key}"

        def write() -> None:
            pipe = self._redis.pipeline(transaction=True)
            pipe.hset(account_key, "balance", str(to_units(amount)))
            pipe.hsetnx(account_key, "reserved", "0")
            pipe.sadd(f"{self._p}kacct:{key}", provider)
            pipe.execute()

        self._guard(write)

    # --- key settings ----------------------------------------------------------
    def create_context(self, key: str) -> CreateContext:
        """The clock and the key's settings in one round trip (the create's first)."""
        now, settings, first = self._run("create_context", key)
        return CreateContext(float(now), None if settings is None else bytes(settings),
                             _optional_float(first))

    def put_key_settings(self, key: str, doc: bytes, *, configured: bool = False) -> list[str]:
        """Store a key's settings; the unconfigured keys forgotten over the bounds."""
        bounds = self.bounds
        forgotten = self._run("put_key", key, doc, "1" if configured else "",
                              KEY_OVERHEAD_BYTES + 4 * len(key), bounds.max_keys,
                              bounds.max_key_bytes)
        return [_text(k) for k in forgotten]

    def key_settings(self, key: str) -> bytes | None:
        """The key's settings, without marking it used."""
        found: Any = self._guard(lambda: self._redis.hget(self._p + "key:" + key, "doc"))
        return None if found is None else bytes(found)

    # --- limits ------------------------------------------------------------------
    def window_hit(
        self, provider: str, key: str, member: str, now: float, window: float, limit: int
    ) -> WindowResult:
        """Sliding window on the mock clock."""
        allowed, count, free_at = self._run(
            "window_hit", provider, key, member, repr(float(now)), repr(float(window)), limit
        )
        return WindowResult(bool(allowed), int(count), float(free_at) if free_at else None)

    def fixed_window_hit(self, name: str, now: float, window: float, limit: int) -> WindowResult:
        """Fixed window ``floor(now / window)`` on the mock clock."""
        index = math.floor(now / window)
        allowed, count, free_at = self._run(
            "fixed_window_hit", name, str(index), limit, repr((index + 1) * window)
        )
        return WindowResult(bool(allowed), int(count), float(free_at) if free_at else None)

    def acquire_slot(
        self, provider: str, key: str, job_id: str, limit: int, *, queue: bool = False
    ) -> SlotResult:
        """A slot, a place in line, or a refusal."""
        granted, queued, in_flight = self._run(
            "acquire_slot", provider, key, job_id, limit, "1" if queue else ""
        )
        return SlotResult(bool(granted), bool(queued), int(in_flight))

    def release_slot(self, provider: str, key: str, job_id: str, limit: int | None) -> list[str]:
        """Free the slot; the waiting jobs promoted."""
        promoted = self._run("release_slot", provider, key, job_id,
                             "" if limit is None else str(limit))
        return [_text(p) for p in promoted]

    def in_flight(self, provider: str, key: str) -> set[str]:
        """Ids holding a slot."""
        found = self._guard(lambda: self._redis.smembers(f"{self._p}slots:{provider}:{key}"))
        return {_text(i) for i in found}

    def waiting(self, provider: str, key: str) -> list[str]:
        """Ids in line."""
        found = self._guard(lambda: self._redis.lrange(f"{self._p}wait:{provider}:{key}", 0, -1))
        return [_text(i) for i in found]

    # --- scenario queue -------------------------------------------------------------
    def push_scenario(
        self, doc: bytes, match: Mapping[str, str], *, nth: int = 1, times: int = 1
    ) -> int:
        """Queue a scenario; StoreError when the queue is full."""
        if nth < 1 or times < 1:
            raise ValueError("nth and times must be positive")
        fields = [match.get(name) or "" for name in ("provider", "endpoint", "model", "key")]
        entry_id = int(self._run("scenario_push", doc, *fields, nth, times,
                                 self.bounds.max_queued))
        if entry_id == 0:
            raise StoreError(f"at most {self.bounds.max_queued} scenarios may be queued")
        return entry_id

    def take_scenario(
        self, provider: str | None, endpoint: str | None, model: str | None, key: str | None
    ) -> bytes | None:
        """Fire the first due matching entry (counting the call against every match)."""
        return self.take_scenario_counted(provider, endpoint, model, key)[0]

    def take_scenario_counted(
        self, provider: str | None, endpoint: str | None, model: str | None, key: str | None
    ) -> tuple[bytes | None, int]:
        """:meth:`take_scenario`, and how many entries are still queued after it."""
        absent = "\0"  # a call without the attribute matches only entries without it
        found, left = self._run("scenario_take", *(absent if v is None else v
                                                  for v in (provider, endpoint, model, key)))
        return (bytes(found) if found else None), int(left)

    def watch(self, on_change: Callable[[str, str], None]) -> None:
        """Call ``on_change(topic, value)`` on a thread of this store whenever another
        worker (or this one) changes something workers keep a hint of:
        ``("scenarios", id)`` when a scenario is queued, ``("keys", key)`` when a key's
        settings change, ``("keys", "*")`` after a reset, and ``("all", "")`` whenever
        the watch (re)connects (what happened while it was away counts as a change).
        One thread and one connection per store, until :meth:`close`."""
        self._watchers.append(on_change)
        if self._watch_thread is not None:
            return
        channels = {self._p + "scn:pushed": "scenarios", self._p + "keys:changed": "keys"}

        def tell(topic: str, value: str) -> None:
            for watcher in list(self._watchers):
                watcher(topic, value)

        def watch() -> None:
            while not self._closed:
                try:
                    pubsub = self._redis.pubsub(  # type: ignore[no-untyped-call]
                        ignore_subscribe_messages=True)
                    pubsub.subscribe(*channels)
                    tell("all", "")
                    while not self._closed:
                        message = pubsub.get_message(timeout=0.5)
                        if message is not None:
                            tell(channels.get(_text(message["channel"]), "all"),
                                 _text(message["data"]))
                    pubsub.close()
                except (redis.RedisError, OSError, ValueError):
                    tell("all", "")
                    time.sleep(0.5)

        self._watch_thread = threading.Thread(target=watch, name="genmock-store-watch",
                                              daemon=True)
        self._watch_thread.start()

    def scenarios(self) -> list[QueuedEntry]:
        """Entries still queued, oldest first."""

        def read() -> list[QueuedEntry]:
            ids = self._redis.lrange(self._p + "scn:ids", 0, -1)
            pipe = self._redis.pipeline(transaction=False)
            for entry_id in ids:
                pipe.hgetall(self._p + "scn:" + _text(entry_id))
            out = []
            for entry_id, fields in zip(ids, pipe.execute(), strict=True):
                if not fields:
                    continue
                out.append(QueuedEntry(
                    id=int(entry_id), doc=bytes(fields[b"doc"]),
                    match={name: _text(fields[name.encode()])
                           for name in ("provider", "endpoint", "model", "key")
                           if fields[name.encode()]},
                    nth=int(fields[b"nth"]), times=int(fields[b"times"]),
                    seen=int(fields[b"seen"]), fired=int(fields[b"fired"]),
                ))
            return out

        return self._guard(read)

    def clear_scenarios(self) -> int:
        """Drop every queued entry."""
        return int(self._run("scenario_clear"))

    # --- journal -------------------------------------------------------------------
    def journal_append(self, entry: Mapping[str, bytes | str | int | float]) -> str:
        """XADD with an approximate cap (``MAXLEN ~``): one command, one round trip."""
        return _text(self._guard(lambda: self._redis.xadd(
            self._p + "journal", dict[Any, Any](entry), maxlen=self.bounds.journal_size,
            approximate=True,
        )))

    def journal_page(
        self, after: str | None, limit: int, *, newest_first: bool = True
    ) -> list[tuple[str, dict[str, bytes]]]:
        """Entries from just past ``after`` (exclusive stream ranges)."""
        key = self._p + "journal"

        def read() -> Any:
            if newest_first:
                top = "+" if after is None else f"({after}"
                return self._redis.xrevrange(key, top, "-", count=limit)
            low = "-" if after is None else f"({after}"
            return self._redis.xrange(key, low, "+", count=limit)

        return [(_text(i), {_text(k): bytes(v) for k, v in fields.items()})
                for i, fields in self._guard(read)]

    def journal_length(self) -> int:
        """Entries kept (about ``journal_size``: the cap is trimmed in whole nodes)."""
        return int(self._guard(lambda: self._redis.xlen(self._p + "journal")))

    def journal_add(
        self, entries: Sequence[JournalRecord], *, max_bytes: int,
        max_entries: int | None = None,
    ) -> tuple[int, int]:
        """Append a batch of entries (one script, one round trip), each with the next
        sequence number of the fleet; the oldest go while the journal holds more than
        ``max_entries`` (default ``journal_size``) entries or ``max_bytes`` bytes
        (exactly, by the entries' sizes). The first and last sequence numbers given."""
        if not entries:
            return 0, 0
        args: list[Any] = []
        for record in entries:
            args += [record.entry, record.provider or "", str(record.status),
                     record.endpoint or "", record.job_id or "", record.size]
        first, last, _, _ = self._run(
            "journal_add", max_entries or self.bounds.journal_size, max_bytes, *args)
        return int(first), int(last)

    def journal_scan(
        self, after: int | None, limit: int, *, newest_first: bool = True,
        budget: int = 5_000, provider: str | None = None, status: int | None = None,
        endpoint: str | None = None, job_id: str | None = None,
    ) -> tuple[list[tuple[int, bytes]], int | None]:
        """Entries (sequence number, entry JSON) from just past sequence ``after`` that
        match every filter given, at most ``limit``, examining at most ``budget``; and
        the cursor of the next page (None: no more), as :func:`paging.page_of` pages."""
        if after is not None and not 0 < after < _MAX_STREAM_SEQ:
            # At or past either end of what a stream id can be (a client's cursor):
            # newest first from above everything, or oldest first from below everything,
            # is the whole journal; the other way round, nothing (Redis refuses the ids).
            if (after <= 0) == newest_first:
                return [], None
            after = None
        reply = self._run(
            "journal_scan", "new" if newest_first else "old",
            "" if after is None else str(after), limit, budget,
            provider or "", "" if status is None else str(status), endpoint or "",
            job_id or "",
        )
        cursor = _text(reply[0])
        items = [(int(reply[i]), bytes(reply[i + 1])) for i in range(1, len(reply), 2)]
        return items, int(cursor) if cursor else None

    def journal_entry(self, seq: int) -> bytes | None:
        """The entry JSON with sequence number ``seq``, None if unknown or trimmed."""
        if not 0 <= seq < _MAX_STREAM_SEQ:
            return None  # no stream id can be it
        found: Any = self._guard(lambda: self._redis.xrange(
            self._p + "journal", f"{seq}-0", f"{seq}-0", count=1))
        return bytes(found[0][1][b"e"]) if found else None

    def journal_stats(self) -> tuple[int, int, int]:
        """(entries kept, bytes kept, last sequence number given) in one round trip."""

        def read() -> Any:
            pipe = self._redis.pipeline(transaction=False)
            pipe.xlen(self._p + "journal")
            pipe.hmget(self._p + "journal:meta", "bytes", "seq")
            return pipe.execute()

        count, (size, seq) = self._guard(read)
        return int(count), int(size or 0), int(seq or 0)

    def fleet_counters(self) -> list[Any]:
        """What the console compares between two looks, read in one pipeline: jobs
        created, finished, scheduled and the earliest due; the journal's last sequence
        number; the outbox's enqueue and finish numbers, waiting and in-flight counts;
        scenarios queued and taken; the clock. Values are as Redis gives them."""

        def read() -> Any:
            p = self._p
            pipe = self._redis.pipeline(transaction=False)
            pipe.get(p + "jobs:n")
            pipe.get(p + "jobs:fseq")
            pipe.zcard(p + "due")
            pipe.zrange(p + "due", 0, 0, withscores=True)
            pipe.hget(p + "journal:meta", "seq")
            pipe.hmget(p + "wh:meta", "seq", "fseq", "dropped")
            pipe.zcard(p + "wh:waiting")
            pipe.zcard(p + "wh:due:lease")
            pipe.llen(p + "wh:log")
            pipe.get(p + "scn:n")
            pipe.llen(p + "scn:ids")
            pipe.hget(p + "clock", "manual")
            return pipe.execute()

        return [_plain(value) for value in self._guard(read)]

    # --- webhook outbox ------------------------------------------------------------------
    def enqueue(self, delivery: NewDelivery) -> list[str]:
        """Add a pending delivery; the ids of older pending ones dropped over the bounds."""
        bounds = self.bounds
        dropped = self._run(
            "enqueue", delivery.id, delivery.doc, delivery.body, repr(float(delivery.due)),
            len(delivery.body) + DELIVERY_OVERHEAD_BYTES, bounds.max_pending,
            bounds.max_pending_bytes, bounds.max_deliveries,
        )
        return [_text(d) for d in dropped]

    @staticmethod
    def _delivery(reply: Any, attempts: Any = ()) -> StoredDelivery:
        delivery_id, doc, body, state, due, dropped, resent_as = reply
        return StoredDelivery(
            id=_text(delivery_id), doc=bytes(doc), body=bytes(body or b""), state=_text(state),
            due=float(due), attempts=tuple(bytes(a) for a in attempts),
            dropped=_text(dropped) or None, resent_as=_text(resent_as) or None,
        )

    def lease_deliveries(self, now: float, limit: int, lease_seconds: float) -> list[Claim]:
        """Lease the deliveries due by ``now`` to this worker (marked in flight)."""
        return [
            Claim(_text(delivery_id), float(due), self.token,
                  delivery=self._delivery(record[:7], record[7]))
            for delivery_id, due, record in self._claims("wh:due", "wh", now, limit,
                                                         lease_seconds)
        ]

    def record_attempt(
        self,
        claim: Claim,
        attempt: bytes,
        outcome: Literal["delivered", "retry", "gave_up"],
        next_due: float | None = None,
    ) -> bool:
        """Record the attempt if our lease holds; False if another worker took it over."""
        if outcome == "retry" and next_due is None:
            raise ValueError("a retry needs its next due time")
        return bool(self._run(
            "record_attempt", claim.id, claim.token, attempt, outcome, _due(next_due),
            self.bounds.attempt_log, self.bounds.max_deliveries,
        ))

    def delivery(self, delivery_id: str) -> StoredDelivery | None:
        """One delivery and its attempts (one pipeline)."""
        key = self._p + "wh:" + delivery_id

        def read() -> Any:
            pipe = self._redis.pipeline(transaction=False)
            pipe.hmget(key, "doc", "body", "state", "due", "dropped", "resent_as")
            pipe.lrange(key + ":attempts", 0, -1)
            return pipe.execute()

        fields, attempts = self._guard(read)
        fields = list[Any](fields)
        if fields[0] is None:
            return None
        return self._delivery([delivery_id, *fields[:4], fields[4] or b"", fields[5] or b""],
                              attempts)

    def leased(self) -> tuple[int, int]:
        """(due jobs, deliveries) leased to some worker right now: work in progress."""

        def read() -> tuple[int, int]:
            pipe = self._redis.pipeline(transaction=False)
            pipe.zcard(self._p + "due:lease")
            pipe.zcard(self._p + "wh:due:lease")
            jobs, deliveries = pipe.execute()
            return int(jobs), int(deliveries)

        return self._guard(read)

    def add_attempt(self, delivery_id: str, attempt: bytes) -> None:
        """Keep an attempt that changes nothing (a duplicate sent by a scenario)."""
        key = self._p + "wh:" + delivery_id

        def write() -> None:
            pipe = self._redis.pipeline(transaction=True)
            pipe.rpush(key + ":attempts", attempt)
            pipe.rpush(self._p + "wh:log", attempt)
            pipe.ltrim(self._p + "wh:log", -self.bounds.attempt_log, -1)
            pipe.execute()

        self._guard(write)

    def mark_resent(self, delivery_id: str, new_id: str) -> None:
        """Note on a finished delivery the id of the delivery that resends it."""
        key = self._p + "wh:" + delivery_id
        self._guard(lambda: self._redis.hset(key, "resent_as", new_id))

    def return_lease(self, claim: Claim) -> bool:
        """Give back a leased delivery that was not attempted: due again at once."""
        return bool(self._run("lease_return", claim.id, claim.token))

    def delivery_ids(self, *, waiting_only: bool = False, limit: int | None = None) -> list[str]:
        """Ids of deliveries kept (or only those waiting), oldest enqueued first."""
        key = self._p + ("wh:waiting" if waiting_only else "wh:order")
        end = -1 if limit is None else limit - 1
        found: list[Any] = self._guard(lambda: list(self._redis.zrange(key, 0, end)))
        return [_text(i) for i in found]

    def waiting_bytes(self) -> int:
        """Bytes the waiting deliveries count against the byte bound."""
        value = self._guard(lambda: self._redis.hget(self._p + "wh:meta", "waiting_bytes"))
        return int(value or 0)

    def waiting_count(self) -> int:
        """Deliveries pending or in flight."""
        return int(self._guard(lambda: self._redis.zcard(self._p + "wh:waiting")))

    def delivery_count(self) -> int:
        """Deliveries kept (waiting and finished)."""
        return int(self._guard(lambda: self._redis.zcard(self._p + "wh:order")))

    def dropped_count(self) -> int:
        """Deliveries dropped at the pending bound."""
        return int(self._guard(lambda: self._redis.hget(self._p + "wh:meta", "dropped")) or 0)

    def attempt_log(self) -> list[bytes]:
        """The newest attempts of every delivery (capped)."""
        found: list[Any] = self._guard(lambda: list(self._redis.lrange(self._p + "wh:log", 0, -1)))
        return [bytes(a) for a in found]

    def next_delivery_due(self) -> float | None:
        """Mock time the next pending delivery is due."""
        return self._first_score(self._p + "wh:due")

    # --- uploads -----------------------------------------------------------------------
    def put_upload(self, token: str, meta: bytes, data: bytes | None) -> list[str]:
        """Store or complete an upload; the oldest evicted over the bounds."""
        if data is not None and len(data) > self.bounds.max_upload_bytes:
            raise ValueError(f"file of {len(data)} bytes is over the limit of "
                             f"{self.bounds.max_upload_bytes} bytes")
        evicted = self._run("put_upload", token, meta, data or b"",
                            "" if data is None else "1",
                            self.bounds.max_uploads, self.bounds.max_upload_bytes)
        return [_text(t) for t in evicted]

    def upload(self, token: str) -> StoredUpload | None:
        """The upload, None when unknown or evicted."""
        meta, data = self._guard(
            lambda: list[Any](self._redis.hmget(self._p + "up:" + token, "meta", "data")))
        if meta is None:
            return None
        return StoredUpload(token, bytes(meta), None if data is None else bytes(data))

    def uploads_meta(self) -> list[tuple[str, bytes, int | None]]:
        """Every upload kept, oldest first: (token, metadata, bytes received or None
        before its bytes arrive); one pipeline (the bytes themselves stay in Redis)."""

        def read() -> Any:
            tokens = self._redis.zrange(self._p + "ups", 0, -1)
            pipe = self._redis.pipeline(transaction=False)
            for token in tokens:
                pipe.hmget(self._p + "up:" + _text(token), "meta", "size")
            return tokens, pipe.execute() if tokens else []

        tokens, fields = self._guard(read)
        return [(_text(token), bytes(meta), None if size is None else int(size))
                for token, (meta, size) in zip(tokens, fields, strict=True) if meta is not None]

    def upload_size(self, token: str) -> int | None:
        """Bytes of the upload's file; None when unknown, evicted or not yet put."""
        size = self._guard(lambda: self._redis.hget(self._p + "up:" + token, "size"))
        return None if size is None else int(size)

    def upload_bytes(self) -> int:
        """Bytes the complete uploads hold together."""
        return int(self._guard(lambda: self._redis.hget(self._p + "ups:meta", "bytes")) or 0)

    def upload_count(self) -> int:
        """Uploads kept."""
        return int(self._guard(lambda: self._redis.zcard(self._p + "ups")))

    # --- everything -----------------------------------------------------------------------
    def own_keys(self) -> list[str]:
        """Every key of this prefix (tests, and the reset)."""
        pattern = _glob_escape(self._p) + "*"
        return [_text(k) for k in self._guard(
            lambda: list(self._redis.scan_iter(match=pattern, count=1000)))]

    def boot(self) -> int:
        """A number no other worker on this prefix got (1, 2, ...; one round trip, at start).

        Seeded id generators must differ per worker and per restart (``World``
        draws ids from ``random.Random(seed)``: two workers with one seed would
        make the same ids): seed each from ``f"{seed}:{boot}"``.
        """
        return int(self._guard(lambda: self._redis.incr(self._p + "boot")))

    def reset(self, *, keep_clock: bool = True) -> int:
        """UNLINK this prefix's keys in batches; nobody else's. The clock (and the
        :meth:`boot` counter: running workers keep their numbers) stay unless asked."""
        kept = {self._p + "clock", self._p + "boot"} if keep_clock else set()
        doomed = [k for k in self.own_keys() if k not in kept]

        def unlink() -> int:
            # The journal's numbering goes on (as in memory): a client's cursor from
            # before the reset never names an entry recorded after it.
            journal_seq = self._redis.hget(self._p + "journal:meta", "seq") if keep_clock else None
            removed = 0
            for start in range(0, len(doomed), _RESET_BATCH):
                removed += int(self._redis.unlink(*doomed[start:start + _RESET_BATCH]))
            if journal_seq is not None:
                self._redis.hset(self._p + "journal:meta", mapping={"seq": journal_seq,
                                                                    "bytes": 0})
            # Every worker forgets the settings and hints it kept of this store.
            self._redis.publish(self._p + "keys:changed", "*")
            self._redis.publish(self._p + "scn:pushed", "reset")
            return removed

        return self._guard(unlink)

    def bigint(self, op: str, a: str, b: str) -> str:
        """The scripts' exact integer arithmetic (for its tests)."""
        return _text(self._run("bigint", op, a, b))


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def _implements(store: RedisStore) -> Store:
    """mypy checks here that RedisStore has every operation of the interface."""
    return store


def _plain(value: Any) -> Any:
    """A reply as JSON-able values (bytes as text, lists and tuples as lists)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _optional_float(value: Any) -> float | None:
    """A script's number reply, '' meaning none."""
    text = _text(value)
    return float(text) if text else None
