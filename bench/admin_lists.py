"""Admin list latency at a large store: every admin list at 200,000 keys and jobs.

Fills one app directly (no HTTP): ``--size`` jobs (copies of a real created
job, one unique key each, spread over the providers) and as many keys with
accounts, plus a full journal, then times each admin list over direct ASGI
calls: the first page, a page deep in the store (following a cursor), and
filters that match little. Prints the median and the worst of ``--repeat``
calls per list; target: every median under 50 ms (issue 16).

    .venv/bin/python bench/admin_lists.py [--size 200000] [--repeat 15]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import statistics
import time
from typing import Any

from _common import SHAPES
from asgi_direct import call

from mockserver.config import LimitsConfig, MockConfig
from mockserver.domain.clock import ManualClock
from mockserver.http.app import create_app

TARGET_MS = 50.0


async def _filled(size: int) -> Any:
    limits = LimitsConfig(jobs=size, job_bytes=1 << 40, keys=size, key_bytes=1 << 40)
    app = create_app(MockConfig(limits=limits), clock=ManualClock())
    state = app.state.mock
    shape = SHAPES["eachlabs"]
    status, answer = await call(app, "POST", shape.create_path, shape.headers,
                                json.dumps(shape.body).encode())
    assert status == 200, answer
    template = next(state.world.jobs())
    providers = list(state.adapters)
    for index in range(size):
        key = f"bench-key-{index:07d}"
        provider = providers[index % len(providers)]
        state.accounts.get(provider, key)
        state.world.add(dataclasses.replace(
            template, id=f"{index:08x}-0000-4000-8000-000000000000", key=key,
            provider=provider, input=dict(template.input), extra=dict(template.extra)))
    for _ in range(state.config.journal_size):  # a full journal
        await call(app, "GET", shape.poll_path(template.id), shape.headers)
    return app


async def _time(app: Any, path: str, repeat: int) -> tuple[float, float, int]:
    timings = []
    status = 0
    for _ in range(repeat):
        started = time.perf_counter()
        status, _body = await call(app, "GET", path, {})
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings), max(timings), status


async def _deep_cursor(app: Any, path: str, pages: int) -> str:
    """The cursor ``pages`` pages into a list (page size 500)."""
    cursor = None
    for _ in range(pages):
        query = "limit=500" + (f"&cursor={cursor}" if cursor else "")
        _status, body = await call(app, "GET", f"{path}?{query}", {})
        cursor = json.loads(body)["next_cursor"]
    assert cursor is not None
    return str(cursor)


async def measure(size: int, repeat: int) -> dict[str, dict[str, float]]:
    started = time.perf_counter()
    app = await _filled(size)
    print(f"filled {size:,} jobs and keys in {time.perf_counter() - started:.1f} s", flush=True)
    jobs_deep = await _deep_cursor(app, "/_mock/jobs", 100)
    accounts_deep = await _deep_cursor(app, "/_mock/accounts", 100)
    paths = {
        "jobs": "/_mock/jobs",
        "jobs limit=500 (max)": "/_mock/jobs?limit=500",
        "jobs 100 pages deep": f"/_mock/jobs?cursor={jobs_deep}",
        "jobs ?provider&state": "/_mock/jobs?provider=apikley&state=queued",
        "jobs ?key (rare)": "/_mock/jobs?key=bench-key-0000001",
        "jobs ?order=oldest": "/_mock/jobs?order=oldest",
        "requests": "/_mock/requests",
        "requests ?provider (none)": "/_mock/requests?provider=apikley",
        "accounts": "/_mock/accounts",
        "accounts 100 pages deep": f"/_mock/accounts?cursor={accounts_deep}",
        "accounts/{key}": "/_mock/accounts/bench-key-0100000",
        "uploads": "/_mock/uploads",
        "webhooks": "/_mock/webhooks",
        "scenarios": "/_mock/scenarios",
        "health": "/_mock/health",
    }
    results = {}
    for name, path in paths.items():
        median, worst, status = await _time(app, path, repeat)
        assert status == 200, (name, status)
        results[name] = {"median_ms": round(median, 2), "max_ms": round(worst, 2)}
    return results


def table(results: dict[str, dict[str, float]], size: int) -> str:
    lines = [f"admin lists at {size:,} jobs and keys (target: median < {TARGET_MS:g} ms)",
             f"{'list':<28}{'median ms':>11}{'max ms':>9}{'met':>5}"]
    for name, figures in results.items():
        met = "yes" if figures["median_ms"] < TARGET_MS else "NO"
        lines.append(f"{name:<28}{figures['median_ms']:>11.2f}{figures['max_ms']:>9.2f}{met:>5}")
    return "\n".join(lines)


def run(size: int = 200_000, repeat: int = 15) -> dict[str, Any]:
    results = asyncio.run(measure(size, repeat))
    return {"size": size, "lists": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    outcome = run(args.size, args.repeat)
    print(table(outcome["lists"], outcome["size"]))


if __name__ == "__main__":
    main()
