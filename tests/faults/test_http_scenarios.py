"""Fault scenarios and accounts through HTTP, with the real adapters.

Scenario sources (Prefer header, queued admin entries, magic keys, prompt
markers) and their effects on the response, the job and its webhooks; API
keys and balances from the config and the admin API.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from conftest import Served, WebhookReceiver
from starlette.applications import Starlette

from mockserver.config import MockConfig
from mockserver.http.journal import mask_secret

#: Run on the memory store and on a Redis store (tests/conftest.py: store_backend).
pytestmark = pytest.mark.store_backends

KEY = "sk-test-0123456789abcdef"
MODEL = "wan-v2-2-a14b-image-to-video-turbo"
IMAGE = "https://example.com/frame.png"


def _create(
    client: httpx.Client,
    *,
    key: str = KEY,
    prompt: str = "a dancer",
    webhook: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"model": MODEL, "input": {"image_url": IMAGE, "prompt": prompt}}
    if webhook:
        body["webhook_url"] = webhook
    return client.post(
        "/eachlabs/v1/prediction/", json=body, headers={"X-API-Key": key, **(headers or {})}
    )


def _poll(client: httpx.Client, job_id: str, **headers: str) -> httpx.Response:
    return client.get(f"/eachlabs/v1/prediction/{job_id}", headers={"X-API-Key": KEY, **headers})


def _advance(client: httpx.Client, seconds: float = 600) -> None:
    reply = client.post("/_mock/clock/advance", json={"seconds": seconds, "wait": True})
    assert reply.json()["settled"] is True


# --- Prefer ------------------------------------------------------------------------


def test_prefer_code_forces_that_error_in_the_envelope(client: httpx.Client) -> None:
    reply = _create(client, headers={"Prefer": "code=429"})
    assert reply.status_code == 429
    assert reply.headers["retry-after"] == "1"
    assert reply.json()["status"] == "error"
    assert reply.json()["message"] == "too many requests"
    assert client.get("/_mock/jobs").json()["count"] == 0  # nothing was created
    entry = client.get("/_mock/requests?limit=1").json()["requests"][0]
    assert entry["scenario"] == "code=429"


def test_prefer_code_follows_the_provider_transport(client: httpx.Client) -> None:
    reply = client.get(
        "/apikley/api/v1/jobs/recordInfo?taskId=x",
        headers={"Authorization": f"Bearer {KEY}", "Prefer": "code=402"},
    )
    assert reply.status_code == 200  # Apikley: the code travels in the body
    assert reply.json()["code"] == 402


def test_prefer_scenario_fails_the_job_and_its_webhook_says_so(
    client: httpx.Client, webhook_receiver: WebhookReceiver
) -> None:
    created = _create(client, webhook=webhook_receiver.url,
                      headers={"Prefer": 'scenario="job_failed:content_moderation"'})
    job_id = created.json()["predictionID"]
    _advance(client)
    polled = _poll(client, job_id).json()
    assert polled["status"] == "error"
    assert polled["output"]["error_code"] == "CONTENT_POLICY_VIOLATION"
    [received] = webhook_receiver.wait_for(1)
    assert received.json()["status"] == "failed"
    job = client.get(f"/_mock/jobs/{job_id}").json()
    assert job["scenario"] == "job_failed:content_moderation"


@pytest.mark.parametrize("prefer", ["scenario=no_such_thing", "code=418", "delay=-1", 'code="x'])
def test_a_bad_prefer_is_400_in_the_envelope(client: httpx.Client, prefer: str) -> None:
    reply = _create(client, headers={"Prefer": prefer})
    assert reply.status_code == 400
    assert reply.json()["status"] == "error"


def test_prefer_delay_slows_the_answer(client: httpx.Client) -> None:
    started = time.monotonic()
    reply = _create(client, headers={"Prefer": "delay=0.3"})
    assert reply.status_code == 200
    assert time.monotonic() - started >= 0.3


def test_malformed_and_truncated_bodies(client: httpx.Client) -> None:
    broken = _create(client, headers={"Prefer": "scenario=malformed_body"})
    assert broken.status_code == 200
    with pytest.raises(ValueError):
        broken.json()
    cut = _create(client, headers={"Prefer": "scenario=truncated_body"})
    with pytest.raises(ValueError):
        cut.json()
    assert len(cut.content) > 0


def test_drop_connection_breaks_the_response_and_the_server_lives_on(
    served: Served,
) -> None:
    with httpx.Client(base_url=served.url, trust_env=False) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            _create(http, headers={"Prefer": "scenario=drop_connection"})
        assert _create(http).status_code == 200
        dropped = http.get("/_mock/requests?order=oldest").json()["requests"][0]
        assert dropped["dropped"] is True
    assert served.state.unhandled_errors == []


# --- queued, magic key, prompt marker ------------------------------------------------


def test_a_queued_scenario_fires_on_its_matching_call_only(client: httpx.Client) -> None:
    job_id = _create(client).json()["predictionID"]
    queued = client.post(
        "/_mock/scenarios", json={"code": 503, "match": {"endpoint": "poll", "nth": 2}}
    )
    assert queued.status_code == 201
    assert client.get("/_mock/scenarios").json()["queued"][0]["remaining"] == 1
    assert _poll(client, job_id).status_code == 200  # the first poll is counted
    assert _poll(client, job_id).status_code == 503  # the second fires
    assert _poll(client, job_id).status_code == 200  # used up
    assert client.get("/_mock/scenarios").json()["queued"] == []


def test_queued_scenarios_are_listed_and_cleared(client: httpx.Client) -> None:
    client.post("/_mock/scenarios", json={"scenario": "job_stuck", "times": 3})
    listing = client.get("/_mock/scenarios").json()
    assert listing["queued"][0]["scenario"] == "job_stuck"
    assert "webhook_refused" in {s["name"] for s in listing["available"]}
    assert client.delete("/_mock/scenarios").json() == {"cleared": 1}
    bad = client.post("/_mock/scenarios", json={"scenario": "nope"})
    assert bad.status_code == 400
    assert "nope" in bad.json()["error"]


def test_a_magic_key_sticks_the_job(client: httpx.Client) -> None:
    job_id = _create(client, key="scenario-job_stuck-ci").json()["predictionID"]
    _advance(client, 10_000)
    state = client.get(f"/_mock/jobs/{job_id}").json()["state"]
    assert state == "running"


def test_a_prompt_marker_forces_a_code(client: httpx.Client) -> None:
    reply = _create(client, prompt="a cat [mock:500]")
    assert reply.status_code == 500
    assert reply.json()["status"] == "error"


def test_a_prompt_marker_spelled_with_json_escapes_still_counts(client: httpx.Client) -> None:
    # The create path looks for markers in the raw bytes first; "\\u005b" is
    # "[" once parsed, so this body holds a marker its bytes do not show.
    plain = {"model": MODEL, "input": {"image_url": IMAGE, "prompt": "a cat [mock:500]"}}
    body = json.dumps(plain).replace("[", "\\u005b")
    assert "[mock:" not in body
    reply = client.post(
        "/eachlabs/v1/prediction/",
        content=body.encode(),
        headers={"X-API-Key": KEY, "Content-Type": "application/json"},
    )
    assert reply.status_code == 500
    assert reply.json()["status"] == "error"


# --- webhook effects ------------------------------------------------------------------


def test_webhook_refused_scenario_reaches_nobody_and_gives_up(
    client: httpx.Client, webhook_receiver: WebhookReceiver
) -> None:
    _create(client, webhook=webhook_receiver.url, headers={"Prefer": "scenario=webhook_refused"})
    for _ in range(4):
        _advance(client, 60)
    [delivery] = client.get("/_mock/webhooks").json()["deliveries"]
    assert delivery["state"] == "gave_up"
    assert [a["outcome"] for a in delivery["attempts"]] == ["refused"] * 3
    assert "simulated" in delivery["attempts"][0]["error"]
    assert webhook_receiver.requests == []


def test_webhook_duplicate_scenario_delivers_twice(
    client: httpx.Client, webhook_receiver: WebhookReceiver
) -> None:
    _create(client, webhook=webhook_receiver.url,
            headers={"Prefer": "scenario=webhook_duplicate"})
    _advance(client)
    first, second = webhook_receiver.wait_for(2)
    assert first.body == second.body
    [delivery] = client.get("/_mock/webhooks").json()["deliveries"]
    assert delivery["state"] == "delivered"
    assert [a["outcome"] for a in delivery["attempts"]] == ["delivered", "delivered"]


# --- accounts ---------------------------------------------------------------------------


def test_admin_accounts_make_a_key_invalid_and_back(client: httpx.Client) -> None:
    assert _create(client).status_code == 200
    described = client.get(f"/_mock/accounts/{KEY}").json()
    assert described["valid"] is True and "eachlabs" in described["accounts"]
    updated = client.put(f"/_mock/accounts/{KEY}", json={"valid": False})
    assert updated.status_code == 200 and updated.json()["valid"] is False
    assert _create(client).status_code == 401
    listed = client.get("/_mock/accounts")
    assert [k["key"] for k in listed.json()["keys"]] == [mask_secret(KEY)]
    assert KEY not in listed.text  # keys are masked in the list
    client.post("/_mock/reset")
    assert _create(client).status_code == 200  # reset: back to the configured accounts


def test_admin_accounts_refuse_bad_fields(client: httpx.Client) -> None:
    reply = client.put(f"/_mock/accounts/{KEY}", json={"colour": "red"})
    assert reply.status_code == 400
    assert "colour" in reply.json()["error"]
    assert client.put(f"/_mock/accounts/{KEY}", json=[1]).status_code == 400


def test_magic_invalid_keys_are_401(client: httpx.Client) -> None:
    assert _create(client, key="sk_invalid").status_code == 401


def test_keys_listed_in_the_config_are_the_only_valid_ones(
    make_app: Callable[..., Starlette], make_client: Callable[..., httpx.Client]
) -> None:
    config = MockConfig.from_mapping({"accounts": [{"key": "sk-listed-000000"}]})
    client = make_client(make_app(config=config))
    assert _create(client, key="sk-listed-000000").status_code == 200
    assert _create(client).status_code == 401
