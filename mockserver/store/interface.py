"""The store boundary: every piece of mutable state of one mock, as typed operations.

Today the domain keeps its state in its own objects (``World``, ``Ledger``,
``RateLimiter``, ``ScenarioQueue``, ``Outbox``, ``UploadStore``, the clocks,
the HTTP journal). The protocols here are the same state seen from outside,
one family each, shaped by what the domain does on each call path:

* a **poll** reads one job and the clock together (one round trip) and, for a
  poll-driven plan, counts the poll in the same step;
* a **create** reads the clock and the key's settings (first round trip),
  then admits and stores the job in one atomic step (second round trip):
  window, slot or place in line, reservation, the job, its schedule entry,
  and the eviction that keeps the store bounded;
* a transition due on the clock, and a webhook attempt, are **claimed** by
  one worker under a lease; a lease whose holder died is taken over once it
  expires (expiry on the store's own clock, never a worker's).

Documents (a job, a delivery, a scenario, an upload's metadata) are opaque
bytes to the store: serialising them is the domain's business. The store only
sees the few fields its atomic operations decide on (a job's state, a
delivery's size, a scenario's match).

Money crosses the boundary as :class:`decimal.Decimal` and is kept as integer
*units* of :data:`MONEY_SCALE` decimal places (exact; never a float).

Operations marked **atomic** must be atomic across every worker sharing the
store; the Redis implementation runs each as one server-side Lua script.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, Protocol

__all__ = [
    "MONEY_SCALE",
    "AccountBalance",
    "AdmitRequest",
    "AdmitResult",
    "Claim",
    "ClockSettings",
    "ClockStore",
    "CreateContext",
    "CreateResult",
    "JobEnd",
    "JobEndResult",
    "JobRecord",
    "JobStore",
    "JobView",
    "JournalRecord",
    "JournalStore",
    "KeyStore",
    "LedgerStore",
    "LimitStore",
    "NewDelivery",
    "NewJob",
    "OutboxStore",
    "QueuedEntry",
    "ScenarioStore",
    "SlotResult",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "StoredDelivery",
    "StoredUpload",
    "UploadStore",
    "WindowResult",
    "from_units",
    "to_units",
]

#: Decimal places money is kept to: Decimal("0.075") is 75_000_000_000 units.
MONEY_SCALE = 12
_QUANTUM = Decimal(10) ** MONEY_SCALE

#: Neutral states in which a job never changes again (lifecycle.TERMINAL).
TERMINAL_STATES = frozenset({"succeeded", "failed", "cancelled"})


class StoreError(Exception):
    """The store refused or failed an operation (never a raw driver exception)."""


class StoreUnavailable(StoreError):
    """The store cannot be reached in time; the operation did not happen (or may have).

    Raised within the configured timeout, never after a hang; the HTTP layer
    answers it with a 503 in the provider's envelope. The next operation
    reconnects by itself.
    """


def to_units(amount: Decimal | int | str) -> int:
    """``amount`` as integer units of :data:`MONEY_SCALE` places; ValueError if finer."""
    value = Decimal(amount) * _QUANTUM
    if value != value.to_integral_value():
        raise ValueError(f"{amount} has more than {MONEY_SCALE} decimal places")
    return int(value)


def from_units(units: int | str) -> Decimal:
    """Integer units back to the Decimal amount (normalised: no trailing zeros)."""
    value = Decimal(int(units)) / _QUANTUM
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


# --- the clock -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClockSettings:
    """The shared clock's mode and speed, as the first worker set them."""

    mode: Literal["manual", "real"]
    speed: float


class ClockStore(Protocol):
    """The one clock every worker reads.

    Manual: the time itself lives in the store. Real: one epoch (the first
    worker's start, set only if absent) plus a speed and an offset; every
    worker derives ``now`` from them and the store's own clock.
    """

    def init_clock(
        self, mode: Literal["manual", "real"], start: float, speed: float
    ) -> ClockSettings:
        """Set the clock up unless another worker already did (atomic, first one wins).

        ``start`` is a manual clock's first time; a real clock starts at the
        store's own time (its epoch) and runs ``speed`` times the wall clock.
        Returns the settings in force (the first worker's).
        """

    def now(self) -> float:
        """Current mock time (one round trip)."""

    def advance(self, seconds: float) -> float:
        """Move mock time forward by ``seconds`` (atomic) and return the new time."""

    def clock_origin(self) -> tuple[float, float]:
        """A real clock's ``(epoch, offset)``: mock time ``epoch + (wall - epoch) x speed +
        offset`` (``(0, 0)`` before the clock is set up)."""


