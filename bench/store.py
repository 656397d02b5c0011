"""Store scaling: memory per stored job, and poll latency as the store grows to 1,000,000 jobs.

* memory: ``--memory-jobs`` real creates through the app (direct ASGI calls: the
  adapter, billing, rate-limit and journal work a served create does), RSS and
  tracemalloc deltas divided by the jobs stored, scaled to 100,000 jobs;
* growth: jobs inserted into the world (copies of a real created job, so the same
  shape) up to 1,000,000 inserted; the world keeps at most ``max_jobs`` (100,000)
  by evicting, so this also times eviction. At each checkpoint a fresh job is
  created and polled ``--polls`` times over ASGI, in rounds alternating with
  polls of a second, empty store; median poll latency, the median per-round
  ratio to the empty store and the mean cost of one insert (eviction
  included) are printed.

    .venv/bin/python bench/store.py [--memory-jobs 20000] [--polls 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import logging
import re
import statistics
import time
import tracemalloc
from pathlib import Path
from typing import Any

from _common import CONFIG, SHAPES
from asgi_direct import call

from mockserver.config import MockConfig
from mockserver.http.app import create_app

CHECKPOINTS = (0, 10_000, 100_000, 300_000, 1_000_000)
#: Alternating runs per checkpoint (grown store, empty store).
ROUNDS = 5


def _rss_kib() -> int:
    match = re.search(r"VmRSS:\s+(\d+)", Path("/proc/self/status").read_text())
    return int(match.group(1)) if match else 0


async def _create(app: Any, provider: str = "eachlabs") -> str:
    shape = SHAPES[provider]
    status, answer = await call(app, "POST", shape.create_path, shape.headers,
                                json.dumps(shape.body).encode())
    assert status == 200, answer
    return shape.job_id(json.loads(answer))


async def memory(jobs: int) -> dict[str, float]:
    app = create_app(MockConfig.load(CONFIG))
    await _create(app)  # warm: first-use caches are not per job
    gc.collect()
    tracemalloc.start()
    traced_before = tracemalloc.get_traced_memory()[0]
    for _ in range(jobs):
        await _create(app)
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0] - traced_before
    tracemalloc.stop()
    stored = len(app.state.mock.world)
    # RSS of a second, untraced run (tracemalloc's own bookkeeping inflates RSS).
    app2 = create_app(MockConfig.load(CONFIG))
    await _create(app2)
    gc.collect()
    rss_before = _rss_kib()
    for _ in range(jobs):
        await _create(app2)
    gc.collect()
    rss = _rss_kib() - rss_before
    return {"jobs": stored, "traced_bytes_per_job": traced / jobs,
            "rss_bytes_per_job": rss * 1024 / jobs,
            "traced_mib_per_100k": traced / jobs * 100_000 / 2**20,
            "rss_mib_per_100k": rss * 1024 / jobs * 100_000 / 2**20}


async def _poll_median_us(app: Any, path: str, headers: dict[str, str], polls: int) -> float:
    latencies = []
    for _ in range(polls):
        began = time.perf_counter()
        status, _ = await call(app, "GET", path, headers)
        latencies.append((time.perf_counter() - began) * 1e6)
        assert status == 200
    return statistics.median(latencies)


async def growth(polls: int, checkpoints: tuple[int, ...],
                 rounds: int = ROUNDS) -> list[dict[str, float]]:
    """Poll latency at each store size, against an empty store polled in the same rounds.

    The machine's speed drifts by tens of percent over minutes, more than the
    effect measured: each checkpoint alternates ``rounds`` short runs on the
    grown store with runs on a second, empty one, and ``vs_empty`` is the
    median of the per-round ratios.
    """
    app = create_app(MockConfig.load(CONFIG))
    world = app.state.mock.world
    template = world.get(await _create(app))
    assert template is not None
    empty = create_app(MockConfig.load(CONFIG))
    headers = SHAPES["eachlabs"].headers
    empty_path = SHAPES["eachlabs"].poll_path(await _create(empty))
    # (the template job stays stored: one job among the many)
    inserted = 0
    rows = []
    per_round = max(1, polls // rounds)
    for target in checkpoints:
        started = time.perf_counter()
        count = target - inserted
        for index in range(inserted, target):
            world.add(dataclasses.replace(
                template, id=f"{index:08x}-0000-4000-8000-000000000000",
                input=json.loads(json.dumps(template.input)), extra=dict(template.extra)))
        insert_us = (time.perf_counter() - started) / count * 1e6 if count else 0.0
        inserted = target
        path = SHAPES["eachlabs"].poll_path(await _create(app))
        for _ in range(200):  # warm
            await call(app, "GET", path, headers)
            await call(empty, "GET", empty_path, headers)
        grown_us, empty_us, ratios = [], [], []
        for _ in range(rounds):
            grown_us.append(await _poll_median_us(app, path, headers, per_round))
            empty_us.append(await _poll_median_us(empty, empty_path, headers, per_round))
            ratios.append(grown_us[-1] / empty_us[-1])
        rows.append({"inserted": target, "stored": len(world),
                     "poll_median_us": statistics.median(grown_us),
                     "empty_median_us": statistics.median(empty_us),
                     "vs_empty": statistics.median(ratios),
                     "insert_us": insert_us})
    return rows


def run(memory_jobs: int = 20_000, polls: int = 2000,
        checkpoints: tuple[int, ...] = CHECKPOINTS) -> dict[str, Any]:
    logging.getLogger("mockserver").setLevel(logging.WARNING)
    mem = asyncio.run(memory(memory_jobs))
    rows = asyncio.run(growth(polls, checkpoints))
    return {"memory": mem, "growth": rows}


def table(results: dict[str, Any]) -> str:
    mem = results["memory"]
    lines = [f"memory: {mem['traced_bytes_per_job']:.0f} B/job traced, "
             f"{mem['rss_bytes_per_job']:.0f} B/job RSS "
             f"(= {mem['traced_mib_per_100k']:.0f} / {mem['rss_mib_per_100k']:.0f} MiB per "
             f"100,000 jobs; {mem['jobs']} real creates)",
             f"{'inserted':>10}{'stored':>9}{'poll p50 us':>13}{'empty us':>10}{'x empty':>9}"
             f"{'insert us':>11}",
             "(x empty: median of per-round ratios to an empty store polled in the same rounds)"]
    for row in results["growth"]:
        lines.append(f"{row['inserted']:>10}{row['stored']:>9}{row['poll_median_us']:>13.1f}"
                     f"{row['empty_median_us']:>10.1f}{row['vs_empty']:>9.2f}"
                     f"{row['insert_us']:>11.2f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--memory-jobs", type=int, default=20_000)
    parser.add_argument("--polls", type=int, default=2000)
    args = parser.parse_args()
    print(table(run(args.memory_jobs, args.polls)))


if __name__ == "__main__":
    main()
