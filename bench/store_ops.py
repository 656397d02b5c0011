"""The store's own operations: today's memory objects against the Redis store.

For each operation (create path, poll path, webhook lease) prints median and
p99 latency in one process, ops/s with 1 and 2 processes, and for Redis the
round trips each one costs (target: 1 per poll, at most 2 per create). The
memory side is the domain objects a served create/poll/delivery uses today
(World, Ledger, RateLimiter, Outbox); with 2 processes each has its own
(nothing is shared in memory: that is the point of the Redis store).

Starts its own redis-server (Debian's package) on a free loopback port in a
temporary directory unless ``--redis-url`` names one (its ``--prefix`` keys
are removed before and after).

    .venv/bin/python bench/store_ops.py [--ops 5000] [--redis-url redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from _common import free_port, load_average

from mockserver.domain.accounts import Account
from mockserver.domain.billing import Ledger
from mockserver.domain.clock import ManualClock
from mockserver.domain.lifecycle import Job, Plan, advance_by_poll
from mockserver.domain.ratelimit import RateLimiter, RateLimitPolicy
from mockserver.domain.webhooks import Attempt, Delivery, Outbox, Outcome, RetryPolicy
from mockserver.domain.world import World
from mockserver.store import connect_redis
from mockserver.store.interface import AdmitRequest, NewDelivery, NewJob

OPS = ("create", "poll", "webhook lease")
INPUT = {"prompt": "a cat walking on the beach at sunset, cinematic", "duration": 5}
DOC = (b'{"provider":"eachlabs","model_id":"wan-2-5","input":{"prompt":"a cat walking on the '
       b'beach at sunset, cinematic","duration":5},"plan":[3.5,31.5]}')
PRICE = Decimal("0.075")


# --- one side, one process: a function per operation, called with its index -------------


def memory_ops(tag: str) -> dict[str, Callable[[int], Any]]:
    clock = ManualClock()
    world = World(clock, seed=1)
    ledger = Ledger()
    account = Account("eachlabs", "bench", "USD", Decimal(10) ** 9)
    limiter = RateLimiter({"eachlabs": RateLimitPolicy(creates_per_window=10**9,
                                                       concurrent=10**9)})
    outbox = Outbox()
    plan = Plan.from_estimate(35.0)
    policy = RetryPolicy()

    def create(index: int) -> None:
        job_id = f"{tag}-{index}"
        now = clock.now()
        decision = limiter.check_create("eachlabs", "bench", now)
        ledger.reserve(account, job_id, PRICE)
        limiter.record_create("eachlabs", "bench", now, job_id, decision)
        world.add(Job(job_id, "eachlabs", "wan-2-5", "bench", dict(INPUT), now, plan))

    def poll(index: int) -> None:
        job = world.get(f"{tag}-{index}")
        assert job is not None
        advance_by_poll(job, clock.now())

    def lease(index: int) -> None:
        [delivery] = outbox.due(clock.now(), 1)
        outbox.record(delivery, Attempt(delivery.id, 1, clock.now(), Outcome.DELIVERED, 200),
                      clock.now())

    def prepare(count: int) -> None:
        for index in range(count):
            outbox.enqueue(Delivery(f"{tag}-d{index}", f"{tag}-{index}", "eachlabs",
                                    "http://receiver", b"{}", policy, clock.now()))

    return {"create": create, "poll": poll, "webhook lease": lease, "prepare": prepare}


def redis_ops(tag: str, url: str, prefix: str) -> dict[str, Any]:
    store = connect_redis(url, prefix=prefix)
    store.init_clock("manual", 1_767_225_600.0, 1.0)
    store.put_key_settings("bench", b'{"valid":true}', configured=True)

    def create(index: int) -> None:
        now = store.create_context("bench").now  # first round trip: the clock and the key
        result = store.create_job(
            NewJob(f"{tag}-{index}", "eachlabs", "bench", DOC, "queued", 2_300, now + 3.5),
            AdmitRequest(now=now, creates_per_window=10**9, concurrent=10**9,
                         amount=PRICE, starting_balance=Decimal(10) ** 9),
        )
        assert result.admission.admitted

    def poll(index: int) -> None:
        assert store.get_job(f"{tag}-{index}", count_poll=True).job is not None

    def lease(index: int) -> None:
        [claim] = store.lease_deliveries(1_767_225_600.0, 1, 30.0)
        assert store.record_attempt(claim, b'{"status":200}', "delivered")

    def prepare(count: int) -> None:
        for index in range(count):
            store.enqueue(NewDelivery(f"{tag}-d{index}", DOC, b"{}", 1_767_225_600.0))

    return {"create": create, "poll": poll, "webhook lease": lease, "prepare": prepare,
            "store": store}


def run_side(side: str, tag: str, count: int, url: str, prefix: str,
             timed: bool) -> dict[str, Any]:
    """Every operation ``count`` times in this process; latencies or the wall time of each."""
    ops = memory_ops(tag) if side == "memory" else redis_ops(tag, url, prefix)
    ops["prepare"](count)
    out: dict[str, Any] = {}
    for name in OPS:
        operation = ops[name]
        trips_before = ops["store"].trips.count if "store" in ops else 0
        latencies = []
        started = time.perf_counter()
        for index in range(count):
            if timed:
                t0 = time.perf_counter()
                operation(index)
                latencies.append(time.perf_counter() - t0)
            else:
                operation(index)
        out[name] = {
            "wall": time.perf_counter() - started,
            "latencies": latencies,
            "trips": ((ops["store"].trips.count - trips_before) / count) if "store" in ops
            else None,
        }
    return out


def _child(side: str, tag: str, count: int, url: str, prefix: str, start: Any,
           results: Any) -> None:
    start.wait()
    results.put(run_side(side, tag, count, url, prefix, timed=False))


def throughput(side: str, processes: int, count: int, url: str, prefix: str) -> dict[str, float]:
    """ops/s of each operation with ``processes`` processes at once (spawned, started together)."""
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    children = [context.Process(target=_child, args=(side, f"p{processes}-{i}", count, url,
                                                     prefix, start, results))
                for i in range(processes)]
    for child in children:
        child.start()
    time.sleep(1.5)  # let them import and connect before the start
    start.set()
    walls = [results.get(timeout=600) for _ in children]
    for child in children:
        child.join()
    # The slowest process bounds the run: total ops over the longest wall time.
    return {name: processes * count / max(w[name]["wall"] for w in walls) for name in OPS}


def start_redis(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed: sudo apt-get install -y redis-server "
                 "(or pass --redis-url)")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
         "--appendonly", "no", "--dir", str(directory), "--protected-mode", "yes"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    probe = connect_redis(url, prefix="probe")
    for _ in range(500):
        try:
            probe.ping()
            break
        except Exception:
            time.sleep(0.02)
    return process, url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=5_000, help="operations of each kind")
    parser.add_argument("--redis-url", help="an existing Redis (default: start one)")
    parser.add_argument("--prefix", default="bench-store-ops")
    arguments = parser.parse_args()
    server = None
    with tempfile.TemporaryDirectory() as directory:
        if arguments.redis_url:
            url = arguments.redis_url
        else:
            server, url = start_redis(Path(directory))
        cleaner = connect_redis(url, prefix=arguments.prefix)
        try:
            cleaner.reset(keep_clock=False)
            report(arguments.ops, url, arguments.prefix, cleaner)
        finally:
            cleaner.reset(keep_clock=False)
            if server is not None:
                server.terminate()
                server.wait()


def report(count: int, url: str, prefix: str, cleaner: Any) -> None:
    version = cleaner._redis.info("server")["redis_version"]
    print(f"store_ops: {count} operations of each kind; Redis {version} on {url} "
          f"(loopback, same machine), Python {sys.version.split()[0]}, "
          f"load average {load_average()}")
    print(f"{'side':8} {'operation':14} {'median µs':>10} {'p99 µs':>9} "
          f"{'ops/s 1p':>10} {'ops/s 2p':>10} {'round trips':>12}")
    for side in ("memory", "redis"):
        single = run_side(side, "lat", count, url, prefix, timed=True)
        cleaner.reset(keep_clock=False)
        one = throughput(side, 1, count, url, prefix)
        cleaner.reset(keep_clock=False)
        two = throughput(side, 2, count, url, prefix)
        cleaner.reset(keep_clock=False)
        for name in OPS:
            latencies = sorted(single[name]["latencies"])
            p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
            trips = single[name]["trips"]
            print(f"{side:8} {name:14} {statistics.median(latencies) * 1e6:10.1f} "
                  f"{p99 * 1e6:9.1f} {one[name]:10.0f} {two[name]:10.0f} "
                  f"{'-' if trips is None else f'{trips:.2f}':>12}")
    print("memory with 2 processes: two separate stores (nothing shared); "
          "redis: both processes on one store")


if __name__ == "__main__":
    main()
