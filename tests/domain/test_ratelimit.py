"""Rate limits on a manual clock: windows, Retry-After to the second, concurrency."""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import yaml

from mockserver.domain.clock import ManualClock
from mockserver.domain.errors import MockError
from mockserver.domain.ratelimit import (
    CreateWindow,
    Decision,
    LimitOverrides,
    RateLimiter,
    RateLimitPolicy,
    retry_after_seconds,
)
from mockserver.providers import registry

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"


def contract(provider: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(
        (CONTRACTS / provider / "provider.yaml").read_text(encoding="utf-8")
    )
    return data


@pytest.fixture
def limiter() -> RateLimiter:
    return RateLimiter.from_contracts(
        {p: contract(p) for p in registry.names()}
    )


def test_policies_from_the_contracts(limiter: RateLimiter) -> None:
    assert limiter.policy("eachlabs") == RateLimitPolicy(
        creates_per_window=100, window_seconds=60.0, concurrent=10, over_limit="reject"
    )
    wavespeed = limiter.policy("wavespeed")
    assert (wavespeed.creates_per_window, wavespeed.concurrent, wavespeed.over_limit) == (
        2,
        2,
        "queue",
    )
    apikley = limiter.policy("apikley")
    assert (apikley.creates_per_window, apikley.window_seconds, apikley.concurrent) == (
        20,
        10.0,
        None,
    )
    assert limiter.policy("unknown") == RateLimitPolicy()


def test_eleventh_concurrent_eachlabs_create_is_rejected_then_allowed(limiter: RateLimiter) -> None:
    clock = ManualClock()
    for n in range(10):
        decision = limiter.admit("eachlabs", "k", clock.now(), f"job-{n}")
        assert decision.action == "start"
    with pytest.raises(MockError) as caught:
        limiter.check_create("eachlabs", "k", clock.now())
    assert caught.value.status == 429
    assert caught.value.retry_after == 1.0  # no estimate given: the documented 1 s
    assert caught.value.headers == {"Retry-After": "1"}
    assert "10 jobs in flight" in caught.value.message
    # Another key is not affected.
    limiter.check_create("eachlabs", "other", clock.now())
    assert limiter.job_ended("eachlabs", "k", "job-3") == []
    assert limiter.admit("eachlabs", "k", clock.now(), "job-10").action == "start"
    assert len(limiter.in_flight("eachlabs", "k")) == 10


def test_concurrency_retry_after_uses_the_soonest_end_estimate(limiter: RateLimiter) -> None:
    clock = ManualClock()
    for n in range(10):
        limiter.admit("eachlabs", "k", clock.now(), f"job-{n}")
    with pytest.raises(MockError) as caught:
        limiter.check_create("eachlabs", "k", clock.now(), soonest_end=clock.now() + 34.2)
    assert caught.value.retry_after == 35.0


def test_a_soonest_end_function_is_asked_only_when_the_slots_are_full(
    limiter: RateLimiter,
) -> None:
    clock = ManualClock()
    asked: list[float] = []

    def soonest() -> float:
        asked.append(clock.now())
        return clock.now() + 12.5

    for n in range(10):
        limiter.admit("eachlabs", "k", clock.now(), f"job-{n}", soonest_end=soonest)
    assert asked == []  # a create that gets a slot never looks for job ends
    with pytest.raises(MockError) as caught:
        limiter.check_create("eachlabs", "k", clock.now(), soonest_end=soonest)
    assert asked == [clock.now()]
    assert caught.value.retry_after == 13.0


def test_window_retry_after_is_exact(limiter: RateLimiter) -> None:
    clock = ManualClock()
    # Apikley: 20 per 10 s. Spread them so the oldest leaves first.
    for n in range(20):
        limiter.admit("apikley", "k", clock.now(), f"j{n}")
        limiter.job_ended("apikley", "k", f"j{n}")
        clock.advance(0.25)
    start = clock.now()  # the first create was at start - 5.0, it leaves at start + 5.0
    with pytest.raises(MockError) as caught:
        limiter.check_create("apikley", "k", start)
    wait = caught.value.retry_after
    assert wait == 5.0
    assert caught.value.headers["Retry-After"] == "5"
    # One second less: still refused.
    with pytest.raises(MockError):
        limiter.check_create("apikley", "k", start + wait - 1)
    # Exactly that long: allowed.
    clock.advance(wait)
    assert limiter.check_create("apikley", "k", clock.now()).action == "start"


@pytest.mark.parametrize("offset", [0.0, 0.1, 0.5, 0.9, 0.999, 1 / 3])
def test_window_retry_after_rounds_up_and_is_enough(offset: float) -> None:
    limiter = RateLimiter({"p": RateLimitPolicy(creates_per_window=2, window_seconds=60)})
    clock = ManualClock()
    limiter.admit("p", "k", clock.now(), "a")
    clock.advance(offset)
    limiter.admit("p", "k", clock.now(), "b")
    clock.advance(7.25)
    with pytest.raises(MockError) as caught:
        limiter.check_create("p", "k", clock.now())
    wait = caught.value.retry_after
    assert wait is not None and wait == int(wait)
    with pytest.raises(MockError):
        limiter.check_create("p", "k", clock.now() + wait - 1)
    clock.advance(wait)
    limiter.check_create("p", "k", clock.now())


def test_refused_creates_do_not_count() -> None:
    limiter = RateLimiter({"p": RateLimitPolicy(creates_per_window=1, window_seconds=10)})
    clock = ManualClock()
    limiter.admit("p", "k", clock.now(), "a")
    for _ in range(5):
        clock.advance(1)
        with pytest.raises(MockError):
            limiter.admit("p", "k", clock.now(), "x")
    clock.advance(5)  # 10 s after the only counted create
    limiter.admit("p", "k", clock.now(), "b")


def test_window_is_trimmed_so_memory_is_bounded() -> None:
    limiter = RateLimiter({"p": RateLimitPolicy(creates_per_window=3, window_seconds=1)})
    clock = ManualClock()
    for n in range(1000):
        limiter.admit("p", "k", clock.now(), f"j{n}")
        limiter.job_ended("p", "k", f"j{n}")
        clock.advance(0.5)
    assert limiter.window_count("p", "k", clock.now()) <= 3


def test_state_of_idle_keys_is_dropped() -> None:
    limiter = RateLimiter({"p": RateLimitPolicy(concurrent=1)})
    limiter.admit("p", "k", 0.0, "a")
    limiter.job_ended("p", "k", "a")
    assert limiter.to_dict(59.0) != {}  # the create still counts in its window
    assert limiter.sweep(60.0) == 1
    assert limiter.to_dict(60.0) == {}


def test_many_one_off_keys_are_swept() -> None:
    limiter = RateLimiter({"p": RateLimitPolicy(creates_per_window=5, window_seconds=1)})
    for n in range(5000):
        now = float(n)
        limiter.admit("p", f"key-{n}", now, f"j{n}")
        limiter.job_ended("p", f"key-{n}", f"j{n}")
    assert len(limiter.to_dict(5000.0)) == 0


def test_queue_mode_holds_jobs_and_promotes_them_in_order(limiter: RateLimiter) -> None:
    clock = ManualClock()
    overrides = LimitOverrides(creates_per_window=100)
    first = limiter.admit("wavespeed", "k", clock.now(), "a", overrides=overrides)
    second = limiter.admit("wavespeed", "k", clock.now(), "b", overrides=overrides)
    assert first.action == second.action == "start"
    third = limiter.admit("wavespeed", "k", clock.now(), "c", overrides=overrides)
    fourth = limiter.admit("wavespeed", "k", clock.now(), "d", overrides=overrides)
    assert third.queued and fourth.queued
    assert limiter.waiting("wavespeed", "k") == ("c", "d")
    assert not limiter.slot_free("wavespeed", "k")
    assert limiter.job_ended("wavespeed", "k", "a", overrides=overrides) == ["c"]
    assert limiter.in_flight("wavespeed", "k") == {"b", "c"}
    # A cancelled waiting job leaves the line without promoting anyone.
    limiter.admit("wavespeed", "k", clock.now(), "e", overrides=overrides)
    assert limiter.job_ended("wavespeed", "k", "d", overrides=overrides) == []
    assert limiter.waiting("wavespeed", "k") == ("e",)
    assert limiter.job_ended("wavespeed", "k", "b", overrides=overrides) == ["e"]
    assert limiter.job_ended("wavespeed", "k", "c") == []
    assert limiter.slot_free("wavespeed", "k")


def test_new_jobs_queue_behind_waiting_ones() -> None:
    limiter = RateLimiter({"p": RateLimitPolicy(concurrent=1, over_limit="queue")})
    limiter.admit("p", "k", 0.0, "a")
    limiter.admit("p", "k", 0.0, "b")
    # Raise the limit without promoting: a new create must still wait behind "b".
    raised = LimitOverrides(concurrent=5)
    assert limiter.check_create("p", "k", 0.0, overrides=raised).queued


def test_queue_mode_still_enforces_the_window(limiter: RateLimiter) -> None:
    clock = ManualClock()
    limiter.admit("wavespeed", "k", clock.now(), "a")
    limiter.admit("wavespeed", "k", clock.now(), "b")
    with pytest.raises(MockError) as caught:
        limiter.admit("wavespeed", "k", clock.now(), "c")
    assert caught.value.retry_after == 60.0


def test_both_limits_hit_reports_the_later_time() -> None:
    limiter = RateLimiter(
        {"p": RateLimitPolicy(creates_per_window=1, window_seconds=5, concurrent=1)}
    )
    limiter.admit("p", "k", 0.0, "a")
    with pytest.raises(MockError) as caught:
        limiter.check_create("p", "k", 1.0, soonest_end=30.0)
    assert caught.value.retry_after == 29.0
    assert "creates per 5 s" in caught.value.message and "jobs in flight" in caught.value.message


def test_per_key_overrides_and_tiers(limiter: RateLimiter) -> None:
    gold = LimitOverrides(tier="gold")
    policy = limiter.policy("wavespeed", gold)
    assert (policy.creates_per_window, policy.concurrent, policy.over_limit) == (120, 20, "queue")
    tight = LimitOverrides(concurrent=1, over_limit="reject")
    limiter.admit("eachlabs", "k", 0.0, "a", overrides=tight)
    with pytest.raises(MockError):
        limiter.check_create("eachlabs", "k", 0.0, overrides=tight)
    limiter.check_create("eachlabs", "k", 0.0)  # the provider's 10 without the override
    with pytest.raises(ValueError, match="unknown tier"):
        limiter.policy("wavespeed", LimitOverrides(tier="platinum"))


def test_concurrency_limited_only_at_low_balance() -> None:
    policy = RateLimitPolicy(concurrent=1, concurrent_when_balance_at_most=10.0)
    limiter = RateLimiter({"p": policy})
    limiter.admit("p", "k", 0.0, "a", balance=50.0)
    limiter.check_create("p", "k", 0.0, balance=50.0)
    with pytest.raises(MockError):
        limiter.check_create("p", "k", 0.0, balance=9.99)


def test_zero_limit_refuses_everything() -> None:
    limiter = RateLimiter({"p": RateLimitPolicy(creates_per_window=0)})
    with pytest.raises(MockError):
        limiter.check_create("p", "k", 0.0)


def test_limit_overrides_from_dict() -> None:
    overrides = LimitOverrides.from_dict(
        {"creates_per_window": 5, "window_seconds": 30, "concurrent": 2}
    )
    assert overrides.to_dict() == {"creates_per_window": 5, "window_seconds": 30.0, "concurrent": 2}
    assert overrides.merged(LimitOverrides(concurrent=3)).concurrent == 3
    for bad in ({"creates": 1}, {"window_seconds": 0}, {"concurrent": -1}, {"over_limit": "drop"}):
        with pytest.raises(ValueError):
            LimitOverrides.from_dict(bad)


def test_retry_after_seconds() -> None:
    assert retry_after_seconds(100.0, 100.2) == 1
    assert retry_after_seconds(100.0, 130.0) == 30
    assert retry_after_seconds(100.0, 130.01) == 31
    assert retry_after_seconds(100.0, 90.0) == 1
    now = 1_767_225_630.3
    free_at = 1_767_225_600.0 + 60
    wait = retry_after_seconds(now, free_at)
    assert now + wait >= free_at > now + wait - 1


def test_decision_and_reset(limiter: RateLimiter) -> None:
    decision = limiter.admit("eachlabs", "k", 0.0, "a")
    assert decision == Decision(action="start", in_flight=0, window_count=0)
    assert limiter.to_dict(0.0) == {
        "eachlabs": {"k": {"creates_in_window": 1, "in_flight": ["a"], "waiting": []}}
    }
    limiter.reset()
    assert limiter.to_dict(0.0) == {}


def test_the_create_window_counts_runs_and_finds_the_nth_oldest() -> None:
    window = CreateWindow()
    for at in (1.0, 1.0, 2.0, 5.0, 5.0, 5.0):
        window.append(at)
    assert len(window) == 6
    assert [window.time_of(i) for i in range(6)] == [1.0, 1.0, 2.0, 5.0, 5.0, 5.0]
    with pytest.raises(IndexError):
        window.time_of(6)
    window.trim(now=11.0, window=10.0)  # 1.0 + 10 <= 11 leaves; 2.0 stays
    assert len(window) == 4 and window.time_of(0) == 2.0
    window.trim(now=15.0, window=10.0)
    assert len(window) == 0 and not window


def test_creates_on_a_clock_that_is_not_advanced_keep_the_window_small() -> None:
    # A manual clock never moves the window: before, every create stayed in it
    # as one more entry for ever (a mock left running grew without bound).
    limiter = RateLimiter({"p": RateLimitPolicy(creates_per_window=10**9, window_seconds=1)})
    for n in range(20_000):
        limiter.admit("p", "k", 5.0, f"j{n}")
        limiter.job_ended("p", "k", f"j{n}")
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for n in range(20_000):
        limiter.admit("p", "k", 5.0, f"j{n}")
        limiter.job_ended("p", "k", f"j{n}")
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert limiter.window_count("p", "k", 5.0) == 40_000
    assert grown < 20_000, f"{grown} bytes for 20,000 creates"
    assert limiter.window_count("p", "k", 6.0) == 0  # all at 5.0: gone one window later
