"""The world on a shared store: jobs and their schedule live in the store, not here.

:class:`StoreWorld` is the domain's :class:`~mockserver.domain.world.World`
with every job kept in a :class:`~mockserver.store.interface.Store` (Redis),
so several worker processes, and the next start, see the same jobs. A job
read from the store is a decoded *copy*: whatever changes it is written back
in the same step that decides the change happened:

* a read (a poll) brings the job up to date with the clock and writes the
  transitions only if the job is still in the state it was read in
  (compare-and-set); a worker that loses reads again;
* the ticker claims due jobs under a lease (:meth:`Store.claim_due`), so
  each due transition is applied by one worker; a dead worker's lease
  expires and another takes the job over;
* a job's *end* (money charged or released, its concurrency slot freed, the
  final webhook enqueued) is written in the same atomic step as the
  transition (:meth:`Store.commit_job`), by whichever worker won it. So each
  final webhook is enqueued exactly once, and a worker killed between two
  steps leaves nothing half done.

Transitions are not announced to ``World`` listeners (they would run in
every worker that read the job); :attr:`StoreWorld.ender` (the service)
says what an end does, before the write, and hears what it did after.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

from mockserver.domain.lifecycle import Job, State, Transition, advance_by_clock, move
from mockserver.domain.world import JOB_OVERHEAD_BYTES, World, approx_bytes
from mockserver.store.clock import StoreClock
from mockserver.store.codec import JobCodec
from mockserver.store.interface import (
    AdmitRequest,
    Claim,
    CreateResult,
    JobEnd,
    JobEndResult,
    JobRecord,
    NewJob,
)

if TYPE_CHECKING:
    from mockserver.store.redis_store import RedisStore

__all__ = ["CLAIM_BATCH", "LEASE_SECONDS", "JobEnder", "StoreWorld"]

#: Wall seconds a worker holds a claimed due job; a worker that died holding it
#: loses it after this (its transitions are then applied by another). Applying a
#: claim takes milliseconds; a worker that held one longer would find it taken over
#: and write nothing (the lease decides, never both).
LEASE_SECONDS = 5.0
#: Due jobs claimed per round trip by the ticker.
CLAIM_BATCH = 256
#: Reads of one job retried when another worker wrote it in between.
_CAS_TRIES = 5


class JobEnder(Protocol):
    """What a job's end does (the service): decided before the write, told after."""

    def end_of(self, job: Job, transition: Transition) -> JobEnd | None:
        """The end's effects to write with ``transition`` (it may set ``job.cost``)."""

    def ended(self, job: Job, transition: Transition, result: JobEndResult) -> None:
        """This worker wrote ``transition``; ``result`` is what its end did."""


