"""A bounded store must not leak what its evicted jobs held (money, slots)."""

from __future__ import annotations

import httpx
from http_api import Api
from starlette.applications import Starlette


def test_evicted_unfinished_jobs_release_their_reservation_and_slot(
    app: Starlette, client: httpx.Client
) -> None:
    app.state.mock.world.max_jobs = 5
    api = Api(client, "eachlabs", "sk-evict")
    # Twelve jobs that never finish on one key: Eachlabs allows 10 in flight,
    # so without the release on eviction the eleventh create would be a 429.
    for _ in range(12):
        api.create_ok(prefer="scenario=job_stuck")
    assert len(client.get("/_mock/jobs").json()["jobs"]) == 5
    account = client.get("/_mock/accounts/sk-evict").json()["accounts"]["eachlabs"]
    price = 0.5  # Wan 2.2 turbo, 720p fallback rule x the 5 s billed assumption
    assert account["reserved"] == 5 * price
    assert account["balance"] == 100.0
