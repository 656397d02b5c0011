"""Clocks the mock runs on.

Every timed behaviour (job progress, timing fields, webhook retries, rate
windows) reads one injected :class:`Clock`, so a test can run a 110 s job in
no time with :class:`ManualClock` and a developer can watch one finish in
seconds with a sped-up :class:`RealClock`.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar, Literal, Protocol, TypeGuard

#: Under this factor a job estimated at 35 s finishes in two seconds of wall time.
DEFAULT_SPEED = 17.5

#: Manual clocks start here (2026-01-01T00:00:00Z) so timestamps are stable in tests.
DEFAULT_MANUAL_START = 1_767_225_600.0


class Clock(Protocol):
    """Mock time in seconds since the Unix epoch."""

    def now(self) -> float:
        """Return the current mock time."""
        ...


class AdvancingClock(Clock, Protocol):
    """A clock the mock itself may move (every manual clock is one)."""

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` and return the new time."""
        ...


def is_manual(clock: Any) -> TypeGuard[AdvancingClock]:
    """Whether ``clock`` moves only when told to (a :class:`ManualClock`, or a
    store-backed clock in manual mode): decided by its ``mode``, not its class."""
    return getattr(clock, "mode", None) == "manual"


def is_real(clock: Any) -> bool:
    """Whether ``clock`` follows the wall clock (a :class:`RealClock`, or a
    store-backed clock in real mode; it then has ``speed``)."""
    return getattr(clock, "mode", None) == "real"


class ManualClock:
    """A clock that moves only when told to."""

    #: What :func:`is_manual` reads (a clock of another class may say the same).
    mode: ClassVar[Literal["manual"]] = "manual"

    def __init__(self, start: float = DEFAULT_MANUAL_START) -> None:
        self._now = start

    def now(self) -> float:
        """Return the current mock time."""
        return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (never backwards) and return the new time."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self._now += seconds
        return self._now


class RealClock:
    """Wall-clock time, optionally sped up, plus any manual advances.

    Mock time starts at the real time of creation and then runs ``speed`` times
    faster than the wall clock; ``advance`` still works, so the admin endpoint
    behaves the same on both clocks.
    """

    #: What :func:`is_real` reads (a clock of another class may say the same).
    mode: ClassVar[Literal["real"]] = "real"

    def __init__(self, speed: float = DEFAULT_SPEED) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._origin = time.time()
        self._monotonic_origin = time.monotonic()
        self._offset = 0.0

    def now(self) -> float:
        """Return the current mock time."""
        elapsed = time.monotonic() - self._monotonic_origin
        return self._origin + elapsed * self.speed + self._offset

    def advance(self, seconds: float) -> float:
        """Jump forward by ``seconds`` of mock time and return the new time."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self._offset += seconds
        return self.now()

    def wall_time(self, mock_time: float) -> float | None:
        """Unix time at which the clock read ``mock_time``; None once it was advanced
        (a jump makes earlier mock times ambiguous)."""
        if self._offset:
            return None
        return self._origin + (mock_time - self._origin) / self.speed

    def wall_seconds(self, mock_seconds: float) -> float:
        """How many real seconds until ``mock_seconds`` of mock time have passed."""
        return mock_seconds / self.speed
