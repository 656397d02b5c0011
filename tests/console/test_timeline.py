"""GET /_mock/jobs/{id}/timeline: a job's story composed from the journal, job and outbox."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from http_api import DONE, FAILED, PROVIDERS, Api, advance
from starlette.applications import Starlette
from starlette.testclient import TestClient

from mockserver.domain.clock import RealClock
from mockserver.http.admin_openapi import build_admin_openapi
from mockserver.http.timeline import JOURNAL_SCAN, MAX_EVENTS

#: Tests marked store_backends run on a Redis store too.

KINDS = {"create", "poll", "transition", "credit", "rate_limit", "scenario", "webhook_attempt",
         "cancel", "output"}


def timeline(http: httpx.Client | TestClient, job_id: str) -> dict[str, Any]:
    reply = http.get(f"/_mock/jobs/{job_id}/timeline")
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    assert set(body) == {"job", "events", "truncated"}
    for number, event in enumerate(body["events"], start=1):
        assert set(event) == {"seq", "at", "wall", "kind", "title", "detail", "request_seq"}
        assert event["seq"] == number and event["kind"] in KINDS
        assert isinstance(event["at"], float | int) and event["title"]
    ats = [e["at"] for e in body["events"]]
    assert ats == sorted(ats)
    return body


def kinds(body: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in body["events"] if e["kind"] == kind]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.store_backends
def test_a_finished_job_tells_its_whole_story_over_http(
    provider: str, served: Any, make_receiver: Any
) -> None:
    receiver = make_receiver()
    with httpx.Client(base_url=served.url) as http:
        api = Api(http, provider, "sk-timeline-1234")
        api.set(webhook_secret="whsec_dGltZWxpbmUtc2VjcmV0")
        job_id = api.create_ok(webhook=receiver.url)
        assert api.poll(job_id).status_code == 200
        advance(http, 3600)
        assert api.status(job_id) == DONE[provider]
        receiver.wait_for(1)
        served.drain()
        body = timeline(http, job_id)
        job = http.get(f"/_mock/jobs/{job_id}").json()
    assert body["job"]["id"] == job["id"] == job_id and body["job"]["state"] == "succeeded"
    assert body["truncated"] is False
    (create,) = kinds(body, "create")
    assert create["request_seq"] is not None and create["detail"]["status"] == 200
    assert create["wall"] is not None and create["detail"]["response"]
    # the journal entry the create links to is that request
    polls = kinds(body, "poll")
    assert len(polls) == 2
    assert [p["detail"]["status_word"] for p in polls][-1] == DONE[provider]
    assert polls[0]["detail"]["status_word"] != DONE[provider]
    moves = [e["detail"]["to"] for e in kinds(body, "transition")]
    assert moves == ["queued", "running", "succeeded"]
    credits = [e["detail"]["action"] for e in kinds(body, "credit")]
    assert credits == ["reserve", "charge"]
    charge = kinds(body, "credit")[1]["detail"]
    assert charge["currency"] == {"apikley": "credits"}.get(provider, "USD")
    assert float(charge["amount"]) > 0
    (limit,) = kinds(body, "rate_limit")
    assert limit["detail"]["decision"] == "admitted" and limit["detail"]["window_count"] == 1
    (attempt,) = kinds(body, "webhook_attempt")
    detail = attempt["detail"]
    assert detail["outcome"] == "delivered" and detail["status_code"] == 200
    assert attempt["wall"] is not None and detail["duration_ms"] >= 0
    headers = detail["headers"]
    if provider == "wavespeed":
        assert headers["webhook-signature"].startswith("***") and "webhook-id" in headers
    if provider == "apikley":
        assert headers["x-webhook-signature"].startswith("***")
    assert all("dGltZWxpbmUtc2VjcmV0" not in str(v) for v in headers.values())
    (output,) = kinds(body, "output")
    assert output["detail"]["outputs"]


@pytest.mark.store_backends
@pytest.mark.parametrize("provider", PROVIDERS)
def test_journal_entries_are_linked_to_their_job(provider: str, client: TestClient) -> None:
    api = Api(client, provider, "sk-linked-1234")
    first = api.create_ok()
    second = api.create_ok()
    api.poll(first)
    api.poll(second)
    api.poll(first)
    entries = client.get("/_mock/requests", params={"job": first}).json()["requests"]
    assert [e["endpoint"] for e in entries] == ["poll", "poll", "create"]
    assert {e["job_id"] for e in entries} == {first}
    seq = entries[0]["seq"]
    detail = client.get(f"/_mock/requests/{seq}").json()
    assert detail["seq"] == seq and detail["job_id"] == first and detail["near_miss"] is None


@pytest.mark.store_backends
def test_failed_job_with_scenario_from_prefer_releases_credits(client: TestClient) -> None:
    api = Api(client, "eachlabs", "sk-failing-1234")
    job_id = api.create_ok(prefer="scenario=job_failed")
    advance(client, 3600)
    assert api.status(job_id) == FAILED["eachlabs"]
    body = timeline(client, job_id)
    (scenario,) = kinds(body, "scenario")
    assert scenario["detail"]["name"] == "job_failed"
    assert scenario["detail"]["sources"] == ["prefer"]
    assert scenario["detail"]["description"]
    assert [e["detail"]["action"] for e in kinds(body, "credit")] == ["reserve", "release"]
    assert kinds(body, "transition")[-1]["detail"]["to"] == "failed"
    assert kinds(body, "transition")[-1]["detail"]["failure"]


@pytest.mark.parametrize(("key", "prompt", "source"), [
    ("scenario-job_stuck-ci", "a cat", "magic_key"),
    ("sk-marker-1234", "a cat [mock:job_stuck]", "marker"),
])
@pytest.mark.store_backends
def test_scenario_source_magic_key_and_marker(
    client: TestClient, key: str, prompt: str, source: str
) -> None:
    api = Api(client, "apikley", key)
    job_id = api.create_ok(inputs={"prompt": prompt})
    (scenario,) = kinds(timeline(client, job_id), "scenario")
    assert scenario["detail"]["name"] == "job_stuck" and scenario["detail"]["sources"] == [source]


@pytest.mark.store_backends
def test_scenario_from_the_queue(client: TestClient) -> None:
    queued = client.post("/_mock/scenarios", json={"scenario": "job_failed", "times": 1})
    assert queued.status_code == 201, queued.text
    job_id = Api(client, "wavespeed", "sk-queue-1234").create_ok()
    (scenario,) = kinds(timeline(client, job_id), "scenario")
    assert scenario["detail"]["sources"] == ["queue"]


@pytest.mark.store_backends
def test_cancel_and_webhook_failures_are_events(client: TestClient) -> None:
    api = Api(client, "eachlabs", "sk-cancel-1234")
    job_id = api.create_ok()
    reply = client.post(f"/eachlabs/v1/prediction/{job_id}/cancel", headers=api.headers())
    assert reply.status_code == 200, reply.text
    body = timeline(client, job_id)
    (cancel,) = kinds(body, "cancel")
    assert cancel["request_seq"] is not None and cancel["detail"]["status"] == 200
    assert kinds(body, "transition")[-1]["detail"]["to"] == "cancelled"
    assert [e["detail"]["action"] for e in kinds(body, "credit")] == ["reserve", "release"]


@pytest.mark.store_backends
def test_refused_webhook_attempts_show_their_error(client: TestClient) -> None:
    api = Api(client, "eachlabs", "sk-refused-1234")
    job_id = api.create_ok(webhook="http://127.0.0.1:9/hook", prefer="scenario=webhook_refused")
    advance(client, 3600)
    advance(client, 60)
    advance(client, 60)
    attempts = kinds(timeline(client, job_id), "webhook_attempt")
    done = [a for a in attempts if not a["detail"].get("planned")]
    assert len(done) == 3
    assert all(a["detail"]["outcome"] == "refused" and a["detail"]["error"] for a in done)
    assert "refused" in done[0]["title"]


@pytest.mark.store_backends
def test_a_job_polled_many_times_is_capped(client: TestClient) -> None:
    api = Api(client, "eachlabs", "sk-many-1234")
    job_id = api.create_ok()
    for _ in range(MAX_EVENTS + 50):
        api.poll(job_id)
    body = timeline(client, job_id)
    assert body["truncated"] is True
    assert len(body["events"]) == MAX_EVENTS
    assert len(kinds(body, "create")) == 1 and kinds(body, "transition")


@pytest.mark.store_backends
@pytest.mark.store_backends
def test_unknown_job_is_the_admin_404(client: TestClient) -> None:
    reply = client.get("/_mock/jobs/nope/timeline")
    assert reply.status_code == 404
    assert reply.json() == {"error": "no job 'nope'"}


def test_timeline_is_in_the_admin_openapi(app: Starlette) -> None:
    document = build_admin_openapi()
    assert "/_mock/jobs/{job_id}/timeline" in document["paths"]
    assert "/_mock/requests/{seq}" in document["paths"]
    names = [p["name"] for p in document["paths"]["/_mock/requests"]["get"]["parameters"]]
    assert "job" in names
    # The document is data: the bounds it states must be the code's.
    answer = document["paths"]["/_mock/jobs/{job_id}/timeline"]["get"]
    schema = answer["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["properties"]["events"]["maxItems"] == MAX_EVENTS
    assert f"At most {MAX_EVENTS} events" in answer["description"]
    assert f"{JOURNAL_SCAN} journal entries" in answer["description"]


@pytest.mark.store_backends
def test_rate_limit_counts_and_a_held_job_waiting_for_its_slot(client: TestClient) -> None:
    api = Api(client, "wavespeed", "sk-held-1234")  # WaveSpeed holds a job over its limit
    api.set(limits={"creates_per_window": 100, "window_seconds": 60, "concurrent": 1})
    first = api.create_ok()
    second = api.create_ok()
    advance(client, 3600)
    (admitted,) = [e for e in kinds(timeline(client, first), "rate_limit")]
    assert admitted["detail"]["window_count"] == 1 and admitted["detail"]["in_flight"] == 0
    events = kinds(timeline(client, second), "rate_limit")
    assert [e["detail"]["decision"] for e in events] == ["admitted", "slot_freed"]
    assert events[0]["detail"]["window_count"] == 2 and events[0]["detail"]["in_flight"] == 1
    assert events[0]["detail"]["action"] == "queue"
    assert "waits for a free slot" in events[0]["title"]
    assert events[0]["detail"]["limits_now"]["concurrent"] == 1
    first_end = kinds(timeline(client, first), "transition")[-1]["at"]
    assert events[1]["at"] == first_end  # queued from the moment the first one's slot freed


@pytest.mark.store_backends
def test_a_duplicated_webhook_shows_both_attempts_signed_alike(
    served: Any, make_receiver: Any
) -> None:
    receiver = make_receiver()
    with httpx.Client(base_url=served.url) as http:
        api = Api(http, "wavespeed", "sk-duplicate-1234")
        job_id = api.create_ok(webhook=receiver.url, prefer="scenario=webhook_duplicate")
        advance(http, 3600)
        received = receiver.wait_for(2)
        served.drain()
        attempts = kinds(timeline(http, job_id), "webhook_attempt")
    assert len(attempts) == 2
    signatures = [a["detail"]["headers"]["webhook-signature"] for a in attempts]
    sent = received[0].headers["webhook-signature"]
    assert signatures[0] == signatures[1] == "***" + sent[-4:]  # the very headers sent
    assert "duplicate" in (attempts[1]["detail"]["error"] or "")


@pytest.mark.store_backends
def test_a_real_clock_maps_mock_times_to_wall_times_until_advanced(
    make_app: Any, make_client: Any
) -> None:
    app = make_app(clock=RealClock(speed=10.0))
    clock = app.state.mock.clock  # the store's clock on a shared store
    client = make_client(app)
    api = Api(client, "eachlabs", "sk-real-1234")
    job_id = api.create_ok()
    queued = kinds(timeline(client, job_id), "transition")[0]
    create = kinds(timeline(client, job_id), "create")[0]
    assert queued["wall"] is not None and abs(queued["wall"] - create["wall"]) < 0.5
    assert clock.wall_time(clock.now() + 10.0) == pytest.approx(time.time() + 1.0, abs=0.5)
    assert client.post("/_mock/clock/advance", json={"seconds": 60}).status_code == 200
    assert kinds(timeline(client, job_id), "transition")[0]["wall"] is None
