"""Requests per second of the mock app called directly as ASGI (no server, no sockets).

Isolates the mock's own per-request cost from the server's; ``--profile`` prints
the cProfile top entries. Not a served figure.

    .venv/bin/python bench/asgi_direct.py [--requests 3000] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import logging
import pstats
import time
from typing import Any

from _common import CONFIG, SHAPES

from mockserver.config import MockConfig
from mockserver.http.app import create_app


async def call(app: Any, method: str, path: str, headers: dict[str, str],
               body: bytes = b"") -> tuple[int, bytes]:
    path, _, query = path.partition("?")
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    raw.append((b"host", b"127.0.0.1:8000"))
    if body:
        raw.append((b"content-length", str(len(body)).encode()))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": query.encode(), "root_path": "", "headers": raw,
             "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000)}
    sent = False
    out: dict[str, Any] = {}

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
        else:
            out["body"] = out.get("body", b"") + message.get("body", b"")

    await app(scope, receive, send)
    return out["status"], out["body"]


async def measure(requests: int, profile: bool) -> dict[str, float]:
    logging.getLogger("mockserver").setLevel(logging.WARNING)
    app = create_app(MockConfig.load(CONFIG))
    rates: dict[str, float] = {}
    profiler = cProfile.Profile()
    for name, shape in SHAPES.items():
        body = json.dumps(shape.body).encode()
        status, answer = await call(app, "POST", shape.create_path, shape.headers, body)
        assert status == 200, answer
        poll = shape.poll_path(shape.job_id(json.loads(answer)))
        for operation in ("create", "poll"):
            if profile:
                profiler.enable()
            started = time.perf_counter()
            for _ in range(requests):
                if operation == "create":
                    status, answer = await call(app, "POST", shape.create_path,
                                                shape.headers, body)
                else:
                    status, answer = await call(app, "GET", poll, shape.headers)
                assert status == 200, answer
            rates[f"{name}/{operation}"] = requests / (time.perf_counter() - started)
            if profile:
                profiler.disable()
    if profile:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    for name, rate in asyncio.run(measure(args.requests, args.profile)).items():
        print(f"{name:<20}{rate:>9.0f} req/s (direct ASGI, no server)")


if __name__ == "__main__":
    main()
