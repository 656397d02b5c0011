"""Per-request cost of the server protocol alone: one-write vs the one that also serves CONNECT.

``mockserver serve`` runs :class:`ConnectHttpToolsProtocol` (the HTTPS proxy);
an ordinary request pays one method comparison and two extra Python calls for
it. This feeds the same request to both protocol classes over a fake
transport with a trivial ASGI app, alternately, 7 rounds of 20,000, and
prints the medians: the served bench on a shared machine is too noisy to
show a difference this small.

    .venv/bin/python bench/protocol_overhead.py
"""

from __future__ import annotations

import asyncio
import ssl
import statistics
import time
from typing import Any

import uvicorn
import uvloop
from uvicorn.server import ServerState

from mockserver.http.connect import ConnectProxy, connect_protocol
from mockserver.http.onewrite import OneWriteHttpToolsProtocol

REQUEST = (
    b"POST /wavespeed/api/v3/x HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/json\r\nContent-Length: 13\r\n\r\n"
    b'{"a": "bcde"}'
)
ROUNDS = 7
PER_ROUND = 20_000


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


class FakeTransport:
    """Takes writes and drops them."""

    def write(self, data: bytes) -> None:
        pass

    def writelines(self, data: Any) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 1), "sockname": ("127.0.0.1", 2)}.get(name, default)


async def per_request_us(protocol_class: type[OneWriteHttpToolsProtocol], count: int) -> float:
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    config.load()
    state = ServerState()
    protocol = protocol_class(config=config, server_state=state, app_state={},
                              _loop=asyncio.get_running_loop())
    protocol.connection_made(FakeTransport())  # type: ignore[arg-type]
    start = time.perf_counter()
    for _ in range(count):
        protocol.data_received(REQUEST)
        while state.tasks:
            await asyncio.sleep(0)
    return (time.perf_counter() - start) / count * 1e6


async def main() -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    proxy = ConnectProxy.for_hosts(["api.wavespeed.ai"], context)
    classes: dict[str, type[OneWriteHttpToolsProtocol]] = {
        "onewrite": OneWriteHttpToolsProtocol,
        "connect": connect_protocol(proxy),
    }
    results: dict[str, list[float]] = {name: [] for name in classes}
    for _ in range(ROUNDS):
        for name, protocol_class in classes.items():
            results[name].append(await per_request_us(protocol_class, PER_ROUND))
    for name, figures in results.items():
        print(f"{name:9} median {statistics.median(figures):.2f} us/request  "
              f"(min {min(figures):.2f})")


if __name__ == "__main__":
    uvloop.run(main())
