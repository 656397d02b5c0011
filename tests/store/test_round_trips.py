"""Round trips to Redis per request, as the issue's target counts them: one per poll,
two per create, whatever the clock; nothing per request for hints (scenario queue,
key settings) once a worker knows them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from http_api import Api
from starlette.applications import Starlette
from starlette.testclient import TestClient

from mockserver.domain.clock import ManualClock, RealClock

PROVIDER = "eachlabs"


@pytest.mark.parametrize("clock", ["manual", "real"])
def test_a_poll_is_one_round_trip_and_a_create_two(
    make_app: Callable[..., Starlette], make_store: Callable[[], Any], clock: str
) -> None:
    store = make_store()
    app = make_app(store=store, clock=ManualClock() if clock == "manual" else RealClock(1.0))
    # No lifespan and no background sender, and the journal's batches (one round trip
    # per worker every 50 ms, tested in test_fleet_views) held: only the requests'
    # own round trips count.
    app.state.mock.sender.ensure_started = lambda: None
    app.state.mock.journal.buffer.flush_seconds = 3600
    client = TestClient(app)
    api = Api(client, PROVIDER, "k-trips")
    api.set(limits={"concurrent": 1000, "creates_per_window": 1000})
    time.sleep(0.2)  # the change's notice (pub/sub) comes back to this worker too
    job_id = api.create_ok()  # the key's first use after it reads its settings once
    api.poll(job_id)
    before = store.trips.count
    for _ in range(10):
        assert api.poll(job_id).status_code == 200
    assert store.trips.count - before == 10
    before = store.trips.count
    for _ in range(10):
        api.create_ok()
    assert store.trips.count - before == 20
