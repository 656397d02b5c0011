"""Rate limits: creates per sliding window and jobs in flight at once.

Both limits are per ``(provider, key)`` and run on the mock clock (the caller
passes ``now``), so a test with a manual clock can check them to the second.

Creates per window
    A create at time ``t`` counts while ``now < t + window``. Over the limit,
    :meth:`RateLimiter.check_create` raises ``MockError(429)`` whose
    ``retry_after`` is the whole number of seconds (rounded **up**) until
    enough creates have left the window: a client that waits exactly that long
    succeeds, one that waits a second less is refused again. Refused creates
    do not count.

Jobs in flight
    A job holds a slot from its create until it ends (succeeds, fails or is
    cancelled). At the limit a provider either refuses (``over_limit:
    "reject"``, Eachlabs: 429) or accepts the job and holds it queued until a
    slot frees (``"queue"``, WaveSpeed). For a refusal no one can know when a
    slot frees; the ``Retry-After`` heuristic is the time until the
    soonest-ending job in flight is *estimated* to end, when the caller passes
    that estimate (``soonest_end``), else 1 s. The window limit still refuses
    in queue mode.

Memory is bounded: a window keeps at most ``limit`` timestamps and is trimmed
on every check; the slot sets hold only jobs not yet ended; idle keys are
swept regularly (:meth:`RateLimiter.sweep`).

Usage by the world::

    decision = limiter.check_create(provider, key, now, overrides=...)   # may raise 429
    ...                                   # other checks (402) may still refuse
    limiter.record_create(provider, key, now, job.id, decision)
    job.held = decision.queued
    ...
    for job_id in limiter.job_ended(provider, key, job.id):   # when a job ends
        world.release(world.get(job_id))                       # promoted, now in flight
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from mockserver.domain.errors import MockError
from mockserver.provider_spec import RateLimits

__all__ = [
    "Decision",
    "LimitOverrides",
    "RateLimitPolicy",
    "RateLimiter",
    "retry_after_seconds",
]

OverLimit = Literal["reject", "queue"]

#: Policies with overrides applied that are kept (see RateLimiter.policy).
_APPLIED_CACHE_SIZE = 1_024
#: Idle keys are swept from memory every this many recorded creates.
SWEEP_EVERY = 1_000


def _fact(value: Any) -> Any:
    if isinstance(value, Mapping) and "value" in value and "provenance" in value:
        return value["value"]
    return value


def _positive_int(value: Any, what: str) -> int | None:
    value = _fact(value)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 <= value <= MAX_LIMIT_COUNT  # NaN fails this too
    ):
        raise ValueError(
            f"{what} must be a number from 0 to {MAX_LIMIT_COUNT}, got {_short(value)}"
        )
    return int(value)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


#: Largest count limit (creates per window, jobs in flight) a key may be given.
MAX_LIMIT_COUNT = 1_000_000_000
#: Longest rate window a key may be given: a year.
MAX_WINDOW_SECONDS = 31_536_000


@dataclass(frozen=True)
class LimitOverrides:
    """Per-key changes to a provider's limits (``None`` keeps the provider's).

    ``tier`` picks one of the provider's named tiers (WaveSpeed: bronze,
    silver, ...) before the numeric overrides apply.
    """

    creates_per_window: int | None = None
    window_seconds: float | None = None
    concurrent: int | None = None
    over_limit: OverLimit | None = None
    tier: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LimitOverrides:
        """Read the admin API / config form; unknown keys are a ``ValueError``."""
        known = {"creates_per_window", "window_seconds", "concurrent", "over_limit", "tier"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown limit field(s): {', '.join(sorted(unknown))}")
        window = data.get("window_seconds")
        if window is not None and (
            isinstance(window, bool)
            or not isinstance(window, int | float)
            or not 0 < window <= MAX_WINDOW_SECONDS  # NaN fails this too
        ):
            raise ValueError(
                f"window_seconds must be a number over 0 and at most {MAX_WINDOW_SECONDS} "
                f"(a year), got {_short(window)}"
            )
        over = data.get("over_limit")
        if over not in (None, "reject", "queue"):
            raise ValueError(f"over_limit must be 'reject' or 'queue', got {over!r}")
        tier = data.get("tier")
        return cls(
            creates_per_window=_positive_int(data.get("creates_per_window"), "creates_per_window"),
            window_seconds=None if window is None else float(window),
            concurrent=_positive_int(data.get("concurrent"), "concurrent"),
            over_limit=over,
            tier=None if tier is None else str(tier),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (only the fields that override something)."""
        return {
            name: value
            for name, value in (
                ("creates_per_window", self.creates_per_window),
                ("window_seconds", self.window_seconds),
                ("concurrent", self.concurrent),
                ("over_limit", self.over_limit),
                ("tier", self.tier),
            )
            if value is not None
        }

    def merged(self, other: LimitOverrides) -> LimitOverrides:
        """These overrides with ``other``'s non-null fields on top."""
        return replace(self, **{k: v for k, v in other.to_dict().items()})


