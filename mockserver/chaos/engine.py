"""Chaos decisions for one mock: which lifecycle perturbations, from which seed (pure).

A :class:`ChaosEngine` belongs to one mock world. Each chaos request gets its
own ``random.Random`` seeded from ``(seed, n)`` where ``n`` counts the chaos
requests made with that seed, so a client that makes the same calls in the
same order meets exactly the same chaos again: one seed replays one run.

Perturbations (each taken with a probability scaled by ``intensity``):

* **long job** (create): the plan is lengthened, so polls see the same
  non-terminal state many times (clock mode: 15-60 s queued and 60-200 s
  running; poll mode: 3-8 times the polls per phase);
* **poll error burst** (poll): 1-3 polls in a row answered 429, 500, 502 or
  503 in the provider's own envelope and transport, with ``Retry-After: 1-2``
  on 429 and 503 (Eachlabs documents Retry-After; WaveSpeed's SDK retries GETs
  on 429 and 5xx; Apikley sends 429 as a real HTTP 429); then at least three
  calm polls;
* **webhook duplicate** / **out of order** / **late** (create): the final
  webhook is delivered twice (the ``webhook_duplicate`` effect), followed by a
  stale earlier-state payload (``webhook_out_of_order``), or 15-60 mock
  seconds after the job ends.

Everything that was done is kept in :attr:`ChaosEngine.log` for the report.
"""

from __future__ import annotations

import random
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from mockserver.domain.errors import MockError

__all__ = ["BURST_CODES", "ChaosEngine", "Perturbation"]

#: Codes a poll error burst draws from (429 twice as likely).
BURST_CODES = (429, 429, 500, 502, 503)
#: Polls after a burst before another may start.
CALM_POLLS = 3
#: Perturbations kept per mock (a ring would lose the start of a story).
MAX_LOG = 5_000


@dataclass(frozen=True)
class Perturbation:
    """One thing chaos did: on which chaos request, to which call, what."""

    request: int
    provider: str
    endpoint: str | None
    kind: str
    detail: str = ""

    def __str__(self) -> str:
        where = f"{self.provider} {self.endpoint or '-'}"
        return f"#{self.request} {where}: {self.kind}{' ' + self.detail if self.detail else ''}"


class ChaosEngine:
    """Chaos state of one mock: request counters, error bursts, the log."""

    def __init__(self, *, polls_per_phase: int | None = None) -> None:
        self.polls_per_phase = polls_per_phase
        self.requests = 0
        self.log: list[Perturbation] = []
        self._counters: dict[int, int] = {}
        self._burst: dict[str, int] = {}
        self._calm: dict[str, int] = {}

    def rng(self, seed: int) -> random.Random:
        """A Random for the next chaos request made with ``seed``."""
        self.requests += 1
        n = self._counters.get(seed, 0)
        self._counters[seed] = n + 1
        return random.Random(f"genmock-chaos:{seed}:{n}")

    def record(self, provider: str, endpoint: str | None, kind: str, detail: str = "") -> None:
        """Keep one perturbation for the report."""
        if len(self.log) < MAX_LOG:
            self.log.append(Perturbation(self.requests, provider, endpoint, kind, detail))

    # --- create -------------------------------------------------------------
    def create_overrides(
        self, rng: random.Random, provider: str, intensity: float
    ) -> dict[str, Any]:
        """Plan and webhook overrides for a new job (the adapter's scenario hook)."""
        overrides: dict[str, Any] = {}
        if rng.random() < intensity * 0.8:
            if self.polls_per_phase:
                polls = self.polls_per_phase * rng.choice((3, 5, 8))
                overrides["polls_per_phase"] = polls
                self.record(provider, "create", "long job", f"{polls} polls per phase")
            else:
                queued = float(rng.choice((15, 30, 60)))
                running = float(rng.choice((60, 120, 200)))
                overrides["queue_seconds"] = queued
                overrides["run_seconds"] = running
                self.record(provider, "create", "long job",
                            f"{queued:g} s queued, {running:g} s running")
        if rng.random() < intensity * 0.6:
            overrides["webhook_duplicate"] = True
            self.record(provider, "create", "webhook duplicate")
        if rng.random() < intensity * 0.4:
            overrides["webhook_out_of_order"] = True
            self.record(provider, "create", "webhook out of order",
                        "a stale earlier-state payload after the final one")
        if rng.random() < intensity * 0.6:
            late = float(rng.choice((15, 30, 60)))
            overrides["webhook_late"] = late
            self.record(provider, "create", "webhook late", f"{late:g} s after the job ends")
        return overrides

    # --- poll ---------------------------------------------------------------
    def poll_error(
        self, rng: random.Random, provider: str, intensity: float, codes: Collection[int]
    ) -> MockError | None:
        """The error this poll meets, if an error burst is on (or starts now)."""
        left = self._burst.get(provider, 0)
        if left <= 0:
            calm = self._calm.get(provider, 0)
            if calm > 0:
                self._calm[provider] = calm - 1
                return None
            if rng.random() >= intensity * 0.35:
                return None
            left = rng.randint(1, 3)
        self._burst[provider] = left - 1
        if left - 1 <= 0:
            self._calm[provider] = CALM_POLLS
        allowed = [code for code in BURST_CODES if code in codes] or [500]
        status = rng.choice(allowed)
        retry_after = float(rng.choice((1, 2))) if status in (429, 503) else None
        detail = f"{status}" + (f" Retry-After {retry_after:g}" if retry_after else "")
        self.record(provider, "poll", "error", detail)
        return MockError(
            status,
            "",  # the provider's own catalogue message
            details="chaos: poll error burst",
            rule="chaos",
            retry_after=retry_after,
        )
