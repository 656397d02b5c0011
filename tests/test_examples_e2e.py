"""End to end over real HTTP: each document's example against the served mock.

The app runs on uvicorn on a loopback port (``served``, manual clock, every
response validated against its contract schema); the clock moves through the
admin API, as a client test suite would move it. Webhooks go to a real HTTP
receiver (``webhook_receiver``).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from mockserver.contracts import ModelContract, load_contracts
from mockserver.domain.accounts import default_webhook_secret
from mockserver.providers import registry
from mockserver.providers.wavespeed.signing import verify_standard_webhooks_v3

CONTRACTS = load_contracts()
KEY = "e2e-key"
MODELS = [
    (provider, model_id)
    for provider in registry.names()
    for model_id in sorted(CONTRACTS.provider(provider).models)
]
#: Each provider's status words, in the order a job shows them (success path).
WALKS = {
    "eachlabs": ["created", "starting", "processing", "success"],
    "wavespeed": ["created", "processing", "completed"],
    "apikley": ["waiting", "queuing", "generating", "success"],
}
#: A valid input for each model whose example the document got wrong (WaveSpeed's
#: curl omits the required image and prompt).
WAVESPEED_INPUT = {"image": "https://images.example.com/cat.png", "prompt": "a cat yawns"}


def model_of(provider: str, model_id: str) -> ModelContract:
    model = CONTRACTS.provider(provider).model(model_id)
    assert model is not None
    return model


def documented_headers(provider: str, key: str = KEY) -> dict[str, str]:
    """The auth header each document's example sends."""
    if provider == "eachlabs":
        return {"X-API-Key": key, "Content-Type": "application/json"}
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


def advance(http: httpx.Client, seconds: float) -> None:
    response = http.post("/_mock/clock/advance", json={"seconds": seconds, "wait": True})
    assert response.status_code == 200, response.text


def mock_now(http: httpx.Client) -> float:
    now: float = http.get("/_mock/clock").json()["now"]
    return now


