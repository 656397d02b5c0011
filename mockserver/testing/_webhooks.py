"""Where the mock's webhook POSTs go when a test owns the receiving URL.

The app's :class:`~mockserver.http.sender.WebhookSender` POSTs with httpx;
the testing helpers give it a :class:`WebhookRouter` as its transport, so no
delivery ever reaches the network unless a test asks for that:

1. a URL under a prefix given to ``route_webhooks(prefix, asgi_app)`` goes to
   that ASGI app (a :class:`WebhookReceiver` is one), in-process;
2. a URL under a prefix given to ``pass_webhooks_through(prefix)`` goes over
   the network (loopback receivers of a served test, say);
3. anything else is captured: recorded and answered ``200`` (or
   :attr:`WebhookRouter.status`).

Every delivery that arrives in-process is kept in :attr:`WebhookRouter.received`
as a :class:`ReceivedWebhook`.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from mockserver.testing._asgi import ASGIApp, Message, call_asgi

__all__ = ["RECEIVER_HOST", "ReceivedWebhook", "WebhookReceiver", "WebhookRouter"]

#: Host of the URLs :class:`WebhookReceiver` makes up (``.test`` is reserved: RFC 2606).
RECEIVER_HOST = "webhooks.genmock.test"
#: Longest ``wait_for`` may wait, whatever it is asked.
MAX_WAIT_SECONDS = 60.0
#: The built-in inbox's answers.
_RECEIVED = b'{"received":true}'
_NOT_RECEIVED = b'{"received":false}'
_ANSWER_HEADERS = {
    body: ((b"Content-Length", str(len(body)).encode()), (b"Content-Type", b"application/json"))
    for body in (_RECEIVED, _NOT_RECEIVED)
}


@dataclass(frozen=True)
class ReceivedWebhook:
    """One webhook POST as the receiver saw it."""

    url: str
    method: str
    #: Header names in lower case.
    headers: dict[str, str]
    body: bytes
    #: Mock time it arrived (the mock's clock, not the wall clock).
    at: float
    #: Status the receiver answered with.
    status: int
    #: ``"captured"`` (the built-in inbox), ``"app"`` (a routed ASGI app) or ``"network"``.
    routed_to: str = "captured"

    @property
    def path(self) -> str:
        """The URL's path."""
        return httpx.URL(self.url).path

    @property
    def text(self) -> str:
        """The body as text."""
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)

    def to_dict(self) -> dict[str, Any]:
        """Plain form (the body as text)."""
        return {
            "url": self.url,
            "method": self.method,
            "headers": dict(self.headers),
            "body": self.text,
            "at": self.at,
            "status": self.status,
            "routed_to": self.routed_to,
        }


