"""One world: the whole mutable state of one mock instance.

There is no module-level state anywhere: an app owns one :class:`World`, a
test owns its app, so two tests (or two xdist workers) share nothing.

Jobs advance on the injected clock. :meth:`World.tick` applies every
transition that is due, each stamped at its exact planned time, and tells the
subscribers (webhook outbox, billing, rate limits) about it; reading a job
also brings it up to date, so a poll never shows a stale state even if the
background ticker is late.
"""

from __future__ import annotations

import random
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from typing import Any

import orjson
from sortedcontainers import SortedDict, SortedList

from mockserver.domain.clock import Clock
from mockserver.domain.lifecycle import Job, State, Transition, advance_by_clock, move

#: Jobs kept at most; the oldest finished ones go first. A mock left running
#: for a day must not grow without limit.
DEFAULT_MAX_JOBS = 100_000
#: Request journal entries kept (a ring: the newest win).
DEFAULT_JOURNAL_SIZE = 2_000
#: Estimated bytes the stored jobs may hold together (prompts can be large);
#: the oldest finished jobs go first, as for the count.
DEFAULT_MAX_JOB_BYTES = 256 * 1024 * 1024
#: What a stored job costs beside its input's text (measured: about 1.6 KiB
#: with its plan, extra, schedule and index entries).
JOB_OVERHEAD_BYTES = 2048

Listener = Callable[[Transition], None]
ScheduleEntry = tuple[float, int, str]

#: UUID version and variant bits, as uuid.UUID(int=..., version=4) sets them.
_UUID_CLEAR = ~((0xC000 << 48) | (0xF000 << 64)) & ((1 << 128) - 1)
_UUID_V4 = (0x8000 << 48) | (4 << 76)


def approx_bytes(value: Any) -> int:
    """A cheap estimate of the memory a JSON value holds: about twice its JSON text.

    orjson writes a create's input in well under a microsecond; a value it
    cannot write (a huge integer, a non-string key) is walked instead,
    counting its text plus 16 bytes a value, at most 32 levels deep.
    """
    try:
        return 2 * len(orjson.dumps(value, default=str))
    except (TypeError, orjson.JSONEncodeError):
        return _approx(value, 32)


def _approx(value: Any, depth: int) -> int:
    if isinstance(value, str):
        return 16 + len(value)
    if depth <= 0:
        return 16
    if isinstance(value, dict):
        return 64 + sum(16 + len(str(k)) + _approx(v, depth - 1) for k, v in value.items())
    if isinstance(value, list | tuple):
        return 56 + sum(_approx(item, depth - 1) for item in value)
    return 16


