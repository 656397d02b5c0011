"""The handles a test holds: an in-process mock and a served one.

Both build one app with :func:`mockserver.http.app.create_app` and run it on a
private event loop in a daemon thread (:class:`LoopThread`); everything that
touches the app's world — requests, the webhook sender, the controls on the
handle — runs as a task of that loop, under its lock (a task's first step may
run on the caller's thread, see :mod:`._loop`), so a sync test, an async test
and the sender never race. :class:`InProcessMock` routes the real provider
hosts through respx to that loop; :class:`ServedMock` serves the same app with
uvicorn on a free loopback port.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import inspect
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from types import TracebackType
from typing import Any, TypeVar, cast
from urllib.parse import quote

import httpx
import respx
import uvicorn
from respx.models import SideEffectError
from starlette.applications import Starlette

from mockserver.config import ConfigError, MockConfig
from mockserver.console.events import close_streams
from mockserver.domain.accounts import default_webhook_secret
from mockserver.http.app import create_app, load_adapter_factories
from mockserver.http.onewrite import OneWriteHttpToolsProtocol
from mockserver.http.state import MockState
from mockserver.testing._asgi import ASGIApp, Lifespan, call_asgi
from mockserver.testing._loop import LoopThread
from mockserver.testing._options import MockOptions, ScenarioSpec
from mockserver.testing._webhooks import ReceivedWebhook, WebhookReceiver, WebhookRouter

__all__ = ["InProcessMock", "MockControlError", "ProviderMock", "ServedMock"]

logger = logging.getLogger("mockserver.testing")

F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M", bound="ProviderMock")

#: Wall seconds ``advance`` waits for due webhooks to be delivered.
ADVANCE_WAIT_SECONDS = 5.0
#: Wall seconds a request may take when the client sets no read timeout.
DEFAULT_REQUEST_SECONDS = 60.0
#: Wall seconds uvicorn gets to start or stop.
SERVER_SECONDS = 10.0
#: Host the handle's own admin calls are addressed to (admin routes answer on any host).
_ADMIN_ORIGIN = "http://admin.genmock.localhost"
#: Parameter name a decorated function receives its mock under.
INJECTED_PARAMETER = "provider_mock"


class MockControlError(RuntimeError):
    """A control call (scenario, account, reset...) the mock's admin API refused."""

    def __init__(self, status: int, message: str, path: str) -> None:
        super().__init__(f"{path}: {status} {message}")
        self.status = status
        self.message = message
        self.path = path


def _install_webhook_transport(state: MockState, transport: httpx.AsyncBaseTransport) -> None:
    """Make the app's webhook sender POST through ``transport`` (before it starts)."""
    sender = state.sender
    if sender.running:  # pragma: no cover - a fresh app's sender never runs yet
        raise RuntimeError("the webhook sender already runs; its transport cannot change")
    prop = getattr(type(sender), "transport", None)
    if isinstance(prop, property) and prop.fset is not None:
        setattr(sender, "transport", transport)  # noqa: B010 - a public hook, when it exists
    elif hasattr(sender, "_transport"):
        # WebhookSender(transport=...) exists, but create_app does not forward it yet.
        setattr(sender, "_transport", transport)  # noqa: B010
    else:  # pragma: no cover - guards against a renamed attribute
        raise RuntimeError(
            "cannot give the webhook sender an httpx transport: deliveries would reach "
            "the network. WebhookSender needs a `transport` hook."
        )


