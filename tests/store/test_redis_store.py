"""Each Redis store operation's semantics, on a real redis-server (tests/redis_server.py)."""

from __future__ import annotations

import itertools
import json
import random
import re
from collections.abc import Iterator
from decimal import Decimal

import pytest

from mockserver.extras import MissingExtra
from mockserver.store import connect_redis, lua
from mockserver.store.interface import AdmitRequest, NewDelivery, NewJob, from_units, to_units
from mockserver.store.redis_store import RedisStore, StoreBounds

_prefixes = itertools.count()


def make_store(url: str, **bounds: int) -> RedisStore:
    store = connect_redis(url, prefix=f"t{next(_prefixes)}-{random.getrandbits(32):x}",
                          bounds=StoreBounds(**bounds))
    store.init_clock("manual", 1_000.0, 1.0)
    return store


@pytest.fixture
def store(redis_url: str) -> Iterator[RedisStore]:
    made = make_store(redis_url)
    yield made
    made.reset(keep_clock=False)
    made.close()


def job(job_id: str, *, key: str = "k", state: str = "queued", due: float | None = 1_010.0,
        size: int = 100) -> NewJob:
    return NewJob(job_id, "eachlabs", key, json.dumps({"id": job_id}).encode(), state, size, due)


# --- money ----------------------------------------------------------------------------


@pytest.mark.parametrize("a,b", [
    ("0", "0"), ("1", "-1"), ("9999999", "1"), ("10000000", "-1"),
    (str(2**80), str(2**79 + 12345)), (str(-(2**70)), str(2**70 - 1)),
    ("123456789012345678901234567890", "-987654321098765432109876543210"),
])
def test_script_integers_are_exact_beyond_doubles(store: RedisStore, a: str, b: str) -> None:
    x, y = int(a), int(b)
    assert store.bigint("add", a, b) == str(x + y)
    assert store.bigint("sub", a, b) == str(x - y)
    assert store.bigint("cmp", a, b) == str((x > y) - (x < y))


def test_money_units_are_exact_decimals() -> None:
    assert to_units(Decimal("0.075")) == 75_000_000_000
    assert from_units(to_units(Decimal("0.075")) * 3) == Decimal("0.225")
    assert from_units(to_units(Decimal("10"))) == Decimal("10")
    with pytest.raises(ValueError, match="decimal places"):
        to_units(Decimal("0.0000000000001"))


def test_reserve_charge_release(store: RedisStore) -> None:
    start = Decimal("1.00")
    assert store.account("eachlabs", "k") is None
    assert store.reserve("eachlabs", "k", "j1", Decimal("0.40"), start) is None
    assert store.reserve("eachlabs", "k", "j2", Decimal("0.60"), start) is None
    # An exact balance is enough; one more cent is refused with the available amount.
    assert store.reserve("eachlabs", "k", "j3", Decimal("0.01"), start) == Decimal(0)
    money = store.account("eachlabs", "k")
    assert money is not None and money.balance == 1 and money.reserved == 1
    assert store.settle("j1") == Decimal("0.4")
    assert store.release("j2") == Decimal("0.6")
    assert store.settle("j1") == 0 and store.release("j2") == 0  # once only
    money = store.account("eachlabs", "k")
    assert money is not None
    assert (money.balance, money.reserved, money.available) == (
        Decimal("0.6"), 0, Decimal("0.6"))
    # The starting balance applies on first use only.
    assert store.reserve("eachlabs", "k", "j4", Decimal("0.7"), Decimal(100)) == Decimal("0.6")
    store.set_balance("eachlabs", "k", Decimal("5"))
    assert store.reserve("eachlabs", "k", "j4", Decimal("0.7"), start) is None
    assert store.account("eachlabs", "k").available == Decimal("4.3")  # type: ignore[union-attr]


def test_a_job_holds_one_reservation(store: RedisStore) -> None:
    store.reserve("eachlabs", "k", "j1", Decimal(1), Decimal(10))
    from mockserver.store.interface import StoreError

    with pytest.raises(StoreError, match="already holds"):
        store.reserve("eachlabs", "k", "j1", Decimal(1), Decimal(10))


# --- limits -----------------------------------------------------------------------------


