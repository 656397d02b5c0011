"""StoreClock: one mock clock in Redis, shared by every worker (real redis-server)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator

import pytest

from mockserver.domain.clock import is_manual, is_real
from mockserver.http.app import create_app
from mockserver.http.state import MockState
from mockserver.store import connect_redis
from mockserver.store.clock import StoreClock
from mockserver.store.redis_store import RedisStore


def _prefix() -> str:
    return f"clk-{random.getrandbits(32):x}"


@pytest.fixture
def pair(redis_url: str) -> Iterator[tuple[RedisStore, RedisStore]]:
    """Two workers' stores on one prefix."""
    prefix = _prefix()
    first, second = connect_redis(redis_url, prefix=prefix), connect_redis(redis_url, prefix=prefix)
    yield first, second
    first.reset(keep_clock=False)
    first.close()
    second.close()


def test_the_first_workers_settings_win_and_time_is_shared(
    pair: tuple[RedisStore, RedisStore],
) -> None:
    one = StoreClock.open(pair[0], "manual", 1_000.0, 1.0)
    two = StoreClock.open(pair[1], "real", 5.0, 20.0)  # adopts manual
    assert (two.mode, two.speed) == ("manual", 1.0)
    assert is_manual(two) and not is_real(two)
    assert one.advance(2.5) == 1_002.5
    assert two.now() == 1_002.5
    with pytest.raises(ValueError):
        one.advance(-1)


def test_real_mode_says_so_and_scales_wall_seconds(pair: tuple[RedisStore, RedisStore]) -> None:
    clock = StoreClock.open(pair[0], "real", 0.0, 10.0)
    assert is_real(clock) and not is_manual(clock)
    assert clock.wall_seconds(35.0) == 3.5
    start = clock.now()
    time.sleep(0.05)
    assert clock.now() - start >= 0.4  # ten times the wall time
    assert abs(start - time.time()) < 30


def test_a_pinned_request_reads_no_store_and_the_pin_stays_in_its_task(
    pair: tuple[RedisStore, RedisStore],
) -> None:
    clock = StoreClock.open(pair[0], "manual", 1_000.0, 1.0)

    async def request(now: float) -> list[float]:
        with StoreClock.pinned(now):
            await asyncio.sleep(0)
            seen = [clock.now(), clock.now()]
            await asyncio.sleep(0)
            return [*seen, clock.now()]

    async def both() -> list[list[float]]:
        return list(await asyncio.gather(request(1.0), request(2.0)))

    with pair[0].trips.measure() as spent:
        assert asyncio.run(both()) == [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]
    assert spent[0] == 0  # nothing asked of Redis
    assert clock.now() == 1_000.0  # unpinned again: the store's time
    with StoreClock.pinned(1_000.0):
        assert clock.advance(5) == 1_005.0
        assert clock.now() == 1_005.0  # an advance moves the pin too


def test_the_app_runs_on_a_store_clock(pair: tuple[RedisStore, RedisStore]) -> None:
    clock = StoreClock.open(pair[0], "manual", 1_000.0, 1.0)
    state: MockState = create_app(clock=clock).state.mock
    assert state.clock_kind == "manual"
    assert state.advance(5) == 1_005.0
    assert StoreClock.open(pair[1], "manual", 0.0, 1.0).now() == 1_005.0