# --- jobs and their schedule -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A stored job: the domain's document plus what the store decides on."""

    id: str
    doc: bytes
    state: str
    polls: int
    #: Creation number: pages of the admin list seek by it.
    number: int
    #: The limiter's counts at admission, packed as ``Job.admitted`` (0: none).
    admitted: int = 0


@dataclass(frozen=True, slots=True)
class JobView:
    """A job read together with the clock, in one round trip."""

    job: JobRecord | None
    now: float
    #: The schedule's earliest due time not leased to a worker (None: nothing
    #: scheduled); a request ticks only when it is <= ``now``.
    next_due: float | None = None


@dataclass(frozen=True, slots=True)
class NewJob:
    """A job to store: its document, state, estimated bytes and first due time."""

    id: str
    provider: str
    key: str
    doc: bytes
    state: str
    size: int
    #: Mock time of its first clock-driven transition; None when no clock drives it.
    due: float | None


@dataclass(frozen=True, slots=True)
class AdmitRequest:
    """The limits and price a create must pass, all checked and recorded atomically."""

    now: float
    #: Sliding window: at most ``creates_per_window`` creates per ``window_seconds``.
    window_seconds: float = 60.0
    creates_per_window: int | None = None
    #: Jobs in flight at most; ``queue_when_full`` holds the job in line instead of refusing.
    concurrent: int | None = None
    queue_when_full: bool = False
    #: The price to reserve (None: free, nothing reserved).
    amount: Decimal | None = None
    #: The account's balance when it is first used (what the accounts say it starts with).
    starting_balance: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class AdmitResult:
    """What the create got, or why it was refused (nothing changed then)."""

    admitted: bool
    refused: Literal["", "window", "concurrency", "funds"] = ""
    queued: bool = False
    in_flight: int = 0
    window_count: int = 0
    #: Window refusal: mock time the oldest create that must leave leaves.
    window_free_at: float | None = None
    #: Funds refusal: the available balance (balance minus reservations).
    available: Decimal | None = None


@dataclass(frozen=True, slots=True)
class CreateResult:
    """A create's outcome: admission, and unfinished jobs evicted to keep the bound."""

    admission: AdmitResult
    #: (job id, provider, key) of unfinished jobs evicted; their money is released
    #: already, their slot the caller frees with :meth:`LimitStore.release_slot`.
    evicted: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Claim:
    """A due item leased to one worker until it finishes it or the lease expires."""

    id: str
    due: float
    token: str
    job: JobRecord | None = None
    delivery: StoredDelivery | None = None


@dataclass(frozen=True, slots=True)
class JobEnd:
    """What a transition does beside the job: a job's end charges or frees its money,
    frees its slot (the jobs waiting for it move up) and may send a webhook."""

    provider: str
    key: str
    #: "settle" (success: charge the reservation), "release" (give it back), "" (neither).
    money: Literal["settle", "release", ""] = ""
    #: Free the job's concurrency slot (or place in line).
    free_slot: bool = False
    #: The key's concurrency limit, for moving waiting jobs up (None: no limit).
    slot_limit: int | None = None
    #: The final webhook to enqueue, due at its ``due``.
    delivery: NewDelivery | None = None


@dataclass(frozen=True, slots=True)
class JobEndResult:
    """A committed transition: whether this worker wrote it, and what its end did."""

    written: bool
    charged: Decimal = Decimal(0)
    #: Jobs given a slot now (they were waiting in line), first first.
    promoted: tuple[str, ...] = ()
    #: Pending deliveries dropped to keep the outbox within its bounds.
    dropped: tuple[str, ...] = ()