def test_sliding_window_counts_on_the_mock_clock(store: RedisStore) -> None:
    hits = [store.window_hit("p", "k", f"c{i}", 100.0 + i, 10.0, 3) for i in range(4)]
    assert [h.allowed for h in hits] == [True, True, True, False]
    assert hits[3].count == 3 and hits[3].free_at == 110.0  # when the oldest leaves
    assert store.window_hit("p", "k", "c5", 110.0, 10.0, 3).allowed  # c0 left (100 + 10 <= 110)
    assert not store.window_hit("p", "k", "c6", 110.5, 10.0, 3).allowed
    assert not store.window_hit("p", "other", "x", 0.0, 10.0, 0).allowed  # disabled


def test_fixed_window(store: RedisStore) -> None:
    first = [store.fixed_window_hit("n", 61.0 + i, 60.0, 2) for i in range(3)]
    assert [h.allowed for h in first] == [True, True, False]
    assert first[2].free_at == 120.0
    assert store.fixed_window_hit("n", 120.0, 60.0, 2).allowed  # a new window


def test_slots_and_the_line(store: RedisStore) -> None:
    assert store.acquire_slot("p", "k", "a", 2).granted
    assert store.acquire_slot("p", "k", "b", 2).granted
    refused = store.acquire_slot("p", "k", "c", 2)
    assert not refused.granted and not refused.queued and refused.in_flight == 2
    assert store.acquire_slot("p", "k", "c", 2, queue=True).queued
    assert store.acquire_slot("p", "k", "d", 2, queue=True).queued
    assert store.waiting("p", "k") == ["c", "d"]
    assert store.release_slot("p", "k", "a", 2) == ["c"]  # first come, first served
    assert store.in_flight("p", "k") == {"b", "c"}
    assert store.release_slot("p", "k", "zzz", 2) == []
    assert store.release_slot("p", "k", "b", None) == ["d"]
    assert store.waiting("p", "k") == []


# --- jobs -------------------------------------------------------------------------------


def test_create_admits_and_stores_atomically(store: RedisStore) -> None:
    admit = AdmitRequest(now=1_000.0, creates_per_window=10, concurrent=1,
                         amount=Decimal("0.5"), starting_balance=Decimal("0.8"))
    first = store.create_job(job("j1"), admit)
    assert first.admission.admitted and not first.admission.queued
    # Second: over concurrency (refused; nothing reserved, nothing stored).
    second = store.create_job(job("j2"), admit)
    assert second.admission.refused == "concurrency" and second.admission.in_flight == 1
    assert store.get_job("j2").job is None
    assert store.account("eachlabs", "k").reserved == Decimal("0.5")  # type: ignore[union-attr]
    # Queued where the provider queues; then out of money.
    queued = AdmitRequest(now=1_000.0, concurrent=1, queue_when_full=True,
                          amount=Decimal("0.3"), starting_balance=Decimal("0.8"))
    assert store.create_job(job("j3"), queued).admission.queued
    broke = store.create_job(job("j4"), queued)
    assert broke.admission.refused == "funds" and broke.admission.available == 0
    assert store.job_count() == 2
    assert store.waiting("eachlabs", "k") == ["j3"]


def test_window_refusal_says_when_it_frees(store: RedisStore) -> None:
    admit = AdmitRequest(now=1_000.0, window_seconds=60.0, creates_per_window=1)
    assert store.create_job(job("a"), admit).admission.admitted
    refused = store.create_job(job("b"), admit).admission
    assert refused.refused == "window" and refused.window_free_at == 1_060.0


def test_poll_reads_job_and_clock_in_one_round_trip(store: RedisStore) -> None:
    store.create_job(job("j1"))
    store.get_job("j1")  # scripts loaded, connection made
    with store.trips.measure() as spent:
        view = store.get_job("j1", count_poll=True)
    assert spent[0] == 1
    assert view.now == 1_000.0 and view.job is not None
    assert view.job.polls == 1 and view.job.state == "queued" and json.loads(view.job.doc)
    assert store.get_job("nope").job is None


def test_a_create_is_two_round_trips(store: RedisStore) -> None:
    store.put_key_settings("k", b"{}")
    store.create_job(job("warm"))
    with store.trips.measure() as spent:
        context = store.create_context("k")  # the clock and the key's settings
        store.create_job(job("j1"), AdmitRequest(now=context.now, creates_per_window=5,
                                                 concurrent=2, amount=Decimal(1),
                                                 starting_balance=Decimal(5)))
    assert spent[0] == 2