class ProviderMock:
    """One mock world for one test: the app, its clock, its records, its controls.

    Use it as a context manager (``with mock_providers() as mock:``) or as a
    decorator (a fresh world per call). Attributes and methods are the same for
    the in-process and the served mock, so one test body runs against both.
    """

    #: Whether callers run a task's first step themselves (see ``_loop``).
    _first_step_here = False

    def __init__(self, options: MockOptions) -> None:
        self.options = options
        self._app: Starlette | None = None
        self._loop: LoopThread | None = None
        self._webhooks = WebhookRouter()
        self._receivers: list[WebhookReceiver] = []
        self._config: MockConfig | None = None

    # --- the app --------------------------------------------------------------
    @property
    def app(self) -> Starlette:
        """The Starlette app (``app.state.mock`` is :attr:`state`)."""
        if self._app is None:
            raise RuntimeError("the mock is not started; use `with mock_providers() as mock:`")
        return self._app

    @property
    def state(self) -> MockState:
        """The app's :class:`~mockserver.http.state.MockState` (world, clock, outbox...)."""
        state: MockState = self.app.state.mock
        return state

    @property
    def config(self) -> MockConfig:
        """The configuration the app was built with."""
        if self._config is None:
            self._config = self.options.build_config()
        return self._config

    @property
    def providers(self) -> list[str]:
        """The providers this mock serves."""
        return list(self.state.adapters)

    @property
    def running(self) -> bool:
        """Whether the mock is started and not stopped."""
        return self._loop is not None and self._loop.alive

    def _build_app(self) -> Starlette:
        factories = load_adapter_factories()
        wanted = self.options.providers
        if wanted is not None:
            unknown = sorted(set(wanted) - set(factories))
            if unknown:
                raise ConfigError(
                    f"unknown provider(s) {', '.join(unknown)} (known: {', '.join(factories)})"
                )
            factories = {name: factories[name] for name in wanted}
        config = self.config
        if wanted is not None:
            # A shared mock.toml may configure providers this mock does not serve.
            config = replace(
                config, providers={n: p for n, p in config.providers.items() if n in factories}
            )
        app = create_app(
            config, adapters=factories, validate_responses=self.options.validate_responses
        )
        state: MockState = app.state.mock
        self._webhooks.now = state.clock.now
        _install_webhook_transport(state, self._webhooks)
        return app

    # --- lifecycle ------------------------------------------------------------
    def start(self: M) -> M:
        """Build the app and start it; returns self. Refuses to start twice."""
        if self._loop is not None:
            raise RuntimeError("this mock was already started; make a new one per test")
        self._app = self._build_app()
        self._loop = LoopThread(f"genmock-{type(self).__name__}",
                                first_step_here=self._first_step_here)
        self._loop.start()
        try:
            self._serve()
            self._apply_configured()
        except BaseException:
            self.stop()
            raise
        return self

    def _serve(self) -> None:
        raise NotImplementedError

    def _unserve(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        """Stop serving, stop the webhook sender, end the loop thread. Idempotent."""
        loop = self._loop
        if loop is None or not loop.alive:
            return
        try:
            self._unserve()
        finally:
            try:
                loop.run(self._webhooks.aclose(), timeout=SERVER_SECONDS)
            finally:
                loop.stop()

    def __enter__(self: M) -> M:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self: M) -> M:
        return self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __call__(self, function: F) -> F:
        """Decorator: run ``function`` inside a fresh mock built with the same options.

        A parameter named ``provider_mock`` receives the handle.
        """
        wants_handle = INJECTED_PARAMETER in inspect.signature(function).parameters
        factory = type(self)
        options = self.options

        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with factory(options) as mock:
                    if wants_handle:
                        kwargs[INJECTED_PARAMETER] = mock
                    return await function(*args, **kwargs)

            return cast(F, async_wrapper)

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with factory(options) as mock:
                if wants_handle:
                    kwargs[INJECTED_PARAMETER] = mock
                return function(*args, **kwargs)

        return cast(F, wrapper)

    # --- on the mock's loop ---------------------------------------------------
    @property
    def _thread(self) -> LoopThread:
        if self._loop is None or not self._loop.alive:
            raise RuntimeError("the mock is not running")
        return self._loop

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """Call the admin API in-process (``admin("GET", "/_mock/jobs")``); the JSON answer.

        Raises :class:`MockControlError` for a 4xx/5xx answer.
        """
        request = httpx.Request(
            method, _ADMIN_ORIGIN + path, json=body if body is not None else None
        )
        response = self._thread.run(call_asgi(self.app, request, request.content))
        data = response.json() if response.content else None
        if response.status_code >= 400:
            message = data.get("error") if isinstance(data, dict) else response.text
            raise MockControlError(response.status_code, str(message), path)
        return data

    # --- time -------------------------------------------------------------------
    @property
    def now(self) -> float:
        """Mock time (Unix seconds)."""
        return self.state.clock.now()

    def advance(self, seconds: float, *, timeout: float = ADVANCE_WAIT_SECONDS) -> float:
        """Move the clock ``seconds`` forward, deliver webhooks now due, return the new time.

        Jobs whose time has come finish; their webhooks are POSTed (to
        :attr:`received`, a routed app, or a receiver) before this returns.
        Raises :class:`TimeoutError` if deliveries are still in flight after
        ``timeout`` wall seconds (a receiver that hangs).
        """
        now, settled = self._thread.run(self._advance(seconds, timeout), timeout + 5.0)
        if not settled:
            raise TimeoutError(f"webhooks still in flight {timeout:g} s after advance({seconds})")
        return now

    async def aadvance(self, seconds: float, *, timeout: float = ADVANCE_WAIT_SECONDS) -> float:
        """:meth:`advance` for async tests: awaits instead of blocking the test's loop."""
        now, settled = await self._thread.arun(self._advance(seconds, timeout), timeout + 5.0)
        if not settled:
            raise TimeoutError(f"webhooks still in flight {timeout:g} s after advance({seconds})")
        return now

    async def _advance(self, seconds: float, timeout: float) -> tuple[float, bool]:
        state = self.state
        now = state.advance(float(seconds))
        settled = await state.sender.idle(timeout)
        return now, settled

    def settle(self, timeout: float = ADVANCE_WAIT_SECONDS) -> bool:
        """Wait until no webhook is in flight or due now (real clocks); True if so."""

        async def idle() -> bool:
            self.state.tick()
            return await self.state.sender.idle(timeout)

        return self._thread.run(idle(), timeout + 5.0)

    # --- what happened ----------------------------------------------------------
    def _all_pages(self, path: str, name: str) -> list[dict[str, Any]]:
        """Every item of an admin list, oldest first, following ``next_cursor``."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            query = f"?order=oldest&limit=500{'' if cursor is None else '&cursor=' + cursor}"
            page = self.admin("GET", path + query)
            items.extend(page[name])
            cursor = page.get("next_cursor")
            if cursor is None:
                return items

    @property
    def jobs(self) -> list[dict[str, Any]]:
        """Every job, as ``GET /_mock/jobs`` shows it (plain dicts, oldest first)."""
        return self._all_pages("/_mock/jobs", "jobs")

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The request journal, as ``GET /_mock/requests`` shows it (oldest first, all kept)."""
        return self._all_pages("/_mock/requests", "requests")

    @property
    def webhooks(self) -> list[dict[str, Any]]:
        """Webhook deliveries and their attempts, as ``GET /_mock/webhooks`` shows them."""
        return self._all_pages("/_mock/webhooks", "deliveries")

    @property
    def received(self) -> list[ReceivedWebhook]:
        """Every webhook POST that arrived in-process (captured, routed or passed through)."""
        return list(self._webhooks.received)

    @property
    def webhook_inbox(self) -> list[ReceivedWebhook]:
        """Alias of :attr:`received`."""
        return self.received

    @property
    def unhandled_errors(self) -> list[dict[str, Any]]:
        """Exceptions the mock did not expect (bugs in the mock), as plain dicts."""
        return [error.to_dict() for error in self.state.unhandled_errors]

    def check(self) -> None:
        """Raise AssertionError if the mock hit a bug or broke its own contract."""
        problems = [f"unhandled {e.error_type} in {e.where} {e.method or ''} {e.path or ''}: "
                    f"{e.message}" for e in self.state.unhandled_errors]
        problems += [f"contract violation: {v.method} {v.path} -> {v.status}: "
                     f"{'; '.join(v.errors[:3])}" for v in self.state.contract_violations]
        if problems:
            raise AssertionError("the mock server failed:\n  " + "\n  ".join(problems))

    # --- controls -----------------------------------------------------------------
    def queue_scenario(
        self,
        name_or_code: str | int,
        *,
        times: int = 1,
        delay: float | None = None,
        **match: Any,
    ) -> dict[str, Any]:
        """Queue a scenario for the next matching call (``POST /_mock/scenarios``).

        ``name_or_code``: a scenario name (``"job_failed"``, ``"job_failed:timeout"``)
        or an error code (``429``). ``match``: ``provider``, ``endpoint``, ``model``,
        ``key``, ``nth``. Returns the queued entry.
        """
        spec: dict[str, Any] = _scenario_body(name_or_code)
        spec["times"] = times
        if delay is not None:
            spec["delay"] = delay
        if match:
            spec["match"] = dict(match)
        result: dict[str, Any] = self.admin("POST", "/_mock/scenarios", spec)
        return result

    @property
    def scenarios(self) -> list[dict[str, Any]]:
        """Scenarios still queued, as ``GET /_mock/scenarios`` shows them (``queued``)."""
        return self._all_pages("/_mock/scenarios", "queued")

    def set_account(self, key: str, **fields: Any) -> dict[str, Any]:
        """Change an API key's account (``PUT /_mock/accounts/{key}``); its new description.

        Fields: ``balance``, ``balances`` ({provider: amount}), ``provider``,
        ``valid``, ``limits``, ``webhook_secret``.
        """
        result: dict[str, Any] = self.admin("PUT", f"/_mock/accounts/{_quote(key)}", fields)
        return result

    def account(self, key: str) -> dict[str, Any]:
        """An API key's accounts at every provider (``GET /_mock/accounts/{key}``)."""
        result: dict[str, Any] = self.admin("GET", f"/_mock/accounts/{_quote(key)}")
        return result

    def webhook_secret(self, key: str) -> str:
        """The webhook signing secret of API key ``key`` (WaveSpeed signs with it)."""
        try:
            return str(self.account(key)["webhook_secret"])
        except MockControlError as error:
            if error.status != 404:
                raise
        # The accounts admin route is not there: the documented default of a fresh key.
        return default_webhook_secret(key)

    def reset(self) -> None:
        """Back to the configured start: jobs, deliveries, journal, received webhooks go.

        Scenarios given when the mock was made are queued again.
        """
        self.admin("POST", "/_mock/reset")
        self._webhooks.received.clear()
        for receiver in self._receivers:
            receiver.clear()
        self._apply_configured()

    def _apply_configured(self) -> None:
        """The ``accounts`` and ``scenarios`` the mock was made with, via the admin API."""
        for key, settings in self.options.accounts.items():
            # An account the test names is one it means to use: valid even when the
            # config lists keys (which makes every other key invalid), unless it says not.
            self.set_account(key, **{"valid": True, **settings})
        for spec in self.options.scenarios:
            body = dict(spec) if isinstance(spec, Mapping) else _scenario_body(spec)
            self.admin("POST", "/_mock/scenarios", body)

    # --- webhooks ------------------------------------------------------------------
    @property
    def webhook_status(self) -> int:
        """Status the built-in inbox answers webhooks with (default 200)."""
        return self._webhooks.status

    @webhook_status.setter
    def webhook_status(self, status: int) -> None:
        self._webhooks.status = int(status)

    def route_webhooks(self, url_prefix: str, app: ASGIApp) -> None:
        """Deliver webhooks whose URL starts with ``url_prefix`` to an ASGI ``app``, in-process."""
        self._webhooks.route(url_prefix, app)
        if isinstance(app, WebhookReceiver) and app not in self._receivers:
            self._receivers.append(app)

    def pass_webhooks_through(self, url_prefix: str) -> None:
        """Deliver webhooks whose URL starts with ``url_prefix`` over the network.

        For a receiver your test serves on a loopback port. With the in-process
        mock, that host must also pass through respx (``passthrough=[host]``).
        """
        self._webhooks.route(url_prefix, None)

    def webhook_receiver(self, url: str | None = None) -> WebhookReceiver:
        """A new :class:`WebhookReceiver` (its own URL and inbox), already routed."""
        receiver = WebhookReceiver(url)
        self.route_webhooks(receiver.url, receiver)
        return receiver

    # --- addressing -------------------------------------------------------------------
    def base_url(self, provider: str) -> str:
        """Where a client of ``provider`` should send its requests (no trailing slash)."""
        raise NotImplementedError


