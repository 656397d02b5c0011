"""Rate limits over HTTP, on the manual clock: 429s with a Retry-After that is right.

Eachlabs: 100 creates per minute and 10 jobs in flight per key (refused);
Apikley: 20 creates per 10 s (a real HTTP 429); WaveSpeed: its tier's
creates per minute, and over the concurrency limit a job waits (held in
``created``) until a slot frees. Per-key overrides come from the admin API
and the config file. The order of checks on a create is auth -> forced code
-> validation -> 429 -> 402 -> create.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from http_api import Api, advance, error_code
from starlette.applications import Starlette

from mockserver.config import MockConfig

#: Run on the memory store and on a Redis store (tests/conftest.py: store_backend).
pytestmark = pytest.mark.store_backends


def _retry_after(response: httpx.Response) -> int:
    return int(response.headers["retry-after"])


def test_the_eleventh_concurrent_eachlabs_create_is_429_until_a_job_ends(
    client: httpx.Client,
) -> None:
    api = Api(client, "eachlabs", "sk-rl-concurrent")
    ids = [api.create_ok() for _ in range(10)]
    refused = api.create()
    assert refused.status_code == 429
    assert refused.json()["message"] == "too many requests"
    assert "10 jobs in flight" in refused.json()["details"]
    wait = _retry_after(refused)
    assert wait == 35  # the soonest job in flight is planned to end then (35 s model)
    assert client.get("/_mock/jobs").json()["count"] == 10  # the refused create made nothing
    # Ending one job (a cancel) frees its slot at once.
    client.post(f"/eachlabs/v1/prediction/{ids[0]}/cancel", headers=api.headers())
    api.create_ok()
    assert api.create().status_code == 429
    # Waiting the Retry-After of a concurrency 429 is enough: the jobs have ended by then.
    wait = _retry_after(api.create())
    advance(client, wait)
    api.create_ok()


def test_a_window_429_retry_after_is_exact_on_the_mock_clock(client: httpx.Client) -> None:
    api = Api(client, "eachlabs", "sk-rl-window")
    api.set(limits={"creates_per_window": 3, "window_seconds": 60, "concurrent": 100})
    for _ in range(2):
        api.create_ok()
    advance(client, 20)
    api.create_ok()  # t=20
    refused = api.create()
    assert refused.status_code == 429
    wait = _retry_after(refused)
    assert wait == 40  # the first two creates leave the window at t=60
    advance(client, wait - 1)
    assert api.create().status_code == 429  # a second early: still refused (and not counted)
    advance(client, 1)
    api.create_ok()


def test_apikley_20_per_10_seconds_is_a_real_http_429(client: httpx.Client) -> None:
    api = Api(client, "apikley", "sk-rl-apikley")
    for _ in range(20):
        api.create_ok()
    advance(client, 3)
    refused = api.create()
    assert refused.status_code == 429  # [3P] the one real HTTP status in Apikley's transport
    assert refused.json()["code"] == 429 and refused.json()["data"] is None
    wait = _retry_after(refused)
    assert wait == 7
    advance(client, wait)
    api.create_ok()
    assert client.get("/_mock/jobs").json()["count"] == 21


def test_wavespeed_tier_limit_refuses_the_third_create_in_a_minute(client: httpx.Client) -> None:
    api = Api(client, "wavespeed", "sk-rl-bronze")
    api.create_ok()
    api.create_ok()
    refused = api.create()
    assert refused.status_code == 429 and refused.json()["code"] == 429
    advance(client, _retry_after(refused))
    api.create_ok()


def test_wavespeed_over_concurrency_job_waits_created_and_starts_when_a_slot_frees(
    client: httpx.Client,
) -> None:
    api = Api(client, "wavespeed", "sk-rl-queue")
    api.set(limits={"creates_per_window": 10, "concurrent": 1})
    first = api.create_ok()
    second = api.create_ok()  # accepted, not refused: it waits for the slot
    assert client.get(f"/_mock/jobs/{second}").json()["held"] is True
    advance(client, 20)
    assert api.status(first) == "processing"
    assert api.status(second) == "created"  # still waiting after its own queue time
    advance(client, 15)  # the first job's planned end (35 s)
    assert api.status(first) == "completed"
    held = client.get(f"/_mock/jobs/{second}").json()
    assert held["held"] is False and held["state"] in ("queued", "running")
    advance(client, 35)
    assert api.status(second) == "completed"
    finished = client.get(f"/_mock/jobs/{second}").json()
    first_end = client.get(f"/_mock/jobs/{first}").json()["finished_at"]
    # It started queueing exactly when the slot freed, not when someone looked.
    assert finished["finished_at"] == pytest.approx(first_end + 35)


def test_a_cancelled_held_job_leaves_the_line(client: httpx.Client) -> None:
    api = Api(client, "eachlabs", "sk-rl-queue-cancel")
    api.set(limits={"concurrent": 1, "over_limit": "queue"})
    first = api.create_ok()
    second = api.create_ok()
    third = api.create_ok()
    client.post(f"/eachlabs/v1/prediction/{second}/cancel", headers=api.headers())
    advance(client, 35)
    assert api.status(first) == "success"
    assert client.get(f"/_mock/jobs/{third}").json()["held"] is False
    advance(client, 35)
    assert api.status(third) == "success"
    assert api.status(second) == "cancelled"


def test_a_402_create_holds_no_slot_and_does_not_count(client: httpx.Client) -> None:
    api = Api(client, "eachlabs", "sk-rl-402")
    api.set(balance=0.49, limits={"concurrent": 1, "creates_per_window": 1})
    assert api.create().status_code == 402
    api.set(balance=0.5)
    api.create_ok()  # neither the slot nor the window was taken by the 402


def test_a_429_create_is_not_charged(client: httpx.Client) -> None:
    api = Api(client, "apikley", "sk-rl-not-charged")
    api.set(limits={"creates_per_window": 1})
    api.create_ok()
    assert api.create().status_code == 429
    assert api.account()["reserved"] == 80  # one job's credits, not two


def test_order_of_checks_on_create(client: httpx.Client) -> None:
    api = Api(client, "eachlabs", "nofunds-order")
    api.set(limits={"creates_per_window": 1})
    # auth before a forced code
    anonymous = client.post("/eachlabs/v1/prediction/", json={}, headers={"Prefer": "code=503"})
    assert anonymous.status_code == 401
    # a forced code before validation
    assert api.create(inputs={"resolution": "9000p"}, prefer="code=503").status_code == 503
    # validation before the rate limit and the balance
    assert api.create(inputs={"resolution": "9000p"}).status_code == 400
    # the balance (402) comes after the rate limit: the window is still free, so 402
    assert api.create().status_code == 402
    api.set(balance=1)
    api.create_ok()
    # now the window is full: 429 wins over a missing balance
    api.set(balance=0)
    assert api.create().status_code == 429


def test_per_key_limits_from_the_config_file(
    make_app: Callable[..., Starlette], make_client: Callable[..., httpx.Client]
) -> None:
    config = MockConfig.from_mapping(
        {"accounts": {"keys": {"sk-config-limited": {"limits": {"creates_per_window": 1}},
                               "sk-config-other": {}}}}
    )
    client = make_client(make_app(config=config))
    limited = Api(client, "apikley", "sk-config-limited")
    limited.create_ok()
    assert limited.create().status_code == 429
    other = Api(client, "apikley", "sk-config-other")
    for _ in range(5):
        other.create_ok()


def test_an_unknown_tier_is_refused_by_the_admin_api(client: httpx.Client) -> None:
    reply = client.put("/_mock/accounts/sk-rl-tier", json={"limits": {"tier": "platinum"}})
    assert reply.status_code == 400
    assert "platinum" in reply.json()["error"] and "gold" in reply.json()["error"]
    api = Api(client, "wavespeed", "sk-rl-tier")
    for _ in range(2):  # the key kept the default (bronze) tier
        api.create_ok()
    assert api.create().status_code == 429


def test_a_tier_applies_to_wavespeed_and_is_ignored_where_there_are_no_tiers(
    client: httpx.Client,
) -> None:
    key = "sk-rl-gold"
    assert client.put(f"/_mock/accounts/{key}", json={"limits": {"tier": "gold"}}).is_success
    wavespeed = Api(client, "wavespeed", key)
    for _ in range(5):  # bronze would refuse the third create in a minute
        wavespeed.create_ok()
    apikley = Api(client, "apikley", key)
    eachlabs = Api(client, "eachlabs", key)
    apikley.create_ok()
    eachlabs.create_ok()


def test_reset_frees_every_slot_and_window(client: httpx.Client) -> None:
    api = Api(client, "eachlabs", "sk-rl-reset")
    for _ in range(10):
        api.create_ok()
    assert api.create().status_code == 429
    client.post("/_mock/reset")
    api.create_ok()
    assert api.account()["reserved"] == 0.5


def test_limits_over_a_served_mock(served: Any) -> None:
    with httpx.Client(base_url=served.url, trust_env=False) as http:
        api = Api(http, "apikley", "sk-rl-served")
        api.set(limits={"creates_per_window": 2, "window_seconds": 5})
        api.create_ok()
        api.create_ok()
        refused = api.create()
        assert refused.status_code == 429 and error_code("apikley", refused) == 429
        advance(http, _retry_after(refused))
        api.create_ok()