def test_poll_and_create_context_carry_the_earliest_unleased_due_time(store: RedisStore) -> None:
    """A request ticks only when something is due: it learns so in its first round trip."""
    assert store.get_job("none").next_due is None
    assert store.create_context("k").next_due is None
    store.create_job(job("late", due=1_009.0))
    store.create_job(job("soon", due=1_001.5))
    store.create_job(job("never", due=None))
    assert store.get_job("late").next_due == 1_001.5
    assert store.create_context("k").next_due == 1_001.5
    store.claim_due(1_002.0, 10, 30.0)  # "soon" is leased to this worker: not due for others
    assert store.get_job("never").next_due == 1_009.0
    with store.trips.measure() as spent:
        assert store.create_context("k").next_due == 1_009.0
    assert spent[0] == 1


def test_boot_numbers_differ_per_worker_and_survive_a_reset(redis_url: str,
                                                             store: RedisStore) -> None:
    other = connect_redis(redis_url, prefix=store.prefix)
    first, second = store.boot(), other.boot()
    assert first != second
    store.reset()
    assert other.boot() not in (first, second)
    other.close()


def test_a_script_lost_by_redis_is_loaded_again(store: RedisStore) -> None:
    store.now()
    store._redis.script_flush()
    assert store.now() == 1_000.0


def test_save_is_compare_and_set(store: RedisStore) -> None:
    store.create_job(job("j1"))
    assert store.save_job("j1", b"{}", "cancelled", None, expect_state="queued")
    assert not store.save_job("j1", b"{}", "running", 5.0, expect_state="queued")
    assert store.get_job("j1").job.state == "cancelled"  # type: ignore[union-attr]
    assert store.next_due() is None


def test_due_claims_are_leased_and_finished_once(store: RedisStore) -> None:
    store.create_job(job("a", due=1_001.0))
    store.create_job(job("b", due=1_005.0))
    assert store.next_due() == 1_001.0
    claims = store.claim_due(1_002.0, 10, 30.0)
    assert [c.id for c in claims] == ["a"] and claims[0].due == 1_001.0
    assert claims[0].job is not None and claims[0].job.state == "queued"
    assert store.claim_due(1_002.0, 10, 30.0) == []  # leased: nobody else gets it
    assert store.finish_claim(claims[0], b'{"s":1}', "running", 1_009.0)
    assert not store.finish_claim(claims[0], b"{}", "succeeded", None)  # once
    assert store.get_job("a").job.state == "running"  # type: ignore[union-attr]
    assert store.next_due() == 1_005.0


def test_an_expired_lease_goes_to_another_worker(redis_url: str, store: RedisStore) -> None:
    other = connect_redis(redis_url, prefix=store.prefix)
    store.create_job(job("a", due=1_001.0))
    mine = store.claim_due(1_002.0, 10, 0.05)
    assert [c.id for c in mine] == ["a"]
    assert other.claim_due(1_002.0, 10, 30.0) == []
    import time

    time.sleep(0.1)  # the lease expires on the Redis server's clock
    theirs = other.claim_due(1_002.0, 10, 30.0)
    assert [c.id for c in theirs] == ["a"]
    assert not store.finish_claim(mine[0], b"{}", "running", None)  # too late
    assert other.finish_claim(theirs[0], b"{}", "running", None)
    other.close()


def test_jobs_are_bounded_oldest_finished_first(redis_url: str) -> None:
    store = make_store(redis_url, max_jobs=3)
    try:
        store.create_job(job("old-running"), AdmitRequest(now=1.0, amount=Decimal(1),
                                                          starting_balance=Decimal(10)))
        store.create_job(job("done", state="succeeded", due=None))
        store.create_job(job("new"))
        assert store.create_job(job("newer")).evicted == ()  # the finished one went
        assert {j.id for j in store.jobs_page(None, 10)} == {"old-running", "new", "newer"}
        result = store.create_job(job("newest"))
        # No finished job left: the oldest goes, and its money comes back.
        assert result.evicted == (("old-running", "eachlabs", "k"),)
        assert store.account("eachlabs", "k").reserved == 0  # type: ignore[union-attr]
        assert [j.id for j in store.jobs_page(None, 10)] == ["newest", "newer", "new"]
        assert [j.id for j in store.jobs_page(None, 2, newest_first=False)] == ["new", "newer"]
        page = store.jobs_page(None, 1)
        assert [j.id for j in store.jobs_page(page[-1].number, 5)] == ["newer", "new"]
    finally:
        store.reset(keep_clock=False)


