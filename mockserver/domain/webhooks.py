"""Webhook outbox: what to deliver, when, how it is signed, and every attempt.

The outbox decides; it never does I/O. The HTTP layer's sender takes due
deliveries, POSTs them, and reports each attempt back with :meth:`Outbox.record`.
Retry delays run on the mock's clock, so a manual clock drives retries too,
and a receiver that is down loses nothing: the delivery stays in the outbox,
with every attempt, until it succeeds or its attempts are spent.
"""

from __future__ import annotations

import heapq
import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

#: Attempts recorded at most for the admin API (a ring: the newest win).
DEFAULT_ATTEMPT_LOG = 5_000
#: Finished deliveries kept at most; the oldest finished ones are forgotten first,
#: pending ones never (a receiver that is down must lose nothing).
DEFAULT_MAX_DELIVERIES = 10_000
#: Deliveries waiting (pending or in flight) at most; beyond it the oldest pending
#: one is dropped: given up with a reason, counted, logged, and resendable.
DEFAULT_MAX_PENDING = 10_000
#: Bytes of waiting deliveries at most (bodies plus :data:`DELIVERY_OVERHEAD_BYTES` each).
DEFAULT_MAX_PENDING_BYTES = 64 * 1024 * 1024
#: What one waiting delivery costs besides its body (object, URL, headers, heap entry).
DELIVERY_OVERHEAD_BYTES = 1024
#: Drops are logged one by one up to this many, then once per this many.
DROP_LOG_EVERY = 1_000

logger = logging.getLogger("mockserver")


@dataclass(frozen=True, slots=True)
class WebhookMessage:
    """What a provider adapter wants delivered when a job ends.

    ``headers`` are static (content type, a verbatim secret); ``sign``
    computes per-attempt signature headers from the attempt's unix
    timestamp, because signatures carry the time they were made.
    """

    url: str
    body: bytes
    headers: Mapping[str, str]
    sign: Callable[[int], dict[str, str]] | None = None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to try one delivery.

    ``delays_seconds[i]`` is the wait (mock seconds) after failed attempt
    ``i + 1``; the last delay repeats if there are more attempts than delays.
    """

    attempts: int = 3
    delays_seconds: tuple[float, ...] = (10.0, 10.0)
    timeout_seconds: float = 30.0
    #: Least wait (mock seconds) between attempts: the wall-time floor of a sped-up clock.
    min_delay_seconds: float = 0.0

    def delay_after(self, attempt_number: int) -> float | None:
        """Wait before the next attempt after attempt ``attempt_number`` failed; None: give up."""
        if attempt_number >= self.attempts:
            return None
        if not self.delays_seconds:
            return self.min_delay_seconds
        delay = self.delays_seconds[min(attempt_number - 1, len(self.delays_seconds) - 1)]
        return max(delay, self.min_delay_seconds)

    @classmethod
    def from_contract(cls, retry: Mapping[str, Any]) -> RetryPolicy:
        """Build from a provider contract's ``webhook.retry`` section."""
        default = cls()
        delays = retry.get("delays_seconds", default.delays_seconds)
        return cls(
            attempts=int(retry.get("attempts", default.attempts)),
            delays_seconds=tuple(float(d) for d in delays),
            timeout_seconds=float(retry.get("timeout_seconds", default.timeout_seconds)),
        )


class Outcome(StrEnum):
    """How one attempt ended."""

    DELIVERED = "delivered"
    REJECTED = "rejected"  # the receiver answered, but not 2xx
    TIMEOUT = "timeout"
    REFUSED = "refused"  # connection refused or reset
    ERROR = "error"  # anything else the transport reported


