"""Shared fixtures: apps, clients, a served app, a webhook receiver.

Every app made through these fixtures validates its own responses against
the contracts, and the test FAILS if an app recorded an unhandled exception
or a contract violation (opt out with ``@pytest.mark.allow_unhandled_errors``
or ``@pytest.mark.allow_contract_violations`` in a test that provokes one).

Fixtures (names are an API: other test files use them):

``make_app(**kwargs)``   create_app(...) with a manual clock and validate_responses=True
``app``                  make_app() with the real provider registry
``make_client(app)``     Starlette TestClient, entered (lifespan runs: the sender is live)
``client``               make_client(app)
``serve_app(app)``       the app on uvicorn in a thread on a free 127.0.0.1 port -> Served
``served``               serve_app(app): .url, .app, .state, .drain()
``webhook_receiver``     a real HTTP server recording requests: .url, .requests,
                         .respond_with(500, 500, 200, delay=0), .wait_for(n, timeout)
``make_receiver()``      another receiver
``refused_url``          a loopback URL where nothing listens (connection refused)
``fake_adapters``        adapter factories of a tiny provider-agnostic test adapter
"""

from __future__ import annotations

import bisect
import importlib.util
import json
import socket
import subprocess
import sys
import threading
import time
import uuid
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from mockserver.providers import registry

with warnings.catch_warnings():
    # Starlette 1.x nudges TestClient users towards httpx2; httpx works the same here.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

from mockserver.console.events import close_streams
from mockserver.contracts import ModelContract, ProviderContract
from mockserver.domain.clock import ManualClock
from mockserver.domain.errors import MockError
from mockserver.domain.lifecycle import Job, State, WebhookTarget
from mockserver.domain.service import CreateRequest, MockService, dumps
from mockserver.domain.webhooks import WebhookMessage
from mockserver.http.app import create_app
from mockserver.http.onewrite import OneWriteHttpToolsProtocol
from mockserver.http.state import MockState
from mockserver.providers.base import AdapterFactory, Route, WireRequest, WireResponse
from mockserver.providers.wavespeed.signing import sign_standard_webhooks_v3


def missing_tool(message: str) -> NoReturn:
    """A tool the suite needs is absent: skipped with ``message`` (which names the install
    command) on a developer's machine, a one-line failure in CI (``CI`` set), where
    `.ci/setup` should have installed it."""
    import os

    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def need_tool(name: str) -> str:
    """The path of system tool ``name``, or :func:`missing_tool` with its install line."""
    import shutil

    path = shutil.which(name)
    if path is not None:
        return path
    missing_tool(f"{name} is not installed (.ci/apt-packages.txt lists its package; "
                 "run .ci/setup)")