class WebhookReceiver:
    """A webhook endpoint a test owns: an ASGI app with its own URL and inbox.

    Route it with ``mock.route_webhooks(receiver.url, receiver)`` (the
    ``mock_webhook_receiver`` fixture and :meth:`ProviderMock.webhook_receiver`
    do it for you), pass :attr:`url` to the client as its webhook/callback URL,
    then read :attr:`received`. :meth:`respond_with` makes the next answers
    fail, to exercise the provider's retries.
    """

    def __init__(self, url: str | None = None) -> None:
        self.url = url or f"https://{RECEIVER_HOST}/{uuid.uuid4().hex[:12]}"
        self.received: list[ReceivedWebhook] = []
        self._statuses: deque[int] = deque()
        self._lock = threading.Lock()
        #: Mock time source, set by the mock it is routed from.
        self.now: Callable[[], float] = time.time

    def respond_with(self, *statuses: int) -> None:
        """Answer the next deliveries with these statuses, in order; then 200 again."""
        with self._lock:
            self._statuses.extend(statuses)

    def _next_status(self) -> int:
        with self._lock:
            return self._statuses.popleft() if self._statuses else 200

    def json(self) -> list[Any]:
        """Every received body, parsed."""
        return [hit.json() for hit in list(self.received)]

    def clear(self) -> None:
        """Forget what was received."""
        self.received.clear()

    def wait_for(self, count: int = 1, timeout: float = 5.0) -> list[ReceivedWebhook]:
        """Wait (wall seconds, at most 60) until ``count`` deliveries arrived; them all.

        Only needed with a real clock; with the default manual clock
        ``mock.advance()`` returns after due webhooks were delivered.
        Raises :class:`TimeoutError` if they do not come.
        """
        deadline = time.monotonic() + min(timeout, MAX_WAIT_SECONDS)
        while len(self.received) < count:
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{self.url}: {len(self.received)} webhook(s) within {timeout:g} s, "
                    f"expected {count}"
                )
            time.sleep(0.005)
        return list(self.received)

    async def __call__(
        self,
        scope: Message,
        receive: Callable[[], Any],
        send: Callable[[Message], Any],
    ) -> None:
        """ASGI: record the request and answer ``{"received": true}``."""
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        status = self._next_status()
        query = scope.get("query_string", b"")
        url = httpx.URL(
            scheme=scope.get("scheme", "https"),
            host=scope["server"][0],
            port=scope["server"][1],
            path=scope["path"],
            query=query or None,
        )
        self.received.append(
            ReceivedWebhook(
                url=str(url),
                method=scope["method"],
                headers={k.decode("latin-1").lower(): v.decode("latin-1")
                         for k, v in scope.get("headers", [])},
                body=body,
                at=self.now(),
                status=status,
                routed_to="app",
            )
        )
        payload = json.dumps({"received": status < 300}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": payload})


@dataclass
class _Route:
    prefix: str
    app: ASGIApp | None  # None: the network


@dataclass
class WebhookRouter(httpx.AsyncBaseTransport):
    """The webhook sender's httpx transport: routes, passes through or captures."""

    now: Callable[[], float] = time.time
    #: Status the built-in inbox answers with.
    status: int = 200
    received: list[ReceivedWebhook] = field(default_factory=list)
    _routes: list[_Route] = field(default_factory=list)
    _network: httpx.AsyncHTTPTransport | None = None

    def route(self, prefix: str, app: ASGIApp | None) -> None:
        """Send URLs starting with ``prefix`` to ``app`` (None: the network)."""
        self._routes = [r for r in self._routes if r.prefix != prefix]
        self._routes.append(_Route(prefix, app))
        self._routes.sort(key=lambda r: len(r.prefix), reverse=True)
        if isinstance(app, WebhookReceiver):
            app.now = self.now

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        url = str(request.url)
        target = next((r for r in self._routes if url.startswith(r.prefix)), None)
        if target is not None and target.app is None:
            if self._network is None:
                self._network = httpx.AsyncHTTPTransport(trust_env=False)
            response = await self._network.handle_async_request(request)
            await response.aread()
            self._record(request, body, response.status_code, "network")
            return response
        if target is not None and target.app is not None:
            response = await call_asgi(target.app, request, body)
            if not isinstance(target.app, WebhookReceiver):
                self._record(request, body, response.status_code, "app")
            else:
                self.received.append(target.app.received[-1])
            return response
        self._record(request, body, self.status, "captured")
        # What httpx.Response(json=...) would build, without encoding it per delivery.
        body = _RECEIVED if self.status < 300 else _NOT_RECEIVED
        return httpx.Response(self.status, headers=_ANSWER_HEADERS[body], content=body)

    def _record(self, request: httpx.Request, body: bytes, status: int, routed_to: str) -> None:
        self.received.append(
            ReceivedWebhook(
                url=str(request.url),
                method=request.method,
                headers={k.lower(): v for k, v in request.headers.items()},
                body=body,
                at=self.now(),
                status=status,
                routed_to=routed_to,
            )
        )

    async def aclose(self) -> None:
        """Close the network transport, if one was opened."""
        if self._network is not None:
            await self._network.aclose()
            self._network = None