class Client:
    """Create and poll in each provider's own dialect, over HTTP."""

    def __init__(self, http: httpx.Client, provider: str, key: str = KEY) -> None:
        self.http = http
        self.provider = provider
        self.key = key

    def create(self, model: ModelContract, body: dict[str, Any],
               query: dict[str, str] | None = None) -> httpx.Response:
        return self.http.post(f"/{self.provider}{model.data['example_request_path']}",
                              json=body, params=query,
                              headers=documented_headers(self.provider, self.key))

    @staticmethod
    def job_id(response: httpx.Response) -> str:
        body = response.json()
        for path in (("predictionID",), ("data", "id"), ("data", "taskId")):
            node: Any = body
            for part in path:
                node = node.get(part) if isinstance(node, dict) else None
            if isinstance(node, str):
                return node
        raise AssertionError(f"no job id in {body}")

    def poll(self, job_id: str) -> dict[str, Any]:
        headers = documented_headers(self.provider, self.key)
        if self.provider == "eachlabs":
            response = self.http.get(f"/eachlabs/v1/prediction/{job_id}", headers=headers)
        elif self.provider == "wavespeed":
            response = self.http.get(f"/wavespeed/api/v3/predictions/{job_id}/result",
                                     headers=headers)
        else:
            response = self.http.get("/apikley/api/v1/jobs/recordInfo",
                                     params={"taskId": job_id}, headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    @staticmethod
    def word(body: dict[str, Any]) -> str:
        if "predictionID" in body:
            return str(body["status"])
        data = body["data"]
        return str(data["status"] if "status" in data else data["state"])


def valid_body(provider: str, model: ModelContract, webhook: str | None) -> dict[str, Any]:
    """The document's example, made valid, with the receiver as webhook."""
    body = json.loads(json.dumps(model.data["example_request"]))
    if provider == "wavespeed":
        body.update(WAVESPEED_INPUT)
        if webhook:
            body["webhook_url"] = webhook
    elif provider == "eachlabs":
        if webhook:
            body["webhook_url"] = webhook
            body["webhook_secret"] = "e2e-secret"
    else:
        body.pop("callBackUrl", None)
        if webhook:
            body["callBackUrl"] = webhook
    return body


@pytest.fixture
def http(served: Any) -> Any:
    with httpx.Client(base_url=served.url, timeout=30) as client:
        yield client


# --- the documents' examples ----------------------------------------------------


@pytest.mark.parametrize(("provider", "model_id"), MODELS)
def test_document_example_as_written(http: httpx.Client, provider: str, model_id: str) -> None:
    model = model_of(provider, model_id)
    response = Client(http, provider).create(model, model.data["example_request"])
    if provider == "wavespeed":
        # The page's own curl sends only resolution/duration/seed: image and
        # prompt are required, so the documented request gets a 400.
        assert response.status_code == 400
        body = response.json()
        assert body["code"] == 400 and body["data"] is None
        assert "image" in body["message"]
    elif provider == "apikley":
        # Its callBackUrl is https://your-domain.com/..., a domain someone owns: the
        # webhook target rule refuses it by default (README "Security"), naming it.
        body = response.json()
        assert body["code"] == 422 and "callBackUrl" in body["msg"], body
        listed = {k: v for k, v in model.data["example_request"].items() if k != "callBackUrl"}
        accepted = Client(http, provider).create(model, listed)
        assert accepted.status_code == 200 and Client.job_id(accepted), accepted.text
    else:
        assert response.status_code == 200, response.text
        assert Client.job_id(response)


@pytest.mark.parametrize(("provider", "model_id"), MODELS)
def test_walk_to_terminal_with_one_webhook(
    served: Any, http: httpx.Client, webhook_receiver: Any, provider: str, model_id: str
) -> None:
    model = model_of(provider, model_id)
    client = Client(http, provider)
    created = client.create(model, valid_body(provider, model, webhook_receiver.url))
    assert created.status_code == 200, created.text
    job_id = Client.job_id(created)

    estimate = float(model.data.get("estimated_processing_seconds") or 35)
    words: list[str] = []
    body: dict[str, Any] = {}
    # Queued is the first 10 % of the estimate (two words for two providers:
    # first half, second half), running the rest.
    for at in (0.0, 0.07, 0.5, 1.01):
        target = at * estimate
        advance(http, max(0.0, target - (mock_now(http) - _created_at(served, job_id))))
        body = client.poll(job_id)
        if not words or words[-1] != Client.word(body):
            words.append(Client.word(body))
    assert words == WALKS[provider]

    [hook] = webhook_receiver.wait_for(1, timeout=10)
    assert served.drain()
    assert len(webhook_receiver.requests) == 1  # exactly one, never twice
    contract = CONTRACTS.provider(provider)
    assert contract.validate("/webhook/payload/succeeded/schema", hook.json()) == []
    assert contract.validate("/webhook/headers/schema", hook.headers) == []
    if provider == "wavespeed":
        assert hook.json()["id"] == job_id
        assert verify_standard_webhooks_v3(hook.headers, hook.body,
                                           default_webhook_secret(KEY), now=time.time())
    elif provider == "eachlabs":
        assert hook.json()["exec_id"] == job_id
        assert hook.headers["x-webhook-secret"] == "e2e-secret"
    else:
        assert hook.json()["data"]["taskId"] == job_id

    # The output URL leads back to the mock, which serves a real MP4.
    output = {
        "eachlabs": lambda: body["output"],
        "wavespeed": lambda: body["data"]["outputs"][0],
        "apikley": lambda: json.loads(body["data"]["resultJson"])["resultUrls"][0],
    }[provider]()
    video = httpx.get(output, timeout=10)
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"


def _created_at(served: Any, job_id: str) -> float:
    # Read through the admin API's job view (the HTTP layer's own record).
    response = httpx.get(f"{served.url}/_mock/jobs/{job_id}", timeout=10)
    created: float = response.json()["created_at"]
    return created


def test_failed_job_webhooks(served: Any, http: httpx.Client, make_receiver: Any) -> None:
    # Every create below fails: a queued scenario, as a user would force it.
    queued = http.post("/_mock/scenarios", json={"scenario": "job_failed",
                                                 "times": len(registry.names()),
                                                 "match": {"endpoint": "create"}})
    assert queued.status_code == 201, queued.text
    receivers = {}
    ids = {}
    for provider in registry.names():
        model = model_of(provider, sorted(CONTRACTS.provider(provider).models)[0])
        receivers[provider] = make_receiver()
        response = Client(http, provider).create(
            model, valid_body(provider, model, receivers[provider].url))
        ids[provider] = Client.job_id(response)
    advance(http, 500)
    for provider, receiver in receivers.items():
        [hook] = receiver.wait_for(1, timeout=10)
        contract = CONTRACTS.provider(provider)
        assert contract.validate("/webhook/payload/failed/schema", hook.json()) == []
        word = Client.word(Client(http, provider).poll(ids[provider]))
        assert word == {"eachlabs": "error", "wavespeed": "failed", "apikley": "fail"}[provider]
    assert served.drain()
    assert all(len(r.requests) == 1 for r in receivers.values())


def test_apikley_callback_signed_when_key_has_secret(
    served: Any, http: httpx.Client, webhook_receiver: Any
) -> None:
    import base64
    import hashlib
    import hmac

    served.state.adapters["apikley"].accounts.set(KEY, webhook_secret="kie-key")
    model = model_of("apikley", sorted(CONTRACTS.provider("apikley").models)[0])
    task_id = Client.job_id(Client(http, "apikley").create(
        model, valid_body("apikley", model, webhook_receiver.url)))
    advance(http, 100)
    [hook] = webhook_receiver.wait_for(1, timeout=10)
    timestamp = hook.headers["x-webhook-timestamp"]
    expected = base64.b64encode(hmac.new(
        b"kie-key", f"{task_id}.{timestamp}".encode(), hashlib.sha256).digest()).decode()
    assert hook.headers["x-webhook-signature"] == expected


# --- errors in each provider's envelope and transport ------------------------------


def test_errors_per_provider(http: httpx.Client) -> None:
    # Eachlabs: real HTTP statuses, {status: "error", message, details}.
    each = model_of("eachlabs", "wan-v2-2-a14b-image-to-video-turbo")
    response = http.post("/eachlabs/v1/prediction/", json=each.data["example_request"])
    assert response.status_code == 401 and response.json()["status"] == "error"
    response = Client(http, "eachlabs").create(each, {"model": each.model_id, "input": {}})
    assert response.status_code == 400 and "input.image_url" in response.json()["message"]
    response = http.get("/eachlabs/v1/prediction/nope", headers=documented_headers("eachlabs"))
    assert response.status_code == 404 and response.json()["status"] == "error"

    # WaveSpeed: real HTTP statuses, {code, message, data: null}.
    ws = model_of("wavespeed", "wavespeed-ai/wan-2.2/image-to-video")
    response = http.post("/wavespeed/api/v3/wavespeed-ai/wan-2.2/image-to-video",
                         json=WAVESPEED_INPUT)
    assert response.status_code == 401 and response.json()["code"] == 401
    response = Client(http, "wavespeed").create(ws, {**WAVESPEED_INPUT, "duration": 6})
    assert response.status_code == 400 and "duration" in response.json()["message"]
    response = http.get("/wavespeed/api/v3/predictions/nope/result",
                        headers=documented_headers("wavespeed"))
    assert response.status_code == 404 and response.json() == {
        "code": 404, "message": response.json()["message"], "data": None}

    # Apikley: HTTP 200 with the code in the body.
    response = http.post("/apikley/api/v1/jobs/createTask", json={"model": "x"})
    assert response.status_code == 200 and response.json()["code"] == 401
    response = http.post("/apikley/api/v1/jobs/createTask", headers=documented_headers("apikley"),
                         json={"model": "wan/2-2-a14b-image-to-video-turbo", "input": {}})
    assert response.status_code == 200 and response.json()["code"] == 422
    response = http.get("/apikley/api/v1/jobs/recordInfo", params={"taskId": "task_x_1"},
                        headers=documented_headers("apikley"))
    assert response.status_code == 200
    assert response.json() == {"code": 422, "msg": "recordInfo is null", "data": None}


def test_routed_by_real_host(served: Any) -> None:
    response = httpx.post(
        f"{served.url}/api/v3/wavespeed-ai/wan-2.2/image-to-video",
        json=WAVESPEED_INPUT,
        headers={**documented_headers("wavespeed"), "Host": "api.wavespeed.ai"},
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["urls"]["get"].startswith("http://api.wavespeed.ai/api/v3/predictions/")


# --- cancel ------------------------------------------------------------------------


def test_eachlabs_cancel_while_running_sends_no_webhook(
    served: Any, http: httpx.Client, webhook_receiver: Any
) -> None:
    model = model_of("eachlabs", "wan-v2-2-a14b-image-to-video-turbo")
    client = Client(http, "eachlabs")
    job_id = Client.job_id(client.create(model, valid_body("eachlabs", model,
                                                           webhook_receiver.url)))
    advance(http, 10)
    assert client.poll(job_id)["status"] == "processing"
    response = http.post(f"/eachlabs/v1/prediction/{job_id}/cancel",
                         headers=documented_headers("eachlabs"))
    assert response.status_code == 200
    assert response.json() == {"status": "success", "message": "Prediction canceled successfully",
                               "predictionID": job_id}
    advance(http, 100)
    assert client.poll(job_id)["status"] == "cancelled"
    assert served.drain()
    assert webhook_receiver.requests == []
    again = http.post(f"/eachlabs/v1/prediction/{job_id}/cancel",
                      headers=documented_headers("eachlabs"))
    assert again.status_code == 400 and again.json()["status"] == "error"


# --- many at once ------------------------------------------------------------------


def test_100_concurrent_creates(served: Any, http: httpx.Client, make_receiver: Any) -> None:
    webhook_receiver = make_receiver()
    plan = [("eachlabs", "wan-v2-2-a14b-image-to-video-turbo"),
            ("wavespeed", "wavespeed-ai/wan-2.2/image-to-video"),
            ("apikley", "wan/2-2-a14b-image-to-video-turbo")]

    def create(index: int) -> tuple[str, str]:
        provider, model_id = plan[index % 3]
        model = model_of(provider, model_id)
        # One key per create: the test is about ids and delivery, not rate limits.
        client = Client(http, provider, key=f"burst-{index}")
        body = valid_body(provider, model, None if provider == "wavespeed"
                          else webhook_receiver.url)
        query = {"webhook": webhook_receiver.url} if provider == "wavespeed" else None
        response = client.create(model, body, query)
        assert response.status_code == 200, response.text
        return provider, Client.job_id(response)

    with ThreadPoolExecutor(max_workers=20) as pool:
        created = list(pool.map(create, range(100)))
    ids = [job_id for _, job_id in created]
    assert len(set(ids)) == 100

    advance(http, 200)
    received = webhook_receiver.wait_for(100, timeout=30)
    assert served.drain()
    assert len(webhook_receiver.requests) == 100

    def hook_id(payload: dict[str, Any]) -> str:
        if "exec_id" in payload:
            return str(payload["exec_id"])
        if "taskId" in payload.get("data", {}):
            return str(payload["data"]["taskId"])
        return str(payload["id"])

    counts = Counter(hook_id(r.json()) for r in received)
    assert set(counts) == set(ids) and max(counts.values()) == 1
    terminal = {"eachlabs": "success", "wavespeed": "completed", "apikley": "success"}
    for index, (provider, job_id) in enumerate(created):
        body = Client(http, provider, key=f"burst-{index}").poll(job_id)
        assert Client.word(body) == terminal[provider]