class InProcessMock(ProviderMock):
    """The app behind the real provider hosts, for httpx clients (sync and async).

    While it runs, respx intercepts every httpx request in the process:
    requests to the provider hosts (``api.eachlabs.ai``, ``api.wavespeed.ai``,
    ``api.apikley.ru``) go to the app, in-process; any other host raises
    ``respx.models.AllMockedAssertionError`` (like ``respx.mock``), unless
    ``passthrough`` lets it reach the network. :attr:`router` is the respx
    router: add routes of your own for other hosts.
    """

    # Most requests end in their first step: answered without a thread switch.
    _first_step_here = True

    def __init__(self, options: MockOptions) -> None:
        super().__init__(options)
        self.router: respx.MockRouter = _DispatchRouter(
            assert_all_called=False, assert_all_mocked=True
        )
        self._lifespan: Lifespan | None = None

    @property
    def hosts(self) -> dict[str, str]:
        """Intercepted host -> provider."""
        return dict(self.state.hosts)

    def _serve(self) -> None:
        self._lifespan = Lifespan(self.app)
        self._thread.run(self._lifespan.startup())
        for host in sorted(self.state.hosts):
            self.router.add(_AppRoute(host, self._forward), name=f"genmock:{host}")
        passthrough = self.options.passthrough
        if passthrough is True:
            self.router.route(name="genmock:passthrough").pass_through()
        elif passthrough:
            for host in passthrough:
                self.router.route(host=host, name=f"genmock:passthrough:{host}").pass_through()
        self.router.start()

    def _unserve(self) -> None:
        try:
            self.router.stop(quiet=True)
        finally:
            if self._lifespan is not None:
                self._thread.run(self._lifespan.shutdown())

    def base_url(self, provider: str) -> str:
        """The provider's real base URL (``https://api.eachlabs.ai``): it is intercepted."""
        adapter = self.state.adapters.get(provider)
        if adapter is None:
            raise KeyError(f"no provider {provider!r} here (served: {self.providers})")
        return adapter.contract.spec.base_url.rstrip("/")

    def _forward(self, request: httpx.Request) -> httpx.Response | Awaitable[httpx.Response]:
        """respx side effect: the app's answer (a coroutine for an async client)."""
        body = request.content
        timeout = _read_timeout(request)
        if _ASYNC_CLIENT.get():
            return self._aforward(request, body, timeout)
        try:
            return self._thread.run(call_asgi(self.app, request, body), timeout)
        except TimeoutError:
            raise httpx.ReadTimeout(f"the mock did not answer within {timeout:g} s",
                                    request=request) from None

    async def _aforward(
        self, request: httpx.Request, body: bytes, timeout: float
    ) -> httpx.Response:
        try:
            return await self._thread.arun(call_asgi(self.app, request, body), timeout)
        except TimeoutError:
            raise httpx.ReadTimeout(f"the mock did not answer within {timeout:g} s",
                                    request=request) from None


