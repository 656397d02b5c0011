"""The mock clock every worker shares: :class:`StoreClock` over a :class:`ClockStore`.

It is the domain's ``Clock`` (``now()``, ``advance()``, and ``mode``/``speed``
that ``domain.clock.is_manual``/``is_real`` read), with time kept in the store:
manual time is a field there, real time is derived from one epoch on the
store's own clock (``interface.ClockStore``). Whichever worker opens the
store first sets mode and speed; the others adopt them (:meth:`StoreClock.open`).

Reads within one request must not each cost a round trip (a poll reads the
clock five times today: ``bench/clock_reads.py``). The request path pins the
``now`` its first store reply carried (``get_job``/``create_context`` return
it) with :meth:`StoreClock.pinned`; while pinned, :meth:`now` answers from it.
The pin is a :mod:`contextvars` variable, so it holds for one request's task
and never leaks into another's (a background task must be started with a
fresh context, or before any pin is set). Unpinned (the ticker, the sender,
admin calls), :meth:`now` asks the store: one round trip.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Literal

from mockserver.store.interface import ClockStore

__all__ = ["StoreClock"]

#: The request's mock time, once its first store reply has it (None: not pinned).
_PINNED: ContextVar[float | None] = ContextVar("genmock_pinned_now", default=None)
#: Set by the provider request path (begin_request): only there may a read pin the
#: time. Background tasks (the ticker, the webhook sender, an event stream) run
#: for long and must read the store's time every time.
_IN_REQUEST: ContextVar[bool] = ContextVar("genmock_in_request", default=False)


class StoreClock:
    """Mock time kept in a store, shared by every worker on it."""

    __slots__ = ("_last", "mode", "speed", "store")

    def __init__(self, store: ClockStore, mode: Literal["manual", "real"], speed: float) -> None:
        self.store = store
        #: The latest time this worker read from the store (see :meth:`last_known`).
        self._last = 0.0
        #: What ``is_manual``/``is_real`` read: the store's mode, not this worker's wish.
        self.mode = mode
        self.speed = speed

    @classmethod
    def open(
        cls, store: ClockStore, mode: Literal["manual", "real"], start: float, speed: float
    ) -> StoreClock:
        """The store's clock, set up with these settings unless a worker already did."""
        settings = store.init_clock(mode, start, speed)
        return cls(store, settings.mode, settings.speed)

    def now(self) -> float:
        """The pinned request time, else the store's (one round trip; then pinned
        within a provider request)."""
        pinned = _PINNED.get()
        if pinned is not None:
            return pinned
        now = self._last = self.store.now()
        if _IN_REQUEST.get():
            _PINNED.set(now)
        return now

    def last_known(self) -> float:
        """The request's pinned time, else the latest this worker read: no round trip
        (a journal entry's time while the store is away)."""
        pinned = _PINNED.get()
        return self._last if pinned is None else pinned

    @staticmethod
    def begin_request() -> None:
        """A provider request starts in this task: its first store reply pins its time."""
        _IN_REQUEST.set(True)
        _PINNED.set(None)

    def pin(self, now: float) -> None:
        """Pin ``now`` (a store reply's time) if this task is a provider request."""
        self._last = now
        if _IN_REQUEST.get():
            _PINNED.set(now)

    def advance(self, seconds: float) -> float:
        """Move every worker's mock time forward; the new time (also pinned, if pinned)."""
        now = self._last = self.store.advance(seconds)
        if _PINNED.get() is not None:
            _PINNED.set(now)
        return now

    def wall_time(self, mock_time: float) -> float | None:
        """Unix time at which a real clock read ``mock_time`` (as ``RealClock.wall_time``);
        None for a manual clock, and once the clock was advanced (a jump makes earlier
        mock times ambiguous). One round trip."""
        if self.mode != "real":
            return None
        epoch, offset = self.store.clock_origin()
        if offset:
            return None
        return epoch + (mock_time - epoch) / self.speed

    def wall_seconds(self, mock_seconds: float) -> float:
        """Real seconds until ``mock_seconds`` of mock time pass (real mode)."""
        return mock_seconds / self.speed if self.mode == "real" else mock_seconds

    @staticmethod
    @contextmanager
    def pinned(now: float) -> Iterator[float]:
        """Within the block (this task's context), :meth:`now` answers ``now``."""
        token = _PINNED.set(now)
        try:
            yield now
        finally:
            _PINNED.reset(token)