class JobStore(Protocol):
    """Jobs (bounded in count and bytes) and the schedule of their due transitions."""

    def create_job(self, job: NewJob, admit: AdmitRequest | None = None) -> CreateResult:
        """Admit (window, slot, reservation) and store the job, evicting to the bounds (atomic)."""

    def get_job(self, job_id: str, *, count_poll: bool = False) -> JobView:
        """The job and the clock in one round trip; ``count_poll`` counts a poll (atomic)."""

    def save_job(
        self, job_id: str, doc: bytes, state: str, due: float | None, *, expect_state: str
    ) -> bool:
        """Write a transition made outside the schedule (a poll, a cancel) if the job is
        still in ``expect_state`` (atomic compare-and-set); reschedule it."""

    def claim_due(self, now: float, limit: int, lease_seconds: float) -> list[Claim]:
        """Lease up to ``limit`` jobs due by ``now``; each due entry goes to one worker (atomic)."""

    def finish_claim(self, claim: Claim, doc: bytes, state: str, due: float | None) -> bool:
        """Write the claimed job's new state and next due time, if the lease is still ours."""

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
        """Write a transition and its end's effects together (atomic): under ``claim``'s
        lease, or if the job is still in ``expect_state``; nothing happens otherwise."""

    def next_due(self) -> float | None:
        """Mock time of the earliest scheduled transition."""

    def jobs_page(
        self, after: int | None, limit: int, *, newest_first: bool = True
    ) -> list[JobRecord]:
        """Jobs by creation number from just past ``after``."""

    def job_count(self) -> int:
        """Jobs stored."""


# --- accounts, balances, reservations ------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountBalance:
    """An account's money: balance and what open reservations hold."""

    balance: Decimal
    reserved: Decimal

    @property
    def available(self) -> Decimal:
        """What a new job may still reserve."""
        return self.balance - self.reserved


class LedgerStore(Protocol):
    """Balances per (provider, key) and reservations per job; never over-reserved."""

    def reserve(
        self, provider: str, key: str, job_id: str, amount: Decimal, starting_balance: Decimal
    ) -> Decimal | None:
        """Hold ``amount`` for the job (atomic); None if reserved, else the available
        balance that was too small (nothing held then)."""

    def settle(self, job_id: str) -> Decimal:
        """Charge the job's reservation (atomic); the amount charged (0: none held)."""

    def release(self, job_id: str) -> Decimal:
        """Give the reservation back (atomic); the amount released (0: none held)."""

    def account(self, provider: str, key: str) -> AccountBalance | None:
        """The account's money, None before its first use."""

    def set_balance(self, provider: str, key: str, amount: Decimal) -> None:
        """Set the balance (admin API); reservations stay."""


@dataclass(frozen=True, slots=True)
class CreateContext:
    """What a create reads first, in one round trip: the clock and the key's settings."""

    now: float
    #: The key's settings document (validity, limits, webhook secret), None if never set.
    settings: bytes | None
    #: As :attr:`JobView.next_due`: a create ticks first only when something is due.
    next_due: float | None = None


class KeyStore(Protocol):
    """Per-key settings (accounts.py's ``_KeySettings``), bounded: least recently used
    keys that are not configured are forgotten first, with their balances."""

    def create_context(self, key: str) -> CreateContext:
        """The clock and the key's settings, marking the key used (one round trip)."""

    def put_key_settings(self, key: str, doc: bytes, *, configured: bool = False) -> list[str]:
        """Store a key's settings; forget least recently used unconfigured keys over the
        bounds (atomic, with their accounts); the keys forgotten."""

    def key_settings(self, key: str) -> bytes | None:
        """The key's settings (not marking it used: the admin API reads with this)."""


# --- rate-limit windows and concurrency slots -------------------------------------------


@dataclass(frozen=True, slots=True)
class WindowResult:
    """A window count: allowed (and counted) or not, the count before, when it frees."""

    allowed: bool
    count: int
    free_at: float | None = None


@dataclass(frozen=True, slots=True)
class SlotResult:
    """A slot request: granted, held in line, or refused."""

    granted: bool
    queued: bool
    in_flight: int


class LimitStore(Protocol):
    """Create windows and concurrency slots per (provider, key)."""

    def window_hit(
        self, provider: str, key: str, member: str, now: float, window: float, limit: int
    ) -> WindowResult:
        """Sliding window: count a create if fewer than ``limit`` in the window (atomic)."""

    def fixed_window_hit(self, name: str, now: float, window: float, limit: int) -> WindowResult:
        """Fixed window (``floor(now / window)``): count a hit if under ``limit`` (atomic)."""

    def acquire_slot(
        self, provider: str, key: str, job_id: str, limit: int, *, queue: bool = False
    ) -> SlotResult:
        """Give the job a slot if fewer than ``limit`` are in flight, else hold it in
        line (``queue``) or refuse (atomic; never double-granted)."""

    def release_slot(self, provider: str, key: str, job_id: str, limit: int | None) -> list[str]:
        """Free the job's slot or place in line; promote waiting jobs first come, first
        served while slots are free; their ids (atomic)."""

    def in_flight(self, provider: str, key: str) -> set[str]:
        """Ids holding a slot."""

    def waiting(self, provider: str, key: str) -> list[str]:
        """Ids held in line, first first."""


