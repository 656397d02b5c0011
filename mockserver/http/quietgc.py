"""Full garbage collections while the server is quiet, not in the middle of a load.

CPython's cyclic collector walks every live container in a full (oldest
generation) collection. With 100,000 stored jobs that is a 50-100 ms pause,
and under sustained creates one comes every few seconds: it was most of the
mock's p99 latency. The mock's request paths make no reference cycles (the
suite checks that a create, poll, 4xx and forced error leave nothing for the
collector), so a full collection rarely frees anything; it is still needed
for the rare cycle (an exception kept with its traceback, a user's hook).

:class:`QuietCollector` therefore turns automatic full collections off and
runs them itself from a daemon thread: when no request has started for
``quiet_seconds``, or at the latest every ``max_interval_seconds`` even
under constant load.

Young collections stay automatic, and the wrapper also runs one itself every
``young_every_requests`` requests. CPython starts a young collection when
allocations minus deallocations of tracked objects pass a threshold; with a
full store each create frees an evicted job about as big as the one it
stores, the difference stays near zero, and the young generation grew to
60,000 objects between collections: a 20-80 ms pause in the middle of a
load. Collecting the middle generation too (``gc.collect(1)``) moves the
survivors straight to the old generation, so each is traversed once.
"""

from __future__ import annotations

import gc
import threading
import time
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["QuietCollector"]

#: An oldest-generation threshold that the counter never reaches: CPython then
#: never starts a full collection by itself.
_NEVER = 2**31 - 1


class QuietCollector:
    """An ASGI wrapper that notes when requests arrive and collects in the gaps.

    ``start()`` changes the process-wide collector settings; ``stop()``
    restores them. Use it around the one app a process serves.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        quiet_seconds: float = 0.5,
        min_interval_seconds: float = 30.0,
        max_interval_seconds: float = 600.0,
        check_seconds: float = 0.25,
        young_every_requests: int = 256,
    ) -> None:
        self.app = app
        self.quiet_seconds = quiet_seconds
        self.min_interval_seconds = min_interval_seconds
        self.max_interval_seconds = max_interval_seconds
        self.check_seconds = check_seconds
        self.young_every_requests = young_every_requests
        self.collections = 0
        self.young_collections = 0
        self._requests_left = young_every_requests
        self._last_request = time.monotonic()
        self._last_collection = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._saved: tuple[int, int, int] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._last_request = time.monotonic()
        if self._thread is not None:  # started: this process's collector is ours
            self._requests_left -= 1
            if self._requests_left <= 0:
                self._requests_left = self.young_every_requests
                gc.collect(1)  # a short pause now instead of a long one later
                self.young_collections += 1
        await self.app(scope, receive, send)

    def __getattr__(self, name: str) -> Any:
        # ``state`` and the rest of the wrapped app stay reachable through it.
        return getattr(self.app, name)

    def start(self) -> None:
        """Take over full collections (automatic young collections stay on)."""
        if self._thread is not None:
            return
        self._saved = gc.get_threshold()
        young, middle, _ = self._saved
        gc.set_threshold(young, middle, _NEVER)
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name="mockserver-quiet-gc", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and give the collector its thresholds back."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join()
        if self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None

    def due(self, now: float) -> bool:
        """Whether a full collection should run at ``now`` (monotonic seconds)."""
        since = now - self._last_collection
        if since >= self.max_interval_seconds:
            return True  # never quiet: collect anyway, rarely
        quiet = now - self._last_request >= self.quiet_seconds
        return quiet and since >= self.min_interval_seconds

    def _run(self) -> None:
        while not self._stop.wait(self.check_seconds):
            now = time.monotonic()
            if self.due(now):
                gc.collect()
                self.collections += 1
                self._last_collection = time.monotonic()
