"""The README's scenario precedence, rule by rule, over real HTTP (Eachlabs, served by uvicorn).

README "Faults on demand": strongest first, the ``Prefer`` header, a queued
scenario, a magic key, a prompt marker; several markers combine; a forced
code answers only a caller with a valid key (a missing or invalid key is
still 401); ``nofunds`` keys are valid, so a forced code beats their 402.
Each case pits two (or three) sources that force different error codes
against each other, so the answer's status names the winner.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from conftest import Served

#: Run on the memory store and on a Redis store (tests/conftest.py: store_backend).
pytestmark = pytest.mark.store_backends

MODEL = "wan-v2-2-a14b-image-to-video-turbo"
IMAGE = "https://example.com/frame.png"
PLAIN_KEY = "sk-test-0123456789abcdef"


def _create(
    http: httpx.Client, *, key: str | None = PLAIN_KEY, prompt: str = "a dancer",
    prefer: str | None = None,
) -> httpx.Response:
    headers = {"X-API-Key": key} if key is not None else {}
    if prefer is not None:
        headers["Prefer"] = prefer
    body: dict[str, Any] = {"model": MODEL, "input": {"image_url": IMAGE, "prompt": prompt}}
    return http.post("/eachlabs/v1/prediction/", json=body, headers=headers)


# (case id, queued code or None, API key, prompt, Prefer header, expected status)
CASES = [
    # the defect of issue 19: a magic key beats a prompt marker
    ("key-beats-marker", None, "scenario-500", "a cat [mock:429]", None, 500),
    ("key-beats-marker-either-order", None, "scenario-429-ci", "[mock:500] a cat", None, 429),
    ("queued-beats-key", 502, "scenario-500", "a cat", None, 502),
    ("queued-beats-marker", 502, PLAIN_KEY, "a cat [mock:429]", None, 502),
    ("queued-beats-key-and-marker", 502, "scenario-500", "a cat [mock:429]", None, 502),
    ("prefer-beats-queued", 502, PLAIN_KEY, "a cat", "code=503", 503),
    ("prefer-beats-key", None, "scenario-500", "a cat", "code=503", 503),
    ("prefer-beats-marker", None, PLAIN_KEY, "a cat [mock:429]", "code=503", 503),
    ("prefer-beats-all", 502, "scenario-500", "a cat [mock:429]", "code=503", 503),
    ("marker-alone", None, PLAIN_KEY, "a cat [mock:429]", None, 429),
    ("key-alone", None, "scenario-500", "a cat", None, 500),
    ("queued-alone", 502, PLAIN_KEY, "a cat", None, 502),
    ("later-marker-wins-among-markers", None, PLAIN_KEY, "[mock:429] then [mock:500]", None, 500),
    # a forced code answers only a valid key
    ("no-key-is-401-before-prefer", None, None, "a cat", "code=503", 401),
    ("invalid-key-is-401-before-marker", None, "sk_invalid", "a cat [mock:429]", None, 401),
    ("invalid-key-is-401-before-queued", 502, "invalid-key-1", "a cat", None, 401),
    # nofunds keys are valid: the forced code comes before the 402
    ("nofunds-alone-is-402", None, "nofunds-1", "a cat", None, 402),
    ("prefer-beats-nofunds", None, "nofunds-1", "a cat", "code=503", 503),
    ("marker-beats-nofunds", None, "nofunds-1", "a cat [mock:429]", None, 429),
]


@pytest.mark.parametrize(
    ("queued", "key", "prompt", "prefer", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_scenario_precedence_over_http(
    served: Served, queued: int | None, key: str | None, prompt: str, prefer: str | None,
    expected: int,
) -> None:
    with httpx.Client(base_url=served.url, timeout=10) as http:
        if queued is not None:
            reply = http.post("/_mock/scenarios", json={"code": queued})
            assert reply.status_code == 201, reply.text
        reply = _create(http, key=key, prompt=prompt, prefer=prefer)
        assert reply.status_code == expected, reply.text
        if expected not in (401, 402):
            # The journal names the scenario that answered.
            entry = http.get("/_mock/requests", params={"endpoint": "create"}).json()
            assert entry["requests"][0]["status"] == expected


def test_a_key_and_a_marker_of_different_kinds_combine_over_http(served: Served) -> None:
    """Precedence decides only where two sources set the same effect: a magic key's
    stuck job and a marker's delay both apply (``Prefer: delay=0`` keeps the test fast)."""
    with httpx.Client(base_url=served.url, timeout=10) as http:
        reply = _create(http, key="scenario-job_stuck", prompt="a cat [mock:slow]",
                        prefer="delay=0")
        assert reply.status_code == 200, reply.text
        job_id = reply.json()["predictionID"]
        http.post("/_mock/clock/advance", json={"seconds": 10_000, "wait": True})
        assert http.get(f"/_mock/jobs/{job_id}").json()["state"] == "running"
        entry = http.get("/_mock/requests", params={"endpoint": "create"}).json()["requests"][0]
        # weakest first: the marker, the key over it, then the Prefer delay
        assert entry["scenario"] == "slow+job_stuck+delay"
        assert entry["status"] == 200
