"""``mockserver serve --workers N``: one listening socket, N worker processes.

The supervising process binds the port once (``serve`` prints the banner),
then starts each worker as ``python -m mockserver serve <the same arguments>
--worker-fd FD --worker-index I --worker-parent PID``: the worker serves the
inherited socket, so every worker takes connections from one accept queue
(no ``SO_REUSEPORT``: a worker that dies leaves no share of connections
behind, the others keep accepting). The state is shared through the store
(``--store``), never through this process.

The supervisor restarts a worker that dies, and gives up (exit 1) when
workers die :data:`CRASH_LIMIT` times within :data:`CRASH_WINDOW_SECONDS`: a
worker that cannot start (Redis unreachable, a broken install) would
otherwise restart forever. SIGTERM or SIGINT is passed on to every worker,
which stops gracefully (webhooks drain); a second one is passed on too and
makes them stop at once. Workers run in their own process group, so Ctrl-C
in a terminal reaches them once, through the supervisor. A worker whose
supervisor is gone (``kill -9``) notices within a second and stops by
itself (:func:`watch_supervisor`): no worker outlives its supervisor.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import FrameType

__all__ = [
    "CRASH_LIMIT",
    "CRASH_WINDOW_SECONDS",
    "Supervisor",
    "watch_supervisor",
    "worker_command",
]

#: Worker deaths within CRASH_WINDOW_SECONDS that make the supervisor give up.
CRASH_LIMIT = 5
CRASH_WINDOW_SECONDS = 10.0
#: How often the supervisor looks at its workers, and a worker at its supervisor.
POLL_SECONDS = 0.1
WATCH_SECONDS = 0.5

log = logging.getLogger("mockserver.workers")


def worker_command(argv: Sequence[str], fd: int, index: int, parent: int) -> list[str]:
    """The command line of worker ``index``: this ``serve`` command, serving ``fd``."""
    return [sys.executable, "-m", "mockserver", *argv, "--worker-fd", str(fd),
            "--worker-index", str(index), "--worker-parent", str(parent)]


def _describe(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"status {returncode}"


def _send_signal(number: int, process: subprocess.Popen[bytes]) -> None:
    process.send_signal(number)


@dataclass
class _Worker:
    index: int
    process: subprocess.Popen[bytes]


class Supervisor:
    """Starts ``count`` workers on ``fd``, restarts the dead, stops them all on a signal.

    ``argv`` is the ``serve`` command line (without the program) the workers
    repeat; ``env`` their environment; ``stop_seconds`` how long a graceful
    stop may take before the workers are killed.
    """

    def __init__(
        self,
        argv: Sequence[str],
        fd: int,
        count: int,
        *,
        env: Mapping[str, str] | None = None,
        stop_seconds: float = 60.0,
    ) -> None:
        self.argv = list(argv)
        self.fd = fd
        self.count = count
        self.env = dict(os.environ if env is None else env)
        self.stop_seconds = stop_seconds
        self._workers: dict[int, _Worker] = {}
        self._deaths: collections.deque[float] = collections.deque()
        self._wake = threading.Event()
        #: Signals received and not yet passed on to the workers (the handler appends,
        #: the loop pops: nothing is lost to a signal arriving in between).
        self._signals: collections.deque[int] = collections.deque()

    def run(self) -> int:
        """Supervise until SIGINT/SIGTERM: 0 when every worker then stopped cleanly, 1
        when one did not, or when workers kept dying (a crash loop)."""
        previous = {sig: signal.signal(sig, self._on_signal)
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for index in range(self.count):
                self._start(index)
            while not self._signals:
                self._wake.wait(POLL_SECONDS)
                if self._signals:
                    break
                if not self._replace_dead():
                    self._stop_all(signal.SIGTERM)
                    return 1
            return self._stop_all(None)
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signals.append(signum)
        self._wake.set()

    def _start(self, index: int) -> None:
        process = subprocess.Popen(
            worker_command(self.argv, self.fd, index, os.getpid()),
            pass_fds=(self.fd,),
            env=self.env,
            # Its own process group: a terminal's Ctrl-C reaches the workers once,
            # through _stop_all (a second SIGINT would make uvicorn skip the drain).
            process_group=0,
        )
        self._workers[index] = _Worker(index, process)
        log.info("worker %d started (pid %d)", index, process.pid,
                 extra={"worker": index, "pid": process.pid})

    def _replace_dead(self) -> bool:
        """Restart every worker that died; False when they die too often (a crash loop)."""
        for index, worker in list(self._workers.items()):
            code = worker.process.poll()
            if code is None:
                continue
            now = time.monotonic()
            self._deaths.append(now)
            while self._deaths and self._deaths[0] < now - CRASH_WINDOW_SECONDS:
                self._deaths.popleft()
            if len(self._deaths) >= CRASH_LIMIT:
                log.error(
                    "worker %d (pid %d) died with %s; workers died %d times within %g s "
                    "(a crash loop: see their errors above), giving up",
                    index, worker.process.pid, _describe(code), len(self._deaths),
                    CRASH_WINDOW_SECONDS, extra={"worker": index, "pid": worker.process.pid})
                return False
            log.warning("worker %d (pid %d) died with %s, restarting", index,
                        worker.process.pid, _describe(code),
                        extra={"worker": index, "pid": worker.process.pid})
            self._start(index)
        return True

    def _stop_all(self, signum: int | None) -> int:
        """Pass the signal(s) on, wait for every worker; kill those left after stop_seconds."""
        if signum is not None:
            self._signals.append(signum)
        deadline = time.monotonic() + self.stop_seconds
        passed: set[int] = set()
        while True:
            alive = [w for w in self._workers.values() if w.process.poll() is None]
            while self._signals:
                number = self._signals.popleft()
                passed.add(number)
                log.info("stopping %d workers (%s)", len(alive), signal.Signals(number).name)
                self._send(alive, functools.partial(_send_signal, number))
            if not alive:
                break
            if time.monotonic() > deadline:
                log.error("%d workers still running %g s after the stop signal: killing them",
                          len(alive), self.stop_seconds)
                self._send(alive, lambda p: p.kill())
                for worker in alive:
                    worker.process.wait()
                break
            self._wake.clear()
            self._wake.wait(POLL_SECONDS)
        # A worker still starting has no handlers yet: the signal itself ends it
        # (SIGINT as Ctrl-C does, exit 130). That is a clean stop too.
        clean = {0} | {-number for number in passed} | ({130} if signal.SIGINT in passed else set())
        failed = [w for w in self._workers.values() if w.process.returncode not in clean]
        for worker in failed:
            log.error("worker %d (pid %d) ended with %s", worker.index, worker.process.pid,
                      _describe(worker.process.returncode),
                      extra={"worker": worker.index, "pid": worker.process.pid})
        return 1 if failed else 0

    @staticmethod
    def _send(workers: list[_Worker], action: Callable[[subprocess.Popen[bytes]], None]) -> None:
        for worker in workers:
            with contextlib.suppress(ProcessLookupError):  # it ended in between
                action(worker.process)


def watch_supervisor(parent: int, stop: Callable[[], None], done: threading.Event) -> None:
    """In a worker: call ``stop`` once the supervisor ``parent`` is gone (a daemon thread).

    The parent of an orphan changes (to init or a subreaper), which polling
    ``os.getppid`` sees on every POSIX system (Linux's PDEATHSIG is not portable).
    """

    def watch() -> None:
        while not done.wait(WATCH_SECONDS):
            if os.getppid() != parent:
                log.warning("the supervisor (pid %d) is gone: this worker stops", parent)
                stop()
                return

    threading.Thread(target=watch, name="watch-supervisor", daemon=True).start()
