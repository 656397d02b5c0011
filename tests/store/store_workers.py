"""What each worker process of tests/store/test_redis_concurrency.py does.

Top-level functions (spawned processes import them by name); each opens its
own connection, waits for the common start, works, and reports on a queue.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from mockserver.store import connect_redis


def reserve_many(url: str, prefix: str, ids: list[str], start: Any, out: Any) -> None:
    store = connect_redis(url, prefix=prefix)
    start.wait()
    held, refused = [], 0
    for job_id in ids:
        short = store.reserve("eachlabs", "shared", job_id, Decimal("0.25"), Decimal(150))
        if short is None:
            held.append(job_id)
        else:
            refused += 1
    out.put((held, refused))


def hold_slots(url: str, prefix: str, worker: int, attempts: int, limit: int, start: Any,
               out: Any) -> None:
    store = connect_redis(url, prefix=prefix)
    start.wait()
    granted = 0
    for index in range(attempts):
        job_id = f"w{worker}-{index}"
        if store.acquire_slot("eachlabs", "shared", job_id, limit).granted:
            granted += 1
            time.sleep(0.001)
            store.release_slot("eachlabs", "shared", job_id, limit)
    out.put(granted)


def sample_slots(url: str, prefix: str, stop: Any, out: Any) -> None:
    """Read the slot count as fast as possible until told to stop; the highest seen."""
    store = connect_redis(url, prefix=prefix)
    highest = samples = 0
    while not stop.is_set():
        highest = max(highest, len(store.in_flight("eachlabs", "shared")))
        samples += 1
    out.put((highest, samples))


def claim_transitions(url: str, prefix: str, now: float, start: Any, out: Any,
                      pause: float = 0.002) -> None:
    """Claim due jobs and finish each, until none is left.

    ``pause`` (seconds per batch) stands for the work a worker does with its batch:
    without it one process could take all 1,000 before the others woke up, and the
    test would not show the claims shared out.
    """
    store = connect_redis(url, prefix=prefix)
    start.wait()
    claimed: list[str] = []
    finished = 0
    while True:
        claims = store.claim_due(now, 16, 30.0)
        if not claims:
            break
        for claim in claims:
            claimed.append(claim.id)
            finished += store.finish_claim(claim, b'{"state":"running"}', "running", None)
        time.sleep(pause)
    out.put((claimed, finished))


def deliver_webhooks(url: str, prefix: str, now: float, lease_seconds: float,
                     pause: float, start: Any, out: Any) -> None:
    """Lease due deliveries and record one delivered attempt each, until none is left.

    ``pause`` (seconds per delivery) makes a slow worker, the one a test kills.
    """
    store = connect_redis(url, prefix=prefix)
    start.wait()
    recorded: list[str] = []
    idle_since: float | None = None
    while True:
        claims = store.lease_deliveries(now, 8, lease_seconds)
        if claims:
            # Tell the test this worker holds leases (the moment to kill it).
            store._redis.incr(f"{prefix}-test:leased")
        if not claims:
            if store.waiting_count() == 0:
                break
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since > 30:
                break
            time.sleep(0.02)  # leased elsewhere: wait for them to finish or expire
            continue
        idle_since = None
        for claim in claims:
            time.sleep(pause)
            attempt = f'{{"delivery":"{claim.id}","by":"{store.token}"}}'.encode()
            if store.record_attempt(claim, attempt, "delivered"):
                recorded.append(claim.id)
    out.put(recorded)