class _AppRoute(respx.Route):
    """The route of one provider host: its requests go to the app.

    Matches exactly as ``router.route(host=host).mock(side_effect=forward)``
    would, minus respx's generic work per request (pattern objects, and an
    ``inspect.getfullargspec`` of the side effect on every call: a quarter
    of an in-process request). A test that re-mocks the route (a new side
    effect, a return value, pass-through) gets respx's own behaviour back.
    """

    def __init__(self, host: str, forward: Callable[[httpx.Request], Any]) -> None:
        super().__init__(host=host)
        self.side_effect = forward
        self._host = host
        self._forward = forward

    def match(self, request: httpx.Request) -> Any:
        if (self._side_effect is not self._forward or self._return_value is not None
                or self._pass_through):
            return super().match(request)
        if request.url.host != self._host:
            return None
        try:
            return self._forward(request)
        except Exception as error:
            # As respx reports a failing side effect: the call is recorded, then re-raised.
            raise SideEffectError(self, origin=error) from error


#: True while respx resolves a request of an async client (set by _DispatchRouter).
_ASYNC_CLIENT: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "genmock_async_client", default=False
)


class _DispatchRouter(respx.MockRouter):
    """A respx router that tells side effects whether the client is sync or async.

    respx awaits a side effect's coroutine only for async clients, so one side
    effect serves both by looking at :data:`_ASYNC_CLIENT`.
    """

    def handler(self, request: httpx.Request) -> httpx.Response:
        token = _ASYNC_CLIENT.set(False)
        try:
            return super().handler(request)
        finally:
            _ASYNC_CLIENT.reset(token)

    async def async_handler(self, request: httpx.Request) -> httpx.Response:
        token = _ASYNC_CLIENT.set(True)
        try:
            return await super().async_handler(request)
        finally:
            _ASYNC_CLIENT.reset(token)


