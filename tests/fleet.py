"""A fleet in tests: ``mockserver serve --workers N`` as a subprocess, read and stopped.

Used by the process tests (tests/cli/test_serve_workers.py) and the shared-store
tests (tests/store/test_fleet.py).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).parents[1]
STARTED = re.compile(r"worker (\d+) started \(pid (\d+)\)")


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie, exited but not yet reaped, is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        # /proc/<pid>/stat: "pid (name) S ..."; the state follows the last ')'.
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc here: os.kill's answer stands
    return state != "Z"


class Fleet:
    """``mockserver serve --workers N`` in a subprocess; every process it made is killed
    by its own pid at the end."""

    def __init__(self, *argv: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mockserver", "serve", "--port", "0", "--clock", "manual",
             "--no-https-proxy", "--log-level", "info", *argv],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,  # its own process group, as in a terminal of its own
        )
        self.errors: list[str] = []
        self._reader = threading.Thread(target=self._read_errors, daemon=True)
        self._reader.start()
        assert self.process.stdout is not None
        self.banner = [self.process.stdout.readline()]
        match = re.search(r"on (http://127\.0\.0\.1:\d+)", self.banner[0])
        assert match, (self.banner, self.process.poll(), self.errors)
        self.url = match.group(1)

    def _read_errors(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.errors.append(line.rstrip("\n"))

    def started(self) -> dict[int, int]:
        """Worker index -> its latest pid, from the supervisor's log."""
        found: dict[int, int] = {}
        for line in list(self.errors):
            if match := STARTED.search(line):
                found[int(match.group(1))] = int(match.group(2))
        return found

    def every_pid(self) -> set[int]:
        return {int(m.group(2)) for line in list(self.errors) if (m := STARTED.search(line))}

    def health(self, attempts: int = 20) -> dict[str, Any]:
        """One health answer on a new connection; a refused or reset connection is retried
        briefly (at most ``attempts`` times, 50 ms apart)."""
        for attempt in range(attempts):
            try:
                reply = httpx.get(f"{self.url}/_mock/health", timeout=5, trust_env=False)
                assert reply.status_code == 200
                answer: dict[str, Any] = reply.json()
                return answer
            except httpx.TransportError:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.05)
        raise AssertionError("unreachable")

    def wait_for_workers(self, count: int, timeout: float = 30.0) -> dict[int, int]:
        """Until ``count`` workers answered health: index -> pid of each that answered."""
        seen: dict[int, int] = {}
        deadline = time.monotonic() + timeout
        while len(seen) < count:
            assert self.process.poll() is None, self.errors
            assert time.monotonic() < deadline, (seen, self.errors)
            worker = self.health(attempts=200)["worker"]
            seen[worker["index"]] = worker["pid"]
        return seen

    def wait_for_line(self, pattern: str, timeout: float = 20.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.errors):
                if match := re.search(pattern, line):
                    return match
            time.sleep(0.05)
        raise AssertionError(f"no log line {pattern!r} in {self.errors}")

    def stop(self, timeout: float = 30.0) -> tuple[int, str]:
        """Wait for the supervisor to end; its exit code and the rest of its stdout."""
        code = self.process.wait(timeout=timeout)
        assert self.process.stdout is not None
        out = self.process.stdout.read()  # stderr is the reader thread's
        self._reader.join(timeout=5)
        return code, out

    def kill_everything(self) -> None:
        for pid in (self.process.pid, *self.every_pid()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        assert self.process.stdout is not None
        self.process.stdout.close()
