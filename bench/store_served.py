"""Where state lives, served: the memory store, Redis with one worker, Redis with two.

In one run, alternately round by round, wrk loads (one thread, ``--latency``,
on loopback):

* ``baseline``  a bare Starlette app on the stock uvicorn (the reference);
* ``memory``    ``mockserver serve`` as today (state in the process);
* ``redis-1w``  ``mockserver serve --store redis://... --workers 1``;
* ``redis-2w``  ``mockserver serve --store redis://... --workers 2``.

Each mock cell is a ratio to the baseline of the same round (median of the
per-round ratios), with its p99. A Redis cell also shows the *round trips
per request*: the round trips every worker made to Redis during the cell
(each worker counts its own and ``GET /_mock/health`` reports them as
``store.round_trips``; a script is one, a pipeline is one) divided by the
requests served. The workers' background loops (due jobs and webhooks, ten
looks a second each) are in the count. The redis-server is this run's own
(``redis-server`` on a free port, no persistence) and shares the machine's
cores with the workers and wrk: on a 2-core box two workers compete with Redis
and wrk for them.

    .venv/bin/python bench/store_served.py [--duration 2] [--rounds 3] [--connections 1,32]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import redis
from _common import (
    CONFIG,
    KEY,
    PYTHON,
    ROOT,
    SHAPES,
    env,
    free_port,
    http,
    load_average,
    stop,
    wait_http,
)
from served import _median, load, paired_ratio

PROVIDER = "eachlabs"
TARGETS = ("memory", "redis-1w", "redis-2w")


class RedisServer:
    """This run's redis-server: loopback, a free port, no persistence."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server is not installed: apt-get install redis-server")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="genmock-bench-redis-")
        self.process = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.client.ping():
                    break
            except redis.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("redis-server did not start")
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def close(self) -> None:
        self.client.close()
        self.process.kill()
        self.process.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


class Served:
    """One target served in a process (the supervisor and its workers for a fleet)."""

    def __init__(self, target: str, redis: RedisServer) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.workers = "1"
        if target == "baseline":
            command = [PYTHON, "-m", "uvicorn", "--app-dir", str(ROOT / "bench"),
                       "baseline_app:app", "--host", "127.0.0.1", "--port", str(self.port),
                       "--http", "httptools", "--loop", "uvloop", "--no-access-log",
                       "--log-level", "warning"]
        else:
            command = [PYTHON, "-m", "mockserver", "serve", "--host", "127.0.0.1",
                       "--port", str(self.port), "--config", str(CONFIG), "--log-level",
                       "warning", "--no-https-proxy"]
            if target.startswith("redis"):
                self.workers = workers = target.removeprefix("redis-").removesuffix("w")
                command += ["--store", redis.url, "--store-prefix", f"bench-{target}",
                            "--workers", workers]
        self.process = subprocess.Popen(command, cwd=ROOT, env=env(),
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_http(f"{self.base}/_mock/health", self.process)

    def round_trips(self) -> int:
        """Round trips to Redis so far, summed over every worker (asked on fresh
        connections until each worker answered; health itself costs a few)."""
        workers = int(self.workers)
        seen: dict[int, int] = {}
        for _ in range(200):
            answer = http("GET", f"{self.base}/_mock/health")
            seen[answer["worker"]["pid"]] = answer["store"]["round_trips"]
            if len(seen) >= workers:
                break
        return sum(seen.values())

    def close(self) -> None:
        stop(self.process)


def _targets(served: Served, target: str) -> dict[str, tuple[str, str, Any, dict[str, str]]]:
    shape = SHAPES[PROVIDER]
    if target == "baseline":
        return {"create": (f"{served.base}/create", "POST", shape.body, shape.headers),
                "poll": (f"{served.base}/poll/0b6a3b52", "GET", None, {"X-API-Key": KEY})}
    job = shape.job_id(http("POST", served.base + shape.create_path, shape.body, shape.headers))
    auth = {k: v for k, v in shape.headers.items() if k != "Content-Type"}
    return {"create": (served.base + shape.create_path, "POST", shape.body, shape.headers),
            "poll": (served.base + shape.poll_path(job), "GET", None, auth)}


def run(duration: float, rounds: int, connections: tuple[int, ...]) -> dict[str, Any]:
    redis = RedisServer()
    results: dict[str, Any] = {"duration_s": duration, "rounds": rounds,
                               "load_before": load_average(), "cells": {}}
    servers: dict[str, Served] = {}
    try:
        for target in ("baseline", *TARGETS):
            servers[target] = Served(target, redis)
        runs: dict[str, list[dict[str, Any]]] = {}
        for _ in range(rounds):
            for conns in connections:
                for operation in ("poll", "create"):
                    for target, served in servers.items():
                        url, method, body, headers = _targets(served, target)[operation]
                        load(url, method, body, headers, 4, 1)  # warm
                        fleet = target.startswith("redis")
                        before = served.round_trips() if fleet else 0
                        figures = load(url, method, body, headers, conns, duration)
                        served_requests = figures["rps"] * max(1, round(duration))
                        if fleet and served_requests:
                            figures["trips"] = (served.round_trips() - before) / served_requests
                        runs.setdefault(f"{target}/{operation}/c{conns}", []).append(figures)
        for cell, cell_runs in runs.items():
            figures = _median(cell_runs)
            if all("trips" in r for r in cell_runs):
                figures["trips"] = sorted(r["trips"] for r in cell_runs)[len(cell_runs) // 2]
            name, operation, width = cell.split("/")
            if name != "baseline":
                figures["ratio"] = paired_ratio(cell_runs, runs[f"baseline/{operation}/{width}"])
            results["cells"][cell] = figures
    finally:
        for served in servers.values():
            served.close()
        redis.close()
    results["load_after"] = load_average()
    return results


def table(results: dict[str, Any]) -> str:
    rows = [f"store_served (wrk, {results['duration_s']:g}s x {results['rounds']} rounds, "
            f"medians; load {results['load_before']} -> {results['load_after']})",
            f"{'target':<26}{'rps':>9}{'p50 ms':>9}{'p99 ms':>9}{'x base':>8}{'trips':>7}"
            f"{'errors':>8}",
            "(x base: / bare Starlette, median of per-round ratios; trips: round trips to Redis "
            "per request, all workers)"]
    for cell, f in results["cells"].items():
        ratio = f"{f['ratio']:.2f}" if "ratio" in f else "-"
        trips = f"{f['trips']:.2f}" if "trips" in f else "-"
        rows.append(f"{cell:<26}{f['rps']:>9.0f}{f['p50_ms']:>9.2f}{f['p99_ms']:>9.2f}"
                    f"{ratio:>8}{trips:>7}{f['non_2xx'] + f['socket_errors']:>8}")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", default="1,32")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    results = run(args.duration, args.rounds,
                  tuple(int(c) for c in args.connections.split(",")))
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