class World:
    """Jobs, journal and scheduler of one mock instance, on one clock."""

    def __init__(
        self,
        clock: Clock,
        *,
        seed: int | str | None = None,
        max_jobs: int = DEFAULT_MAX_JOBS,
        journal_size: int = DEFAULT_JOURNAL_SIZE,
        max_job_bytes: int = DEFAULT_MAX_JOB_BYTES,
    ) -> None:
        self.clock = clock
        #: An int (``--seed``), or a text such as ``"7:3"`` (the seed and the
        #: worker's ``RedisStore.boot()`` number: each worker of a fleet draws
        #: its own reproducible ids); ``random.Random`` reads both the same way
        #: on every run.
        self.seed = seed
        self.max_jobs = max_jobs
        self.max_job_bytes = max_job_bytes
        #: Estimated bytes of every stored job (:func:`approx_bytes` of its input).
        self.job_bytes = 0
        self._random = random.Random(seed)
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        #: Creation number -> job id, and back: a page of the admin list
        #: starts at any position in O(log n) (an OrderedDict cannot seek).
        self._by_number: SortedDict[int, str] = SortedDict()
        self._number: dict[str, int] = {}
        self._created = 0
        #: (due, sequence, job id) of every job with a clock-driven transition
        #: ahead, earliest first; ``_entries`` finds a job's own entry, so an
        #: evicted or rescheduled job leaves nothing behind. (A heap with lazy
        #: deletion had to be compacted, an O(n) pause of 150 ms at 100,000
        #: jobs, whenever a full store of unfinished jobs turned over.)
        self._schedule: SortedList[ScheduleEntry] = SortedList()
        self._entries: dict[str, ScheduleEntry] = {}
        #: Ids of finished jobs, in the order they finished: eviction takes the
        #: first still stored, in O(1) amortised instead of scanning the store.
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._sequence = 0
        #: Bumped by every create, transition batch and reset: what the console's
        #: event stream compares (one integer increment; nothing else runs per change).
        self.changes = 0
        self._listeners: list[Listener] = []
        self._eviction_listeners: list[Callable[[Job], None]] = []
        #: The HTTP layer's request journal (its entries are that layer's business).
        self.journal: deque[Any] = deque(maxlen=journal_size)

    # --- ids -----------------------------------------------------------
    def new_uuid(self) -> str:
        """A UUID4-shaped id; reproducible when the world has a seed.

        The same text as ``str(uuid.UUID(int=bits, version=4))``, formatted
        directly: ``UUID.__init__`` is a noticeable share of a create.
        """
        bits = self._random.getrandbits(128)
        bits = (bits & _UUID_CLEAR) | _UUID_V4  # version 4, RFC 4122 variant
        text = f"{bits:032x}"
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"

    def new_hex(self, length: int = 32) -> str:
        """A lowercase hex id of ``length`` characters; reproducible with a seed."""
        return f"{self._random.getrandbits(length * 4):0{length}x}"

    # --- subscribers ---------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` with every transition, in order."""
        self._listeners.append(listener)

    def subscribe_evictions(self, listener: Callable[[Job], None]) -> None:
        """Call ``listener`` with every unfinished job dropped to keep the store bounded."""
        self._eviction_listeners.append(listener)

    def _emit(self, transitions: list[Transition]) -> None:
        self.changes += 1
        for transition in transitions:
            if transition.after.terminal:
                self._finished[transition.job.id] = None
            for listener in self._listeners:
                listener(transition)

    # --- jobs ----------------------------------------------------------
    def add(self, job: Job) -> Job:
        """Store a new job and schedule its first transition."""
        old = self._number.pop(job.id, None)
        if old is not None:  # the same id stored again (tests): one entry
            del self._by_number[old]
            self.job_bytes -= self._jobs[job.id].size
        self._jobs[job.id] = job
        job.size = JOB_OVERHEAD_BYTES + len(job.key) + approx_bytes(job.input)
        self.job_bytes += job.size
        self._created += 1
        self._number[job.id] = self._created
        self._by_number[self._created] = job.id
        self.changes += 1
        self._evict()
        self._schedule_next(job)
        return job

    def get(self, job_id: str) -> Job | None:
        """The job with this id, brought up to date with the clock; None if unknown."""
        job = self._jobs.get(job_id)
        if job is not None and not job.terminal:
            transitions = advance_by_clock(job, self.clock.now())
            if transitions:
                self._emit(transitions)
                self._schedule_next(job)
        return job

    def jobs(self) -> Iterator[Job]:
        """All stored jobs, oldest first (not advanced: call :meth:`tick` first)."""
        return iter(list(self._jobs.values()))

    def jobs_from(
        self, after: int | None = None, *, newest_first: bool = True
    ) -> Iterator[tuple[int, Job]]:
        """``(creation number, job)`` from just past creation number ``after``, lazily.

        Newest first by default; ``after=None`` starts at the newest (oldest).
        Seeking costs O(log n), so an admin page anywhere in a large store is cheap.
        """
        numbers = self._by_number
        if newest_first:
            found = numbers.irange(maximum=after, inclusive=(True, False), reverse=True)
        else:
            found = numbers.irange(minimum=after, inclusive=(False, True))
        for number in found:
            job = self._jobs.get(numbers[number])
            if job is not None:
                yield number, job

    def __len__(self) -> int:
        return len(self._jobs)

    def apply(self, transitions: list[Transition]) -> None:
        """Announce transitions made outside the clock (polls); reschedule their jobs."""
        self._emit(transitions)
        for job in {id(t.job): t.job for t in transitions}.values():
            self._schedule_next(job)

    def cancel(self, job: Job) -> Transition:
        """Cancel a job that has not finished (the caller checks it has not)."""
        transition = move(job, State.CANCELLED, self.clock.now())
        self._unschedule(job.id)
        self._emit([transition])
        return transition

    def release(self, job: Job, *, at: float | None = None) -> None:
        """Let a held (over-concurrency) job start queueing now (or at mock time ``at``).

        ``at`` is when its slot freed (a transition's exact time), so a job
        released during a late tick queues from then, not from the tick.
        """
        job.release(self.clock.now() if at is None else at)
        self._schedule_next(job)

    def _schedule_next(self, job: Job) -> None:
        old = self._entries.pop(job.id, None)
        if old is not None:
            self._schedule.remove(old)
        due = job.next_due()
        if due is not None:
            self._sequence += 1
            entry = (due, self._sequence, job.id)
            self._schedule.add(entry)
            self._entries[job.id] = entry

    def _unschedule(self, job_id: str) -> None:
        entry = self._entries.pop(job_id, None)
        if entry is not None:
            self._schedule.remove(entry)

    def next_due(self) -> float | None:
        """Mock time of the earliest scheduled transition, if any."""
        schedule = self._schedule
        return schedule[0][0] if schedule else None

    def tick(self) -> list[Transition]:
        """Apply every transition due by now and return them."""
        now = self.clock.now()
        applied: list[Transition] = []
        schedule = self._schedule
        while schedule and schedule[0][0] <= now:
            due, _, job_id = schedule.pop(0)
            del self._entries[job_id]
            job = self._jobs.get(job_id)
            if job is None:
                continue
            if job.next_due() != due:
                # Changed without the world being told: schedule what is due now.
                self._schedule_next(job)
                continue
            transitions = advance_by_clock(job, now)
            self._emit(transitions)
            applied.extend(transitions)
            self._schedule_next(job)
        return applied

    def tick_for_request(self) -> list[Transition]:
        """What a request does first: :meth:`tick`, so a create sees the slot and the money
        of a job the clock already ended (a shared store's world leaves it to its tickers)."""
        return self.tick()

    def _evict(self) -> None:
        """Drop the earliest finished job still stored, else the oldest job: O(1) amortised."""
        while len(self._jobs) > self.max_jobs or (
            self.job_bytes > self.max_job_bytes and len(self._jobs) > 1
        ):
            victim: str | None = None
            while self._finished:
                candidate, _ = self._finished.popitem(last=False)
                job = self._jobs.get(candidate)
                if job is not None and job.terminal:
                    victim = candidate
                    break
            if victim is None:
                victim = next(iter(self._jobs))
            evicted = self._jobs.pop(victim)
            self.job_bytes -= evicted.size
            del self._by_number[self._number.pop(victim)]
            self._unschedule(victim)
            if not evicted.terminal:
                # Whoever holds something for it (money, a slot) must let go.
                for listener in self._eviction_listeners:
                    listener(evicted)

    def reset(self) -> None:
        """Forget every job, scheduled transition and journal entry."""
        self._jobs.clear()
        self.job_bytes = 0
        self._by_number.clear()
        self._number.clear()
        self._schedule.clear()
        self._entries.clear()
        self._finished.clear()
        self.journal.clear()
        self._random = random.Random(self.seed)
        self.changes += 1