@dataclass(frozen=True)
class RateLimitPolicy:
    """One provider's limits; ``None`` means no such limit."""

    creates_per_window: int | None = None
    window_seconds: float = 60.0
    concurrent: int | None = None
    over_limit: OverLimit = "reject"
    #: Concurrency applies only while the balance is at most this (Eachlabs [DOC]).
    concurrent_when_balance_at_most: float | None = None
    #: Named tiers: name -> (creates per window, window seconds, concurrent).
    tiers: Mapping[str, tuple[int | None, float, int | None]] = field(default_factory=dict)

    @classmethod
    def from_contract(cls, contract: Mapping[str, Any] | None) -> RateLimitPolicy:
        """Build from a provider contract document or its ``rate_limits`` section.

        For callers holding a plain mapping (tests); code holding a loaded
        contract passes ``contract.spec.rate_limits`` to :meth:`from_spec`.
        """
        if not contract:
            return cls()
        section: Mapping[str, Any] = contract
        if isinstance(contract.get("rate_limits"), Mapping):
            section = contract["rate_limits"]
        return cls.from_spec(RateLimits.of(section))

    @classmethod
    def from_spec(cls, limits: RateLimits) -> RateLimitPolicy:
        """Build from a provider contract's typed ``rate_limits`` section.

        ``creates: {limit, window_seconds}``, ``concurrent: {limit,
        over_limit, applies_when_balance_at_most}`` and ``tiers: {name:
        {videos_per_minute | creates_per_minute, concurrent}}``. An absent
        section means no limits.
        """
        window = limits.creates_window_seconds
        over_text = limits.over_limit or "reject"
        if over_text not in ("reject", "queue"):
            raise ValueError(
                f"concurrent.over_limit must be 'reject' or 'queue', got {over_text!r}"
            )
        over: OverLimit = "queue" if over_text == "queue" else "reject"
        tiers: dict[str, tuple[int | None, float, int | None]] = {}
        for name, (per_minute, concurrent) in limits.tiers.items():
            tiers[name] = (
                _positive_int(per_minute, f"tier {name} per minute"),
                60.0,
                _positive_int(concurrent, f"tier {name} concurrent"),
            )
        balance_cap = limits.concurrent_when_balance_at_most
        return cls(
            creates_per_window=_positive_int(limits.creates_limit, "creates.limit"),
            window_seconds=60.0 if window is None else float(window),
            concurrent=_positive_int(limits.concurrent_limit, "concurrent.limit"),
            over_limit=over,
            concurrent_when_balance_at_most=None if balance_cap is None else float(balance_cap),
            tiers=tiers,
        )

    def apply(self, overrides: LimitOverrides | None) -> RateLimitPolicy:
        """This policy with a key's tier and overrides applied."""
        if overrides is None:
            return self
        policy = self
        # A key's tier is a WaveSpeed notion; providers without tiers ignore it,
        # so one key can carry a tier and still be used everywhere.
        if overrides.tier is not None and self.tiers:
            if overrides.tier not in self.tiers:
                raise ValueError(
                    f"unknown tier {overrides.tier!r}; known: {', '.join(sorted(self.tiers))}"
                )
            creates, window, concurrent = self.tiers[overrides.tier]
            policy = replace(
                policy, creates_per_window=creates, window_seconds=window, concurrent=concurrent
            )
        changes: dict[str, Any] = {}
        if overrides.creates_per_window is not None:
            changes["creates_per_window"] = overrides.creates_per_window
        if overrides.window_seconds is not None:
            changes["window_seconds"] = overrides.window_seconds
        if overrides.concurrent is not None:
            changes["concurrent"] = overrides.concurrent
        if overrides.over_limit is not None:
            changes["over_limit"] = overrides.over_limit
        return replace(policy, **changes)


