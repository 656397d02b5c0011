"""The webhook outbox on a shared store: deliveries leased to one worker at a time.

:class:`StoreOutbox` is the domain's :class:`~mockserver.domain.webhooks.Outbox`
with every delivery kept in the store. :meth:`due` *leases* the due
deliveries to this worker (``Store.lease_deliveries``); an attempt is
recorded only while the lease holds (``Store.record_attempt``), so every
attempt is made by exactly one worker, and a delivery whose worker died is
taken over when its lease expires. The final webhooks of jobs are enqueued
with the job's end (``Store.commit_job``), not here.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from mockserver.domain.webhooks import Attempt, Delivery, DeliveryState, Outbox, Outcome
from mockserver.store.codec import DeliveryCodec
from mockserver.store.interface import Claim

if TYPE_CHECKING:
    from mockserver.store.redis_store import RedisStore

__all__ = ["DELIVERY_LEASE_SECONDS", "StoreOutbox"]

#: Wall seconds a worker holds a leased delivery: longer than an attempt's timeout
#: (30 s by default) and a drain, so a live worker never loses one it is sending.
DELIVERY_LEASE_SECONDS = 90.0
#: Deliveries read for a list (admin, shutdown log) at most.
_LISTED = 10_000


class _AttemptLog(deque[Attempt]):
    """The newest attempts: the store's log, read when asked; appends go nowhere
    (``record`` writes each attempt to the store already)."""

    def __init__(self, outbox: StoreOutbox) -> None:
        super().__init__()
        self._outbox = outbox

    def append(self, attempt: Attempt) -> None:
        pass

    def __len__(self) -> int:
        return len(self._outbox.store.attempt_log())

    def __iter__(self) -> Any:
        codec = self._outbox.codec
        return iter([codec.decode_attempt(doc) for doc in self._outbox.store.attempt_log()])


class StoreOutbox(Outbox):
    """Deliveries and their attempts in a shared store, leased per attempt."""

    def __init__(
        self,
        store: RedisStore,
        codec: DeliveryCodec,
        *,
        lease_seconds: float = DELIVERY_LEASE_SECONDS,
    ) -> None:
        bounds = store.bounds
        super().__init__(
            attempt_log=bounds.attempt_log,
            max_deliveries=bounds.max_deliveries,
            max_pending=bounds.max_pending,
            max_pending_bytes=bounds.max_pending_bytes,
        )
        self.store = store
        self.codec = codec
        self.lease_seconds = lease_seconds
        #: Leases this worker holds, by delivery id.
        self._claims: dict[str, Claim] = {}
        self.log = _AttemptLog(self)

    @property
    def dropped(self) -> int:
        """Deliveries dropped at the pending bound, by every worker."""
        return self.store.dropped_count()

    @dropped.setter
    def dropped(self, value: int) -> None:
        pass  # counted by the store

    def enqueue(self, delivery: Delivery) -> Delivery:
        """Add a delivery (a resend, a follow-up) to the store."""
        self.store.enqueue(self.codec.new_delivery(delivery))
        for callback in self._watchers:
            callback(delivery)
        return delivery

    def due(self, now: float, limit: int | None = None) -> list[Delivery]:
        """Lease the deliveries due by ``now`` (at most ``limit``) to this worker."""
        ready: list[Delivery] = []
        for claim in self.store.lease_deliveries(now, limit or 256, self.lease_seconds):
            if claim.delivery is None:
                continue
            delivery = self.codec.decode_stored(claim.delivery)
            delivery.state = DeliveryState.IN_FLIGHT
            self._claims[delivery.id] = claim
            ready.append(delivery)
        return ready

    def next_due(self) -> float | None:
        """Mock time the next pending delivery is due (one round trip)."""
        return self.store.next_delivery_due()

    def in_flight(self) -> int:
        """Deliveries leased to any worker, and due jobs being applied by one: work in
        progress somewhere in the fleet (what ``clock/advance {"wait": true}`` waits out)."""
        jobs, deliveries = self.store.leased()
        return jobs + deliveries

    def record(self, delivery: Delivery, attempt: Attempt, now: float) -> None:
        """Record the attempt while the lease holds; a follow-up (``then``) is enqueued."""
        delivery.attempts.append(attempt)
        claim = self._claims.pop(delivery.id, None)
        if attempt.outcome is Outcome.DELIVERED:
            delivery.state, outcome, next_due = DeliveryState.DELIVERED, "delivered", None
        else:
            delay = delivery.policy.delay_after(attempt.number)
            if delay is None:
                delivery.state, outcome, next_due = DeliveryState.GAVE_UP, "gave_up", None
            else:
                delivery.state, outcome, next_due = DeliveryState.PENDING, "retry", now + delay
                delivery.due = now + delay
        if claim is None:
            return  # reset meanwhile: nothing of ours to record
        written = self.store.record_attempt(
            claim, self.codec.encode_attempt(attempt), outcome,  # type: ignore[arg-type]
            next_due,
        )
        if written and outcome != "retry":
            follow, delivery.then = delivery.then, None
            if follow is not None:
                follow.due = now
                self.enqueue(follow)

    def resend(self, delivery: Delivery, new_id: str, now: float) -> Delivery:
        """:meth:`Outbox.resend`, the link kept on the stored original too."""
        again = super().resend(delivery, new_id, now)
        self.store.mark_resent(delivery.id, new_id)
        return again

    def note_attempt(self, delivery: Delivery, attempt: Attempt) -> None:
        """Keep an attempt that changes nothing, in the store."""
        delivery.attempts.append(attempt)
        self.store.add_attempt(delivery.id, self.codec.encode_attempt(attempt))

    def requeue(self, delivery: Delivery) -> None:
        """Give back a delivery leased but not attempted: due again at once, for any worker."""
        claim = self._claims.pop(delivery.id, None)
        delivery.state = DeliveryState.PENDING
        if claim is not None:
            self.store.return_lease(claim)

    def reschedule(self, delivery: Delivery, due: float) -> None:
        """Not offered on a shared store (chaos delays late webhooks in memory only)."""
        delivery.due = due

    def _listed(self, *, waiting_only: bool) -> list[Delivery]:
        found = []
        for delivery_id in self.store.delivery_ids(waiting_only=waiting_only, limit=_LISTED):
            delivery = self.get(delivery_id)
            if delivery is not None:
                found.append(delivery)
        return found

    def waiting(self) -> list[Delivery]:
        """Deliveries pending or in flight in any worker, oldest enqueued first."""
        return self._listed(waiting_only=True)

    @property
    def waiting_count(self) -> int:
        """Deliveries pending or in flight in any worker."""
        return self.store.waiting_count()

    @property
    def waiting_bytes(self) -> int:
        """Bytes the waiting deliveries count against the byte bound."""
        return self.store.waiting_bytes()

    def deliveries(self) -> list[Delivery]:
        """Every delivery kept, in the order they were enqueued."""
        return self._listed(waiting_only=False)

    def get(self, delivery_id: str) -> Delivery | None:
        """The delivery as the store has it now."""
        stored = self.store.delivery(delivery_id)
        return None if stored is None else self.codec.decode_stored(stored)

    def idle(self) -> bool:
        """Nothing pending or in flight, in any worker."""
        return self.waiting_count == 0

    def reset(self) -> None:
        """Forget this worker's leases (the store's reset forgets the deliveries)."""
        self._claims.clear()
