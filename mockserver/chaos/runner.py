"""Run a client against N seeded chaos worlds; report the seeds that broke it.

::

    from mockserver.chaos import run_chaos

    def scenario(mock):                       # your client, pointed at the mock
        client = MyClient(base_url=mock.base_url("eachlabs"), sleep=mock.advance)
        client.generate(...)

    report = run_chaos(scenario, seeds=range(50), providers=["eachlabs"])
    assert not report.failing_seeds, report.summary()
    report.replay(17, reraise=True)           # one seed, the same failure, with its traceback

Each seed gets a fresh mock (in-process by default, or served on a loopback
port) with a manual clock, ids seeded with the seed, chaos on at that seed and
response validation on. Everything random comes from the seed, so a client
that makes the same calls meets the same chaos: :meth:`ChaosReport.replay`
reproduces a failure exactly.
"""

from __future__ import annotations

import asyncio
import inspect
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from mockserver.config import ChaosConfig, MockConfig
from mockserver.testing import ProviderMock, mock_providers, serve_providers

__all__ = ["ChaosReport", "ClientFn", "SeedResult", "run_chaos"]

#: What run_chaos calls: ``fn(mock)``, sync or async; raising (or failing an assert) = broken.
ClientFn = Callable[[ProviderMock], Any]


@dataclass(frozen=True)
class SeedResult:
    """What happened to the client under one seed."""

    seed: int
    error_type: str | None = None
    error_message: str | None = None
    traceback: str = ""
    #: What chaos did, in order (``#n provider endpoint: kind detail``).
    perturbations: tuple[str, ...] = ()
    #: Responses that broke their contract schema (chaos must never cause one).
    violations: tuple[str, ...] = ()
    #: Exceptions inside the mock (bugs in the mock, not in the client).
    mock_errors: tuple[str, ...] = ()
    seconds: float = 0.0
    error: BaseException | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """The client got through and the mock kept its contract."""
        return self.error_type is None and not self.violations and not self.mock_errors

    @property
    def failure(self) -> str:
        """``Type: message`` of the client's exception ('' when none)."""
        if self.error_type is None:
            return ""
        return f"{self.error_type}: {self.error_message}"

    def describe(self, perturbations: int = 12) -> str:
        """A few lines: the seed, what broke, what chaos did."""
        lines = [f"seed {self.seed}: {self.failure or 'ok'}"]
        lines += [f"  contract violation: {v}" for v in self.violations[:3]]
        lines += [f"  mock error: {e}" for e in self.mock_errors[:3]]
        shown = self.perturbations[:perturbations]
        lines.append(f"  perturbations ({len(self.perturbations)}):")
        lines += [f"    {p}" for p in shown]
        if len(self.perturbations) > len(shown):
            lines.append(f"    ... {len(self.perturbations) - len(shown)} more")
        return "\n".join(lines)


@dataclass
class ChaosReport:
    """The results of :func:`run_chaos`, one per seed, and how to replay one."""

    results: list[SeedResult]
    runner: Callable[[int], SeedResult] = field(repr=False)
    providers: tuple[str, ...] | None = None
    intensity: float = 0.5
    seconds: float = 0.0

    @property
    def failing_seeds(self) -> list[int]:
        """Seeds under which the client (or the mock) failed, in run order."""
        return [r.seed for r in self.results if not r.ok]

    @property
    def passing_seeds(self) -> list[int]:
        """Seeds the client got through."""
        return [r.seed for r in self.results if r.ok]

    @property
    def failures(self) -> list[SeedResult]:
        """The failing results."""
        return [r for r in self.results if not r.ok]

    def result(self, seed: int) -> SeedResult:
        """The result of ``seed`` in this run (KeyError if it was not run)."""
        for found in self.results:
            if found.seed == seed:
                return found
        raise KeyError(seed)

    @property
    def seeds_per_second(self) -> float:
        """Throughput of the run."""
        return len(self.results) / self.seconds if self.seconds > 0 else 0.0

    def replay(self, seed: int, *, reraise: bool = False) -> SeedResult:
        """Run ``seed`` again, alone; the same calls meet the same chaos.

        ``reraise=True`` lets the client's exception propagate (a test shows
        its traceback) instead of returning it in the result.
        """
        result = self.runner(seed)
        if reraise and result.error is not None:
            raise result.error
        return result

    def summary(self, limit: int = 5) -> str:
        """Readable: how many seeds failed, and for the first few the failure and the chaos."""
        where = ", ".join(self.providers) if self.providers else "all providers"
        head = (
            f"chaos: {len(self.results)} seeds, {len(self.failing_seeds)} failing "
            f"({where}; intensity {self.intensity:g}; {self.seeds_per_second:.1f} seeds/s)"
        )
        if not self.failing_seeds:
            return head
        lines = [head, f"failing seeds: {self.failing_seeds}"]
        for result in self.failures[:limit]:
            lines.append(result.describe())
        lines.append(f"replay one: report.replay({self.failing_seeds[0]}, reraise=True)")
        return "\n".join(lines)

    def assert_ok(self) -> None:
        """AssertionError with :meth:`summary` when any seed failed."""
        if self.failing_seeds:
            raise AssertionError(self.summary())

    def __str__(self) -> str:
        return self.summary()