def test_jobs_are_bounded_in_bytes(redis_url: str) -> None:
    store = make_store(redis_url, max_job_bytes=1_000)
    try:
        for index in range(5):
            store.create_job(job(f"j{index}", size=300))
        assert store.job_count() == 3 and store.job_bytes() == 900
    finally:
        store.reset(keep_clock=False)


# --- clock ------------------------------------------------------------------------------


def test_manual_clock_is_shared(redis_url: str, store: RedisStore) -> None:
    other = connect_redis(redis_url, prefix=store.prefix)
    other.init_clock("manual", 5.0, 1.0)  # the first worker's settings win
    assert other.now() == 1_000.0
    assert store.advance(2.5) == 1_002.5
    assert other.now() == 1_002.5
    with pytest.raises(ValueError):
        store.advance(-1)
    other.close()


def test_real_clock_runs_from_one_epoch(redis_url: str) -> None:
    import time

    first = connect_redis(redis_url, prefix=f"real-{random.getrandbits(32):x}")
    try:
        first.init_clock("real", 0.0, 10.0)
        time.sleep(0.05)
        second = connect_redis(redis_url, prefix=first.prefix)
        second.init_clock("real", 0.0, 1.0)
        a = first.now()
        b = second.now()
        assert 0 <= b - a < 1.0  # one clock: the second worker's speed did not apply
        time.sleep(0.1)
        assert second.now() - b >= 0.9  # ten times the 0.1 s of wall time
        assert abs(first.now() - time.time()) < 30  # started at the real time
        second.advance(100)
        assert first.now() - b > 100
        second.close()
    finally:
        first.reset(keep_clock=False)


# --- scenario queue ---------------------------------------------------------------------


def test_scenario_times_nth_and_match(store: RedisStore) -> None:
    store.push_scenario(b"fail", {"provider": "eachlabs", "endpoint": "create"}, times=2)
    store.push_scenario(b"slow", {"key": "k2"}, nth=2)
    assert store.take_scenario("wavespeed", "create", None, "k") is None
    assert store.take_scenario("eachlabs", "create", "m", "k2") == b"fail"  # first queued wins
    assert store.take_scenario("eachlabs", "create", "m", "k2") == b"fail"  # slow due, waits
    assert store.take_scenario(None, None, None, "k2") == b"slow"
    assert store.take_scenario("eachlabs", "create", None, "k2") is None
    assert store.scenarios() == []
    store.push_scenario(b"x", {"model": "m"})
    assert store.take_scenario("eachlabs", "get", None, None) is None  # no model: no match
    [entry] = store.scenarios()
    assert (entry.doc, entry.match, entry.seen, entry.fired) == (b"x", {"model": "m"}, 0, 0)
    assert store.clear_scenarios() == 1 and store.scenarios() == []


def test_scenario_queue_is_bounded(redis_url: str) -> None:
    from mockserver.store.interface import StoreError

    store = make_store(redis_url, max_queued=2)
    try:
        store.push_scenario(b"a", {})
        store.push_scenario(b"b", {})
        with pytest.raises(StoreError, match="at most 2"):
            store.push_scenario(b"c", {})
    finally:
        store.reset(keep_clock=False)


# --- journal ----------------------------------------------------------------------------


def test_journal_is_a_capped_stream(redis_url: str) -> None:
    store = make_store(redis_url, journal_size=100)
    try:
        ids = [store.journal_append({"path": f"/p{i}", "status": 200, "body": b"\x00\xff"})
               for i in range(1_000)]
        # MAXLEN ~ trims whole stream nodes: about the cap, never unbounded.
        assert 100 <= store.journal_length() < 300
        newest = store.journal_page(None, 3)
        assert [i for i, _ in newest] == ids[-1:-4:-1]
        assert newest[0][1] == {"path": b"/p999", "status": b"200", "body": b"\x00\xff"}
        older = store.journal_page(newest[-1][0], 2)
        assert [i for i, _ in older] == ids[-4:-6:-1]
        assert [i for i, _ in store.journal_page(ids[-3], 5, newest_first=False)] == ids[-2:]
    finally:
        store.reset(keep_clock=False)


# --- outbox -----------------------------------------------------------------------------


