"""Atomicity under real parallelism: several OS processes, each its own connection, one Redis.

Processes are spawned (not forked: no connection or lock crosses into a
child) and start together on an event, so their operations interleave on
the server.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import store_workers

from mockserver.store import connect_redis
from mockserver.store.interface import NewDelivery, NewJob
from mockserver.store.redis_store import RedisStore

SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture
def store(redis_url: str) -> Iterator[RedisStore]:
    made = connect_redis(redis_url, prefix=f"conc-{random.getrandbits(40):x}")
    made.init_clock("manual", 1_000.0, 1.0)
    yield made
    made._redis.delete(f"{made.prefix}-test:leased")
    made.reset(keep_clock=False)
    made.close()


def run(target: Any, argument_sets: list[tuple[Any, ...]], *, timeout: float = 90) -> list[Any]:
    """Start one process per argument set, release them together, collect one result each.

    A barrier, not an event: every process has started (spawned, imported, connected
    as far as it goes before waiting) when they are released, so none finishes the
    work alone while the others are still starting.
    """
    start, out = SPAWN.Barrier(len(argument_sets) + 1, timeout=timeout), SPAWN.Queue()
    processes = [SPAWN.Process(target=target, args=(*args, start, out)) for args in argument_sets]
    for process in processes:
        process.start()
    start.wait()
    results = [out.get(timeout=timeout) for _ in processes]
    for process in processes:
        process.join(timeout=10)
        assert process.exitcode == 0
    return results


def test_a_balance_is_never_over_reserved(redis_url: str, store: RedisStore) -> None:
    ids = [f"job-{i}" for i in range(1_000)]  # 0.25 each against 150: exactly 600 fit
    results = run(store_workers.reserve_many,
                  [(redis_url, store.prefix, ids[i::4]) for i in range(4)])
    held = [job_id for h, _ in results for job_id in h]
    assert len(held) == 600 and len(set(held)) == 600
    assert sum(refused for _, refused in results) == 400
    money = store.account("eachlabs", "shared")
    assert money is not None and money.balance == 150 and money.reserved == 150
    for job_id in held:
        assert store.settle(job_id) == Decimal("0.25")
    money = store.account("eachlabs", "shared")
    assert money is not None and (money.balance, money.reserved) == (0, 0)


def test_a_concurrency_limit_is_never_exceeded(redis_url: str, store: RedisStore) -> None:
    stop, sampled = SPAWN.Event(), SPAWN.Queue()
    sampler = SPAWN.Process(target=store_workers.sample_slots,
                            args=(redis_url, store.prefix, stop, sampled))
    sampler.start()
    try:
        granted = run(store_workers.hold_slots,
                      [(redis_url, store.prefix, worker, 300, 10) for worker in range(4)])
    finally:
        stop.set()
    highest, samples = sampled.get(timeout=30)
    sampler.join(timeout=10)
    assert samples > 100
    assert highest <= 10
    assert sum(granted) > 100  # the slots were really contended for
    assert store.in_flight("eachlabs", "shared") == set()


def test_each_due_transition_is_claimed_once(redis_url: str, store: RedisStore) -> None:
    for index in range(1_000):
        store.create_job(NewJob(f"j{index}", "eachlabs", "k", b"{}", "queued", 10,
                                due=1_000.0 + index / 1_000))
    results = run(store_workers.claim_transitions,
                  [(redis_url, store.prefix, 2_000.0) for _ in range(3)])
    claimed = Counter(job_id for ids, _ in results for job_id in ids)
    assert len(claimed) == 1_000 and set(claimed.values()) == {1}
    assert sum(finished for _, finished in results) == 1_000
    assert sum(1 for ids, _ in results if ids) >= 2  # shared out, not one process alone
    assert store.next_due() is None


def _enqueue(store: RedisStore, count: int) -> None:
    for index in range(count):
        store.enqueue(NewDelivery(f"d{index}", b'{"url":"http://receiver"}', b"{}", 1_000.0))


def _assert_each_delivered_once(store: RedisStore, recorded: list[str], count: int) -> None:
    counts = Counter(recorded)
    assert len(counts) == count and set(counts.values()) == {1}
    for index in range(count):
        found = store.delivery(f"d{index}")
        assert found is not None and found.state == "delivered"
        assert len(found.attempts) == 1
    assert store.waiting_count() == 0


def test_each_webhook_attempt_is_made_by_one_worker(redis_url: str, store: RedisStore) -> None:
    _enqueue(store, 1_000)
    results = run(store_workers.deliver_webhooks,
                  [(redis_url, store.prefix, 1_000.0, 30.0, 0.0) for _ in range(3)])
    _assert_each_delivered_once(store, [d for r in results for d in r], 1_000)
    assert sum(1 for r in results if r) >= 2


def test_a_killed_worker_leases_are_taken_over(redis_url: str, store: RedisStore) -> None:
    """kill -9 a worker holding leases: the others deliver its share once the leases expire."""
    _enqueue(store, 1_000)
    start, out = SPAWN.Event(), SPAWN.Queue()
    lease = 1.0
    victim = SPAWN.Process(target=store_workers.deliver_webhooks,
                           args=(redis_url, store.prefix, 1_000.0, lease, 0.05, start, out))
    victim.start()
    start.set()
    leased_key = f"{store.prefix}-test:leased"
    deadline = time.monotonic() + 60
    while not store._redis.get(leased_key):
        assert time.monotonic() < deadline, "the victim never leased anything"
        time.sleep(0.01)
    # The victim holds up to 8 leases and records one every 50 ms: kill it mid-batch.
    time.sleep(0.12)
    os.kill(victim.pid, signal.SIGKILL)  # type: ignore[arg-type]
    victim.join(timeout=10)
    assert victim.exitcode == -signal.SIGKILL
    orphaned = [d for d in (store.delivery(f"d{i}") for i in range(1_000))
                if d is not None and d.state == "in_flight"]
    assert orphaned, "the victim held no lease when it died: the test proves nothing"
    killed_at = time.monotonic()
    survivors = run(store_workers.deliver_webhooks,
                    [(redis_url, store.prefix, 1_000.0, lease, 0.0) for _ in range(2)])
    assert time.monotonic() - killed_at >= lease * 0.5  # they waited for the expiry
    recorded = [d for r in survivors for d in r]
    # What the victim recorded before it died is in the store; the rest the survivors did.
    by_victim = [f"d{i}" for i in range(1_000)
                 if f"d{i}" not in set(recorded)]
    for delivery_id in by_victim:
        found = store.delivery(delivery_id)
        assert found is not None and found.state == "delivered" and len(found.attempts) == 1
    assert set(d.id for d in orphaned) <= set(recorded)
    _assert_each_delivered_once(store, recorded + by_victim, 1_000)