# --- the scenario queue -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueuedEntry:
    """A queued scenario and its counters."""

    id: int
    doc: bytes
    match: Mapping[str, str]
    nth: int
    times: int
    seen: int
    fired: int


class ScenarioStore(Protocol):
    """Scenarios queued for matching calls (``POST /_mock/scenarios``), bounded."""

    def push_scenario(
        self, doc: bytes, match: Mapping[str, str], *, nth: int = 1, times: int = 1
    ) -> int:
        """Queue one; its id. StoreError when the queue is full."""

    def take_scenario(
        self, provider: str | None, endpoint: str | None, model: str | None, key: str | None
    ) -> bytes | None:
        """Count the call against every matching entry and fire the first due one (atomic:
        an entry with ``times: 1`` fires once across every worker)."""

    def scenarios(self) -> list[QueuedEntry]:
        """Entries still queued, oldest first."""

    def clear_scenarios(self) -> int:
        """Drop every entry; how many there were."""


# --- the request journal ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JournalRecord:
    """A journal entry to append: its rendered (masked) JSON and the fields readers
    filter on; ``size`` is what it counts against the journal's byte bound."""

    entry: bytes
    provider: str | None
    status: int
    endpoint: str | None
    job_id: str | None
    size: int


class JournalStore(Protocol):
    """The request journal: a capped log, newest entries win."""

    def journal_append(self, entry: Mapping[str, bytes | str | int | float]) -> str:
        """Append one entry (its fields); its id (ordered)."""

    def journal_page(
        self, after: str | None, limit: int, *, newest_first: bool = True
    ) -> list[tuple[str, dict[str, bytes]]]:
        """Entries from just past id ``after``."""

    def journal_length(self) -> int:
        """Entries kept."""


# --- the webhook outbox -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A delivery to enqueue: its document (url, headers, policy...), body, due time."""

    id: str
    doc: bytes
    body: bytes
    due: float


@dataclass(frozen=True, slots=True)
class StoredDelivery:
    """A delivery as stored, with its attempts (each an opaque document)."""

    id: str
    doc: bytes
    body: bytes
    state: str
    due: float
    attempts: Sequence[bytes] = field(default_factory=tuple)
    dropped: str | None = None
    #: The delivery that resends this one (``POST /_mock/webhooks/{id}/resend``).
    resent_as: str | None = None


class OutboxStore(Protocol):
    """Pending and finished deliveries, their attempts, and leases on the due ones."""

    def enqueue(self, delivery: NewDelivery) -> list[str]:
        """Add a pending delivery; drop the oldest pending ones over the bounds (atomic);
        the ids dropped."""

    def lease_deliveries(self, now: float, limit: int, lease_seconds: float) -> list[Claim]:
        """Lease up to ``limit`` deliveries due by ``now`` to this worker (atomic)."""

    def record_attempt(
        self,
        claim: Claim,
        attempt: bytes,
        outcome: Literal["delivered", "retry", "gave_up"],
        next_due: float | None = None,
    ) -> bool:
        """Record the attempt and finish or reschedule the delivery, if the lease is
        still ours (atomic); False: it expired and another worker has it."""

    def delivery(self, delivery_id: str) -> StoredDelivery | None:
        """One delivery with its attempts."""

    def waiting_count(self) -> int:
        """Deliveries pending or in flight."""

    def next_delivery_due(self) -> float | None:
        """Mock time the next pending delivery is due."""


# --- uploads --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredUpload:
    """An upload: its metadata document and bytes (None until they arrive)."""

    token: str
    meta: bytes
    data: bytes | None


class UploadStore(Protocol):
    """Uploaded files, bounded in count and bytes; the oldest go first."""

    def put_upload(self, token: str, meta: bytes, data: bytes | None) -> list[str]:
        """Store (or complete) an upload, evicting the oldest over the bounds (atomic);
        the tokens evicted."""

    def upload(self, token: str) -> StoredUpload | None:
        """The upload, None when unknown or evicted."""


class Store(ClockStore, JobStore, LedgerStore, KeyStore, LimitStore, ScenarioStore,
            JournalStore, OutboxStore, UploadStore, Protocol):
    """Every family, plus forgetting everything of this store (and nobody else's)."""

    def reset(self, *, keep_clock: bool = True) -> int:
        """Remove this store's state (the clock stays unless asked); keys removed."""