class ServedMock(ProviderMock):
    """The app on ``http://127.0.0.1:<free port>`` (uvicorn, on the mock's loop thread).

    For clients that do not use httpx (``requests``, the ``wavespeed`` SDK,
    another process): point them at :meth:`base_url`. Nothing is patched.
    """

    def __init__(self, options: MockOptions) -> None:
        super().__init__(options)
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._serving: concurrent.futures.Future[None] | None = None
        self._sock: socket.socket | None = None

    @property
    def port(self) -> int:
        """The loopback port served on."""
        return int(self.url.rsplit(":", 1)[1])

    def _serve(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))  # loopback only
        port = sock.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(self.app, log_config=None, log_level="warning", access_log=False,
                           lifespan="on", http=OneWriteHttpToolsProtocol)
        )
        self._server = server
        self._sock = sock
        self._serving = asyncio.run_coroutine_threadsafe(
            server.serve(sockets=[sock]), self._thread.loop
        )
        deadline = time.monotonic() + SERVER_SECONDS
        while not server.started:
            if self._serving.done() or time.monotonic() > deadline:
                server.should_exit = True
                error = self._serving.exception() if self._serving.done() else None
                raise RuntimeError(f"uvicorn did not start within {SERVER_SECONDS:g} s") from error
            time.sleep(0.002)
        self.url = f"http://127.0.0.1:{port}"

    def _unserve(self) -> None:
        server, serving = self._server, self._serving
        if server is None or serving is None:
            return
        close_streams(self.app)  # console event streams would hold uvicorn's shutdown
        server.should_exit = True
        try:
            serving.result(SERVER_SECONDS)
        except TimeoutError:  # pragma: no cover - a stuck connection
            server.force_exit = True
            serving.result(5.0)
        finally:
            if self._sock is not None:
                self._sock.close()
            self._server = None

    def base_url(self, provider: str) -> str:
        """``http://127.0.0.1:<port>/<provider>``: the real base with the host replaced."""
        if provider not in self.state.adapters:
            raise KeyError(f"no provider {provider!r} here (served: {self.providers})")
        return f"{self.url}/{provider}"


def _read_timeout(request: httpx.Request) -> float:
    timeouts = request.extensions.get("timeout") or {}
    value = timeouts.get("read") if isinstance(timeouts, Mapping) else None
    return float(value) if isinstance(value, int | float) else DEFAULT_REQUEST_SECONDS


def _scenario_body(spec: ScenarioSpec) -> dict[str, Any]:
    if isinstance(spec, Mapping):
        return dict(spec)
    if isinstance(spec, bool):
        raise TypeError(f"a scenario is a name or a code, not {spec!r}")
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
        return {"code": int(spec)}
    return {"scenario": str(spec)}


def _quote(key: str) -> str:
    return quote(key, safe="")