@dataclass(slots=True)
class Decision:
    """What to do with an admitted create: start now, or hold it queued.

    Read only; one per create, so not frozen (a frozen dataclass's
    ``__init__`` goes through ``object.__setattr__`` for every field).
    """

    action: Literal["start", "queue"]
    #: Jobs in flight for the key before this one (for logs and the admin API).
    in_flight: int = 0
    #: Creates in the current window before this one.
    window_count: int = 0

    @property
    def queued(self) -> bool:
        """Whether the job must wait for a slot (``Job.held``)."""
        return self.action == "queue"


def retry_after_seconds(now: float, free_at: float) -> int:
    """Whole seconds (at least 1) to wait from ``now`` until ``free_at`` has come.

    Rounded up, and checked with the same float arithmetic a client's clock
    will do (``now + n >= free_at``), so waiting the answer is always enough
    and waiting one second less never is (unless that would be 0).
    """
    wait = max(1, math.ceil(free_at - now))
    while wait > 1 and now + (wait - 1) >= free_at:
        wait -= 1
    while now + wait < free_at:
        wait += 1
    return wait


class CreateWindow:
    """The mock times of a key's creates still in its sliding window.

    Run-length encoded: creates at the same mock time share one entry. On a
    manual clock that is not advanced every create has the same time, and a
    plain list of times would grow by one entry per create for ever (nothing
    ever leaves the window); here it stays one entry.
    """

    __slots__ = ("_runs", "count")

    def __init__(self) -> None:
        self._runs: deque[list[float | int]] = deque()  # [time, creates at it], oldest first
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def append(self, at: float) -> None:
        """Count a create at mock time ``at`` (times never go back)."""
        runs = self._runs
        if runs and runs[-1][0] == at:
            runs[-1][1] += 1
        else:
            runs.append([at, 1])
        self.count += 1

    def trim(self, now: float, window: float) -> None:
        """Forget creates that left the window by ``now`` (``time + window <= now``)."""
        runs = self._runs
        while runs and runs[0][0] + window <= now:
            self.count -= int(runs.popleft()[1])

    def time_of(self, index: int) -> float:
        """Mock time of the ``index``-th oldest create in the window (0 = oldest)."""
        if not 0 <= index < self.count:
            raise IndexError(index)
        for at, creates in self._runs:
            if index < creates:
                return float(at)
            index -= int(creates)
        raise IndexError(index)  # pragma: no cover - count and runs agree


@dataclass
class _KeyState:
    creates: CreateWindow = field(default_factory=CreateWindow)
    in_flight: set[str] = field(default_factory=set)
    # Insertion-ordered: the first held job is the first to start.
    waiting: dict[str, None] = field(default_factory=dict)
    # The window length last in force for this key (it may be overridden).
    window: float = 60.0


