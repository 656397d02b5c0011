"""Apikley adapter, handler by handler, on a manual clock (no server)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Any

import pytest
from provider_helpers import SERVER, Harness, build, webhook_headers

from mockserver.domain.errors import MockError
from mockserver.domain.lifecycle import State
from mockserver.domain.webhook_targets import WebhookTargetPolicy

MODEL = "wan/2-2-a14b-image-to-video-turbo"
IMAGE = "https://file.aiquickdraw.com/custom-page/akr/section-images/1755166042585gtf2mlrk.png"
BODY = {"model": MODEL, "input": {"image_url": IMAGE, "prompt": "a man walks"}}


@pytest.fixture
def h() -> Harness:
    return build("apikley")


def create(h: Harness, body: Any = None, **kwargs: Any) -> Any:
    body = BODY if body is None else body
    return h.call(h.adapter.create,
                  h.request("POST", "/api/v1/jobs/createTask", body=body, **kwargs))


def poll(h: Harness, task_id: str | None, **kwargs: Any) -> Any:
    query = {} if task_id is None else {"taskId": task_id}
    return h.call(h.adapter.poll,
                  h.request("GET", "/api/v1/jobs/recordInfo", query=query, **kwargs))


def test_routes(h: Harness) -> None:
    assert {(r.name, r.method, r.path) for r in h.adapter.routes()} == {
        ("create", "POST", "/api/v1/jobs/createTask"),
        ("poll", "GET", "/api/v1/jobs/recordInfo"),
        ("balance", "GET", "/api/v1/chat/credit"),
        ("download_url", "POST", "/api/v1/common/download-url"),
    }


def test_document_example_is_accepted(h: Harness) -> None:
    example = h.contract.model(MODEL).data["example_request"]
    # Its callBackUrl (https://your-domain.com/...) is a real domain: refused by the
    # webhook target rule, naming the field, until the user lists the host.
    refused = create(h, example)
    assert refused.body["code"] == 422 and "callBackUrl" in refused.body["msg"]
    h.service.settings.webhook_policy = WebhookTargetPolicy.of(["your-domain.com"])
    response = create(h, example)
    assert response.status == 200
    assert response.body["code"] == 200 and response.body["msg"] == "success"
    assert re.fullmatch(r"task_wan_\d{13}", response.body["data"]["taskId"])


def test_task_ids_unique_in_one_millisecond(h: Harness) -> None:
    ids = {create(h).body["data"]["taskId"] for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"task_wan_\d{13}", i) for i in ids)


def test_state_walk_and_record_fields(h: Harness) -> None:
    task_id = create(h).body["data"]["taskId"]
    states = []
    # 35 s default estimate: 3.5 s queued (waiting, then queuing), 31.5 s generating.
    for step in (0.0, 2.0, 2.0, 10.0, 30.0):
        h.advance(step)
        states.append(poll(h, task_id).body["data"]["state"])
    assert states == ["waiting", "queuing", "generating", "generating", "success"]
    data = poll(h, task_id).body["data"]
    job = h.world.get(task_id)
    assert job is not None and job.started_at is not None and job.finished_at is not None
    assert json.loads(data["param"]) == BODY
    assert json.loads(data["resultJson"]) == {
        "resultUrls": [
            f"{SERVER}/_mock/media/v/{task_id}.mp4?expires={int(job.finished_at + 14 * 86_400)}"]}
    assert data["costTime"] == round((job.finished_at - job.started_at) * 1000)
    assert data["createTime"] == round(job.created_at * 1000)
    assert data["completeTime"] == data["updateTime"] == round(job.finished_at * 1000)
    # [DOC, Apikley get-task-detail] "" on success, not kie's null.
    assert data["failCode"] == "" and data["failMsg"] == ""
    assert h.contract.validate("/endpoints/poll/responses/200/emitted/schema",
                               poll(h, task_id).body) == []
    assert data["model"] == MODEL


def test_pending_record_has_nulls(h: Harness) -> None:
    task_id = create(h).body["data"]["taskId"]
    data = poll(h, task_id).body["data"]
    assert data["resultJson"] is None and data["completeTime"] is None
    assert data["costTime"] is None


def test_failed_task(h: Harness) -> None:
    h.scenario = {"outcome": "failed", "failure": "timeout"}
    task_id = create(h).body["data"]["taskId"]
    h.advance(100)
    data = poll(h, task_id).body["data"]
    assert data["state"] == "fail"
    assert (data["failCode"], data["failMsg"]) == ("504", "Generation timed out")
    assert data["resultJson"] is None


def test_unknown_task_is_422_recordinfo_is_null_in_http_200(h: Harness) -> None:
    response = poll(h, "task_wan_0000000000000")
    assert response.status == 200
    assert response.body == {"code": 422, "msg": "recordInfo is null", "data": None}


def test_missing_task_id_is_422(h: Harness) -> None:
    response = poll(h, None)
    assert response.status == 200 and response.body["code"] == 422
    assert "taskId" in response.body["msg"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"input": BODY["input"]}, "model"),
        ({"model": "wan/unknown", "input": BODY["input"]}, None),
        ({"model": MODEL, "input": {"image_url": IMAGE}}, "input.prompt"),
        ({"model": MODEL}, "input.image_url"),
        ({"model": MODEL, "input": {"image_url": IMAGE, "prompt": "p", "resolution": "1080p"}},
         "input.resolution"),
        ({**BODY, "callBackUrl": "not a url"}, "callBackUrl"),
    ],
)
def test_validation_errors_are_422_in_http_200(h: Harness, body: dict[str, Any],
                                               field: str | None) -> None:
    response = create(h, body)
    assert response.status == 200
    assert response.body["code"] == 422 and response.body["data"] is None
    if field:
        assert field in response.body["msg"]


def test_unauthenticated_is_401_in_http_200(h: Harness) -> None:
    response = create(h, auth=False)
    assert response.status == 200 and response.body["code"] == 401


def test_429_is_a_real_http_429(h: Harness) -> None:
    response = h.adapter.render_error(MockError(429, "Rate limited", retry_after=3), None)
    assert response.status == 429 and response.body["code"] == 429
    assert response.headers["Retry-After"] == "3"


def test_http_status_transport_override(h: Harness) -> None:
    h.adapter.error_transport = "http_status"
    assert create(h, auth=False).status == 401
    response = poll(h, "task_nope_1")
    assert response.status == 422 and response.body["msg"] == "recordInfo is null"


def test_success_callback_unsigned_by_default(h: Harness) -> None:
    task_id = create(h, {**BODY, "callBackUrl": "http://127.0.0.1:9/cb"}).body["data"]["taskId"]
    h.advance(100)
    [delivery] = h.deliveries()
    assert delivery.url == "http://127.0.0.1:9/cb"
    payload = json.loads(delivery.body)
    assert payload["code"] == 200 and payload["data"]["taskId"] == task_id
    assert payload["data"]["state"] == "success"
    assert h.contract.validate("/webhook/payload/succeeded/schema", payload) == []
    headers = webhook_headers(delivery, 1_767_225_700)
    assert "x-webhook-signature" not in headers
    assert h.contract.validate("/webhook/headers/schema", headers) == []


def test_failure_callback_signed_with_account_secret(h: Harness) -> None:
    h.adapter.webhook_secrets = lambda key: "hmac-key"
    h.scenario = {"outcome": State.FAILED}
    task_id = create(h, {**BODY, "callBackUrl": "http://127.0.0.1:9/cb"}).body["data"]["taskId"]
    h.advance(100)
    [delivery] = h.deliveries()
    payload = json.loads(delivery.body)
    assert payload["code"] == 501 and payload["data"]["state"] == "fail"
    assert payload["data"]["failMsg"]
    assert h.contract.validate("/webhook/payload/failed/schema", payload) == []
    assert h.contract.validate("/webhook/callback/schema", payload) == []
    # [DOC, kie webhook-verification] the ids kie's sample verifiers read.
    assert payload["taskId"] == payload["data"]["task_id"] == payload["data"]["taskId"] == task_id
    assert payload["data"]["callbackType"] == "task_completed"
    assert payload["msg"] == payload["message"]
    timestamp = 1_767_225_700
    headers = webhook_headers(delivery, timestamp)
    expected = base64.b64encode(hmac.new(
        b"hmac-key", f"{task_id}.{timestamp}".encode(), hashlib.sha256).digest()).decode()
    assert headers["x-webhook-timestamp"] == str(timestamp)
    assert headers["x-webhook-signature"] == expected
    assert h.contract.validate("/webhook/headers/schema", headers) == []


def test_cancelled_task_shows_as_fail(h: Harness) -> None:
    task_id = create(h).body["data"]["taskId"]
    h.service.cancel("apikley", task_id)
    data = poll(h, task_id).body["data"]
    assert data["state"] == "fail" and data["failCode"] == "cancelled"


def test_callback_signed_when_account_secret_configured(h: Harness) -> None:
    h.adapter.accounts.set("test-key", webhook_secret="configured")
    task_id = create(h, {**BODY, "callBackUrl": "http://127.0.0.1:9/cb"}).body["data"]["taskId"]
    h.advance(100)
    [delivery] = h.deliveries()
    headers = webhook_headers(delivery, 1_767_225_700)
    expected = base64.b64encode(hmac.new(
        b"configured", f"{task_id}.1767225700".encode(), hashlib.sha256).digest()).decode()
    assert headers["x-webhook-signature"] == expected


def test_invalid_key_is_401_in_body(h: Harness) -> None:
    response = create(h, auth=False, headers={"authorization": "Bearer sk_invalid"})
    assert response.status == 200 and response.body["code"] == 401


def test_credit_balance(h: Harness) -> None:
    response = h.call(h.adapter.balance, h.request("GET", "/api/v1/chat/credit"))
    assert response.body == {"code": 200, "msg": "success", "data": 10000}
    unauthenticated = h.call(h.adapter.balance,
                             h.request("GET", "/api/v1/chat/credit", auth=False))
    assert unauthenticated.body["code"] == 401


def test_codes_outside_the_vocabulary_map_to_catalogued_ones(h: Harness) -> None:
    # The HTTP layer answers a wrong method with MockError(405); Apikley's
    # body codes have no 405, so it is "endpoint does not exist" (404).
    wrong = h.adapter.render_error(
        MockError(405, "method DELETE is not allowed", headers={"Allow": "GET"}), None)
    assert wrong.status == 200 and wrong.body["code"] == 404
    assert wrong.headers["Allow"] == "GET"
    assert h.contract.validate(wrong.schema, wrong.body) == []
    not_json = h.adapter.render_error(MockError(415, "Content-Type must be JSON"), None)
    assert not_json.status == 200 and not_json.body["code"] == 422
    odd = h.adapter.render_error(MockError(507, "storage"), None)
    assert odd.body["code"] == 500
    h.adapter.error_transport = "http_status"
    assert h.adapter.render_error(MockError(405, "x"), None).status == 405
