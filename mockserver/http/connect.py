"""The mock as an HTTPS forward proxy for the providers' hosts (HTTP ``CONNECT``).

A client with a hard-coded ``https://api.wavespeed.ai`` and
``HTTPS_PROXY=http://127.0.0.1:8080`` sends ``CONNECT api.wavespeed.ai:443``
to the mock's port. For a provider's host the mock answers
``200 Connection Established``, terminates TLS itself with a certificate of
its local CA (:mod:`mockserver.http.localca`) and feeds the requests inside
the tunnel to the same ASGI app, where they are routed by their real
``Host`` as any other request. Nothing is ever forwarded: a ``CONNECT`` to
any other host or port gets a 403 that names the hosts served.

How: uvicorn's httptools protocol reports a ``CONNECT`` as an upgrade it does
not support. :class:`ConnectHttpToolsProtocol` notes the target when the
request's headers are complete, answers it, and hands the socket to
``loop.start_tls`` (as mitmproxy and proxy.py do: reply to CONNECT, then
wrap the client's socket as a TLS *server*); the TLS transport gets a fresh
:class:`OneWriteHttpToolsProtocol`, so the inner HTTP/1.1 requests take the
ordinary path (keep-alive, pipelining, flow control, graceful shutdown). A
request that is not a ``CONNECT`` costs one method comparison.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Iterable
from dataclasses import dataclass

import httptools

from mockserver.http.connlimits import GuardedHttpToolsProtocol
from mockserver.http.onewrite import OneWriteHttpToolsProtocol

__all__ = ["ConnectHttpToolsProtocol", "ConnectProxy", "connect_protocol"]

logger = logging.getLogger("mockserver.proxy")

#: How long a client has to finish the TLS handshake inside the tunnel.
HANDSHAKE_TIMEOUT_SECONDS = 10.0
#: The only port a tunnel may name: the providers' APIs are HTTPS on 443.
TLS_PORT = 443


#: Tunnels whose TLS handshake is under way.
_HANDSHAKES: set[asyncio.Task[None]] = set()


@dataclass(frozen=True)
class ConnectProxy:
    """What the proxy serves: the provider hosts, and the TLS context for them."""

    hosts: frozenset[str]
    context: ssl.SSLContext

    @classmethod
    def for_hosts(cls, hosts: Iterable[str], context: ssl.SSLContext) -> ConnectProxy:
        return cls(frozenset(h.lower() for h in hosts), context)

    def refusal(self, target: str) -> tuple[bytes, str] | None:
        """Status and reason when a ``CONNECT target`` is refused; None for a provider's host."""
        host, _, port = target.rpartition(":")
        if not host or not port.isdigit():
            return b"400 Bad Request", f"genmock proxy: CONNECT needs host:port, got {target!r}"
        host = host.strip("[]").lower()
        allowed = ", ".join(f"{h}:{TLS_PORT}" for h in sorted(self.hosts))
        if host not in self.hosts or int(port) != TLS_PORT:
            return b"403 Forbidden", (
                f"genmock proxy: CONNECT {target} refused. This mock serves only the providers' "
                f"hosts ({allowed}) and never forwards anything to the internet."
            )
        return None


def _plain_response(status: bytes, text: str) -> bytes:
    body = text.encode("utf-8") + b"\n"
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
    )


class _TlsHandoff(asyncio.Protocol):
    """Holds what the TLS transport delivers until the inner protocol is attached.

    ``loop.start_tls`` may deliver the first decrypted request (sent right
    after the client's handshake) before it returns the transport the inner
    protocol needs in ``connection_made``.
    """

    def __init__(self) -> None:
        self.pending: list[bytes] = []
        self.lost: list[Exception | None] = []

    def data_received(self, data: bytes) -> None:
        self.pending.append(data)

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.append(exc)


class ConnectHttpToolsProtocol(GuardedHttpToolsProtocol):
    """:class:`GuardedHttpToolsProtocol` that also opens tunnels to the provider hosts.

    The head timeout stops once a CONNECT's head is read: the tunnel's TLS
    connection then owns the socket, and its inner requests are served by a
    plain :class:`OneWriteHttpToolsProtocol`.

    Made by :func:`connect_protocol`, which sets :attr:`proxy`.
    """

    proxy: ConnectProxy
    _tunnel_target: str | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._socket_transport = transport
        super().connection_made(transport)

    def on_headers_complete(self) -> None:
        if self.parser.get_method() == b"CONNECT":
            self._stop_waiting()
            self._tunnel_target = self.url.decode("latin-1")
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self._tunnel_target is None:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._tunnel_target is None:
            super().on_message_complete()

    def data_received(self, data: bytes) -> None:
        # uvicorn's data_received, but a CONNECT (an "upgrade" to httptools) opens a tunnel.
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            if self._tunnel_target is not None:
                offset = upgrade.args[0] if upgrade.args else len(data)
                self._open_tunnel(self._tunnel_target, data[offset:])
            elif self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        except httptools.HttpParserError:
            msg = "Invalid HTTP request received."
            self.logger.warning(msg)
            self.send_400_response(msg)

    def _open_tunnel(self, target: str, early: bytes) -> None:
        raw = self._socket_transport
        refusal = self.proxy.refusal(target)
        if refusal is None and early:
            refusal = b"400 Bad Request", "genmock proxy: data sent before the CONNECT's answer"
        if refusal is not None:
            status, reason = refusal
            logger.warning("%s", reason)
            raw.write(_plain_response(status, reason))
            raw.close()
            return
        # This connection is the tunnel's now: uvicorn's shutdown reaches it
        # through the inner protocol, which registers itself.
        self.connections.discard(self)
        raw.pause_reading()
        raw.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        task = self.loop.create_task(self._serve_tls(raw, target))
        _HANDSHAKES.add(task)  # the loop holds tasks weakly
        task.add_done_callback(_HANDSHAKES.discard)

    async def _serve_tls(self, raw: asyncio.Transport, target: str) -> None:
        handoff = _TlsHandoff()
        try:
            tls = await self.loop.start_tls(
                raw, handoff, self.proxy.context, server_side=True,
                ssl_handshake_timeout=HANDSHAKE_TIMEOUT_SECONDS,
            )
        except (TimeoutError, OSError) as error:  # ssl.SSLError, ConnectionError are OSErrors
            # Typically a client that does not trust the CA: say what to do.
            logger.warning(
                "genmock proxy: TLS handshake for %s failed (%s); does the client trust "
                "the mock's CA (SSL_CERT_FILE / REQUESTS_CA_BUNDLE / NODE_EXTRA_CA_CERTS)?",
                target, error,
            )
            raw.abort()
            return
        if tls is None:  # the loop gave up on the connection
            raw.abort()
            return
        inner = OneWriteHttpToolsProtocol(
            config=self.config, server_state=self.server_state,
            app_state=self.app_state, _loop=self.loop,
        )
        inner.connection_made(tls)
        tls.set_protocol(inner)
        for data in handoff.pending:
            inner.data_received(data)
        for exc in handoff.lost:
            inner.connection_lost(exc)


def connect_protocol(proxy: ConnectProxy) -> type[ConnectHttpToolsProtocol]:
    """A protocol class for ``uvicorn.Config(http=...)`` serving ``proxy``'s tunnels."""
    return type("ConnectHttpToolsProtocol", (ConnectHttpToolsProtocol,), {"proxy": proxy})
