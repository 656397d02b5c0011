"""`mockserver serve --workers N` as a user runs it: real processes, real HTTP on loopback.

The workers share a real redis-server (the ``redis_url`` fixture). These
tests are about the processes (who answers, restarts, stops); that the
workers share jobs is the store wiring's to test.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from collections.abc import Iterator

import pytest
from fleet import Fleet, running


@pytest.fixture
def fleet(redis_url: str, request: pytest.FixtureRequest) -> Iterator[Fleet]:
    """Two workers on the session's redis-server, under a prefix of this test."""
    prefix = "workers-" + re.sub(r"[^A-Za-z0-9_.-]", "-", request.node.name)[:50]
    started = Fleet("--store", redis_url, "--store-prefix", prefix, "--workers", "2")
    try:
        yield started
    finally:
        started.kill_everything()


def test_two_workers_answer_and_a_killed_one_is_replaced(fleet: Fleet) -> None:
    assert "workers: 2" in fleet.banner[0]
    answering = fleet.wait_for_workers(2)
    assert set(answering) == {0, 1}
    assert answering == fleet.started()  # the pids the supervisor started answered
    assert fleet.process.pid not in answering.values()  # the supervisor serves nothing
    victim_index, victim = 0, answering[0]

    os.kill(victim, signal.SIGKILL)
    fleet.wait_for_line(rf"worker 0 \(pid {victim}\) died with signal SIGKILL, restarting")
    # Requests keep being answered while worker 0 comes back (by worker 1 meanwhile).
    deadline = time.monotonic() + 30
    seen: dict[int, int] = {}
    answered = 0
    while seen.get(victim_index) in (None, victim):
        assert time.monotonic() < deadline, (seen, fleet.errors)
        worker = fleet.health()["worker"]
        seen[worker["index"]] = worker["pid"]
        answered += 1
    replacement = seen[victim_index]
    assert replacement != victim and replacement == fleet.started()[victim_index]
    assert not running(victim)
    assert answered >= 1
    # The other worker was never touched.
    assert fleet.started()[1] == answering[1] and running(answering[1])


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_stops_every_worker_and_the_supervisor_exits_0(
    fleet: Fleet, stop: signal.Signals
) -> None:
    workers = fleet.wait_for_workers(2)
    fleet.process.send_signal(stop)
    code, out = fleet.stop()
    assert code == 0, fleet.errors
    assert out.count("genmock mock server stopped") == 1
    for pid in workers.values():
        assert not running(pid)
    assert any(f"stopping 2 workers ({stop.name})" in line for line in fleet.errors)
    # Each worker shut down gracefully (uvicorn's lifespan ran to its end), and its
    # log lines say which worker wrote them.
    done = [line for line in fleet.errors if "Application shutdown complete" in line]
    assert len(done) == 2
    assert {re.search(r" INFO (worker \d) uvicorn", line).group(1)  # type: ignore[union-attr]
            for line in done} == {"worker 0", "worker 1"}
    assert not any("Traceback" in line for line in fleet.errors)


def test_ctrl_c_in_a_terminal_stops_each_worker_once_and_gracefully(fleet: Fleet) -> None:
    """A terminal sends SIGINT to its whole foreground process group. A worker that
    got it from there and again from the supervisor would stop at once, skipping
    the webhook drain and the app's shutdown."""
    workers = fleet.wait_for_workers(2)
    os.killpg(fleet.process.pid, signal.SIGINT)
    code, _ = fleet.stop()
    assert code == 0, fleet.errors
    assert sum("Application shutdown complete" in line for line in fleet.errors) == 2, (
        fleet.errors)
    for pid in workers.values():
        assert not running(pid)


def test_workers_stop_by_themselves_when_the_supervisor_is_killed(fleet: Fleet) -> None:
    workers = fleet.wait_for_workers(2)
    fleet.process.kill()
    fleet.process.wait(timeout=10)
    deadline = time.monotonic() + 5
    while any(running(pid) for pid in workers.values()):
        assert time.monotonic() < deadline, [p for p in workers.values() if running(p)]
        time.sleep(0.1)
    assert sum("the supervisor" in line and "is gone" in line for line in fleet.errors) >= 1


def test_workers_dying_right_after_start_make_the_supervisor_give_up(fleet: Fleet) -> None:
    killed: set[int] = set()
    deadline = time.monotonic() + 20
    while fleet.process.poll() is None:
        assert time.monotonic() < deadline, fleet.errors
        for pid in fleet.every_pid() - killed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            killed.add(pid)
        time.sleep(0.02)
    code, _ = fleet.stop()
    assert code == 1
    gave_up = [line for line in fleet.errors if "crash loop" in line]
    assert len(gave_up) == 1, fleet.errors
    assert "workers died 5 times within 10 s" in gave_up[0]
    for pid in fleet.every_pid():
        assert not running(pid)


def test_one_worker_is_the_single_process_of_today(redis_url: str) -> None:
    single = Fleet("--store", redis_url, "--store-prefix", "workers-single", "--workers", "1")
    try:
        worker = single.health(attempts=200)["worker"]
        # No supervisor: the process started is the one answering, with no index.
        assert worker == {"index": None, "pid": single.process.pid}
        assert "workers:" not in single.banner[0]
        single.process.send_signal(signal.SIGTERM)
        code, _ = single.stop()
        assert code == 0
        assert not any("worker 0 started" in line for line in single.errors)
    finally:
        single.kill_everything()


def test_a_stop_while_the_workers_start_is_a_clean_stop(fleet: Fleet) -> None:
    fleet.wait_for_line(r"worker 1 started")  # started, still importing: no handlers yet
    fleet.process.send_signal(signal.SIGTERM)
    code, out = fleet.stop()
    assert code == 0, fleet.errors
    assert "genmock mock server stopped" in out
    for pid in fleet.every_pid():
        assert not running(pid)


def test_open_store_is_the_configured_redis_with_the_configured_bounds(redis_url: str) -> None:
    from mockserver.config import MockConfig
    from mockserver.http.serve import STORE_BREAKER_SECONDS, open_store

    assert open_store(MockConfig()) is None
    config = MockConfig.from_mapping({
        "store": {"url": redis_url, "prefix": "workers-open-store"},
        "journal_size": 50, "limits": {"jobs": 7, "job_bytes": 70_000, "keys": 9},
        "webhooks": {"max_pending": 11, "max_pending_bytes": 1_100},
    })
    store = open_store(config)
    assert store is not None
    try:
        bounds = store.bounds
        assert (bounds.max_jobs, bounds.max_job_bytes, bounds.journal_size, bounds.max_keys,
                bounds.max_pending, bounds.max_pending_bytes) == (7, 70_000, 50, 9, 11, 1_100)
        assert store.breaker == STORE_BREAKER_SECONDS
        first, second = store.boot(), store.boot()
        assert second == first + 1
        assert store.own_keys() == ["workers-open-store:boot"]
    finally:
        store.reset(keep_clock=False)
        store.close()
