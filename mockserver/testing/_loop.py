"""A private event loop in a daemon thread: where one mock's app lives.

Every coroutine that touches the app (requests, the webhook sender, the
handle's controls) runs as a task of this one loop, so the world is only ever
used by one task at a time, whatever thread or loop the test's client runs on.

Handing every request to the loop's thread and back costs two thread switches
(most of an in-process request, under the GIL). So a caller runs the task's
first step itself, on its own thread, while it holds the loop's *world lock*;
most requests finish in that step. The loop's thread holds the same lock
whenever it runs anything and releases it only while it waits for I/O, so the
caller and the loop never run the app at the same time. A task that does wait
(a sync-mode create on a real clock, ``advance`` waiting for deliveries) is
resumed by the loop's thread as usual, and the caller waits for it there.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import selectors
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, TypeVarTuple

__all__ = ["LoopThread"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")
#: A callback as ``call_soon`` receives it: the function, its arguments, its context.
_Callback = tuple[Callable[..., object], tuple[Any, ...], contextvars.Context | None]

#: Longest any single wait on the mock loop may take (a hung app must not hang the suite).
MAX_WAIT_SECONDS = 300.0
#: How long stop() waits for the thread to end.
STOP_SECONDS = 10.0


class _LockingSelector(selectors.DefaultSelector):
    """The loop's selector: the world lock is free exactly while the loop waits for I/O."""

    def __init__(self, lock: threading.Lock) -> None:
        super().__init__()
        self._lock = lock

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        self._lock.release()
        try:
            return super().select(timeout)
        finally:
            self._lock.acquire()


