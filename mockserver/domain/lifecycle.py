"""The job lifecycle, declared as data and advanced by a clock or by polls.

A job moves through neutral states (queued -> running -> succeeded | failed,
and cancelled from either of the first two). Each provider adapter maps these
to its own status words; nothing here knows a provider's vocabulary.

How a job moves is a :class:`Plan`: seconds spent queued and running (on the
mock's clock), or a number of polls per phase, and the outcome. Transition
times are exact: a job planned to start at t+2 s has ``started_at == t+2``
however late somebody looks, so timing fields agree with the clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class State(StrEnum):
    """Neutral job states shared by all providers."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        """Whether no transition leaves this state."""
        return self in TERMINAL


TERMINAL = frozenset({State.SUCCEEDED, State.FAILED, State.CANCELLED})

#: The allowed transitions; anything else is a bug in the caller.
TRANSITIONS: dict[State, frozenset[State]] = {
    State.QUEUED: frozenset({State.RUNNING, State.CANCELLED}),
    State.RUNNING: frozenset({State.SUCCEEDED, State.FAILED, State.CANCELLED}),
    State.SUCCEEDED: frozenset(),
    State.FAILED: frozenset(),
    State.CANCELLED: frozenset(),
}

#: Share of a job's estimated time spent queued before it starts running.
QUEUED_SHARE = 0.1


@dataclass(frozen=True, slots=True)
class Plan:
    """How one job will progress.

    With ``polls_per_phase`` set, the job ignores the clock and moves one phase
    (queued -> running -> outcome) every that many polls. ``stuck`` keeps it
    running for ever; ``outcome`` is the terminal state it reaches.
    """

    queue_seconds: float
    run_seconds: float
    outcome: State = State.SUCCEEDED
    polls_per_phase: int | None = None
    stuck: bool = False
    failure: str | None = None

    @classmethod
    def from_estimate(cls, seconds: float, **overrides: Any) -> Plan:
        """A plan for a job estimated to take ``seconds`` in all (overrides may set the timing)."""
        queue = round(seconds * QUEUED_SHARE, 3)
        return cls(**{"queue_seconds": queue, "run_seconds": seconds - queue, **overrides})


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """Where (and with which secret) to announce a job's end."""

    url: str
    secret: str | None = None


#: A job's scenario effects when it has none (shared: never mutated).
NO_EFFECTS: Mapping[str, Any] = MappingProxyType({})


@dataclass(slots=True)
class Job:
    """One generation job, in neutral terms.

    Typed fields carry what every adapter reads (where the creator addressed
    the mock, the webhook target, the scenario's effects, the price);
    ``provider_fields`` is the one slot for what only one provider's adapter
    needs (its own small dataclass: Eachlabs' ``version``, Apikley's raw
    ``param``), so adding a provider adds no field here.
    """

    id: str
    provider: str
    model_id: str
    key: str
    input: dict[str, Any]
    created_at: float
    plan: Plan
    state: State = State.QUEUED
    started_at: float | None = None
    finished_at: float | None = None
    updated_at: float = 0.0
    polls: int = 0
    #: Empty (a shared tuple, not a list per stored job) until the job succeeds.
    outputs: Sequence[str] = ()
    failure: str | None = None
    cost: Any = None
    scenario: str | None = None
    #: A job over a "queue" concurrency limit waits here until a slot frees.
    held: bool = False
    queued_since: float = 0.0
    #: The provider root and the media root the creator addressed (later URLs use them).
    base_url: str = ""
    media_base_url: str = ""
    #: Where to announce the end, or None.
    webhook: WebhookTarget | None = None
    #: A fault scenario's effects the adapters and the webhook sender honour
    #: (``sync_timeout``, ``output_expired``, ``webhook_refused`` ...); read only.
    effects: Mapping[str, Any] = field(default_factory=lambda: NO_EFFECTS)
    #: The admission's price record ``{amount, currency, label}`` (shared: read only).
    price: Mapping[str, Any] | None = None
    #: What only this job's provider adapter reads: its own dataclass, or None.
    provider_fields: Any = None
    #: The rate limiter's counts when the create was admitted (admission.unpack_counts;
    #: 0: not admitted through the limiter), for the job's timeline.
    admitted: int = 0
    #: Estimated bytes the stored job holds (set by the world, for its byte bound).
    size: int = 0

    def __post_init__(self) -> None:
        self.updated_at = self.created_at
        self.queued_since = self.created_at

    def release(self, now: float) -> None:
        """Let a held job start its queued phase now."""
        self.held = False
        self.queued_since = max(self.queued_since, now)

    @property
    def terminal(self) -> bool:
        """Whether the job has finished one way or another."""
        return self.state.terminal

    def phase_progress(self, now: float) -> float:
        """Fraction (0..1) of the current state's planned time already spent.

        Adapters use it to pick among several words for one state (Apikley
        says ``waiting`` and then ``queuing`` while a job is queued).
        """
        if self.state is State.QUEUED:
            start, length = self.queued_since, self.plan.queue_seconds
        elif self.state is State.RUNNING and self.started_at is not None:
            start, length = self.started_at, self.plan.run_seconds
        else:
            return 1.0
        if self.plan.polls_per_phase:
            return min(1.0, (self.polls % self.plan.polls_per_phase) / self.plan.polls_per_phase)
        if length <= 0:
            return 1.0
        return max(0.0, min(1.0, (now - start) / length))

    def next_due(self) -> float | None:
        """Mock time of the next clock-driven transition, or None if there is none."""
        if self.terminal or self.plan.polls_per_phase or self.held:
            return None
        if self.state is State.QUEUED:
            return self.queued_since + self.plan.queue_seconds
        if self.plan.stuck or self.started_at is None:
            return None
        return self.started_at + self.plan.run_seconds


@dataclass(frozen=True, slots=True)
class Transition:
    """A state change of one job, at an exact mock time."""

    job: Job
    before: State
    after: State
    at: float


def move(job: Job, after: State, at: float) -> Transition:
    """Move ``job`` to ``after`` at mock time ``at``; refuse transitions not in the table."""
    if after not in TRANSITIONS[job.state]:
        raise ValueError(f"job {job.id}: {job.state} -> {after} is not a transition")
    before = job.state
    job.state = after
    job.updated_at = at
    if after is State.RUNNING:
        job.started_at = at
    elif after.terminal:
        job.finished_at = at
        if after is State.FAILED:
            job.failure = job.failure or job.plan.failure or "internal"
    return Transition(job, before, after, at)


def _next_state(job: Job) -> State:
    return State.RUNNING if job.state is State.QUEUED else job.plan.outcome


def advance_by_clock(job: Job, now: float) -> list[Transition]:
    """Apply every clock-driven transition due by ``now``, each at its own exact time."""
    transitions: list[Transition] = []
    due = job.next_due()
    while due is not None and due <= now:
        transitions.append(move(job, _next_state(job), due))
        due = job.next_due()
    return transitions


def advance_by_poll(job: Job, now: float) -> list[Transition]:
    """Count one poll; with a polls-per-phase plan, move a phase every N polls."""
    job.polls += 1
    per_phase = job.plan.polls_per_phase
    if not per_phase or job.terminal or job.polls % per_phase:
        return []
    if job.held or (job.plan.stuck and job.state is State.RUNNING):
        return []
    return [move(job, _next_state(job), now)]