class RateLimiter:
    """Windows and slots of every ``(provider, key)`` of one world."""

    def __init__(self, policies: Mapping[str, RateLimitPolicy] | None = None) -> None:
        self._policies: dict[str, RateLimitPolicy] = dict(policies or {})
        #: (provider, overrides) -> policy in force: applying overrides builds new
        #: frozen policies, and a create asks two or three times.
        self._applied: dict[
            tuple[str, int], tuple[LimitOverrides | None, RateLimitPolicy]
        ] = {}
        self._state: dict[tuple[str, str], _KeyState] = {}
        self._records = 0

    @classmethod
    def from_contracts(cls, contracts: Mapping[str, Mapping[str, Any]]) -> RateLimiter:
        """One policy per provider from ``{provider: provider contract}``."""
        return cls({p: RateLimitPolicy.from_contract(c) for p, c in contracts.items()})

    @classmethod
    def from_specs(cls, limits: Mapping[str, RateLimits]) -> RateLimiter:
        """One policy per provider from ``{provider: its typed rate_limits}``."""
        return cls({p: RateLimitPolicy.from_spec(section) for p, section in limits.items()})

    def known_tiers(self) -> set[str]:
        """Every tier name some provider's policy knows."""
        return {name for policy in self._policies.values() for name in policy.tiers}

    def set_policy(self, provider: str, policy: RateLimitPolicy) -> None:
        """Replace a provider's limits."""
        self._policies[provider] = policy
        self._applied.clear()

    def policy(self, provider: str, overrides: LimitOverrides | None = None) -> RateLimitPolicy:
        """The limits in force for a key of ``provider`` (no policy: no limits)."""
        # Keyed by identity (the account's own overrides object, asked several
        # times per create): hashing the dataclass costs more than the lookup.
        cache_key = (provider, id(overrides))
        cached = self._applied.get(cache_key)
        if cached is not None and cached[0] is overrides:
            return cached[1]
        policy = self._policies.get(provider, RateLimitPolicy()).apply(overrides)
        if len(self._applied) >= _APPLIED_CACHE_SIZE:
            self._applied.clear()  # many distinct overrides: a bound, not an LRU
        self._applied[cache_key] = (overrides, policy)
        return policy

    def forget_key(self, key: str) -> None:
        """Drop the windows and slots of a key the accounts evicted (least recently used).

        Its jobs still in flight free nothing later (:meth:`job_ended` finds no
        state); only a key with jobs waiting in line for a slot is kept, as
        they must still start.
        """
        for provider in list(self._policies):
            state = self._state.get((provider, key))
            if state is not None and not state.waiting:
                del self._state[(provider, key)]

    def _key(self, provider: str, key: str) -> _KeyState:
        state = self._state.get((provider, key))
        if state is None:  # not setdefault: that would build a state per call
            state = self._state[(provider, key)] = _KeyState()
        return state

    @staticmethod
    def _trim(state: _KeyState, now: float) -> None:
        state.creates.trim(now, state.window)

    def check_create(
        self,
        provider: str,
        key: str,
        now: float,
        *,
        overrides: LimitOverrides | None = None,
        soonest_end: float | Callable[[], float | None] | None = None,
        balance: float | None = None,
    ) -> Decision:
        """Admit a create or raise ``MockError(429)`` with a correct ``retry_after``.

        Nothing is recorded: call :meth:`record_create` once the create is
        really accepted. ``soonest_end`` is the estimated end (mock time) of
        the soonest-ending job in flight for this key, for the concurrency
        ``Retry-After``; ``balance`` the account's balance, for a concurrency
        limit that applies only at low balances.
        """
        policy = self.policy(provider, overrides)
        state = self._key(provider, key)
        state.window = policy.window_seconds
        self._trim(state, now)
        waits: list[int] = []
        reasons: list[str] = []
        limit = policy.creates_per_window
        if limit is not None and len(state.creates) >= limit:
            if limit == 0:
                raise MockError(429, "Rate limit exceeded: creates are disabled for this key")
            # The create that must leave is the (count - limit + 1)-th oldest.
            leaving = state.creates.time_of(len(state.creates) - limit)
            waits.append(retry_after_seconds(now, leaving + policy.window_seconds))
            reasons.append(f"{limit} creates per {policy.window_seconds:g} s")
        action: Literal["start", "queue"] = "start"
        full = (
            policy.concurrent is not None
            and self._concurrency_applies(policy, balance)
            and len(state.in_flight) >= policy.concurrent
        )
        if policy.over_limit == "queue" and (full or state.waiting):
            # Behind jobs already waiting even if a slot is free: first come, first served.
            action = "queue"
        elif full:
            end = soonest_end() if callable(soonest_end) else soonest_end
            wait = 1 if end is None else retry_after_seconds(now, end)
            waits.append(wait)
            reasons.append(f"{policy.concurrent} jobs in flight")
        if waits:
            # Both limits hit: the later of the two is the first time both pass.
            wait = max(waits)
            raise MockError(
                429,
                f"Rate limit exceeded ({' and '.join(reasons)}); retry after {wait} s",
                details=f"limit: {'; '.join(reasons)}",
                retry_after=float(wait),
                headers={"Retry-After": str(wait)},
            )
        return Decision(
            action=action, in_flight=len(state.in_flight), window_count=len(state.creates)
        )

    @staticmethod
    def _concurrency_applies(policy: RateLimitPolicy, balance: float | None) -> bool:
        cap = policy.concurrent_when_balance_at_most
        return cap is None or balance is None or float(balance) <= cap

    def record_create(
        self, provider: str, key: str, now: float, job_id: str, decision: Decision
    ) -> None:
        """Count an accepted create in the window and give the job a slot or a place in line."""
        state = self._key(provider, key)
        self._trim(state, now)
        state.creates.append(now)
        self._records += 1
        if self._records % SWEEP_EVERY == 0:
            self.sweep(now)
        if decision.queued:
            state.waiting[job_id] = None
        else:
            state.in_flight.add(job_id)

    def admit(
        self,
        provider: str,
        key: str,
        now: float,
        job_id: str,
        *,
        overrides: LimitOverrides | None = None,
        soonest_end: float | Callable[[], float | None] | None = None,
        balance: float | None = None,
    ) -> Decision:
        """:meth:`check_create` then :meth:`record_create` in one call."""
        decision = self.check_create(
            provider, key, now, overrides=overrides, soonest_end=soonest_end, balance=balance
        )
        self.record_create(provider, key, now, job_id, decision)
        return decision

    def job_started(self, provider: str, key: str, job_id: str) -> None:
        """Give ``job_id`` a slot now (moving it out of line if it was waiting)."""
        state = self._key(provider, key)
        state.waiting.pop(job_id, None)
        state.in_flight.add(job_id)

    def job_ended(
        self,
        provider: str,
        key: str,
        job_id: str,
        *,
        overrides: LimitOverrides | None = None,
        balance: float | None = None,
    ) -> list[str]:
        """Free the job's slot (or its place in line); return the jobs that now start.

        Waiting jobs are promoted first come, first served, as many as free
        slots allow; they hold a slot on return, so the caller only releases
        them (``World.release``).
        """
        state = self._state.get((provider, key))
        if state is None:
            return []
        state.in_flight.discard(job_id)
        state.waiting.pop(job_id, None)
        promoted: list[str] = []
        while state.waiting and self.slot_free(provider, key, overrides=overrides, balance=balance):
            next_id = next(iter(state.waiting))
            self.job_started(provider, key, next_id)
            promoted.append(next_id)
        if not state.in_flight and not state.waiting and not state.creates:
            del self._state[(provider, key)]
        return promoted

    def slot_free(
        self,
        provider: str,
        key: str,
        *,
        overrides: LimitOverrides | None = None,
        balance: float | None = None,
    ) -> bool:
        """Whether one more job could be in flight for this key now."""
        policy = self.policy(provider, overrides)
        if policy.concurrent is None or not self._concurrency_applies(policy, balance):
            return True
        state = self._state.get((provider, key))
        return state is None or len(state.in_flight) < policy.concurrent

    def sweep(self, now: float) -> int:
        """Drop the state of keys with nothing in flight, waiting or in the window.

        Called every :data:`SWEEP_EVERY` creates, so a client inventing a new
        key per request cannot grow the limiter without bound.
        """
        idle = []
        for ident, state in self._state.items():
            self._trim(state, now)
            if not state.in_flight and not state.waiting and not state.creates:
                idle.append(ident)
        for ident in idle:
            del self._state[ident]
        return len(idle)

    def in_flight(self, provider: str, key: str) -> frozenset[str]:
        """Ids of the key's jobs holding a slot."""
        state = self._state.get((provider, key))
        return frozenset(state.in_flight) if state else frozenset()

    def anyone_waiting(self, provider: str, key: str) -> bool:
        """Whether any job of the key is held until a slot frees."""
        state = self._state.get((provider, key))
        return state is not None and bool(state.waiting)

    def waiting(self, provider: str, key: str) -> tuple[str, ...]:
        """Ids of the key's jobs held until a slot frees, first in line first."""
        state = self._state.get((provider, key))
        return tuple(state.waiting) if state else ()

    def window_count(self, provider: str, key: str, now: float) -> int:
        """Creates of the key still inside its window at ``now``."""
        state = self._state.get((provider, key))
        if state is None:
            return 0
        self._trim(state, now)
        return len(state.creates)

    def to_dict(self, now: float) -> dict[str, Any]:
        """JSON-ready state for the admin API."""
        self.sweep(now)
        out: dict[str, Any] = {}
        for (provider, key), state in sorted(self._state.items()):
            out.setdefault(provider, {})[key] = {
                "creates_in_window": len(state.creates),
                "in_flight": sorted(state.in_flight),
                "waiting": list(state.waiting),
            }
        return out

    def reset(self) -> None:
        """Forget every window and slot (policies stay)."""
        self._state.clear()
