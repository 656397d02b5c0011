"""A worker's journal entries on their way to the shared store, written in batches.

Every request is journaled, and a round trip to Redis per request would cost
more than the request itself. So a worker keeps the exchanges it recorded in
a :class:`BatchBuffer` and one thread of its own writes them (one script
call, one round trip, per batch) every :data:`FLUSH_SECONDS`; a read of the
journal by this worker, and its shutdown, flush first. The buffer is bounded
in entries and bytes, as a ring: when the store is away (or slower than the
requests), the oldest buffered entries give way to new ones and are counted
(``dropped``), never kept growing (the journal would have trimmed them
first anyway); a batch the store refused is dropped and counted the same way.

The thread starts with the first entry and stops after
:data:`IDLE_STOP_SECONDS` without any (or when ``stopped()`` says the store
is closed), so an idle or forgotten app holds no thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

from mockserver.store.interface import StoreError

__all__ = ["FLUSH_SECONDS", "IDLE_STOP_SECONDS", "BatchBuffer"]

#: Wall seconds between two writes of the buffered entries (the journal's delay).
FLUSH_SECONDS = 0.05
#: The writing thread stops after this long with nothing to write.
IDLE_STOP_SECONDS = 2.0

T = TypeVar("T")
logger = logging.getLogger("mockserver")


class BatchBuffer(Generic[T]):
    """Items added by any thread, written by ``write`` in order, in batches."""

    def __init__(
        self,
        write: Callable[[list[T]], None],
        *,
        max_items: int,
        max_bytes: int,
        stopped: Callable[[], bool] = lambda: False,
        flush_seconds: float = FLUSH_SECONDS,
    ) -> None:
        self._write = write
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._stopped = stopped
        self.flush_seconds = flush_seconds
        #: Items dropped: the buffer was full, or the store refused their batch.
        self.dropped = 0
        #: Items written to the store.
        self.written = 0
        self._items: deque[tuple[T, int]] = deque()
        self._bytes = 0
        self._lock = threading.Lock()  # the list and its counters
        self._writing = threading.Lock()  # one batch at a time: batches stay in order
        self._running = False
        self._closed = False
        self._stop = threading.Event()  # wakes the thread to end at close()

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: T, size: int) -> None:
        """Keep ``item`` (``size`` bytes) for the next batch; the oldest give way."""
        with self._lock:
            items = self._items
            while items and (len(items) >= self.max_items or self._bytes + size > self.max_bytes):
                self._bytes -= items.popleft()[1]
                self.dropped += 1
            items.append((item, size))
            self._bytes += size
            if not self._running and not self._closed:
                self._running = True
                threading.Thread(target=self._run, name="genmock-journal-flush",
                                 daemon=True).start()

    def discard(self) -> int:
        """Forget what is buffered (a reset); how many items."""
        with self._lock:
            count = len(self._items)
            self._items, self._bytes = deque(), 0
        return count

    def flush(self) -> int:
        """Write everything buffered now, on the caller's thread; the items written.

        StoreError (an unavailable store) drops the batch, counts it and is
        raised again for the caller to answer.
        """
        with self._writing:
            with self._lock:
                batch = [item for item, _ in self._items]
                self._items, self._bytes = deque(), 0
            if not batch:
                return 0
            try:
                self._write(batch)
            except StoreError:
                self.dropped += len(batch)
                raise
            self.written += len(batch)
            return len(batch)

    def close(self) -> None:
        """Write what is left (if the store takes it) and stop the thread."""
        self._closed = True
        self._stop.set()
        try:
            self.flush()
        except StoreError as error:
            logger.warning("journal entries dropped at shutdown: %s", error)

    def _run(self) -> None:
        idle_since = time.monotonic()
        while True:
            self._stop.wait(self.flush_seconds)
            with self._lock:
                if self._closed or self._stopped() or (
                    not self._items and time.monotonic() - idle_since > IDLE_STOP_SECONDS
                ):
                    self._running = False
                    return
            try:
                if self.flush():
                    idle_since = time.monotonic()
            except StoreError:
                idle_since = time.monotonic()  # dropped and counted; the next batch tries again
            except Exception:  # never let the thread die silently with items piling up
                logger.exception("journal flush failed")
