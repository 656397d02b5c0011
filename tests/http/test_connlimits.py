"""Slow and idle connections cannot starve a normal request (issue 16, item 9).

The app is served by uvicorn with the protocol ``mockserver serve`` uses
(:class:`GuardedHttpToolsProtocol`) and small limits, then flooded on
loopback with connections that send half a request head and stall
(slowloris). Bounded: at most 300 sockets, a few seconds.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from mockserver.config import MockConfig
from mockserver.http.connlimits import GuardedHttpToolsProtocol, configure


@pytest.fixture
def guarded(make_app: Callable[..., Starlette]) -> Iterator[Callable[..., str]]:
    """Factory: serve a fresh app with the guarded protocol and these limits; its URL."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(*, header_timeout: float, max_connections: int) -> str:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(make_app(config=MockConfig()), log_level="warning",
                                lifespan="on", http=GuardedHttpToolsProtocol,
                                timeout_keep_alive=5, backlog=2048)
        configure(config, header_timeout=header_timeout, max_connections=max_connections)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        servers.append((server, thread))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(10)


def _slow_clients(url: str, count: int) -> list[socket.socket]:
    """``count`` connections that each sent half a request head and stalled."""
    port = int(url.rsplit(":", 1)[1])
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"GET /_mock/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")
        sockets.append(sock)
    return sockets


def _closed_by_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_a_normal_request_is_answered_past_the_connection_cap(
    guarded: Callable[..., str],
) -> None:
    url = guarded(header_timeout=30, max_connections=50)
    slow = _slow_clients(url, 250)  # five times the cap, all stalled mid-head
    try:
        started = time.monotonic()
        with httpx.Client(base_url=url, timeout=5, trust_env=False) as http:
            for _ in range(5):
                assert http.get("/_mock/health").status_code == 200
                assert http.post(
                    "/eachlabs/v1/prediction/", headers={"X-API-Key": "sk-slow-0123456789"},
                    json={"model": "wan-v2-2-a14b-image-to-video-turbo",
                          "input": {"image_url": "https://example.com/a.png", "prompt": "x"}},
                ).status_code == 200
        assert time.monotonic() - started < 5
        # The oldest slow connections were closed to make room.
        assert _closed_by_server(slow[0], 1.0)
    finally:
        for sock in slow:
            sock.close()


def test_a_stalled_request_head_is_closed_after_the_header_timeout(
    guarded: Callable[..., str],
) -> None:
    url = guarded(header_timeout=0.5, max_connections=1000)
    stalled = _slow_clients(url, 20)
    port = int(url.rsplit(":", 1)[1])
    silent = socket.create_connection(("127.0.0.1", port), timeout=5)  # sends nothing at all
    try:
        started = time.monotonic()
        assert all(_closed_by_server(sock, 3.0) for sock in [*stalled, silent])
        assert time.monotonic() - started < 3.5
        with httpx.Client(base_url=url, timeout=5, trust_env=False) as http:
            assert http.get("/_mock/health").status_code == 200
    finally:
        for sock in [*stalled, silent]:
            sock.close()


def test_a_head_sent_slowly_but_within_the_timeout_is_served(
    guarded: Callable[..., str],
) -> None:
    url = guarded(header_timeout=2.0, max_connections=10)
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        for part in (b"GET /_mock/health HTTP/1.1\r\n", b"Host: 127.0.0.1\r\n", b"\r\n"):
            sock.sendall(part)
            time.sleep(0.2)
        assert sock.recv(100).startswith(b"HTTP/1.1 200")
