"""Benchmark: full in-process job lifecycles per second (not a test).

One lifecycle = create (with a webhook URL) -> advance the manual clock ->
poll until terminal -> the webhook captured in-process. Three shapes:

* ``sync-sequential``: one job at a time, an ``advance`` per job (the worst case);
* ``sync-batched``: ``--batch`` creates, one ``advance``, then the polls;
* ``async-batched``: the same with an ``httpx.AsyncClient`` and ``asyncio.gather``.

Prints the median (and min/max) jobs/s over ``--rounds`` rounds. Run::

    .venv/bin/python bench/inprocess_lifecycle.py [--jobs 1000] [--rounds 5] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import pstats
import statistics
import time
from collections.abc import Callable

import httpx

from mockserver.testing import InProcessMock, mock_providers

BASE = "https://api.eachlabs.ai"
HEADERS = {"X-API-Key": "bench-key"}
BODY = {
    "model": "wan-v2-2-a14b-image-to-video-turbo",
    "input": {"image_url": "https://images.example.com/a.jpg", "prompt": "bench"},
    "webhook_url": "https://hooks.example.com/bench",
}
#: The bench key: limits lifted, a huge balance (else 100 creates/min would refuse).
ACCOUNTS = {"bench-key": {"balance": 10**12, "limits": {
    "creates_per_window": 10**9, "window_seconds": 1, "concurrent": 10**9}}}


def _create(client: httpx.Client) -> str:
    return str(client.post(f"{BASE}/v1/prediction/", json=BODY, headers=HEADERS)
               .json()["predictionID"])


def _poll(client: httpx.Client, job_id: str) -> None:
    for _ in range(10):
        if client.get(f"{BASE}/v1/prediction/{job_id}", headers=HEADERS).json()["status"] == (
            "success"
        ):
            return
    raise AssertionError(f"{job_id} did not finish")


def sync_sequential(mock: InProcessMock, client: httpx.Client, jobs: int, batch: int) -> None:
    for _ in range(jobs):
        job_id = _create(client)
        mock.advance(60)
        _poll(client, job_id)


def sync_batched(mock: InProcessMock, client: httpx.Client, jobs: int, batch: int) -> None:
    for start in range(0, jobs, batch):
        ids = [_create(client) for _ in range(min(batch, jobs - start))]
        mock.advance(60)
        for job_id in ids:
            _poll(client, job_id)


def async_batched(mock: InProcessMock, client: httpx.Client, jobs: int, batch: int) -> None:
    async def run() -> None:
        async with httpx.AsyncClient(headers=HEADERS) as aclient:

            async def create() -> str:
                response = await aclient.post(f"{BASE}/v1/prediction/", json=BODY)
                return str(response.json()["predictionID"])

            async def poll(job_id: str) -> None:
                response = await aclient.get(f"{BASE}/v1/prediction/{job_id}")
                assert response.json()["status"] == "success"

            for start in range(0, jobs, batch):
                ids = await asyncio.gather(*(create() for _ in range(min(batch, jobs - start))))
                await mock.aadvance(60)
                await asyncio.gather(*(poll(i) for i in ids))

    asyncio.run(run())


SHAPES: dict[str, Callable[[InProcessMock, httpx.Client, int, int], None]] = {
    "sync-sequential": sync_sequential,
    "sync-batched": sync_batched,
    "async-batched": async_batched,
}


def one_round(shape: str, jobs: int, batch: int, profile: bool = False,
              sort: str = "tottime") -> float:
    """Jobs per second of one round (a fresh mock; setup not timed).

    With ``profile``, the test thread and the mock's loop thread are profiled
    and the top entries of each printed, ordered by ``sort`` (a pstats key).
    Requests that do not wait run on the test thread (see
    ``mockserver/testing/_loop.py``); the loop's thread mostly sends webhooks.
    """
    with mock_providers(providers=["eachlabs"], accounts=ACCOUNTS) as mock, \
            httpx.Client() as client:
        _create(client)  # warm up: first-request imports and caches
        mock.reset()
        main, loop = cProfile.Profile(), cProfile.Profile()
        if profile:
            mock._thread.call(loop.enable)
            main.enable()
        started = time.perf_counter()
        SHAPES[shape](mock, client, jobs, batch)
        elapsed = time.perf_counter() - started
        if profile:
            main.disable()
            mock._thread.call(loop.disable)
            for name, profiler in (("test thread", main), ("mock loop thread", loop)):
                print(f"\n--- {shape}: {name}, by {sort} ---")
                pstats.Stats(profiler).sort_stats(sort).print_stats(18)
        received = mock.received
        assert len(received) == jobs, f"{len(received)} webhooks for {jobs} jobs"
        assert all(h.status == 200 for h in received)
        mock.check()
    return jobs / elapsed


def run(jobs: int = 1000, batch: int = 100, rounds: int = 3,
        shapes: tuple[str, ...] = tuple(SHAPES)) -> dict[str, dict[str, float]]:
    """Median, min and max jobs/s per shape (for bench/run_all.py)."""
    logging.getLogger("mockserver").setLevel(logging.WARNING)
    results: dict[str, dict[str, float]] = {}
    for shape in shapes:
        rates = [one_round(shape, jobs, batch) for _ in range(rounds)]
        results[shape] = {"median": statistics.median(rates), "min": min(rates),
                          "max": max(rates)}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--shape", choices=[*SHAPES, "all"], default="all")
    parser.add_argument("--profile", action="store_true", help="cProfile one round per shape")
    parser.add_argument("--sort", default="tottime",
                        help="pstats order of --profile output (tottime, cumtime, ...)")
    args = parser.parse_args()
    logging.getLogger("mockserver").setLevel(logging.WARNING)
    shapes = list(SHAPES) if args.shape == "all" else [args.shape]
    print(f"in-process lifecycle, {args.jobs} jobs/round, {args.rounds} rounds, "
          f"batch {args.batch} (Eachlabs; create -> advance -> poll -> webhook captured)")
    for shape in shapes:
        if args.profile:
            one_round(shape, args.jobs, args.batch, profile=True, sort=args.sort)
            continue
        rates = [one_round(shape, args.jobs, args.batch) for _ in range(args.rounds)]
        print(f"{shape:>16}: median {statistics.median(rates):8.0f} jobs/s "
              f"(min {min(rates):.0f}, max {max(rates):.0f})")


if __name__ == "__main__":
    main()
