"""Credits over HTTP: every create is priced, reserved, charged on success, released otherwise.

Prices come from the model contracts (Eachlabs per-second rules, WaveSpeed's
duration x resolution table) and the provider contracts (Eachlabs Wan 2.2
turbo's billed seconds, Apikley's credit table). All amounts are checked to
the cent (whole credits at Apikley).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from http_api import Api, advance, error_code

from mockserver.providers import registry

#: Run on the memory store and on a Redis store (tests/conftest.py: store_backend).
pytestmark = pytest.mark.store_backends

#: Price of each provider's default model with its default inputs.
DEFAULT_PRICE = {
    "eachlabs": Decimal("0.50"),  # 720p fallback $0.10/s x 5 billed seconds (provider.yaml)
    "wavespeed": Decimal("0.15"),  # table cell duration 5 x 480p
    "apikley": Decimal(80),  # 720p, credits (provider.yaml billing fallback)
}
#: The smallest amount of each provider's currency.
UNIT = {"eachlabs": Decimal("0.01"), "wavespeed": Decimal("0.01"), "apikley": Decimal(1)}
START = {"eachlabs": Decimal(100), "wavespeed": Decimal(100), "apikley": Decimal(10_000)}

#: (model, inputs, price): mixed models and resolutions, every WaveSpeed table cell.
JOBS: dict[str, list[tuple[str | None, dict[str, Any], Decimal]]] = {
    "eachlabs": [
        (None, {"resolution": "480p"}, Decimal("0.25")),
        (None, {"resolution": "580p"}, Decimal("0.375")),
        (None, {}, Decimal("0.50")),
        ("wan-2-5-preview-image-to-video", {"resolution": "1080p", "duration": "10"},
         Decimal("1.50")),
        ("wan-2-5-preview-image-to-video", {"resolution": "480p"}, Decimal("0.25")),
        ("alibaba-wan-2-7-image-to-video", {"resolution": "720P", "duration": 3},
         Decimal("0.30")),
        ("alibaba-wan-2-7-image-to-video", {}, Decimal("0.75")),
    ],
    "wavespeed": [
        (None, {}, Decimal("0.15")),
        (None, {"duration": 5, "resolution": "720p"}, Decimal("0.30")),
        (None, {"duration": 8, "resolution": "480p"}, Decimal("0.24")),
        (None, {"duration": 8, "resolution": "720p"}, Decimal("0.48")),
    ],
    "apikley": [
        (None, {"resolution": "480p"}, Decimal(40)),
        (None, {"resolution": "580p"}, Decimal(60)),
        (None, {"resolution": "720p"}, Decimal(80)),
        (None, {}, Decimal(80)),
    ],
}

PROVIDERS = list(registry.names())


def _as_json(amount: Decimal) -> Any:
    return int(amount) if amount == amount.to_integral_value() else str(amount)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_402_exactly_when_the_available_balance_is_below_the_price(
    client: httpx.Client, provider: str
) -> None:
    api = Api(client, provider, f"sk-credit-edge-{provider}")
    price = DEFAULT_PRICE[provider]
    api.set(balance=_as_json(price - UNIT[provider]))
    refused = api.create()
    assert error_code(provider, refused) == 402, refused.text
    # The provider's transport: Apikley sends its 402 as HTTP 200 with the code in the body.
    assert refused.status_code == (200 if provider == "apikley" else 402)
    assert client.get("/_mock/jobs").json()["count"] == 0
    api.set(balance=_as_json(price))
    api.create_ok()
    account = api.account()
    assert Decimal(str(account["reserved"])) == price
    assert Decimal(str(account["available"])) == 0
    again = api.create()  # the reservation holds the money: nothing left
    assert error_code(provider, again) == 402


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_balance_after_n_jobs_is_the_start_minus_their_prices(
    client: httpx.Client, provider: str
) -> None:
    api = Api(client, provider, f"sk-credit-sum-{provider}")
    api.set(limits={"creates_per_window": 100, "concurrent": 20})  # WaveSpeed's tier: 2/min
    jobs = [(api.create_ok(model, inputs), price) for model, inputs, price in JOBS[provider]]
    total = sum((price for _, price in jobs), Decimal(0))
    account = api.account()
    assert Decimal(str(account["reserved"])) == total
    assert Decimal(str(account["balance"])) == START[provider]
    if provider != "eachlabs":  # the balance endpoints show what can still be spent
        shown = api.balance_endpoint().json()["data"]
        shown = shown["balance"] if provider == "wavespeed" else shown
        assert Decimal(str(shown)) == START[provider] - total
    advance(client, 600)
    for job_id, price in jobs:
        reply = api.poll(job_id).json()
        if provider == "eachlabs":
            assert reply["status"] == "success"
            assert Decimal(str(reply["metrics"]["cost"])) == price
        job = client.get(f"/_mock/jobs/{job_id}").json()
        assert Decimal(str(job["cost"])) == price
        assert Decimal(job["extra"]["price"]["amount"]) == price
    assert api.balance() == START[provider] - total
    assert Decimal(str(api.account()["reserved"])) == 0
    if provider != "eachlabs":
        shown = api.balance_endpoint().json()["data"]
        shown = shown["balance"] if provider == "wavespeed" else shown
        assert Decimal(str(shown)) == START[provider] - total


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_failed_job_costs_nothing(client: httpx.Client, provider: str) -> None:
    api = Api(client, provider, f"sk-credit-failed-{provider}")
    job_id = api.create_ok(prefer="scenario=job_failed")
    assert Decimal(str(api.account()["reserved"])) == DEFAULT_PRICE[provider]
    advance(client, 600)
    assert client.get(f"/_mock/jobs/{job_id}").json()["state"] == "failed"
    assert api.balance() == START[provider]
    assert Decimal(str(api.account()["reserved"])) == 0
    if provider == "eachlabs":
        assert api.poll(job_id).json()["metrics"]["cost"] == 0


def test_a_cancelled_eachlabs_job_costs_nothing_and_frees_its_money(
    client: httpx.Client,
) -> None:
    api = Api(client, "eachlabs", "sk-credit-cancel")
    api.set(balance=0.5)  # exactly one job
    job_id = api.create_ok()
    assert api.poll(job_id).json()["metrics"]["cost"] is None  # not charged yet
    assert error_code("eachlabs", api.create()) == 402
    cancelled = client.post(f"/eachlabs/v1/prediction/{job_id}/cancel", headers=api.headers())
    assert cancelled.status_code == 200
    assert api.balance() == Decimal("0.5") and api.account()["reserved"] == 0
    assert api.poll(job_id).json()["metrics"]["cost"] == 0
    second = api.create_ok()  # the money is back
    advance(client, 600)
    assert api.status(second) == "success"
    assert api.balance() == 0


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_nofunds_key_gets_402_in_the_envelope(client: httpx.Client, provider: str) -> None:
    api = Api(client, provider, "nofunds-ci")
    reply = api.create()
    assert error_code(provider, reply) == 402
    body = reply.json()
    if provider == "eachlabs":
        assert body["status"] == "error" and body["message"] == "payment required"
        assert "Insufficient balance" in body["details"]
    elif provider == "wavespeed":
        assert body["code"] == 402 and body["data"] is None
    else:
        assert body["code"] == 402 and body["data"] is None


def test_credits_over_a_served_mock(served: Any) -> None:
    with httpx.Client(base_url=served.url, trust_env=False) as http:
        api = Api(http, "wavespeed", "sk-credit-served")
        api.set(balance=0.3)
        api.create_ok(inputs={"duration": 5, "resolution": "720p"})
        assert error_code("wavespeed", api.create()) == 402
        advance(http, 600)
        assert api.balance() == 0
        assert api.balance_endpoint().json()["data"]["balance"] == 0
