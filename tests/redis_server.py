"""A real ``redis-server`` for the store tests (Debian's package; never a fake).

:class:`RedisServer` runs one on 127.0.0.1 on a free port, in its own
directory, protected mode on, with no persistence unless a test asks for
AOF; it can be stopped (``SHUTDOWN SAVE``, or killed) and started again on
the same port and directory. The fixtures are in ``tests/conftest.py``.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from conftest import free_port

#: Seconds a starting server may take to answer PING.
START_TIMEOUT = 10.0


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One redis-server process the test owns."""

    def __init__(self, binary: str, directory: Path, *, aof: bool = False) -> None:
        self.binary = binary
        self.directory = directory
        self.aof = aof
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        persistence = (["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
                       if self.aof else ["--appendonly", "no", "--save", ""])
        self.process = subprocess.Popen(
            [self.binary, "--bind", "127.0.0.1", "--port", str(self.port),
             "--protected-mode", "yes", "--dir", str(self.directory),
             "--dbfilename", "dump.rdb", "--logfile", str(self.directory / "redis.log"),
             "--daemonize", "no", *persistence],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not _ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (self.directory / "redis.log")
                tail = log.read_text()[-2000:] if log.exists() else ""
                self.kill()
                raise RuntimeError(f"redis-server did not start on port {self.port}:\n{tail}")
            time.sleep(0.02)

    def shutdown(self, *, save: bool = True) -> None:
        """Stop it the way an operator does: SHUTDOWN SAVE (an RDB) or NOSAVE."""
        assert self.process is not None
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                sock.sendall(b"SHUTDOWN SAVE\r\n" if save else b"SHUTDOWN NOSAVE\r\n")
                sock.recv(64)
        except OSError:
            pass
        self.process.wait(timeout=10)
        self.process = None

    def kill(self) -> None:
        """SIGKILL: nothing saved beyond what AOF already wrote."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None