@dataclass(slots=True)
class Attempt:
    """One POST of a delivery."""

    delivery_id: str
    number: int
    at: float
    outcome: Outcome
    status_code: int | None = None
    error: str | None = None
    duration_ms: float = 0.0
    #: Unix time the attempt was sent, and the timestamp its signature headers
    #: carry (None: unsigned); the headers are recomputed from it when shown.
    wall: float | None = None
    signed_at: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form for the admin API."""
        return {
            "delivery_id": self.delivery_id,
            "attempt": self.number,
            "at": self.at,
            "outcome": str(self.outcome),
            "status_code": self.status_code,
            "error": self.error,
            "duration_ms": round(self.duration_ms, 3),
            "wall": self.wall,
        }


class DeliveryState(StrEnum):
    """Where a delivery stands."""

    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    DELIVERED = "delivered"
    GAVE_UP = "gave_up"


@dataclass(slots=True)
class Delivery:
    """One payload to deliver to one URL, with its retries.

    ``headers`` are signed when each attempt is made (signatures carry a
    timestamp), through the provider's signer named in ``signing``.
    """

    id: str
    job_id: str
    provider: str
    url: str
    body: bytes
    policy: RetryPolicy
    due: float
    kind: str = "final"
    headers: dict[str, str] = field(default_factory=dict)
    state: DeliveryState = DeliveryState.PENDING
    attempts: list[Attempt] = field(default_factory=list)
    effects: frozenset[str] = frozenset()
    #: Computes per-attempt signature headers from the attempt's unix time.
    signer: Callable[[int], dict[str, str]] | None = None
    #: Enqueued (due at once) when this delivery is finished, delivered or given
    #: up: scenario ``webhook_out_of_order`` sends a stale payload after the final.
    then: Delivery | None = None
    #: Why it was given up without its attempts being spent (dropped at the outbox bound).
    dropped: str | None = None
    #: The delivery this one resends, and the one that resent this one.
    resend_of: str | None = None
    resent_as: str | None = None

    @property
    def size(self) -> int:
        """Bytes it counts against the outbox's byte bound."""
        return len(self.body) + DELIVERY_OVERHEAD_BYTES

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form for the admin API."""
        return {
            "id": self.id,
            "job_id": self.job_id,
            "provider": self.provider,
            "url": self.url,
            "kind": self.kind,
            "state": str(self.state),
            "due": self.due,
            "attempts": [a.to_dict() for a in self.attempts],
            "body": self.body.decode("utf-8", "replace"),
            "dropped": self.dropped,
            "resend_of": self.resend_of,
            "resent_as": self.resent_as,
        }


class Outbox:
    """Pending and finished deliveries; hands out the due ones.

    Pending deliveries also sit in a heap keyed by ``(due, id)``; waiting
    (pending or in flight) and finished deliveries are each kept in their
    own insertion-ordered dict, so :meth:`due`, :meth:`next_due`,
    :meth:`idle`, eviction of the oldest finished delivery and dropping the
    oldest waiting one all cost O(log n) / O(1), never a scan of every
    delivery kept (a scan per enqueue held the event loop for seconds at
    40,000 pending). Heap entries are checked when they surface: an entry
    whose delivery is no longer pending at that due time is dropped. Code
    that moves a pending delivery's ``due`` calls :meth:`reschedule`.

    Bounds: ``max_deliveries`` kept in all (finished ones forgotten oldest
    first); ``max_pending`` / ``max_pending_bytes`` waiting, beyond which
    the oldest pending delivery is dropped: given up with ``dropped`` set,
    counted in :attr:`dropped`, logged, and resendable like any other.
    """

    def __init__(
        self,
        attempt_log: int = DEFAULT_ATTEMPT_LOG,
        max_deliveries: int = DEFAULT_MAX_DELIVERIES,
        max_pending: int = DEFAULT_MAX_PENDING,
        max_pending_bytes: int = DEFAULT_MAX_PENDING_BYTES,
    ) -> None:
        self._deliveries: dict[str, Delivery] = {}
        #: (due, delivery id, delivery) of pending deliveries; may hold stale entries.
        self._heap: list[tuple[float, str, Delivery]] = []
        #: Deliveries pending or in flight (enqueue order), their bytes, those in flight.
        self._waiting: dict[str, Delivery] = {}
        self._waiting_bytes = 0
        self._in_flight = 0
        #: Ids of finished deliveries, oldest finished first (eviction order).
        self._finished: dict[str, None] = {}
        self.log: deque[Attempt] = deque(maxlen=attempt_log)
        self.max_deliveries = max_deliveries
        self.max_pending = max_pending
        self.max_pending_bytes = max_pending_bytes
        #: Deliveries dropped at the pending bound since the start (a reset keeps it).
        self.dropped = 0
        self._watchers: list[Callable[[Delivery], None]] = []

    def watch(self, callback: Callable[[Delivery], None]) -> None:
        """Call ``callback`` with every enqueued delivery (the sender wakes on it)."""
        self._watchers.append(callback)

    def enqueue(self, delivery: Delivery) -> Delivery:
        """Add a delivery; it becomes due at ``delivery.due``."""
        self._deliveries[delivery.id] = delivery
        if delivery.state is DeliveryState.IN_FLIGHT:
            self._wait(delivery)
            self._in_flight += 1
        elif delivery.state is DeliveryState.PENDING:
            self._wait(delivery)
        else:
            self._finished[delivery.id] = None
        self._bound(delivery.due)
        self._evict()
        for callback in self._watchers:
            callback(delivery)
        # After the watchers: one may move ``due`` (chaos delays a late webhook).
        self._push(delivery)
        return delivery

    def _wait(self, delivery: Delivery) -> None:
        if delivery.id not in self._waiting:
            self._waiting[delivery.id] = delivery
            self._waiting_bytes += delivery.size

    def _finish(self, delivery: Delivery) -> None:
        """A delivery stopped waiting (delivered or given up): file it for eviction."""
        if self._waiting.pop(delivery.id, None) is not None:
            self._waiting_bytes -= delivery.size
        self._finished[delivery.id] = None
        self._evict()

    def _bound(self, now: float) -> None:
        """Drop the oldest pending deliveries while over the count or byte bound."""
        while len(self._waiting) > self.max_pending or (
            self._waiting_bytes > self.max_pending_bytes and len(self._waiting) > 1
        ):
            victim = next(
                (d for d in self._waiting.values() if d.state is DeliveryState.PENDING), None
            )
            if victim is None:
                return  # all in flight: their attempts finish them
            victim.state = DeliveryState.GAVE_UP
            victim.dropped = (
                f"dropped unsent at mock time {now:.3f}: more than {self.max_pending} "
                f"deliveries or {self.max_pending_bytes} bytes waiting (resend it with "
                f"POST /_mock/webhooks/{victim.id}/resend)"
            )
            self.dropped += 1
            if self.dropped <= DROP_LOG_EVERY or self.dropped % DROP_LOG_EVERY == 0:
                logger.warning(
                    "webhook delivery %s (job %s, %s) dropped: the outbox holds %d waiting "
                    "deliveries, %d bytes (bounds %d, %d); %d dropped so far",
                    victim.id, victim.job_id, victim.provider, len(self._waiting),
                    self._waiting_bytes, self.max_pending, self.max_pending_bytes, self.dropped,
                )
            self._finish(victim)

    def _push(self, delivery: Delivery) -> None:
        if delivery.state is DeliveryState.PENDING:
            heapq.heappush(self._heap, (delivery.due, delivery.id, delivery))
            if len(self._heap) > 2 * len(self._waiting) + 1024:
                self._compact()

    def _compact(self) -> None:
        """Drop stale heap entries (finished, dropped, forgotten deliveries) in one pass.

        They would surface one day and be dropped, but until then each keeps its
        delivery (and body) alive; rebuilding when stale entries outnumber live
        ones keeps the heap within twice the waiting count, amortised O(1).
        """
        self._heap = [
            entry for entry in self._heap
            if entry[2].state is DeliveryState.PENDING and entry[0] == entry[2].due
            and self._deliveries.get(entry[1]) is entry[2]
        ]
        heapq.heapify(self._heap)

    def reschedule(self, delivery: Delivery, due: float) -> None:
        """Make a pending delivery due at ``due`` instead."""
        delivery.due = due
        self._push(delivery)

    def requeue(self, delivery: Delivery) -> None:
        """An in-flight delivery goes back to pending with no attempt recorded (cancelled)."""
        if delivery.state is not DeliveryState.IN_FLIGHT:
            return
        delivery.state = DeliveryState.PENDING
        if self._owns(delivery):  # not one forgotten by a reset meanwhile
            self._in_flight -= 1
            self._push(delivery)

    def _owns(self, delivery: Delivery) -> bool:
        return self._deliveries.get(delivery.id) is delivery

    def _evict(self) -> None:
        """Forget the oldest finished deliveries while over ``max_deliveries`` (O(1) each)."""
        while len(self._deliveries) > self.max_deliveries and self._finished:
            delivery_id = next(iter(self._finished))
            del self._finished[delivery_id]
            self._deliveries.pop(delivery_id, None)

    def _top(self) -> tuple[float, str, Delivery] | None:
        """The earliest live heap entry (stale ones are dropped or re-filed)."""
        heap = self._heap
        while heap:
            due, delivery_id, delivery = heap[0]
            if (
                delivery.state is DeliveryState.PENDING
                and self._deliveries.get(delivery_id) is delivery
            ):
                if delivery.due == due:
                    return heap[0]
                # ``due`` was moved without reschedule(): file it under the new time.
                heapq.heapreplace(heap, (delivery.due, delivery_id, delivery))
                continue
            heapq.heappop(heap)
        return None

    def due(self, now: float, limit: int | None = None) -> list[Delivery]:
        """Deliveries due by ``now`` (at most ``limit``), marked in flight, oldest due first."""
        ready: list[Delivery] = []
        while (limit is None or len(ready) < limit) and (
            (top := self._top()) is not None and top[0] <= now
        ):
            heapq.heappop(self._heap)
            delivery = top[2]
            delivery.state = DeliveryState.IN_FLIGHT
            self._in_flight += 1
            ready.append(delivery)
        return ready

    def next_due(self) -> float | None:
        """Mock time the next pending delivery is due, if any."""
        top = self._top()
        return None if top is None else top[0]

    def in_flight(self) -> int:
        """How many deliveries are in flight (handed out by :meth:`due`, not recorded yet)."""
        return self._in_flight

    def record(self, delivery: Delivery, attempt: Attempt, now: float) -> None:
        """Record an attempt; schedule the retry on the mock clock or give up."""
        delivery.attempts.append(attempt)
        self.log.append(attempt)
        owned = self._owns(delivery)
        if owned and delivery.state is DeliveryState.IN_FLIGHT:
            self._in_flight -= 1
        if attempt.outcome is Outcome.DELIVERED:
            delivery.state = DeliveryState.DELIVERED
        else:
            delay = delivery.policy.delay_after(attempt.number)
            if delay is None:
                delivery.state = DeliveryState.GAVE_UP
            else:
                delivery.state = DeliveryState.PENDING
                delivery.due = now + delay
                if owned:
                    self._wait(delivery)
                    self._push(delivery)
                return
        if owned:
            self._finish(delivery)
        follow, delivery.then = delivery.then, None
        if follow is not None:
            follow.due = now
            self.enqueue(follow)

    def note_attempt(self, delivery: Delivery, attempt: Attempt) -> None:
        """Keep an attempt that changes nothing (a scenario's duplicate of a delivered one)."""
        delivery.attempts.append(attempt)
        self.log.append(attempt)

    def resend(self, delivery: Delivery, new_id: str, now: float) -> Delivery:
        """A new attempt series of a finished ``delivery``, due now, under ``new_id``.

        The original keeps its attempts and points at the new one
        (``resent_as``); the new one points back (``resend_of``) and carries
        no scenario effects: it really goes out. Raises
        ValueError when the delivery is still pending or in flight.
        """
        if delivery.state not in (DeliveryState.DELIVERED, DeliveryState.GAVE_UP):
            raise ValueError(
                f"delivery {delivery.id!r} is {delivery.state}: only a delivered or "
                "given-up delivery can be resent"
            )
        again = Delivery(
            id=new_id,
            job_id=delivery.job_id,
            provider=delivery.provider,
            url=delivery.url,
            body=delivery.body,
            policy=delivery.policy,
            due=now,
            kind=delivery.kind,
            headers=dict(delivery.headers),
            signer=delivery.signer,
            resend_of=delivery.id,
        )
        delivery.resent_as = new_id
        return self.enqueue(again)

    def waiting(self) -> list[Delivery]:
        """Deliveries pending or in flight, oldest enqueued first."""
        return list(self._waiting.values())

    @property
    def waiting_count(self) -> int:
        """How many deliveries are pending or in flight (O(1))."""
        return len(self._waiting)

    @property
    def waiting_bytes(self) -> int:
        """Bytes the waiting deliveries count against ``max_pending_bytes``."""
        return self._waiting_bytes

    def deliveries(self) -> list[Delivery]:
        """Every delivery, in the order they were enqueued."""
        return list(self._deliveries.values())

    def get(self, delivery_id: str) -> Delivery | None:
        """The delivery with this id, if any."""
        return self._deliveries.get(delivery_id)

    def idle(self) -> bool:
        """True when nothing is pending or in flight."""
        return not self._waiting

    def reset(self) -> None:
        """Forget every delivery and attempt."""
        self._deliveries.clear()
        self._heap.clear()
        self._waiting.clear()
        self._waiting_bytes = 0
        self._finished.clear()
        self._in_flight = 0
        self.log.clear()
