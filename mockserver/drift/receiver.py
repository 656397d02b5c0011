"""A tiny HTTP receiver: catches webhook deliveries (and alert posts in tests).

``http.server`` in a daemon thread rather than an ASGI server: it needs no
event loop, answers ``204`` to every POST, and :meth:`Receiver.wait` blocks
with a deadline, so the live check stays synchronous and bounded.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["Delivery", "Receiver"]

#: Larger bodies are cut; a webhook is a few kilobytes.
_MAX_BODY = 1 << 20


@dataclass(frozen=True)
class Delivery:
    """One request the receiver got; header names lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON (ValueError when it is not)."""
        return json.loads(self.body)


class Receiver:
    """Listens on ``host:port`` (port 0: a free one) and records every request."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.deliveries: list[Delivery] = []
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                length = min(int(self.headers.get("content-length") or 0), _MAX_BODY)
                body = self.rfile.read(length) if length else b""
                delivery = Delivery(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                with receiver._changed:
                    receiver.deliveries.append(delivery)
                    receiver._changed.notify_all()
                self.send_response(204 if self.command != "GET" else 200)
                self.send_header("content-length", "0")
                self.end_headers()

            do_POST = do_PUT = do_GET = _record  # http.server dispatches on do_<METHOD>

            def log_message(self, format: str, *args: Any) -> None:
                return  # keep test and CLI output clean

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """``http://host:port`` of the listening socket."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Receiver:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def wait(self, count: int = 1, timeout: float = 10.0) -> list[Delivery]:
        """Block until ``count`` deliveries arrived or ``timeout`` passed; return them all."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.deliveries) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            return list(self.deliveries)

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
