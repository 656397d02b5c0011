"""One socket write per small response: uvicorn's httptools protocol, with header writes held.

uvicorn writes a response's status line and headers as soon as the app sends
``http.response.start``, then the body in a second write. Over loopback each
write is a TCP segment and, when the client is idle, a wake-up of the
client's thread: measured with wrk at 32 connections, the header write alone
was 17% of the server's time on a health check, and the server's kernel time
per request was twice the bare baseline's. Holding the header block until the
body follows makes one segment and one wake-up per response.

:class:`WriteCombiningTransport` holds at most one write that looks like a
response head (``HTTP/1.x ...\\r\\n\\r\\n``) and sends it joined to the next
write, or at the end of the current event-loop turn (``call_soon``) if no
write follows, or before the transport closes. Every other write goes out at
once, in order, so streaming bodies, ``100 Continue`` and error answers
behave as before; the only change on the wire is fewer, larger segments.
"""

from __future__ import annotations

import asyncio
from typing import Any

# httptools comes with uvicorn[standard], a core dependency.
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["OneWriteHttpToolsProtocol", "WriteCombiningTransport"]


#: Bodies up to this size are joined to the held head by one copy; larger
#: ones go with it through ``writelines`` (one vectored write, no copy).
_JOIN_LIMIT = 64 * 1024


class WriteCombiningTransport:
    """Wraps an ``asyncio.Transport``; holds a response head until the next write."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if len(data) <= _JOIN_LIMIT:
                self._transport.write(held + bytes(data))
            else:  # no copy of a large body: the transport writes both in one go
                self._transport.writelines((held, data))
            return
        if (
            type(data) is bytes
            and data.startswith(b"HTTP/1.")
            and data.endswith(b"\r\n\r\n")
        ):
            self._held = data
            self._loop.call_soon(self.flush)
            return
        self._transport.write(data)

    def flush(self) -> None:
        """Send a held response head now (no-op when nothing is held)."""
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def get_write_buffer_size(self) -> int:
        held = self._held
        return self._transport.get_write_buffer_size() + (len(held) if held else 0)

    def __getattr__(self, name: str) -> Any:
        # Everything else (is_closing, pause_reading, get_extra_info, abort, ...)
        # is the real transport's.
        return getattr(self._transport, name)


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a :class:`WriteCombiningTransport`.

    Pass the class as ``uvicorn.Config(http=...)``; ``mockserver serve``, the
    pytest plugin's served mock and the suite's live servers all use it.
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # Flow control keeps the real transport (pause/resume reading);
        # the request cycles write through the combiner.
        self.transport = WriteCombiningTransport(transport, self.loop)  # type: ignore[assignment]