# --- a real redis-server (tests/store) --------------------------------------------


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a redis-server this test session owns (tests use their own prefixes)."""
    from redis_server import RedisServer

    server = RedisServer(need_tool("redis-server"), tmp_path_factory.mktemp("redis"))
    server.start()
    yield server.url
    server.kill()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[object]:
    """A redis-server of this test alone, to stop and restart (``RedisServer``)."""
    from redis_server import RedisServer

    server = RedisServer(need_tool("redis-server"), tmp_path)
    yield server
    server.kill()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "allow_unhandled_errors: the test provokes an unhandled error on purpose"
    )
    config.addinivalue_line(
        "markers", "allow_contract_violations: the test provokes a contract violation on purpose"
    )
    config.addinivalue_line(
        "markers", "store_backends: run once on the memory store and once on a Redis store"
    )


# --- the automatic check ----------------------------------------------------------


@pytest.fixture
def _mock_apps() -> list[Starlette]:
    return []


@pytest.fixture(autouse=True)
def _mock_guard(request: pytest.FixtureRequest, _mock_apps: list[Starlette]) -> Iterator[None]:
    """Fail the test if any app it made recorded an unhandled error or a violation."""
    yield
    problems: list[str] = []
    for app in _mock_apps:
        state: MockState = app.state.mock
        if state.unhandled_errors and not request.node.get_closest_marker(
            "allow_unhandled_errors"
        ):
            for record in state.unhandled_errors:
                problems.append(
                    f"unhandled {record.error_type} in {record.where} "
                    f"{record.method or ''} {record.path or ''}:\n{record.traceback}"
                )
        if state.contract_violations and not request.node.get_closest_marker(
            "allow_contract_violations"
        ):
            for violation in state.contract_violations:
                problems.append(
                    f"contract violation: {violation.method} {violation.path} -> "
                    f"{violation.status} breaks {violation.schema}: {list(violation.errors)}\n"
                    f"body: {json.dumps(violation.body, default=str)[:2000]}"
                )
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


# --- apps and clients ---------------------------------------------------------------


@pytest.fixture
def make_app(
    _mock_apps: list[Starlette], store_backend: str, make_store: Callable[[], Any]
) -> Callable[..., Starlette]:
    """Factory: ``make_app(config=None, clock=None, adapters=None, validate_responses=True)``.

    The clock is a fresh ManualClock unless ``clock`` is given (pass
    ``clock=RealClock(speed)`` for a real-time test); each call is a fresh world.
    """

    def factory(**kwargs: Any) -> Starlette:
        kwargs.setdefault("validate_responses", True)
        if kwargs.get("clock") is None:
            kwargs["clock"] = ManualClock()
        if store_backend == "redis" and "store" not in kwargs:
            kwargs["store"] = make_store()
        app = create_app(**kwargs)
        _mock_apps.append(app)
        return app

    return factory


@pytest.fixture
def store_backend(request: pytest.FixtureRequest) -> str:
    """Where ``make_app``'s apps keep their state: ``memory`` (the default), or
    ``redis`` for tests marked ``store_backends`` (they run once on each)."""
    return str(getattr(request, "param", "memory"))


@pytest.fixture
def make_store(request: pytest.FixtureRequest) -> Iterator[Callable[[], Any]]:
    """Factory: a Redis store on the session's redis-server under a prefix of its own
    (reset at teardown)."""
    made: list[Any] = []

    def factory() -> Any:
        from mockserver.store import connect_redis

        store = connect_redis(request.getfixturevalue("redis_url"),
                              prefix=f"t{uuid.uuid4().hex[:12]}")
        made.append(store)
        return store

    yield factory
    for store in made:
        store.reset(keep_clock=False)
        store.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("store_backends") is not None and (
        "store_backend" in metafunc.fixturenames
    ):
        metafunc.parametrize("store_backend", ["memory", "redis"], indirect=True)


@pytest.fixture
def app(make_app: Callable[..., Starlette]) -> Starlette:
    """An app with the real provider adapters, a manual clock, response validation on."""
    return make_app()


@pytest.fixture
def make_client() -> Iterator[Callable[..., TestClient]]:
    """Factory: a TestClient for an app, entered so the lifespan (and sender) runs."""
    opened: list[TestClient] = []

    def factory(app: Starlette, **kwargs: Any) -> TestClient:
        client = TestClient(app, **kwargs)
        client.__enter__()
        opened.append(client)
        return client

    yield factory
    for client in reversed(opened):
        client.__exit__(None, None, None)


@pytest.fixture
def client(app: Starlette, make_client: Callable[..., TestClient]) -> TestClient:
    """A sync client on ``app`` (base URL http://testserver)."""
    return make_client(app)


# --- a served app -------------------------------------------------------------------


@dataclass
class Served:
    """An app served by uvicorn on a loopback port, in a background thread."""

    url: str
    app: Starlette
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def state(self) -> MockState:
        state: MockState = self.app.state.mock
        return state

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until no webhook is in flight or due now (see WebhookSender.quiet)."""
        return self.state.sender.wait_idle(timeout)

    def stop(self) -> None:
        close_streams(self.app)  # console event streams would hold uvicorn's shutdown
        self.server.should_exit = True
        self.thread.join(10)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(5)
        assert not self.thread.is_alive(), "uvicorn did not stop within 15 s"


def wait_for_health(
    url: str, process: subprocess.Popen[str], timeout: float = 15.0, *, answered: bool = False
) -> None:
    """Until ``url`` answers 200 (``answered``: anything, e.g. a 401 without the token)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited early with {process.returncode}")
        try:
            status = httpx.get(url, timeout=0.5, trust_env=False).status_code
            if status == 200 or answered:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_served(app: Starlette) -> Served:
    """Serve ``app`` on a socket bound here (no race for the port) and wait until up."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # The protocol `mockserver serve` uses, so every served test goes through it.
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", http=OneWriteHttpToolsProtocol
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="served-app", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("uvicorn did not start within 10 s")
        time.sleep(0.01)
    return Served(f"http://127.0.0.1:{port}", app, server, thread)


@pytest.fixture
def serve_app() -> Iterator[Callable[[Starlette], Served]]:
    """Factory: serve an app on a free loopback port; stopped at teardown."""
    started: list[Served] = []

    def factory(app: Starlette) -> Served:
        served = start_served(app)
        started.append(served)
        return served

    yield factory
    for served in reversed(started):
        served.stop()


@pytest.fixture
def served(app: Starlette, serve_app: Callable[[Starlette], Served]) -> Served:
    """``app`` served on 127.0.0.1:<free port>."""
    return serve_app(app)


# --- a webhook receiver -----------------------------------------------------------


@dataclass
class ReceivedRequest:
    """One request the receiver got."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)
    arrival: int = 0  # the order requests were read in (they are recorded after answering)

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver:
    """A real HTTP server on 127.0.0.1 that records requests and answers from a script."""

    def __init__(self) -> None:
        self.requests: list[ReceivedRequest] = []
        self._script: deque[int] = deque()
        self.default_status = 200
        self.delay = 0.0
        self._condition = threading.Condition()
        self.arrived = 0  # requests read so far, answered or not
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                arrived_at = time.monotonic()
                with receiver._condition:
                    arrival = receiver.arrived
                    receiver.arrived += 1
                    status = (
                        receiver._script.popleft() if receiver._script
                        else receiver.default_status
                    )
                    delay = receiver.delay
                if delay:
                    time.sleep(delay)
                payload = b'{"ok":true}'
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender gave up waiting (timeout, shutdown)
                # Recorded after answering, so wait_for(n) sees the sender's attempt
                # finish; kept in arrival order, since a request read later can
                # finish its answer first on another thread.
                with receiver._condition:
                    bisect.insort(
                        receiver.requests,
                        ReceivedRequest(
                            self.command,
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            at=arrived_at,
                            arrival=arrival,
                        ),
                        key=lambda request: request.arrival,
                    )
                    receiver._condition.notify_all()

            do_POST = do_PUT = do_GET = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        # The sender POSTs up to 64 deliveries at once; the default listen
        # backlog of 5 would reset some of them.
        server_class = type("Receiver", (ThreadingHTTPServer,), {"request_queue_size": 128})
        self._server = server_class(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        port: int = self._server.server_address[1]
        return port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def respond_with(self, *statuses: int, delay: float | None = None) -> None:
        """Answer the next requests with these statuses, then ``default_status`` (200)."""
        with self._condition:
            self._script = deque(statuses)
            if delay is not None:
                self.delay = delay

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedRequest]:
        """Block until ``count`` requests arrived (AssertionError after ``timeout``)."""
        with self._condition:
            if not self._condition.wait_for(lambda: len(self.requests) >= count, timeout):
                raise AssertionError(
                    f"webhook receiver got {len(self.requests)} request(s), "
                    f"expected {count} within {timeout} s"
                )
            return list(self.requests)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


@pytest.fixture
def make_receiver() -> Iterator[Callable[[], WebhookReceiver]]:
    """Factory: another webhook receiver (closed at teardown)."""
    made: list[WebhookReceiver] = []

    def factory() -> WebhookReceiver:
        receiver = WebhookReceiver()
        made.append(receiver)
        return receiver

    yield factory
    for receiver in made:
        receiver.close()


@pytest.fixture
def webhook_receiver(make_receiver: Callable[[], WebhookReceiver]) -> WebhookReceiver:
    """A receiver on 127.0.0.1:<free port>, answering 200 unless scripted."""
    return make_receiver()


@pytest.fixture
def refused_url() -> str:
    """A loopback URL where nothing listens: connecting is refused."""
    return f"http://127.0.0.1:{free_port()}/hook"


# --- a tiny test adapter -----------------------------------------------------------------


def _render_template(template: Any, values: dict[str, Any]) -> Any:
    if isinstance(template, dict):
        return {k: _render_template(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_render_template(v, values) for v in template]
    if template == "{code}":
        return values["code"]
    if isinstance(template, str):
        return template.format_map({k: str(v) for k, v in values.items()})
    return template


class FakeAdapter:
    """A provider-agnostic adapter for HTTP-layer tests (not any provider's wire shapes).

    Routes: POST /v1/jobs (create), GET /v1/jobs/{id} (poll), POST /v1/jobs/{id}/cancel,
    POST /v1/echo, GET /v1/where, GET /v1/boom (raises), GET /v1/wrong (breaks its schema).
    Errors are rendered from the contract's real envelope templates and transport.
    """

    def __init__(self, contract: ProviderContract, service: MockService) -> None:
        self.name = contract.name
        self.contract = contract
        self.service = service
        self.model = ModelContract(
            {
                "contract": "model",
                "provider": contract.name,
                "slug": "fake",
                "model_id": "fake/model",
                "estimated_processing_seconds": 10,
                "input_schema": {
                    "type": "object",
                    "properties": {"prompt": {"type": "string", "maxLength": 50}},
                },
            }
        )

    def routes(self) -> list[Route]:
        return [
            Route("create", "POST", "/v1/jobs", self.create),
            Route("poll", "GET", "/v1/jobs/{id}", self.poll),
            Route("cancel", "POST", "/v1/jobs/{id}/cancel", self.cancel),
            Route("echo", "POST", "/v1/echo", self.echo),
            Route("where", "GET", "/v1/where", self.where),
            Route("boom", "GET", "/v1/boom", self.boom),
            Route("wrong", "GET", "/v1/wrong", self.wrong),
        ]

    def authenticate(self, request: WireRequest) -> str:
        key = request.headers.get("x-api-key")
        if not key:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            key = token.strip() if scheme.lower() == "bearer" else ""
        if not key:
            raise MockError(401, "missing credentials")
        return key

    def create(self, request: WireRequest) -> WireResponse:
        key = self.authenticate(request)
        body = request.json()
        if not isinstance(body, dict):
            raise MockError(400, "body must be an object")
        payload = self.service.validate_input(self.model, body.get("input", {}), prefix="input.")
        webhook = None
        if body.get("webhook_url"):
            webhook = WebhookTarget(body["webhook_url"], body.get("webhook_secret"))
        job = self.service.create(
            CreateRequest(self.name, key, self.model, payload, webhook=webhook),
            job_id=self.service.world.new_uuid(),
        )
        return WireResponse(200, {"id": job.id, "status": str(job.state)})

    def _view(self, job: Job, request: WireRequest) -> dict[str, Any]:
        output = None
        if job.state is State.SUCCEEDED:
            output = f"{request.media_base_url}/_mock/media/{job.id}.mp4"
        return {"id": job.id, "status": str(job.state), "output": output,
                "get": f"{request.base_url}/v1/jobs/{job.id}"}

    def poll(self, request: WireRequest) -> WireResponse:
        self.authenticate(request)
        job = self.service.poll(self.name, request.path_params["id"])
        return WireResponse(200, self._view(job, request))

    def cancel(self, request: WireRequest) -> WireResponse:
        self.authenticate(request)
        job = self.service.cancel(self.name, request.path_params["id"])
        return WireResponse(200, self._view(job, request))

    def echo(self, request: WireRequest) -> WireResponse:
        return WireResponse(200, {"body": request.json(), "size": len(request.body)})

    def where(self, request: WireRequest) -> WireResponse:
        return WireResponse(
            200,
            {"base_url": request.base_url, "media_base_url": request.media_base_url,
             "path": request.path, "query": dict(request.query)},
        )

    def boom(self, request: WireRequest) -> WireResponse:
        raise RuntimeError("kaboom")

    def wrong(self, request: WireRequest) -> WireResponse:
        return WireResponse(200, {"nope": True}, schema="/errors/envelopes/default/schema")

    def render_error(self, error: MockError, request: WireRequest | None) -> WireResponse:
        errors = self.contract.data["errors"]
        code = str(error.status)
        envelope = errors["envelopes"].get(code, errors["envelopes"]["default"])
        pointer = "/errors/envelopes/" + (code if code in errors["envelopes"] else "default")
        body = _render_template(
            envelope["template"],
            {"code": error.status, "message": error.message, "details": error.details or ""},
        )
        transport = errors["transport"]
        status = error.status
        if transport["mode"] == "body_code" and error.status not in transport.get(
            "real_http_status_codes", []
        ):
            status = transport.get("http_status", 200)
        headers = dict(error.headers)
        if error.retry_after is not None:
            headers["Retry-After"] = str(int(error.retry_after))
        return WireResponse(status, body, headers=headers, schema=pointer + "/schema")

    def webhook(self, job: Job) -> WebhookMessage | None:
        target = job.webhook
        if not isinstance(target, WebhookTarget):
            return None
        body = dumps({"id": job.id, "status": str(job.state)})
        secret = target.secret
        sign = None
        if secret:
            def sign(timestamp: int) -> dict[str, str]:
                return sign_standard_webhooks_v3(job.id, timestamp, body, secret)
        return WebhookMessage(target.url, body, {"Content-Type": "application/json"}, sign)


@pytest.fixture
def fake_adapters() -> dict[str, AdapterFactory]:
    """FakeAdapter factories for all three provider contracts."""
    return {name: FakeAdapter for name in registry.names()}


@pytest.fixture
def fake_app(make_app: Callable[..., Starlette], fake_adapters: dict[str, AdapterFactory]
             ) -> Starlette:
    """An app whose providers are all served by FakeAdapter (manual clock)."""
    return make_app(adapters=fake_adapters)


@pytest.fixture
def fake_client(fake_app: Starlette, make_client: Callable[..., TestClient]) -> TestClient:
    """A TestClient on ``fake_app``."""
    return make_client(fake_app)


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` once (examples are scripts, not a package)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