class _WorldLoop(asyncio.SelectorEventLoop):
    """An event loop whose tasks may take their first step on another thread.

    Only a thread holding the world lock may call into the loop from outside
    its own thread (see :meth:`LoopThread.run`). Such a call may schedule
    callbacks or timers while the loop's thread sleeps in ``select`` with a
    timeout computed before; :attr:`poked` records that, so the caller wakes
    the loop before letting go of the lock.
    """

    def __init__(self, lock: threading.Lock) -> None:
        super().__init__(_LockingSelector(lock))
        #: The thread that runs the loop (set when it starts).
        self.thread_id: int | None = None
        #: Scheduled from another thread since the last wake-up (read under the lock).
        self.poked = False
        #: While set, the next call_soon is handed over here instead of queued.
        self._capture: list[_Callback] | None = None

    def call_soon(
        self,
        callback: Callable[[*Ts], object],
        *args: *Ts,
        context: contextvars.Context | None = None,
    ) -> asyncio.Handle:
        captured = self._capture
        if captured is not None:
            self._capture = None
            captured.append((callback, args, context))
            return asyncio.Handle(callback, args, self, context)
        if threading.get_ident() != self.thread_id:
            self.poked = True
        return super().call_soon(callback, *args, context=context)

    def call_at(
        self,
        when: float,
        callback: Callable[[*Ts], object],
        *args: *Ts,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        if threading.get_ident() != self.thread_id:
            self.poked = True
        return super().call_at(when, callback, *args, context=context)

    def start_task(self, coroutine: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """A task of this loop whose first step runs now, on the calling thread.

        The caller holds the world lock. Inside the step everything is as on
        the loop's thread: ``get_running_loop()`` is this loop and
        ``current_task()`` the task (Python 3.12's eager tasks, by hand).
        """
        captured: list[_Callback] = []
        self._capture = captured
        try:
            task = self.create_task(coroutine)
        finally:
            self._capture = None
        if not captured:  # pragma: no cover - a task that scheduled no step: the loop runs it
            self.poked = True
            return task
        step, args, context = captured[0]
        outer = asyncio._get_running_loop()
        asyncio._set_running_loop(self)
        try:
            if context is None:  # pragma: no cover - Task always passes its context
                step(*args)
            else:
                context.run(step, *args)
        finally:
            asyncio._set_running_loop(outer)
        return task


def _noop() -> None:
    return None


class LoopThread:
    """An asyncio loop running forever in a daemon thread until :meth:`stop`."""

    def __init__(self, name: str, *, first_step_here: bool = True) -> None:
        """``first_step_here``: callers run a task's first step themselves (see the
        module); False hands every coroutine to the loop's thread (a served mock,
        whose loop may be busy with its server for long stretches)."""
        self._lock = threading.Lock()
        self._inline = first_step_here
        self.loop: asyncio.AbstractEventLoop = (
            _WorldLoop(self._lock) if first_step_here else asyncio.new_event_loop()
        )
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        #: The thread running a task's first step outside the loop (None: none is).
        self._stepping: int | None = None

    def start(self) -> None:
        """Start the thread and wait until its loop runs."""
        self._thread.start()
        if not self._ready.wait(STOP_SECONDS):  # pragma: no cover - a broken platform
            raise RuntimeError("the mock's event loop did not start")

    def _main(self) -> None:
        loop = self.loop
        self._lock.acquire()
        try:
            if isinstance(loop, _WorldLoop):
                loop.thread_id = threading.get_ident()
            asyncio.set_event_loop(loop)
            loop.call_soon(self._ready.set)
            try:
                loop.run_forever()
            finally:
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()
        finally:
            self._lock.release()

    @property
    def alive(self) -> bool:
        """Whether the loop still runs."""
        return self._thread.is_alive() and not self.loop.is_closed()

    def on_loop_thread(self) -> bool:
        """Whether the caller runs on this loop's thread."""
        return threading.get_ident() == self._thread.ident

    def _refuse_blocking(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        here = threading.get_ident()
        if here == self._thread.ident or here == self._stepping:
            coroutine.close()
            raise RuntimeError(
                "a blocking call on the mock's own event loop would deadlock; "
                "use the async variant (an async httpx client, `await mock.aadvance()`)"
            )

    def _start(self, coroutine: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """``coroutine`` as a task, its first step run here; the caller holds the lock."""
        loop = self.loop
        assert isinstance(loop, _WorldLoop)
        if loop.is_closed():
            coroutine.close()
            raise RuntimeError("the mock's event loop is closed")
        self._stepping = threading.get_ident()
        loop.poked = False
        try:
            return loop.start_task(coroutine)
        finally:
            self._stepping = None
            if loop.poked:
                loop.poked = False
                # The loop may sleep in select() with a timeout from before our calls.
                loop.call_soon_threadsafe(_noop)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coroutine`` on the loop and block until it is done (at most ``timeout`` s)."""
        self._refuse_blocking(coroutine)
        wait = MAX_WAIT_SECONDS if timeout is None else min(timeout, MAX_WAIT_SECONDS)
        if not self._inline or self.loop.get_debug():
            # asyncio's debug mode forbids calls from other threads: the plain hand-over.
            return self._run_threadsafe(coroutine, wait)
        if not self._lock.acquire(timeout=wait):
            coroutine.close()
            raise TimeoutError(f"the mock did not answer within {wait:g} s")
        try:
            task = self._start(coroutine)
            if task.done():
                return task.result()
            outcome = _outcome(task)
        finally:
            self._lock.release()
        try:
            return outcome.result(wait)
        except concurrent.futures.TimeoutError:
            self._cancel(outcome, task)
            raise TimeoutError(f"the mock did not answer within {wait:g} s") from None

    def _run_threadsafe(self, coroutine: Coroutine[Any, Any, T], wait: float) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(wait)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"the mock did not answer within {wait:g} s") from None

    def call(self, function: Callable[[], T], timeout: float | None = None) -> T:
        """Call a plain function on the loop's thread and return its result."""

        async def invoke() -> T:
            return function()

        if self.on_loop_thread():
            return function()
        return self._run_threadsafe(invoke(), MAX_WAIT_SECONDS if timeout is None else timeout)

    async def arun(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Await ``coroutine`` on the mock's loop from any loop (at most ``timeout`` s)."""
        wait = MAX_WAIT_SECONDS if timeout is None else min(timeout, MAX_WAIT_SECONDS)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:  # pragma: no cover - arun is only awaited inside a loop
            running = None
        if running is self.loop:
            return await asyncio.wait_for(coroutine, wait)
        # Never block the caller's loop on the lock: while the mock's loop is
        # busy, hand the coroutine over instead.
        task: asyncio.Task[T] | None = None
        if self._inline and not self.loop.get_debug() and self._lock.acquire(blocking=False):
            try:
                task = self._start(coroutine)
                if task.done():
                    return task.result()
                future = _outcome(task)
            finally:
                self._lock.release()
        else:
            future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), wait)
        except TimeoutError:
            self._cancel(future, task)
            raise TimeoutError(f"the mock did not answer within {wait:g} s") from None
        except asyncio.CancelledError:
            self._cancel(future, task)
            raise

    def _cancel(
        self, future: concurrent.futures.Future[Any], task: asyncio.Task[Any] | None
    ) -> None:
        if task is None:
            future.cancel()
            return
        with contextlib.suppress(RuntimeError):  # closed meanwhile
            self.loop.call_soon_threadsafe(task.cancel)

    def stop(self) -> None:
        """Stop the loop (tasks still running are cancelled) and join the thread."""
        if self.loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # closed meanwhile
            self.loop.call_soon_threadsafe(self.loop.stop)
        if not self.on_loop_thread():
            self._thread.join(STOP_SECONDS)


def _outcome(task: asyncio.Task[T]) -> concurrent.futures.Future[T]:
    """A future another thread can wait on for the outcome of a pending ``task``."""
    outcome: concurrent.futures.Future[T] = concurrent.futures.Future()
    task.add_done_callback(lambda done: _copy_outcome(done, outcome))
    return outcome


def _copy_outcome(task: asyncio.Task[T], waiter: concurrent.futures.Future[T]) -> None:
    """Hand a finished task's result, exception or cancellation to a thread's future."""
    if waiter.done():  # pragma: no cover - the waiter was given up
        return
    if task.cancelled():
        waiter.cancel()
    elif (error := task.exception()) is not None:
        waiter.set_exception(error)
    else:
        waiter.set_result(task.result())
