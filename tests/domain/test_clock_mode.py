"""Clock behaviour is decided by a clock's ``mode``, not its class (``domain/clock.py``).

A store-backed clock (issue 21) is neither a ManualClock nor a RealClock; the
app, the sender and the sync wait ask ``is_manual``/``is_real`` instead of
``isinstance``, so such a clock only has to say which it is.
"""

from __future__ import annotations

from mockserver.domain.clock import ManualClock, RealClock, is_manual, is_real
from mockserver.http.app import create_app
from mockserver.http.state import MockState


class _ModeClock:
    """A clock of another class that says it is manual (as a store clock would)."""

    mode = "manual"

    def __init__(self) -> None:
        self.time = 1000.0

    def now(self) -> float:
        return self.time

    def advance(self, seconds: float) -> float:
        self.time += seconds
        return self.time


def test_the_two_clocks_say_what_they_are() -> None:
    assert is_manual(ManualClock()) and not is_real(ManualClock())
    assert is_real(RealClock(2.0)) and not is_manual(RealClock(2.0))


def test_a_clock_without_a_mode_is_neither() -> None:
    class Bare:
        def now(self) -> float:
            return 0.0

    assert not is_manual(Bare()) and not is_real(Bare())


def test_a_clock_of_another_class_with_a_mode_is_treated_as_that_mode() -> None:
    clock = _ModeClock()
    assert is_manual(clock)
    state: MockState = create_app(clock=clock).state.mock
    assert state.clock_kind == "manual"
    assert state.advance(5) == 1005.0
