"""The service on a shared store: creates admitted atomically, ends written once.

:class:`StoreService` is :class:`~mockserver.domain.service.MockService` for a
:class:`~mockserver.store.world.StoreWorld`. The checks and their order are
the same (:mod:`mockserver.domain.admission`); what differs is *where* the
decision is made:

* a create's rate limit, concurrency slot (or place in line) and price
  reservation are decided with the job's write, in one atomic step in the
  store (``Store.create_job``): two workers can never both take the last
  slot or the last credit. The policy (limits of the key's tier, the price)
  is computed here first, from the same contracts and accounts;
* a job's end (charge or release, slot freed, final webhook) is decided by
  :meth:`end_of` and written with the transition by the world
  (``Store.commit_job``); the balances live in the store.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mockserver.domain.admission import Admission
from mockserver.domain.billing import format_amount
from mockserver.domain.errors import MockError
from mockserver.domain.lifecycle import Job, State, Transition, advance_by_poll
from mockserver.domain.ratelimit import RateLimiter, retry_after_seconds
from mockserver.domain.service import CreateRequest, MockService, ServiceSettings
from mockserver.store.codec import DeliveryCodec
from mockserver.store.interface import AdmitRequest, AdmitResult, JobEnd, JobEndResult
from mockserver.store.outbox import StoreOutbox
from mockserver.store.world import StoreWorld

if TYPE_CHECKING:
    from mockserver.contracts import ModelContract

__all__ = ["StoreService"]

_COUNT_BITS = 32
#: Reads of one job retried when another worker changed it in between.
_CAS_TRIES = 5


class StoreService(MockService):
    """Create, read, poll and cancel jobs kept in a shared store."""

    def __init__(
        self,
        world: StoreWorld,
        outbox: StoreOutbox,
        codec: DeliveryCodec,
        settings: ServiceSettings | None = None,
        admission: Admission | None = None,
    ) -> None:
        super().__init__(world, outbox, settings, admission)
        self.store_world = world
        self.delivery_codec = codec
        world.ender = self

    # --- create --------------------------------------------------------
    def create(self, request: CreateRequest, job_id: str) -> Job:
        """Store a new job, admitted (429, 402) in the same atomic step."""
        job = self.new_job(request, job_id)
        admit = None if self.admission is None else self._admit_request(job, request.model)
        result = self.store_world.store_job(job, admit)
        outcome = result.admission
        if not outcome.admitted:
            raise self._refusal(job, admit, outcome)
        self.touched = job_id
        job.admitted = (outcome.in_flight << _COUNT_BITS) | (outcome.window_count + 1)
        if outcome.queued:
            # Held in line: written back so no worker starts its clock before a slot frees.
            job.held = True
            self.store_world.save(job, job.state)
        return job

    def _admit_request(self, job: Job, model: ModelContract) -> AdmitRequest:
        """The limits and the price this create must pass (computed; decided by the store)."""
        admission = self.admission
        assert admission is not None
        account = admission.accounts.get(job.provider, job.key)
        policy = admission._policy(job.provider, account.limits)
        if policy.creates_per_window == 0:
            raise MockError(429, "Rate limit exceeded: creates are disabled for this key")
        concurrent = policy.concurrent
        if concurrent is not None and policy.concurrent_when_balance_at_most is not None:
            money = self.store_world.store.account(job.provider, job.key)
            balance = account.balance if money is None else money.balance
            if not RateLimiter._concurrency_applies(policy, float(balance)):
                concurrent = None
        quote = admission._quote(job.provider, model, job.input)
        amount, record = admission._shared(quote)
        job.price = record
        return AdmitRequest(
            now=job.created_at,
            window_seconds=policy.window_seconds,
            creates_per_window=policy.creates_per_window,
            concurrent=concurrent,
            queue_when_full=policy.over_limit == "queue",
            amount=amount,
            starting_balance=account.balance,
        )

    def _refusal(self, job: Job, admit: AdmitRequest | None, outcome: AdmitResult) -> MockError:
        """The 429 or 402 a refused create answers, as the memory store words it."""
        assert admit is not None
        now = job.created_at
        if outcome.refused == "window":
            free_at = outcome.window_free_at
            wait = 1 if free_at is None else retry_after_seconds(now, free_at)
            reason = f"{admit.creates_per_window} creates per {admit.window_seconds:g} s"
        elif outcome.refused == "concurrency":
            end = self._soonest_end(job.provider, job.key)
            wait = 1 if end is None else retry_after_seconds(now, end)
            reason = f"{admit.concurrent} jobs in flight"
        else:
            return self._short_of_funds(job, admit, outcome)
        return MockError(
            429,
            f"Rate limit exceeded ({reason}); retry after {wait} s",
            details=f"limit: {reason}",
            retry_after=float(wait),
            headers={"Retry-After": str(wait)},
        )

    def _short_of_funds(self, job: Job, admit: AdmitRequest, outcome: AdmitResult) -> MockError:
        amount = admit.amount or Decimal(0)
        available = outcome.available if outcome.available is not None else Decimal(0)
        money = self.store_world.store.account(job.provider, job.key)
        assert self.admission is not None
        currency = self.admission.accounts.currency(job.provider)
        balance = money.balance if money is not None else admit.starting_balance
        reserved = money.reserved if money is not None else Decimal(0)
        return MockError(
            402,
            f"Insufficient balance: this job costs {format_amount(amount, currency)} "
            f"and the available balance is {format_amount(available, currency)}",
            details=(
                f"price={amount} available={available} balance={balance} "
                f"reserved={reserved} currency={currency}"
            ),
        )

    def _in_flight(self, provider: str, key: str) -> frozenset[str] | set[str]:
        """Ids of the key's jobs holding a slot, in the store (every worker's)."""
        return self.store_world.store.in_flight(provider, key)

    # --- read ----------------------------------------------------------
    def poll(self, provider: str, job_id: str, key: str | None = None) -> Job:
        """Read a job as a client's poll does: the poll is counted in the store."""
        job = self.get(provider, job_id, key)
        if not job.plan.polls_per_phase or job.terminal:
            return job
        for _ in range(_CAS_TRIES):
            counted = self.store_world.read(job_id, count_poll=True)
            if counted is None or counted.terminal:
                return job if counted is None else counted
            job = counted
            before = job.state
            job.polls -= 1  # the store counted this poll already; advance_by_poll counts it
            transitions = advance_by_poll(job, self.clock.now())
            if not transitions or self.store_world.commit(job, before, transitions):
                return job
        return job

    def cancel(self, provider: str, job_id: str, key: str | None = None) -> Job:
        """Cancel a job that has not finished; MockError(400) if it has."""
        for _ in range(_CAS_TRIES):
            job = self.get(provider, job_id, key)
            if job.terminal:
                raise MockError(
                    400,
                    f"prediction {job_id!r} already finished ({job.state}); "
                    "it cannot be cancelled",
                    field="id",
                    rule="cancellable",
                )
            try:
                self.world.cancel(job)
            except ValueError:
                continue  # another worker moved it meanwhile: read it again
            return job
        raise MockError(503, f"prediction {job_id!r} keeps changing; try again",
                        retry_after=1.0, headers={"Retry-After": "1"})

    # --- a job's end ---------------------------------------------------------
    def end_of(self, job: Job, transition: Transition) -> JobEnd | None:
        """Charge (success) or release its money, free its slot, enqueue its webhook."""
        succeeded = transition.after is State.SUCCEEDED
        if job.price is not None:
            amount = Decimal(str(job.price.get("amount", "0")))
            job.cost = _json_number(amount) if succeeded and amount else 0
        slot_limit: int | None = None
        if self.admission is not None:
            account = self.admission.accounts.get(job.provider, job.key)
            try:
                slot_limit = self.admission._policy(job.provider, account.limits).concurrent
            except MockError:
                slot_limit = None
        delivery = None
        if transition.after is not State.CANCELLED:
            made = self.delivery_for(job, transition.at)
            if made is not None:
                delivery = self.delivery_codec.new_delivery(made)
        return JobEnd(
            provider=job.provider,
            key=job.key,
            money="settle" if succeeded else "release",
            free_slot=True,
            slot_limit=slot_limit,
            delivery=delivery,
        )

    def ended(self, job: Job, transition: Transition, result: JobEndResult) -> None:
        """Jobs that waited for the freed slot start queueing from the end's time."""
        for promoted in result.promoted:
            waiting = self.world.get(promoted)
            if waiting is not None and not waiting.terminal:
                self.world.release(waiting, at=transition.at)

    def _on_transition(self, transition: Transition) -> None:
        """Unused: the world writes a job's end with its transition (see end_of)."""

    def _on_eviction(self, job: Job) -> None:
        """Unused: the store frees an evicted job's money and slot in the same step."""


def _json_number(amount: Decimal) -> Any:
    return int(amount) if amount == amount.to_integral_value() else float(amount)
