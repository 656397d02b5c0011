"""Error envelopes that agree with themselves, and WaveSpeed's odd paths (issue 18 item 3).

Over real HTTP (the ``served`` fixture): an Eachlabs 402 or 429 has one
envelope and one text whatever caused it — a real balance or rate limit, or
``Prefer: code=`` — and that envelope is the contract's. WaveSpeed answers a
poll URL with a trailing slash as an unknown path (404), and
``timings.inference`` is always an integer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mockserver.contracts import load_contracts

CONTRACTS = load_contracts()
EACHLABS_BODY = {"model": "wan-v2-2-a14b-image-to-video-turbo",
                 "input": {"image_url": "https://images.example.com/a.jpg", "prompt": "a cat"}}
WAVESPEED_MODEL = "wavespeed-ai/wan-2.2/image-to-video"
WAVESPEED_BODY = {"image": "https://images.example.com/a.jpg", "prompt": "a cat"}


@pytest.fixture
def http(served: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, timeout=10) as client:
        yield client


def _each(http: httpx.Client, key: str, prefer: str | None = None) -> httpx.Response:
    headers = {"X-API-Key": key}
    if prefer:
        headers["Prefer"] = prefer
    return http.post("/eachlabs/v1/prediction/", json=EACHLABS_BODY, headers=headers)


def _without_details(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "details"}


def test_eachlabs_402_is_one_envelope_for_a_real_and_a_forced_cause(http: httpx.Client) -> None:
    real = _each(http, "nofunds-envelope")
    forced = _each(http, "rich-envelope", prefer="code=402")
    assert real.status_code == forced.status_code == 402
    schema = "/errors/envelopes/402/schema"
    contract = CONTRACTS.provider("eachlabs")
    for reply in (real, forced):
        assert contract.validate(schema, reply.json()) == []
        # [SEED] the documents' envelope: status "error" (a string), message, details.
        assert reply.json()["status"] == "error"
    assert _without_details(real.json()) == _without_details(forced.json()) == {
        "status": "error", "message": "payment required", "error": "payment required"}
    assert "Insufficient balance" in real.json()["details"]  # the cause is kept


def test_eachlabs_429_is_one_envelope_for_a_real_and_a_forced_cause(
    http: httpx.Client, served: Any
) -> None:
    http.put("/_mock/accounts/limited-envelope",
             json={"limits": {"creates_per_window": 1, "window_seconds": 60, "concurrent": 10}})
    assert _each(http, "limited-envelope").status_code == 200
    real = _each(http, "limited-envelope")
    forced = _each(http, "other-envelope", prefer="code=429")
    assert real.status_code == forced.status_code == 429
    contract = CONTRACTS.provider("eachlabs")
    for reply in (real, forced):
        assert contract.validate("/errors/envelopes/429/schema", reply.json()) == []
    assert _without_details(real.json()) == _without_details(forced.json()) == {
        "status": "error", "message": "too many requests", "error": "too many requests"}
    assert "Rate limit exceeded" in real.json()["details"]
    assert int(real.headers["retry-after"]) > 0


def test_wavespeed_poll_with_a_trailing_slash_is_an_unknown_path(http: httpx.Client) -> None:
    auth = {"Authorization": "Bearer ws-slash"}
    created = http.post(f"/wavespeed/api/v3/{WAVESPEED_MODEL}", json=WAVESPEED_BODY,
                        headers=auth).json()["data"]
    poll = f"/wavespeed/api/v3/predictions/{created['id']}/result"
    assert http.get(poll, headers=auth).status_code == 200
    for path in (f"{poll}/",
                 "/wavespeed/api/v3/no/such/path"):
        reply = http.get(path, headers=auth)
        assert reply.status_code == 404, reply.text
        assert reply.json()["code"] == 404 and reply.json()["data"] is None
        assert "allow" not in reply.headers
    # A model's own path exists (for POST): another method there is still 405.
    wrong = http.get(f"/wavespeed/api/v3/{WAVESPEED_MODEL}", headers=auth)
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"


def test_wavespeed_timings_inference_is_always_an_integer(http: httpx.Client) -> None:
    auth = {"Authorization": "Bearer ws-timings"}
    created = http.post(f"/wavespeed/api/v3/{WAVESPEED_MODEL}", json=WAVESPEED_BODY,
                        headers=auth).json()["data"]
    assert created["timings"]["inference"] == 0
    http.post("/_mock/clock/advance", json={"seconds": 600, "wait": True})
    done = http.get(f"/wavespeed/api/v3/predictions/{created['id']}/result",
                    headers=auth).json()
    assert done["data"]["status"] == "completed"
    assert isinstance(done["data"]["timings"]["inference"], int)
    assert done["data"]["timings"]["inference"] > 0
    contract = CONTRACTS.provider("wavespeed")
    assert contract.validate("/endpoints/poll/responses/200/by_status/completed/schema",
                             done) == []
