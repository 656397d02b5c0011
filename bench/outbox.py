"""How long the webhook outbox holds the event loop at large store sizes.

Issue 16 measured 15 s of a blocked loop with 40,000 pending deliveries: every
enqueue past ``max_deliveries`` scanned the whole store. This prints, for a
store of N waiting deliveries, the cost of one enqueue and the longest single
loop turn of the real sender while it works through N due deliveries to a
receiver that refuses (simulated, so no socket is opened).

    .venv/bin/python bench/outbox.py [--pending 40000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import time

from mockserver.domain.clock import ManualClock
from mockserver.domain.webhooks import Delivery, Outbox, RetryPolicy
from mockserver.domain.world import World
from mockserver.http.sender import WebhookSender

logging.getLogger("mockserver").setLevel(logging.ERROR)  # the shutdown line, 40,000 ids


def delivery(index: int, due: float) -> Delivery:
    return Delivery(id=f"d{index}", job_id=f"j{index}", provider="eachlabs",
                    url="http://127.0.0.1:9/hook", body=b"x" * 512, policy=RetryPolicy(),
                    due=due, effects=frozenset({"refused"}))


def enqueue_cost(pending: int) -> float:
    """Microseconds per enqueue once ``pending`` deliveries wait (bounds raised to fit)."""
    outbox = Outbox(max_pending=pending * 2, max_pending_bytes=1 << 40)
    for index in range(pending):
        outbox.enqueue(delivery(index, 1e12))
    began = time.perf_counter()
    for index in range(pending, pending + 1_000):
        outbox.enqueue(delivery(index, 1e12))
    return (time.perf_counter() - began) / 1_000 * 1e6


async def longest_turn(pending: int, collect: bool) -> tuple[float, float]:
    """(longest loop turn in ms, wall seconds) while the sender works off ``pending`` due.

    ``collect=False`` keeps the cyclic collector out of the figure: a full
    collection of a large heap is a pause of its own, which ``serve`` moves to
    quiet moments (mockserver.http.quietgc), not the outbox's cost.
    """
    clock = ManualClock()
    outbox = Outbox(max_pending=pending * 2, max_pending_bytes=1 << 40)
    sender = WebhookSender(World(clock), outbox, clock, drain_seconds=0)
    sender.start()
    longest = 0.0
    began = time.perf_counter()
    for index in range(pending):
        outbox.enqueue(delivery(index, clock.now()))
    loop = asyncio.get_running_loop()
    if not collect:
        gc.disable()
    while outbox.in_flight() or (outbox.next_due() or 1e18) <= clock.now():
        mark = loop.time()
        await asyncio.sleep(0)
        longest = max(longest, loop.time() - mark)
    elapsed = time.perf_counter() - began
    gc.enable()
    await sender.stop(0)
    return longest * 1000, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pending", type=int, default=40_000)
    pending = parser.parse_args().pending
    for size in (1_000, 10_000, pending):
        print(f"enqueue at {size:>6} waiting: {enqueue_cost(size):7.2f} µs")
    for collect in (False, True):
        longest, elapsed = asyncio.run(longest_turn(pending, collect))
        print(f"sender through {pending} due deliveries: {elapsed:.2f} s, longest loop turn "
              f"{longest:.2f} ms ({'with' if collect else 'without'} full collections)")


if __name__ == "__main__":
    main()
