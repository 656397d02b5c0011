"""Eachlabs adapter, handler by handler, on a manual clock (no server)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from provider_helpers import KEY, SERVER, Harness, build, webhook_headers

from mockserver.domain.errors import MockError
from mockserver.domain.lifecycle import State

MODEL = "wan-v2-2-a14b-image-to-video-turbo"
IMAGE = "https://storage.googleapis.com/magicpoint/inputs/wan-2.2-a14b-i2v-input.jpg"


@pytest.fixture
def h() -> Harness:
    return build("eachlabs")


def create(h: Harness, body: dict[str, Any] | None = None, path: str = "/v1/prediction/",
           **kwargs: Any) -> Any:
    body = body if body is not None else {
        "model": MODEL, "input": {"prompt": "a dancer", "image_url": IMAGE}}
    return h.call(h.adapter.create, h.request("POST", path, body=body, **kwargs))


def poll(h: Harness, job_id: str) -> Any:
    return h.call(h.adapter.poll, h.request(
        "GET", f"/v1/prediction/{job_id}", path_params={"id": job_id}))


def test_routes_cover_every_contract_endpoint(h: Harness) -> None:
    routes = {(r.name, r.method, r.path) for r in h.adapter.routes()}
    assert routes == {
        ("create", "POST", "/v1/prediction/"),
        ("create", "POST", "/v1/prediction"),
        ("poll", "GET", "/v1/prediction/{id}"),
        ("cancel", "POST", "/v1/prediction/{id}/cancel"),
    }


@pytest.mark.parametrize("path", ["/v1/prediction/", "/v1/prediction"])
def test_document_example_is_accepted(h: Harness, path: str) -> None:
    example = h.contract.model(MODEL).data["example_request"]
    response = create(h, example, path=path)
    assert response.status == 200
    assert response.body["status"] == "success"
    assert response.body["message"] == "Prediction created successfully"
    job = h.world.get(response.body["predictionID"])
    assert job is not None and job.model_id == MODEL
    # Defaults from the model contract are applied to the stored input.
    assert job.input["resolution"] == "720p"


def test_bearer_auth_is_accepted_too(h: Harness) -> None:
    response = create(h, auth=False, headers={"authorization": f"Bearer {KEY}"})
    assert response.status == 200
    assert h.world.get(response.body["predictionID"]).key == KEY


def test_status_walk_and_timing(h: Harness) -> None:
    job_id = create(h).body["predictionID"]
    job = h.world.get(job_id)
    assert job is not None
    words = []
    # 35 s estimate: 3.5 s queued (created, then starting), 31.5 s processing.
    for step in (0.0, 2.0, 2.0, 10.0, 30.0):
        h.advance(step)
        body = poll(h, job_id).body
        words.append(body["status"])
    assert words == ["created", "starting", "processing", "processing", "success"]
    assert body["id"] == body["predictionID"] == job_id
    expires = int(job.finished_at + 7 * 86_400)  # media.output_expires_seconds
    assert body["output"] == (
        f"{SERVER}/_mock/media/magicpoint/outputs/{job_id}.mp4?expires={expires}")
    assert body["metrics"]["predict_time"] == pytest.approx(job.finished_at - job.started_at)
    assert body["urls"] == {
        "get": f"{SERVER}/eachlabs/v1/prediction/{job_id}",
        "cancel": f"{SERVER}/eachlabs/v1/prediction/{job_id}/cancel",
    }
    assert body["input"]["prompt"] == "a dancer"


def test_failed_job_poll_shape(h: Harness) -> None:
    h.scenario = {"outcome": State.FAILED, "failure": "content_moderation"}
    job_id = create(h).body["predictionID"]
    h.advance(100)
    body = poll(h, job_id).body
    assert body["status"] == "error"
    assert body["output"] == {
        "error": "Content moderation",
        "error_code": "CONTENT_POLICY_VIOLATION",
        "error_message": "Input or output was flagged by the safety checker",
        "retryable": False,
    }
    assert body["message"] and body["details"]


def test_unknown_failure_kind_uses_contract_default(h: Harness) -> None:
    h.scenario = {"outcome": State.FAILED}
    job_id = create(h).body["predictionID"]
    h.advance(100)
    assert poll(h, job_id).body["output"]["error_code"] == "GENERATION_FAILED"


def test_cancel_running_job(h: Harness) -> None:
    job_id = create(h, {"model": MODEL, "webhook_url": "http://127.0.0.1:9/hook",
                        "input": {"prompt": "p", "image_url": IMAGE}}).body["predictionID"]
    h.advance(5)
    response = h.call(h.adapter.cancel, h.request(
        "POST", f"/v1/prediction/{job_id}/cancel", path_params={"id": job_id}))
    assert response.status == 200
    assert response.body == {"status": "success", "message": "Prediction canceled successfully",
                             "predictionID": job_id}
    h.advance(100)
    assert poll(h, job_id).body["status"] == "cancelled"
    assert h.deliveries() == []  # no webhook on cancel


def test_cancel_finished_or_unknown(h: Harness) -> None:
    job_id = create(h).body["predictionID"]
    h.advance(100)
    finished = h.call(h.adapter.cancel, h.request(
        "POST", "/x", path_params={"id": job_id}))
    assert finished.status == 400 and finished.body["status"] == "error"
    unknown = h.call(h.adapter.cancel, h.request(
        "POST", "/x", path_params={"id": "nope"}))
    assert unknown.status == 404


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"model": "no-such-model", "input": {}}, 404, "model"),
        ({"input": {}}, 400, "model"),
        ({"model": MODEL}, 400, "input"),
        ({"model": MODEL, "input": "x"}, 400, "input"),
        ({"model": MODEL, "input": {"image_url": IMAGE}}, 400, "input.prompt"),
        ({"model": MODEL, "input": {"prompt": "p", "image_url": "http://localhost/a.png"}},
         400, "input.image_url"),
        ({"model": MODEL, "input": {"prompt": "p", "image_url": IMAGE, "resolution": "4k"}},
         400, "input.resolution"),
        ({"model": MODEL, "input": {"prompt": "p", "image_url": IMAGE},
          "webhook_url": "ftp://x/y"}, 400, "webhook_url"),
    ],
)
def test_create_errors_in_envelope(h: Harness, body: dict[str, Any], status: int,
                                   field: str) -> None:
    response = create(h, body)
    assert response.status == status
    assert response.body["status"] == "error"
    assert field in response.body["message"] or field in response.body["details"]
    assert f"field: {field}" in response.body["details"]


def test_missing_key_is_401(h: Harness) -> None:
    response = create(h, auth=False)
    assert response.status == 401
    assert response.body["status"] == "error"


def test_unknown_prediction_is_404(h: Harness) -> None:
    response = poll(h, "00000000-0000-4000-8000-000000000000")
    assert response.status == 404 and response.body["status"] == "error"


def test_402_and_429_envelopes_and_retry_after(h: Harness) -> None:
    request = h.request("POST", "/v1/prediction/")
    paid = h.adapter.render_error(MockError(402, "payment required", details="need $0.35"),
                                  request)
    assert paid.status == 402
    assert paid.body == {"status": "error", "message": "payment required",
                         "error": "payment required", "details": "need $0.35"}
    assert h.contract.validate(paid.schema, paid.body) == []
    limited = h.adapter.render_error(MockError(429, "too many requests", retry_after=1.2),
                                     request)
    assert limited.status == 429
    assert limited.headers["Retry-After"] == "2"
    assert limited.body["status"] == "error" and limited.body["error"] == "too many requests"
    assert limited.body["message"] == "too many requests"
    assert h.contract.validate(limited.schema, limited.body) == []


def test_success_webhook_with_secret(h: Harness) -> None:
    job_id = create(h, {"model": MODEL, "webhook_url": "http://127.0.0.1:9/hook",
                        "webhook_secret": "s3cret",
                        "input": {"prompt": "p", "image_url": IMAGE}}).body["predictionID"]
    h.advance(100)
    [delivery] = h.deliveries()
    assert delivery.url == "http://127.0.0.1:9/hook"
    payload = json.loads(delivery.body)
    assert payload == {"exec_id": job_id, "status": "succeeded",
                       "output": payload["output"], "error": "",
                       "flow_id": None}
    assert payload["output"].startswith(f"{SERVER}/_mock/media/magicpoint/outputs/{job_id}.mp4?")
    assert h.contract.validate("/webhook/payload/succeeded/schema", payload) == []
    headers = webhook_headers(delivery, 0)
    assert headers["x-webhook-secret"] == "s3cret"
    assert h.contract.validate("/webhook/headers/schema", headers) == []


def test_failed_webhook_without_secret(h: Harness) -> None:
    h.scenario = {"outcome": State.FAILED}
    job_id = create(h, {"model": MODEL, "webhook_url": "http://127.0.0.1:9/hook",
                        "input": {"prompt": "p", "image_url": IMAGE}}).body["predictionID"]
    h.advance(100)
    [delivery] = h.deliveries()
    payload = json.loads(delivery.body)
    assert payload["status"] == "failed" and payload["exec_id"] == job_id
    assert payload["output"][0]["id"] == job_id
    assert h.contract.validate("/webhook/payload/failed/schema", payload) == []
    assert "x-webhook-secret" not in webhook_headers(delivery, 0)


def test_no_webhook_without_url(h: Harness) -> None:
    create(h)
    h.advance(100)
    assert h.deliveries() == []


def test_job_cost_rendered_when_billing_sets_it(h: Harness) -> None:
    job_id = create(h).body["predictionID"]
    job = h.world.get(job_id)
    assert job is not None
    job.cost = 0.35
    h.advance(100)
    assert poll(h, job_id).body["metrics"]["cost"] == 0.35


def test_invalid_key_401(h: Harness) -> None:
    response = create(h, auth=False, headers={"x-api-key": "sk_invalid"})
    assert response.status == 401 and response.body["status"] == "error"