def delivery(delivery_id: str, due: float = 1_000.0, body: bytes = b"{}") -> NewDelivery:
    return NewDelivery(delivery_id, json.dumps({"url": "http://x"}).encode(), body, due)


def test_outbox_lease_record_retry_deliver(store: RedisStore) -> None:
    assert store.enqueue(delivery("d1")) == []
    assert store.waiting_count() == 1 and store.next_delivery_due() == 1_000.0
    [claim] = store.lease_deliveries(1_000.0, 5, 30.0)
    assert claim.delivery is not None and claim.delivery.state == "in_flight"
    assert store.lease_deliveries(1_000.0, 5, 30.0) == []
    assert store.record_attempt(claim, b'{"n":1}', "retry", 1_010.0)
    assert store.delivery("d1").state == "pending"  # type: ignore[union-attr]
    assert store.lease_deliveries(1_005.0, 5, 30.0) == []  # not due yet
    [again] = store.lease_deliveries(1_010.0, 5, 30.0)
    assert store.record_attempt(again, b'{"n":2}', "delivered")
    assert not store.record_attempt(again, b'{"n":3}', "delivered")  # once
    found = store.delivery("d1")
    assert found is not None and found.state == "delivered"
    assert list(found.attempts) == [b'{"n":1}', b'{"n":2}']
    assert store.waiting_count() == 0 and store.attempt_log() == [b'{"n":1}', b'{"n":2}']
    with pytest.raises(ValueError):
        store.record_attempt(again, b"", "retry")


def test_outbox_bounds_drop_oldest_pending_and_forget_oldest_finished(redis_url: str) -> None:
    store = make_store(redis_url, max_pending=2, max_deliveries=3, attempt_log=2)
    try:
        store.enqueue(delivery("a"))
        [claim] = store.lease_deliveries(1_000.0, 1, 30.0)  # a is in flight: never dropped
        store.enqueue(delivery("b"))
        assert store.enqueue(delivery("c")) == ["b"]
        dropped = store.delivery("b")
        assert dropped is not None and dropped.state == "gave_up" and dropped.dropped
        assert store.dropped_count() == 1
        store.record_attempt(claim, b"1", "delivered")
        store.enqueue(delivery("d"))
        store.enqueue(delivery("e"))  # drops c (oldest pending); 5 kept > 3: oldest finished go
        assert store.delivery_count() == 3
        assert store.delivery("a") is None and store.delivery("b") is None
    finally:
        store.reset(keep_clock=False)


def test_outbox_bounded_in_bytes(redis_url: str) -> None:
    store = make_store(redis_url, max_pending_bytes=5_000)
    try:
        for name in "abc":
            store.enqueue(delivery(name, body=b"x" * 2_000))
        assert store.waiting_count() == 1  # 3,024 bytes each: one fits
    finally:
        store.reset(keep_clock=False)


# --- uploads ----------------------------------------------------------------------------


def test_uploads_bounded_in_count_and_bytes(redis_url: str) -> None:
    store = make_store(redis_url, max_uploads=2, max_upload_bytes=10)
    try:
        assert store.put_upload("t1", b"m1", None) == []
        assert store.upload("t1") == type(store.upload("t1"))("t1", b"m1", None)
        store.put_upload("t1", b"m1", b"12345")
        store.put_upload("t2", b"m2", b"12345")
        assert store.put_upload("t3", b"m3", b"1") == ["t1"]
        assert store.put_upload("t4", b"m4", b"123456789") == ["t2"]  # 1 + 9 bytes fit
        assert store.put_upload("t4", b"m4", b"1234567890") == ["t3"]  # a second PUT
        assert store.upload("t4").data == b"1234567890"  # type: ignore[union-attr]
        with pytest.raises(ValueError, match="over the limit"):
            store.put_upload("t5", b"m", b"x" * 11)
        assert store.upload_count() == 1
    finally:
        store.reset(keep_clock=False)


# --- prefixes ---------------------------------------------------------------------------


