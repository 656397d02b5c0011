"""A private event loop in a daemon thread: where one mock's app runs.

Every coroutine that touches the app (requests, the webhook sender, the
handle's controls) runs on this one loop, so the world is only ever used from
one thread, whatever thread or loop the test's client runs on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["LoopThread"]

T = TypeVar("T")

#: Longest any single wait on the mock loop may take (a hung app must not hang the suite).
MAX_WAIT_SECONDS = 300.0
#: How long stop() waits for the thread to end.
STOP_SECONDS = 10.0


class LoopThread:
    """An asyncio loop running forever in a daemon thread until :meth:`stop`."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)

    def start(self) -> None:
        """Start the thread and wait until its loop runs."""
        self._thread.start()
        if not self._ready.wait(STOP_SECONDS):  # pragma: no cover - a broken platform
            raise RuntimeError("the mock's event loop did not start")

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        try:
            self.loop.run_forever()
        finally:
            pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(
                    asyncio.gather(*pending, return_exceptions=True)
                )
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    @property
    def alive(self) -> bool:
        """Whether the loop still runs."""
        return self._thread.is_alive() and not self.loop.is_closed()

    def on_loop_thread(self) -> bool:
        """Whether the caller runs on this loop's thread."""
        return threading.get_ident() == self._thread.ident

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coroutine`` on the loop and block until it is done (at most ``timeout`` s)."""
        if self.on_loop_thread():
            coroutine.close()
            raise RuntimeError(
                "a blocking call on the mock's own event loop would deadlock; "
                "use the async variant (an async httpx client, `await mock.aadvance()`)"
            )
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        wait = MAX_WAIT_SECONDS if timeout is None else min(timeout, MAX_WAIT_SECONDS)
        try:
            return future.result(wait)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"the mock did not answer within {wait:g} s") from None

    def call(self, function: Callable[[], T], timeout: float | None = None) -> T:
        """Call a plain function on the loop's thread and return its result."""

        async def invoke() -> T:
            return function()

        return self.run(invoke(), timeout)

    async def arun(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Await ``coroutine`` on the mock's loop from any loop (at most ``timeout`` s)."""
        wait = MAX_WAIT_SECONDS if timeout is None else min(timeout, MAX_WAIT_SECONDS)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:  # pragma: no cover - arun is only awaited inside a loop
            running = None
        if running is self.loop:
            return await asyncio.wait_for(coroutine, wait)
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), wait)
        except TimeoutError:
            future.cancel()
            raise TimeoutError(f"the mock did not answer within {wait:g} s") from None
        except asyncio.CancelledError:
            future.cancel()
            raise

    def stop(self) -> None:
        """Stop the loop (tasks still running are cancelled) and join the thread."""
        if self.loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # closed meanwhile
            self.loop.call_soon_threadsafe(self.loop.stop)
        if not self.on_loop_thread():
            self._thread.join(STOP_SECONDS)
