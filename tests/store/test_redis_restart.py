"""Redis restarts and outages: state survives a restart; an outage is StoreUnavailable
within the timeout, and the same client resumes by itself."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest

from mockserver.store import StoreUnavailable, connect_redis
from mockserver.store.interface import AdmitRequest, NewDelivery, NewJob
from mockserver.store.redis_store import RedisStore


def write_state(store: RedisStore) -> None:
    store.init_clock("manual", 1_000.0, 1.0)
    store.advance(42.0)
    store.create_job(NewJob("j1", "eachlabs", "k", b'{"id":"j1"}', "queued", 10, due=1_050.0),
                     AdmitRequest(now=1_042.0, concurrent=5, amount=Decimal("0.35"),
                                  starting_balance=Decimal("1.00")))
    store.enqueue(NewDelivery("d1", b"{}", b'{"done":true}', 1_042.0))
    store.push_scenario(b"fail", {"provider": "eachlabs"}, times=2)
    store.journal_append({"path": "/x"})
    store.put_upload("u1", b"meta", b"bytes")


def assert_state(store: RedisStore) -> None:
    assert store.now() == 1_042.0
    view = store.get_job("j1")
    assert view.job is not None and view.job.doc == b'{"id":"j1"}'
    assert store.next_due() == 1_050.0
    money = store.account("eachlabs", "k")
    assert money is not None and (money.balance, money.reserved) == (1, Decimal("0.35"))
    assert store.in_flight("eachlabs", "k") == {"j1"}
    [claim] = store.lease_deliveries(1_042.0, 5, 30.0)
    assert claim.delivery is not None and claim.delivery.body == b'{"done":true}'
    assert [e.times for e in store.scenarios()] == [2]
    assert store.journal_length() == 1
    assert store.upload("u1") is not None
    assert store.settle("j1") == Decimal("0.35")


@pytest.mark.parametrize("how", ["shutdown-save", "aof-kill-9"])
def test_state_survives_a_restart(redis_server: Any, how: str) -> None:
    redis_server.aof = how == "aof-kill-9"
    redis_server.start()
    store = connect_redis(redis_server.url, prefix="restart")
    write_state(store)
    if redis_server.aof:
        redis_server.kill()  # appendfsync always: every write is on disk already
    else:
        redis_server.shutdown(save=True)
    redis_server.start()  # same port, same directory
    assert_state(store)  # the same client: it reconnected, and reloaded its scripts
    fresh = connect_redis(redis_server.url, prefix="restart")
    assert fresh.get_job("j1").job is not None
    store.close()
    fresh.close()


def test_unavailable_is_quick_and_the_client_resumes(redis_server: Any) -> None:
    redis_server.start()
    store = connect_redis(redis_server.url, prefix="outage", timeout=0.5)
    store.init_clock("manual", 1_000.0, 1.0)
    store.create_job(NewJob("j1", "eachlabs", "k", b"{}", "queued", 10, due=None))
    redis_server.kill()
    operations = {
        "poll": lambda: store.get_job("j1", count_poll=True),
        "create": lambda: store.create_job(NewJob("j2", "eachlabs", "k", b"{}", "queued", 1,
                                                  due=None)),
        "reserve": lambda: store.reserve("eachlabs", "k", "j3", Decimal(1), Decimal(2)),
        "lease": lambda: store.lease_deliveries(1_000.0, 1, 1.0),
        "journal": lambda: store.journal_append({"a": 1}),
        "reset": lambda: store.reset(),
    }
    for name, operation in operations.items():
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="Redis is unavailable"):
            operation()
        elapsed = time.monotonic() - started
        # Connection refused fails at once; the bound is the timeout with its one retry.
        assert elapsed < 2 * 0.5 + 0.5, f"{name} took {elapsed:.2f} s"
    redis_server.start()
    assert store.get_job("j1").job is None  # --save '' and no AOF: a fresh Redis, reachable
    store.create_job(NewJob("j2", "eachlabs", "k", b"{}", "queued", 1, due=None))  # scripts
    assert store.get_job("j2").job is not None  # were loaded again by themselves
    store.close()


def test_a_silent_redis_times_out(redis_server: Any) -> None:
    """A Redis that accepts but never answers (stopped with SIGSTOP): the timeout holds."""
    import os
    import signal

    redis_server.start()
    store = connect_redis(redis_server.url, prefix="silent", timeout=0.3)
    store.init_clock("manual", 1_000.0, 1.0)
    os.kill(redis_server.process.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            store.get_job("j1")
        elapsed = time.monotonic() - started
        assert 0.3 <= elapsed < 2 * 0.3 + 0.5
    finally:
        os.kill(redis_server.process.pid, signal.SIGCONT)
    assert store.now() == 1_000.0  # resumes on the same client
    store.close()


def test_the_breaker_fails_at_once_while_open_and_probes_after(redis_server: Any) -> None:
    """With ``breaker``: one operation waits out the timeout, the next fail at once
    (no I/O) until the breaker's time has passed; then one probes and service resumes."""
    import os
    import signal

    redis_server.start()
    store = connect_redis(redis_server.url, prefix="breaker", timeout=0.3, breaker=0.5)
    store.init_clock("manual", 1_000.0, 1.0)
    os.kill(redis_server.process.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            store.get_job("j1")
        assert time.monotonic() - started >= 0.3  # the first one met the timeout
        with store.trips.measure() as spent:
            started = time.monotonic()
            for _ in range(20):
                with pytest.raises(StoreUnavailable, match="next try in"):
                    store.now()
            assert time.monotonic() - started < 0.1  # at once, no socket touched
        assert spent[0] == 0
    finally:
        os.kill(redis_server.process.pid, signal.SIGCONT)
    time.sleep(0.55)
    assert store.now() == 1_000.0  # the probe went through: closed again
    assert store.now() == 1_000.0
    store.close()
