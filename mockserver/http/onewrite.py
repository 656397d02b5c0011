"""Fewer, larger socket writes: uvicorn's httptools protocol, writes held to the end of a loop turn.

uvicorn writes a response's status line and headers as soon as the app sends
``http.response.start``, then the body in a second write. Over loopback each
write is a TCP segment and, when the client is idle, a wake-up of the
client's thread: measured with wrk at 32 connections, the header write alone
was 17% of the server's time on a health check.

Joining head and body was not enough. ``perf record`` of the mock serving
creates at 32 connections still put 8.4% of the server's CPU in
``sock_def_readable``, the wake-up of the client's sleeping thread, paid
once per response because each response went out alone, about 100 us after
the one before. Now every write of a turn is held, and all of them go out at
the end of the turn, one write per connection: a client woken by the first
finds the others already there. Served creates went from about 7,300 to 9,700-10,800 per second
(``bench/served.py``), and the server's kernel time per create from 25 to
9 us (``/proc/PID/stat`` around a wrk run).

:class:`WriteCombiningTransport` holds writes up to 64 KiB; the first held
write of a turn asks the server's :class:`Outbox` to flush at the end of the
turn (one ``call_soon`` per turn, not per response). When the writer's
request is the only one the server is answering, nothing could join the
batch: a body goes out at once, with its held head. A response head is
always held, as its body usually follows within the same step. A larger
write, a close or an EOF sends what is held first; order on each connection
is kept. A response is therefore sent at most one loop turn later than
before, and a streaming body's chunks still go out turn by turn.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sized
from typing import Any

# httptools comes with uvicorn[standard], a core dependency.
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mockserver.http.scenarios import ConnectionDropped

__all__ = ["OneWriteHttpToolsProtocol", "Outbox", "WriteCombiningTransport"]


logger = logging.getLogger("uvicorn.error")

#: Writes up to this size are held and joined by one copy; a larger one goes
#: at once, after what is held, through ``writelines`` (no copy).
_JOIN_LIMIT = 64 * 1024


class Outbox:
    """The connections of one server that hold writes, flushed together once per loop turn.

    The flush is scheduled with ``call_soon`` by the first held write of a
    turn, so it runs after every callback already ready (the other requests
    answered in this turn) and before those that I/O adds next.
    ``in_flight`` is the server's set of running request tasks: when only the
    writer's own request runs, no other response can join the batch, and
    holding would only add a loop turn to its latency (without it, every
    write is held).
    """

    __slots__ = ("_in_flight", "_loop", "_pending")

    def __init__(self, loop: asyncio.AbstractEventLoop, in_flight: Sized | None = None) -> None:
        self._loop = loop
        self._in_flight = in_flight
        self._pending: list[WriteCombiningTransport] = []

    @property
    def alone(self) -> bool:
        """At most one request is being answered: nothing to batch with."""
        return self._in_flight is not None and len(self._in_flight) <= 1

    def add(self, transport: WriteCombiningTransport) -> None:
        """Flush ``transport`` with the others at the end of this turn."""
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(transport)

    def flush(self) -> None:
        """Send every held write now."""
        pending, self._pending = self._pending, []
        for transport in pending:
            try:
                transport.flush()
            except Exception:  # one broken connection must not strand the others' answers
                logger.exception("could not send a response; closing its connection")
                transport.abort()


def _is_head(data: bytes | bytearray | memoryview) -> bool:
    """A response head (``HTTP/1.x ...\\r\\n\\r\\n``), whose body usually follows at once."""
    return type(data) is bytes and data.startswith(b"HTTP/1.") and data.endswith(b"\r\n\r\n")


class WriteCombiningTransport:
    """Wraps an ``asyncio.Transport``; holds small writes until the end of the loop turn."""

    __slots__ = ("_held", "_outbox", "_transport")

    def __init__(self, transport: asyncio.Transport, outbox: Outbox) -> None:
        self._transport = transport
        self._outbox = outbox
        self._held: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if len(data) > _JOIN_LIMIT:
            if held:
                self._held = []
                self._transport.writelines((*held, data))
            else:
                self._transport.write(data)
            return
        if self._outbox.alone and not _is_head(data):
            if held:
                self._held = []
                held.append(bytes(data))
                self._transport.write(b"".join(held))
            else:
                self._transport.write(data)
            return
        if not held:
            self._outbox.add(self)
        held.append(data if type(data) is bytes else bytes(data))

    def flush(self) -> None:
        """Send the held writes now (no-op when nothing is held)."""
        held = self._held
        if held:
            self._held = []
            if not self._transport.is_closing():
                self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def abort(self) -> None:
        """Close at once; what is held is dropped, as the transport drops its buffer."""
        self._held = []
        self._transport.abort()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._held))

    def __getattr__(self, name: str) -> Any:
        # Everything else (is_closing, pause_reading, get_extra_info, ...)
        # is the real transport's.
        return getattr(self._transport, name)


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a :class:`WriteCombiningTransport`.

    Pass the class as ``uvicorn.Config(http=...)``; ``mockserver serve``, the
    pytest plugin's served mock and the suite's live servers all use it.
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.app = _closing_on_drop(self.app, self)
        # Flow control keeps the real transport (pause/resume reading);
        # the request cycles write through the combiner.
        # One outbox per server (the state uvicorn shares between its connections).
        outbox = getattr(self.server_state, "_mock_outbox", None)
        if outbox is None:
            outbox = Outbox(self.loop, self.server_state.tasks)
            self.server_state._mock_outbox = outbox  # type: ignore[attr-defined]
        self.transport = WriteCombiningTransport(transport, outbox)  # type: ignore[assignment]


def _closing_on_drop(app: Any, protocol: HttpToolsProtocol) -> Any:
    """``app``, where a :class:`ConnectionDropped` raised before the response started
    closes the connection with nothing sent (the ``drop_connection`` scenario).

    Stock uvicorn answers an app that fails before starting its response with a
    500; a dropped connection must send no status line at all. Marking the
    request cycle disconnected keeps uvicorn from writing that 500 (and from
    logging the drop as a crash); earlier responses held on the connection go
    out first, as they would before a real close.
    """

    async def closing(scope: Any, receive: Any, send: Any) -> None:
        try:
            await app(scope, receive, send)
        except ConnectionDropped:
            cycle = getattr(send, "__self__", None)  # the cycle's bound ``send``
            if cycle is None or cycle.response_started:
                raise  # after the headers: uvicorn closes the connection itself
            cycle.disconnected = True
            protocol.transport.close()

    return closing
