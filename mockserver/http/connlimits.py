"""Connection limits for ``mockserver serve``: a head timeout and a connection cap.

uvicorn's httptools protocol times out only idle keep-alive connections
(``timeout_keep_alive``, armed after a response). A client that connects and
sends nothing, or sends its request line and headers a byte at a time
(slowloris), holds its connection and file descriptor for ever: 1,100 of them
under the default file limit starved every normal request. uvicorn's
``limit_concurrency`` does not help there: it answers 503 to the *next
complete request*, so slow connections filling it starve normal clients
with 503s instead.

:class:`GuardedHttpToolsProtocol` adds, per connection:

* a **head timeout**: from the connection (or the end of the previous
  response) the request line and every header must arrive within
  ``header_timeout`` wall seconds, else the connection is closed (a debug
  log line, no response: the client has not finished asking);
* a **connection cap**: when a new connection would make more than
  ``max_connections``, the connection that has waited longest for a request
  head (an idle keep-alive, or a slow one) is closed to make room; when
  every connection has a request in progress, the new one gets a 503 and is
  closed.

A normal request (its head sent at once) is never affected by either.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any

from mockserver.http.onewrite import OneWriteHttpToolsProtocol

__all__ = ["DEFAULT_HEADER_TIMEOUT", "DEFAULT_MAX_CONNECTIONS", "GuardedHttpToolsProtocol",
           "configure"]

logger = logging.getLogger("mockserver")

DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_MAX_CONNECTIONS = 1000

_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
         b"content-length: 48\r\nconnection: close\r\n\r\n"
         b'{"error": "too many connections; retry shortly"}')


def configure(config: Any, *, header_timeout: float, max_connections: int) -> None:
    """Put the limits on a ``uvicorn.Config`` (the protocol reads them from there)."""
    config.mock_header_timeout = header_timeout
    config.mock_max_connections = max_connections


class GuardedHttpToolsProtocol(OneWriteHttpToolsProtocol):
    """:class:`OneWriteHttpToolsProtocol` plus the head timeout and the connection cap."""

    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        cap = int(getattr(self.config, "mock_max_connections", DEFAULT_MAX_CONNECTIONS))
        if len(self.connections) > cap and not self._shed_one():
            logger.debug("connection refused: %d open, cap %d", len(self.connections) - 1, cap)
            self.transport.write(_BUSY)
            self.transport.close()
            return
        self._await_head()

    # --- waiting for a request head ----------------------------------------------
    def _waiting(self) -> OrderedDict[GuardedHttpToolsProtocol, None]:
        """This server's connections awaiting a request head, longest waiting first."""
        waiting: OrderedDict[GuardedHttpToolsProtocol, None] | None = getattr(
            self.server_state, "_mock_awaiting_head", None)
        if waiting is None:
            waiting = OrderedDict()
            self.server_state._mock_awaiting_head = waiting  # type: ignore[attr-defined]
        return waiting

    def _await_head(self) -> None:
        timeout = float(getattr(self.config, "mock_header_timeout", DEFAULT_HEADER_TIMEOUT))
        self._stop_waiting()
        self._head_timer = self.loop.call_later(timeout, self._head_timed_out)
        self._waiting()[self] = None

    def _stop_waiting(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self._waiting().pop(self, None)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        self._waiting().pop(self, None)
        if not self.transport.is_closing():
            logger.debug("closing a connection whose request head did not arrive in time")
            self.transport.close()

    def _shed_one(self) -> bool:
        """Close the connection waiting longest for a head; False if none is waiting."""
        waiting = self._waiting()
        for victim in waiting:
            if victim is not self:
                waiting.pop(victim)
                victim._stop_waiting()
                logger.debug("connection cap reached: closing the longest idle connection")
                victim.transport.close()
                return True
        return False

    # --- uvicorn's callbacks ---------------------------------------------------------
    def on_headers_complete(self) -> None:
        self._stop_waiting()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self.pipeline:
            self._await_head()  # idle again: the keep-alive timeout runs too

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)
