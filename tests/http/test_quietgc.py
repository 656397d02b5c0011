"""Full garbage collections in quiet moments, and request paths that need none.

``mockserver serve`` turns CPython's automatic full collections off (they
paused a loaded server 50-100 ms with a full store) and runs them itself
when no request is in progress. That is only safe while the request paths
make no reference cycles: the second half of this file checks that they
make none.
"""

from __future__ import annotations

import asyncio
import gc
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette

from mockserver.http.quietgc import QuietCollector

KEY = "sk-test-0123456789abcdef"


@pytest.fixture
def restore_gc() -> Iterator[None]:
    thresholds, enabled = gc.get_threshold(), gc.isenabled()
    yield
    gc.set_threshold(*thresholds)
    if enabled:
        gc.enable()


async def _noop_app(scope: Any, receive: Any, send: Any) -> None:
    return None


def test_due_only_when_quiet_and_not_too_soon_or_when_long_overdue() -> None:
    collector = QuietCollector(_noop_app, quiet_seconds=1.0, min_interval_seconds=30.0,
                               max_interval_seconds=600.0)
    # A round start: time.monotonic() + 600 - time.monotonic() can come out
    # a hair under 600 and make the boundary case below flaky.
    start = 1000.0
    collector._last_collection = start
    collector._last_request = start
    assert not collector.due(start + 10)  # quiet, but collected 10 s ago
    assert collector.due(start + 31)  # quiet for 31 s, last collection 31 s ago
    collector._last_request = start + 30.5
    assert not collector.due(start + 31)  # a request half a second ago
    collector._last_request = start + 599.9
    assert collector.due(start + 600)  # busy the whole time: overdue wins


def test_start_takes_over_full_collections_and_stop_gives_them_back(restore_gc: None) -> None:
    gc.set_threshold(700, 1, 10)
    collector = QuietCollector(_noop_app, quiet_seconds=0.0, min_interval_seconds=0.0,
                               check_seconds=0.01)
    collector.start()
    try:
        young, middle, oldest = gc.get_threshold()
        assert (young, middle) == (700, 1)
        assert oldest > 10**9  # the counter never gets there
        deadline = time.monotonic() + 5
        while collector.collections == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert collector.collections > 0  # quiet: it collected by itself
    finally:
        collector.stop()
    assert gc.get_threshold() == (700, 1, 10)


def test_requests_keep_it_from_collecting(restore_gc: None) -> None:
    collector = QuietCollector(_noop_app, quiet_seconds=0.3, min_interval_seconds=0.0,
                               check_seconds=0.01)
    stop = threading.Event()

    def busy() -> None:  # a request every 10 ms, from the server's side
        while not stop.is_set():
            asyncio.run(collector({"type": "http"}, _noop_receive, _noop_send))
            time.sleep(0.01)

    worker = threading.Thread(target=busy)
    worker.start()
    collector.start()
    try:
        time.sleep(0.5)
        assert collector.collections == 0
        stop.set()
        worker.join()
        deadline = time.monotonic() + 5
        while collector.collections == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert collector.collections > 0  # quiet again
    finally:
        stop.set()
        collector.stop()


async def _noop_receive() -> dict[str, Any]:
    return {"type": "http.disconnect"}


async def _noop_send(message: Any) -> None:
    return None


def test_a_started_collector_runs_a_young_collection_every_n_requests(restore_gc: None) -> None:
    # With a full store, evictions free about as many objects as creates make:
    # CPython's own young threshold (allocations minus frees) is then rarely
    # reached, and the young generation grows into a long pause.
    collector = QuietCollector(_noop_app, young_every_requests=10, min_interval_seconds=3600)
    generations: list[int] = []

    def watch(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            generations.append(info["generation"])

    async def requests(count: int) -> None:
        for _ in range(count):
            await collector({"type": "http"}, _noop_receive, _noop_send)

    gc.callbacks.append(watch)
    try:
        gc.disable()  # only the collector's own collections are counted
        asyncio.run(requests(30))
        assert collector.young_collections == 0  # not started: the wrapper only passes through
        collector.start()
        gc.disable()
        generations.clear()
        asyncio.run(requests(35))
        assert collector.young_collections == 3
        assert generations == [1, 1, 1]
    finally:
        gc.callbacks.remove(watch)
        collector.stop()


def test_wrapper_passes_the_app_through(make_app: Callable[..., Starlette]) -> None:
    app = make_app()
    collector = QuietCollector(app)
    assert collector.state.mock is app.state.mock


# --- request paths make no reference cycles ---------------------------------------


async def _call(app: Any, method: str, path: str, headers: dict[str, str],
                body: bytes = b"") -> int:
    path, _, query = path.partition("?")
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    raw += [(b"host", b"127.0.0.1:8000"), (b"content-length", str(len(body)).encode())]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": query.encode(), "root_path": "", "headers": raw,
             "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000)}
    status: list[int] = []
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    return status[0]


CREATE = json.dumps({
    "model": "wan-v2-2-a14b-image-to-video-turbo",
    "input": {"image_url": "https://images.example.com/a.jpg", "prompt": "a cat"},
}).encode()


@pytest.mark.parametrize(
    ("label", "method", "path", "headers", "body", "status"),
    [
        ("create", "POST", "/eachlabs/v1/prediction/", {"X-API-Key": KEY}, CREATE, 200),
        ("bad json", "POST", "/eachlabs/v1/prediction/", {"X-API-Key": KEY}, b"{", 400),
        ("bad key", "POST", "/eachlabs/v1/prediction/", {"X-API-Key": "sk_invalid"},
         CREATE, 401),
        ("no funds", "POST", "/eachlabs/v1/prediction/", {"X-API-Key": "nofunds-1"},
         CREATE, 402),
        ("forced", "POST", "/eachlabs/v1/prediction/", {"X-API-Key": KEY, "Prefer": "code=500"},
         CREATE, 500),
        ("unknown job", "GET", "/eachlabs/v1/prediction/nope", {"X-API-Key": KEY}, b"", 404),
        ("health", "GET", "/_mock/health", {}, b"", 200),
    ],
)
def test_a_request_path_leaves_nothing_for_the_cyclic_collector(
    make_app: Callable[..., Starlette], restore_gc: None, label: str, method: str,
    path: str, headers: dict[str, str], body: bytes, status: int,
) -> None:
    app = make_app()
    headers = {**headers, "Content-Type": "application/json"}

    async def scenario() -> int:
        for _ in range(3):  # warm: first calls fill caches, start the sender
            assert await _call(app, method, path, headers, body) == status
        gc.collect()
        gc.disable()
        for _ in range(50):
            await _call(app, method, path, headers, body)
        return gc.collect()

    assert asyncio.run(scenario()) == 0, f"{label}: the request path made reference cycles"
