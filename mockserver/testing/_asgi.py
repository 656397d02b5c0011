"""Drive an ASGI app with an :class:`httpx.Request`, without a socket.

A minimal ASGI "server" in the spirit of ``httpx.ASGITransport`` (and of
``respx.ASGIHandler``, which wraps it), with three differences that matter to
a mock: a response the app never starts is a dropped connection
(:class:`httpx.RemoteProtocolError`, as a real client would see it), a body the
app never finishes is a truncated one, and the app's lifespan is driven
explicitly by :class:`Lifespan`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx

from mockserver.http.scenarios import ConnectionDropped

__all__ = ["ASGIApp", "Lifespan", "call_asgi"]

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]

#: Seconds the app gets to start up or shut down.
LIFESPAN_SECONDS = 10.0
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _scope(request: httpx.Request) -> dict[str, Any]:
    url = request.url
    raw_path, _, _ = url.raw_path.partition(b"?")
    port = url.port or _DEFAULT_PORTS.get(url.scheme, 80)
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": url.scheme,
        "path": url.path,
        "raw_path": raw_path,
        "query_string": url.query,
        "root_path": "",
        "headers": [(name.lower(), value) for name, value in request.headers.raw],
        "server": (url.host, port),
        "client": ("127.0.0.1", 50000),
        "extensions": {},
    }


async def call_asgi(app: ASGIApp, request: httpx.Request, body: bytes) -> httpx.Response:
    """One request through ``app``; the whole response, buffered.

    Raises :class:`httpx.RemoteProtocolError` when the app ends without a
    response (a dropped connection) or in the middle of its body; any exception
    the app lets through propagates, like ``httpx.ASGITransport`` does.
    """
    sent_request = False
    done = asyncio.Event()
    status: int | None = None
    headers: list[tuple[bytes, bytes]] = []
    chunks: list[bytes] = []
    complete = False

    async def receive() -> Message:
        nonlocal sent_request
        if not sent_request:
            sent_request = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status, headers, complete
        kind = message["type"]
        if kind == "http.response.start":
            status = int(message["status"])
            headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
        elif kind == "http.response.body" and status is not None and not complete:
            chunk = message.get("body", b"")
            if chunk and request.method != "HEAD":
                chunks.append(bytes(chunk))
            if not message.get("more_body", False):
                complete = True
                done.set()

    try:
        await app(_scope(request), receive, send)
    except ConnectionDropped:
        pass  # the scenario closed the connection: no response, or a partial one (below)
    finally:
        done.set()
    if status is None:
        raise httpx.RemoteProtocolError(
            "Server disconnected without sending a response.", request=request
        )
    if not complete:
        raise httpx.RemoteProtocolError(
            "peer closed connection without sending complete message body", request=request
        )
    return httpx.Response(status, headers=headers, content=b"".join(chunks), request=request)


class Lifespan:
    """The ASGI lifespan protocol for one app: :meth:`startup`, then :meth:`shutdown`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._started: asyncio.Future[None] | None = None
        self._stopped: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        """Send ``lifespan.startup`` and wait for the app to complete it."""
        loop = asyncio.get_running_loop()
        self._started = loop.create_future()
        self._stopped = loop.create_future()

        async def receive() -> Message:
            return await self._inbox.get()

        async def send(message: Message) -> None:
            kind = message["type"]
            target = self._started if kind.startswith("lifespan.startup") else self._stopped
            if target is None or target.done():
                return
            if kind.endswith(".failed"):
                target.set_exception(RuntimeError(message.get("message") or kind))
            else:
                target.set_result(None)

        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"},
                 "state": {}}

        async def run() -> None:
            await self.app(scope, receive, send)

        self._task = loop.create_task(run(), name="genmock-lifespan")
        await self._inbox.put({"type": "lifespan.startup"})
        await asyncio.wait_for(self._wait(self._started), LIFESPAN_SECONDS)

    async def _wait(self, future: asyncio.Future[None]) -> None:
        assert self._task is not None
        await asyncio.wait({future, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if future.done():
            future.result()
            return
        error = self._task.exception()
        raise RuntimeError("the app ended its lifespan early") from error

    async def shutdown(self) -> None:
        """Send ``lifespan.shutdown`` and wait for the app to finish."""
        if self._task is None or self._stopped is None:
            return
        if not self._task.done():
            await self._inbox.put({"type": "lifespan.shutdown"})
            try:
                await asyncio.wait_for(self._wait(self._stopped), LIFESPAN_SECONDS)
            finally:
                if not self._task.done():
                    self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