class StoreWorld(World):
    """Jobs, their schedule and their ends in a shared store; the clock is the store's."""

    def __init__(
        self,
        store: RedisStore,
        clock: StoreClock,
        codec: JobCodec,
        *,
        seed: int | str | None = None,
        journal_size: int = 2_000,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        super().__init__(
            clock,
            seed=seed,
            journal_size=journal_size,
            max_jobs=store.bounds.max_jobs,
            max_job_bytes=store.bounds.max_job_bytes,
        )
        self.store = store
        self.store_clock = clock
        self.codec = codec
        self.lease_seconds = lease_seconds
        #: Set by the service: what a job's end does.
        self.ender: JobEnder | None = None

    # --- jobs ----------------------------------------------------------
    def store_job(self, job: Job, admit: AdmitRequest | None = None) -> CreateResult:
        """Admit (limits, money) and store a new job in one atomic step."""
        job.size = JOB_OVERHEAD_BYTES + len(job.key) + approx_bytes(job.input)
        result = self.store.create_job(
            NewJob(job.id, job.provider, job.key, self.codec.encode(job), job.state.value,
                   job.size, job.next_due()),
            admit,
        )
        if result.admission.admitted:
            self.changes += 1
        return result

    def add(self, job: Job) -> Job:
        """Store a new job without admission (limits and money are the service's)."""
        self.store_job(job)
        return job

    def decode(self, record: JobRecord) -> Job:
        """The stored job as a domain object (a copy: changes are written back)."""
        job = self.codec.decode(record.doc)
        job.polls = record.polls
        if record.admitted:
            job.admitted = record.admitted  # counted by the store at admission
        return job

    def get(self, job_id: str) -> Job | None:
        """The job brought up to date with the clock (the transitions written); None if unknown."""
        return self.read(job_id)

    def read(self, job_id: str, *, count_poll: bool = False) -> Job | None:
        """:meth:`get`; ``count_poll`` counts a poll atomically (poll-driven plans)."""
        job: Job | None = None
        for _ in range(_CAS_TRIES):
            view = self.store.get_job(job_id, count_poll=count_poll)
            count_poll = False  # counted once, even if the write below is lost
            self.store_clock.pin(view.now)
            if view.job is None:
                return None
            job = self.decode(view.job)
            if job.terminal:
                return job
            before = job.state
            transitions = advance_by_clock(job, view.now)
            if not transitions or self.commit(job, before, transitions):
                return job
        return job

    def commit(
        self,
        job: Job,
        before: State,
        transitions: list[Transition],
        *,
        claim: Claim | None = None,
    ) -> bool:
        """Write ``job``'s transitions (and its end) if this worker wins them."""
        end: JobEnd | None = None
        last = transitions[-1] if transitions else None
        ender = self.ender
        if last is not None and last.after.terminal and ender is not None:
            end = ender.end_of(job, last)
        result = self.store.commit_job(
            job.id,
            self.codec.encode(job),
            job.state.value,
            job.next_due(),
            claim=claim,
            expect_state=None if claim is not None else before.value,
            end=end,
        )
        if not result.written:
            return False
        self.changes += 1
        if last is not None and end is not None and ender is not None:
            ender.ended(job, last, result)
        return True

    def save(self, job: Job, before: State) -> bool:
        """Write a change that is no transition (a held job released) if still ``before``."""
        return self.commit(job, before, [])

    def jobs(self) -> Iterator[Job]:
        """Every stored job, oldest first (read from the store)."""
        return (job for _, job in self.jobs_from(None, newest_first=False))

    def jobs_from(
        self, after: int | None = None, *, newest_first: bool = True
    ) -> Iterator[tuple[int, Job]]:
        """``(creation number, job)`` from just past ``after``, a page of the store at a time."""
        position = after
        while True:
            page = self.store.jobs_page(position, 200, newest_first=newest_first)
            if not page:
                return
            for record in page:
                yield record.number, self.decode(record)
            position = page[-1].number

    def __len__(self) -> int:
        return self.store.job_count()

    def apply(self, transitions: list[Transition]) -> None:
        """Transitions made outside the clock are written by :meth:`commit` instead."""
        raise NotImplementedError("StoreWorld writes transitions with commit()")

    def cancel(self, job: Job) -> Transition:
        """Cancel ``job`` if it is still in the state it was read in; ValueError if not."""
        before = job.state
        transition = move(job, State.CANCELLED, self.clock.now())
        if not self.commit(job, before, [transition]):
            raise ValueError(f"job {job.id} changed while it was being cancelled")
        return transition

    def release(self, job: Job, *, at: float | None = None) -> None:
        """Let a held job start queueing (written back; another worker may have done it)."""
        for _ in range(_CAS_TRIES):
            if job.terminal or not job.held:
                return
            before = job.state
            job.release(self.clock.now() if at is None else at)
            if self.save(job, before):
                return
            fresh = self.read(job.id)
            if fresh is None:
                return
            job = fresh

    def next_due(self) -> float | None:
        """Mock time of the earliest scheduled transition (one round trip)."""
        return self.store.next_due()

    def tick(self) -> list[Transition]:
        """Claim the jobs due by now and apply their transitions; the ones this worker wrote."""
        applied: list[Transition] = []
        while True:
            now = self.clock.now()
            claims = self.store.claim_due(now, CLAIM_BATCH, self.lease_seconds)
            for claim in claims:
                if claim.job is None:
                    continue
                job = self.decode(claim.job)
                before = job.state
                transitions = advance_by_clock(job, now)
                if self.commit(job, before, transitions, claim=claim):
                    applied.extend(transitions)
            if len(claims) < CLAIM_BATCH:
                return applied

    def tick_for_request(self) -> list[Transition]:
        """Nothing: every worker's ticker applies due transitions, and a read brings its
        job up to date; a claim per request would cost a round trip each."""
        return []

    def reset(self) -> None:
        """Forget this store's jobs, deliveries, money, limits (every worker's; the clock stays)."""
        self.store.reset()
        self.journal.clear()
        self.changes += 1