def _config(base: MockConfig | Mapping[str, Any] | None, seed: int, intensity: float) -> MockConfig:
    if base is None:
        config = MockConfig()
    elif isinstance(base, MockConfig):
        config = base
    else:
        config = MockConfig.from_mapping(base)
    return replace(config, seed=seed, chaos=ChaosConfig(enabled=True, seed=seed,
                                                         intensity=intensity))


def _call(client_fn: ClientFn, mock: ProviderMock) -> None:
    outcome = client_fn(mock)
    if inspect.isawaitable(outcome):

        async def wait() -> Any:
            return await outcome

        asyncio.run(wait())


def run_seed(
    client_fn: ClientFn,
    seed: int,
    *,
    providers: Sequence[str] | None = None,
    in_process: bool = True,
    intensity: float = 0.5,
    config: MockConfig | Mapping[str, Any] | None = None,
    accounts: Mapping[str, Mapping[str, Any]] | None = None,
) -> SeedResult:
    """One seed: a fresh chaos mock, ``client_fn(mock)``, what happened."""
    options: dict[str, Any] = {
        "providers": providers,
        "config": _config(config, seed, intensity),
        "clock": "manual",
        "seed": seed,
        "accounts": accounts,
        "validate_responses": True,
    }
    mock: ProviderMock = mock_providers(**options) if in_process else serve_providers(**options)
    started = time.perf_counter()
    error: BaseException | None = None
    with mock:
        try:
            _call(client_fn, mock)
        except Exception as raised:  # the client's failure is the finding
            error = raised
        state = mock.state
        engine = state.chaos.engine  # None unless chaos ran
        perturbations = tuple(str(p) for p in engine.log) if engine is not None else ()
        violations = tuple(
            f"{v.method} {v.path} -> {v.status} ({v.schema}): {'; '.join(v.errors[:2])}"
            for v in state.contract_violations
        )
        mock_errors = tuple(f"{e.error_type} in {e.where}: {e.message}"
                            for e in state.unhandled_errors)
    return SeedResult(
        seed=seed,
        error_type=None if error is None else type(error).__name__,
        error_message=None if error is None else str(error),
        traceback="" if error is None else "".join(traceback.format_exception(error)),
        perturbations=perturbations,
        violations=violations,
        mock_errors=mock_errors,
        seconds=time.perf_counter() - started,
        error=error,
    )


def run_chaos(
    client_fn: ClientFn,
    *,
    seeds: Iterable[int] = range(50),
    providers: Sequence[str] | None = None,
    in_process: bool = True,
    intensity: float = 0.5,
    config: MockConfig | Mapping[str, Any] | None = None,
    accounts: Mapping[str, Mapping[str, Any]] | None = None,
) -> ChaosReport:
    """Call ``client_fn(mock)`` against a fresh chaos mock per seed; the report.

    ``client_fn`` gets the mock handle (``mock.base_url(provider)``,
    ``mock.advance`` as the client's sleep, ``mock.received``...); an exception
    or a failed assert marks the seed as failing. ``providers``: which to mock
    (default all). ``in_process=False`` serves each mock on a loopback port
    (for clients that do not use httpx). ``intensity``: 0..1. ``config``: a
    base configuration (its ``seed`` and ``[chaos]`` are replaced per seed).
    """
    if isinstance(providers, str):
        providers = (providers,)
    if not 0 <= intensity <= 1:
        raise ValueError(f"intensity must be between 0 and 1, got {intensity!r}")

    def runner(seed: int) -> SeedResult:
        return run_seed(client_fn, seed, providers=providers, in_process=in_process,
                        intensity=intensity, config=config, accounts=accounts)

    started = time.perf_counter()
    results = [runner(int(seed)) for seed in seeds]
    return ChaosReport(
        results=results,
        runner=runner,
        providers=None if providers is None else tuple(providers),
        intensity=intensity,
        seconds=time.perf_counter() - started,
    )
