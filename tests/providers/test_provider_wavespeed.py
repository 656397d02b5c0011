"""WaveSpeed adapter, handler by handler, on a manual clock (no server)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from provider_helpers import SERVER, Harness, build, webhook_headers

from mockserver.domain.accounts import Accounts, default_webhook_secret
from mockserver.domain.clock import RealClock
from mockserver.domain.lifecycle import State
from mockserver.providers.common import DEFAULT_WEBHOOK_SECRET
from mockserver.providers.wavespeed.signing import verify_standard_webhooks_v3

MODEL = "wavespeed-ai/wan-2.2/image-to-video"
IMAGE = "https://example.com/cat.png"
INPUTS = {"image": IMAGE, "prompt": "slow dolly-in"}


@pytest.fixture
def h() -> Harness:
    return build("wavespeed")


def create(h: Harness, body: dict[str, Any] | None = None, model: str = MODEL,
           **kwargs: Any) -> Any:
    body = dict(INPUTS) if body is None else body
    request = h.request("POST", f"/api/v3/{model}", body=body,
                        path_params={"model_id": model}, **kwargs)
    return h.call(h.adapter.create, request)


def poll(h: Harness, job_id: str, suffix: str = "/result") -> Any:
    return h.call(h.adapter.poll, h.request(
        "GET", f"/api/v3/predictions/{job_id}{suffix}", path_params={"id": job_id}))


def test_routes_poll_before_catch_all_create(h: Harness) -> None:
    routes = [(r.name, r.method, r.path) for r in h.adapter.routes()]
    assert routes == [
        ("poll", "GET", "/api/v3/predictions/{id}/result"),
        ("poll", "GET", "/api/v3/predictions/{id}"),
        ("balance", "GET", "/api/v3/balance"),
        ("signing_secret", "GET", "/api/v3/webhook/secret"),
        ("upload", "POST", "/api/v3/media/upload/binary"),
        ("upload_ticket", "POST", "/api/v3/media/uploads"),
        ("create", "POST", "/api/v3/{model_id:path}"),
    ]


def test_document_example_gets_missing_parameter_400(h: Harness) -> None:
    # The document's own curl omits the required image and prompt.
    example = h.contract.model(MODEL).data["example_request"]
    response = create(h, example)
    assert response.status == 400
    assert response.body["code"] == 400 and response.body["data"] is None
    assert "image" in response.body["message"]


def test_missing_prompt_named(h: Harness) -> None:
    response = create(h, {"image": IMAGE})
    assert response.status == 400 and "prompt" in response.body["message"]


def test_create_answers_created_envelope(h: Harness) -> None:
    response = create(h, {**INPUTS, "duration": 8})
    assert response.status == 200
    body = response.body
    assert body["code"] == 200 and body["message"] == "success"
    data = body["data"]
    assert re.fullmatch(r"[0-9a-f]{32}", data["id"])
    assert data["model"] == MODEL
    assert data["status"] == "created"
    assert data["outputs"] == [] and data["has_nsfw_contents"] == []
    assert data["urls"]["get"] == f"{SERVER}/wavespeed/api/v3/predictions/{data['id']}/result"
    assert data["created_at"] == "2026-01-01T00:00:00.000Z"
    assert data["error"] == ""
    job = h.world.get(data["id"])
    assert job is not None and job.input["resolution"] == "480p" and job.input["duration"] == 8


@pytest.mark.parametrize("suffix", ["/result", ""])
def test_status_walk_and_timings(h: Harness, suffix: str) -> None:
    job_id = create(h).body["data"]["id"]
    words = []
    for step in (0.0, 5.0, 10.0, 40.0):
        h.advance(step)
        words.append(poll(h, job_id, suffix).body["data"]["status"])
    assert words == ["created", "processing", "processing", "completed"]
    data = poll(h, job_id, suffix).body["data"]
    job = h.world.get(job_id)
    assert job is not None and job.started_at is not None and job.finished_at is not None
    expires = int(job.finished_at + 7 * 86_400)  # [DOC] retained for 7 days
    assert data["outputs"] == [
        f"{SERVER}/_mock/media/predictions/{job_id}/1.mp4?expires={expires}"]
    assert data["has_nsfw_contents"] == [False]
    assert data["timings"]["inference"] == round((job.finished_at - job.started_at) * 1000)
    created = datetime.strptime(data["created_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert created.timestamp() == pytest.approx(job.created_at, abs=0.001)


def test_failed_job_has_code_and_error(h: Harness) -> None:
    h.scenario = {"outcome": State.FAILED, "failure": "content_moderation"}
    job_id = create(h).body["data"]["id"]
    h.advance(100)
    data = poll(h, job_id).body["data"]
    assert data["status"] == "failed"
    assert data["code"] == 1200
    assert data["error"] == "Content flagged by moderation"
    assert data["outputs"] == []


def test_failure_by_code_and_default(h: Harness) -> None:
    h.scenario = {"outcome": State.FAILED, "failure": "1402"}
    first = create(h).body["data"]["id"]
    h.scenario = {"outcome": State.FAILED}
    second = create(h).body["data"]["id"]
    h.advance(100)
    assert poll(h, first).body["data"]["code"] == 1402
    assert poll(h, second).body["data"]["code"] == 1403


def test_unknown_model_and_prediction_404(h: Harness) -> None:
    response = create(h, model="nobody/nothing")
    assert response.status == 404 and response.body["code"] == 404
    response = poll(h, "f" * 32)
    assert response.status == 404 and response.body == {
        "code": 404, "message": response.body["message"], "data": None}


def test_missing_key_401(h: Harness) -> None:
    response = create(h, auth=False)
    assert response.status == 401 and response.body["code"] == 401


def test_bad_inputs_400(h: Harness) -> None:
    assert create(h, {**INPUTS, "duration": 7}).status == 400
    assert create(h, {**INPUTS, "image": "data:image/png;base64,AAAA"}).status == 400
    assert create(h, {**INPUTS, "enable_sync_mode": "yes"}).status == 400
    assert create(h, [1, 2]).status == 400  # type: ignore[arg-type]


def test_transport_fields_are_not_model_inputs(h: Harness) -> None:
    body = {**INPUTS, "enable_base64_output": False, "webhook_url": "http://127.0.0.1:9/h"}
    job_id = create(h, body).body["data"]["id"]
    job = h.world.get(job_id)
    assert job is not None
    assert "webhook_url" not in job.input and "enable_base64_output" not in job.input


def test_sync_mode_manual_clock_completes(h: Harness) -> None:
    start = h.clock.now()
    response = create(h, {**INPUTS, "enable_sync_mode": True})
    data = response.body["data"]
    assert data["status"] == "completed" and len(data["outputs"]) == 1
    # The clock moved exactly to the job's end (35 s default estimate).
    assert h.clock.now() - start == pytest.approx(35.0)


def test_sync_mode_times_out_with_5004(h: Harness) -> None:
    h.scenario = {"stuck": True}
    response = create(h, {**INPUTS, "enable_sync_mode": True})
    data = response.body["data"]
    assert data["status"] == "processing"
    assert data["code"] == 5004
    assert "Sync mode timed out" in data["error"]


def test_sync_mode_real_clock_sleeps_the_remaining_time() -> None:
    h = build("wavespeed")
    clock = RealClock(speed=1000.0)
    h.world.clock = clock
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds * clock.speed)

    h.adapter.sleep = sleep
    data = create(h, {**INPUTS, "enable_sync_mode": True}).body["data"]
    assert data["status"] == "completed"
    assert slept and slept[0] == pytest.approx(35.0 / 1000.0, abs=0.01)


def test_webhook_query_signed_with_account_secret(h: Harness) -> None:
    job_id = create(h, query={"webhook": "http://127.0.0.1:9/hook"}).body["data"]["id"]
    h.advance(100)
    [delivery] = h.deliveries()
    assert delivery.url == "http://127.0.0.1:9/hook"
    payload = json.loads(delivery.body)
    assert payload["id"] == job_id and payload["status"] == "completed"
    assert "code" not in payload or payload.get("code") != 200  # flat, no envelope
    assert h.contract.validate("/webhook/payload/succeeded/schema", payload) == []
    now = int(h.clock.now())
    headers = webhook_headers(delivery, now)
    assert h.contract.validate("/webhook/headers/schema", headers) == []
    # Every key has a stable, computable secret (accounts.default_webhook_secret).
    secret = default_webhook_secret("test-key")
    assert verify_standard_webhooks_v3(headers, delivery.body, secret, now=now)
    assert not verify_standard_webhooks_v3(headers, delivery.body, DEFAULT_WEBHOOK_SECRET, now=now)


def test_webhook_body_field_and_account_secret(h: Harness) -> None:
    accounts = Accounts()
    h.adapter.webhook_secrets = lambda key: accounts.get("wavespeed", key).webhook_secret
    h.scenario = {"outcome": State.FAILED}
    create(h, {**INPUTS, "webhook_url": "http://127.0.0.1:9/body"})
    h.advance(100)
    [delivery] = h.deliveries()
    assert delivery.url == "http://127.0.0.1:9/body"
    payload = json.loads(delivery.body)
    assert payload["status"] == "failed" and payload["error"]
    assert h.contract.validate("/webhook/payload/failed/schema", payload) == []
    secret = accounts.get("wavespeed", "test-key").webhook_secret
    headers = webhook_headers(delivery, int(h.clock.now()))
    assert verify_standard_webhooks_v3(headers, delivery.body, secret, now=h.clock.now())


def test_errors_carry_retry_after(h: Harness) -> None:
    from mockserver.domain.errors import MockError

    response = h.adapter.render_error(MockError(429, "Too many requests", retry_after=30),
                                      None)
    assert response.status == 429 and response.headers["Retry-After"] == "30"
    assert response.body == {"code": 429, "message": "Too many requests", "data": None}


def test_sync_timeout_scenario_returns_at_once(h: Harness) -> None:
    h.scenario = {"sync_timeout": True}
    start = h.clock.now()
    data = create(h, {**INPUTS, "enable_sync_mode": True}).body["data"]
    assert data["status"] == "processing" and data["code"] == 5004
    assert h.clock.now() == start
    h.advance(100)
    assert poll(h, data["id"]).body["data"]["status"] == "completed"


def test_balance(h: Harness) -> None:
    response = h.call(h.adapter.balance, h.request("GET", "/api/v3/balance"))
    assert response.body == {"code": 200, "message": "success", "data": {"balance": 100.0}}


def test_invalid_key_401(h: Harness) -> None:
    response = create(h, auth=False, headers={"authorization": "Bearer invalid-key"})
    assert response.status == 401 and response.body["code"] == 401