def test_two_prefixes_share_a_redis_and_reset_clears_one(redis_url: str) -> None:
    mine, theirs = make_store(redis_url), make_store(redis_url)
    try:
        for store in (mine, theirs):
            store.create_job(job("same-id"), AdmitRequest(now=1.0, amount=Decimal(1),
                                                          starting_balance=Decimal(3)))
            store.enqueue(delivery("d"))
            store.journal_append({"a": 1})
            store.push_scenario(b"s", {})
            store.put_upload("u", b"m", b"d")
        mine.advance(5)
        assert theirs.now() == 1_000.0
        assert all(k.startswith(mine.prefix + ":") for k in mine.own_keys())
        removed = mine.reset()
        assert removed > 5
        assert mine.own_keys() == [mine.prefix + ":clock"]  # the clock stays by default
        assert mine.now() == 1_005.0
        assert mine.get_job("same-id").job is None and mine.job_count() == 0
        assert theirs.get_job("same-id").job is not None
        assert theirs.account("eachlabs", "k").reserved == 1  # type: ignore[union-attr]
        assert theirs.waiting_count() == 1 and theirs.journal_length() == 1
        assert len(theirs.scenarios()) == 1 and theirs.upload("u") is not None
    finally:
        mine.reset(keep_clock=False)
        theirs.reset(keep_clock=False)
    assert mine.own_keys() == []


def test_prefix_must_be_a_plain_word(redis_url: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        connect_redis(redis_url, prefix="a*b")


def test_missing_extra_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "redis" else real(name, *a))
    with pytest.raises(MissingExtra, match=r"pip install 'genmock\[redis\]'"):
        connect_redis("redis://127.0.0.1:1/0")


def test_importing_the_store_does_not_import_redis() -> None:
    import subprocess
    import sys

    code = ("import sys, mockserver.store, mockserver.store.interface; "
            "assert 'redis' not in sys.modules, 'redis imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --- key settings ------------------------------------------------------------------------


def test_create_context_is_one_round_trip(store: RedisStore) -> None:
    store.put_key_settings("k", b'{"valid":true}')
    store.create_context("k")
    with store.trips.measure() as spent:
        context = store.create_context("k")
    assert spent[0] == 1
    assert (context.now, context.settings) == (1_000.0, b'{"valid":true}')
    assert store.create_context("unknown").settings is None
    assert store.key_settings("k") == b'{"valid":true}'


def test_keys_are_bounded_least_recently_used_first(redis_url: str) -> None:
    store = make_store(redis_url, max_keys=2)
    try:
        store.put_key_settings("configured", b"c", configured=True)  # never forgotten
        store.put_key_settings("a", b"a")
        store.reserve("eachlabs", "a", "ja", Decimal(1), Decimal(5))
        store.put_key_settings("b", b"b")
        store.create_context("a")  # a is used: b is now the least recently used
        assert store.put_key_settings("c", b"c") == ["b"]
        assert store.key_settings("b") is None and store.key_settings("a") == b"a"
        assert store.put_key_settings("d", b"d") == ["a"]
        assert store.account("eachlabs", "a") is None  # its account went with it
        assert store.key_settings("configured") == b"c"
    finally:
        store.reset(keep_clock=False)


def test_keys_only_used_by_creates_are_bounded_with_their_accounts(redis_url: str) -> None:
    # A client inventing a key per create: each key's account (its balance) is kept in
    # Redis; without settings the key was never counted, and the accounts grew forever.
    store = make_store(redis_url, max_keys=3)
    try:
        admit = AdmitRequest(now=1_000.0, amount=Decimal(1), starting_balance=Decimal(10))
        for number in range(20):
            result = store.create_job(job(f"j{number}", key=f"key-{number}"), admit)
            assert result.admission.admitted
        accounts = [k for k in store.own_keys() if ":acct:" in k]
        assert len(accounts) == 3
        assert store.account("eachlabs", "key-19") is not None  # the newest stay
        assert store.account("eachlabs", "key-0") is None
    finally:
        store.reset(keep_clock=False)


def test_each_script_carries_the_helpers_it_calls_and_no_others() -> None:
    # Every EVALSHA runs its whole chunk: a script carrying the entire library defined
    # forty functions per call (a poll's script cost the Redis server ~60 µs, not ~35).
    helpers = {name for name, _ in lua._CHUNKS if name is not None}
    for name, body in lua.SCRIPTS.items():
        source = lua.script_source(body)
        defined = set(re.findall(r"^local function (\w+)", source, re.M))
        called = {n for n in re.findall(r"\b(\w+)\s*\(", source) if n in helpers}
        assert called <= defined, (name, called - defined)
        assert defined <= called, (name, defined - called)
    assert len(lua.script_source(lua.JOB_READ)) < len(lua.LIBRARY) / 3
