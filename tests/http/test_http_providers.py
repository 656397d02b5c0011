"""All three real adapters behind the HTTP layer: a whole job, over HTTP.

Create (with a webhook), let mock time pass, poll, receive the webhook,
download the output. Every response is validated against its contract
schema by the fixtures, so a shape drift fails here too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from conftest import WebhookReceiver

from mockserver.contracts import load_contracts
from mockserver.http.media import sample_video

#: Run on the memory store and on a Redis store (tests/conftest.py: store_backend).
pytestmark = pytest.mark.store_backends

KEY = "sk-test-0123456789abcdef"


@dataclass(frozen=True)
class Flow:
    """How to drive one provider's create and poll."""

    create: Callable[[httpx.Client, str], httpx.Response]
    job_id: Callable[[dict[str, Any]], str]
    poll: Callable[[httpx.Client, str], httpx.Response]
    status: Callable[[dict[str, Any]], str]
    output: Callable[[dict[str, Any]], str]
    done: str


def _example(provider: str) -> tuple[str, dict[str, Any]]:
    contract = load_contracts().provider(provider)
    model = next(iter(contract.models.values()))
    body = json.loads(json.dumps(model.data["example_request"]))
    return str(model.data["example_request_path"]), body


def _eachlabs_create(client: httpx.Client, hook: str) -> httpx.Response:
    path, body = _example("eachlabs")
    return client.post(f"/eachlabs{path}", json={**body, "webhook_url": hook},
                       headers={"X-API-Key": KEY})


def _wavespeed_create(client: httpx.Client, hook: str) -> httpx.Response:
    path, body = _example("wavespeed")
    body.setdefault("image", "https://example.com/cat.png")
    body.setdefault("prompt", "a cat")
    return client.post(f"/wavespeed{path}", params={"webhook": hook}, json=body,
                       headers={"Authorization": f"Bearer {KEY}"})


def _apikley_create(client: httpx.Client, hook: str) -> httpx.Response:
    path, body = _example("apikley")
    return client.post(f"/apikley{path}", json={**body, "callBackUrl": hook},
                       headers={"Authorization": f"Bearer {KEY}"})


FLOWS = {
    "eachlabs": Flow(
        create=_eachlabs_create,
        job_id=lambda body: body["predictionID"],
        poll=lambda c, i: c.get(f"/eachlabs/v1/prediction/{i}", headers={"X-API-Key": KEY}),
        status=lambda body: body["status"],
        output=lambda body: body["output"],
        done="success",
    ),
    "wavespeed": Flow(
        create=_wavespeed_create,
        job_id=lambda body: body["data"]["id"],
        poll=lambda c, i: c.get(f"/wavespeed/api/v3/predictions/{i}/result",
                                headers={"Authorization": f"Bearer {KEY}"}),
        status=lambda body: body["data"]["status"],
        output=lambda body: body["data"]["outputs"][0],
        done="completed",
    ),
    "apikley": Flow(
        create=_apikley_create,
        job_id=lambda body: body["data"]["taskId"],
        poll=lambda c, i: c.get("/apikley/api/v1/jobs/recordInfo", params={"taskId": i},
                                headers={"Authorization": f"Bearer {KEY}"}),
        status=lambda body: body["data"]["state"],
        output=lambda body: json.loads(body["data"]["resultJson"])["resultUrls"][0],
        done="success",
    ),
}


@pytest.mark.parametrize("provider", sorted(FLOWS))
def test_a_whole_job_over_http(
    provider: str, client: httpx.Client, webhook_receiver: WebhookReceiver
) -> None:
    flow = FLOWS[provider]
    created = flow.create(client, webhook_receiver.url)
    assert created.status_code == 200, created.text
    job_id = flow.job_id(created.json())
    first = flow.poll(client, job_id)
    assert first.status_code == 200, first.text
    assert flow.status(first.json()) != flow.done
    advanced = client.post("/_mock/clock/advance", json={"seconds": 600, "wait": True})
    assert advanced.json()["settled"] is True
    [received] = webhook_receiver.wait_for(1)
    assert received.headers["content-type"].startswith("application/json")
    assert job_id in received.body.decode()
    final = flow.poll(client, job_id)
    assert flow.status(final.json()) == flow.done, final.text
    output = flow.output(final.json())
    assert output.startswith("http://testserver/")
    download = client.get(output)
    assert download.status_code == 200
    assert download.content == sample_video()
    [delivery] = client.get(f"/_mock/webhooks?job_id={job_id}").json()["deliveries"]
    assert delivery["state"] == "delivered"
    journal = client.get(f"/_mock/requests?provider={provider}&order=oldest")
    endpoints = [e["endpoint"] for e in journal.json()["requests"]]
    assert endpoints == ["create", "poll", "poll"]  # the download is not under a prefix


@pytest.mark.parametrize(
    ("host", "path"),
    [("api.eachlabs.ai", "/v1/prediction/"), ("api.apikley.ru", "/api/v1/jobs/createTask")],
)
def test_real_hosts_route_without_a_prefix(client: httpx.Client, host: str, path: str) -> None:
    reply = client.post(f"https://{host}{path}", json={}, headers={"host": host})
    # No credentials: a 401 in the provider's own envelope, from the real adapter.
    body = reply.json()
    assert reply.status_code in (200, 401)
    assert 401 in (reply.status_code, body.get("code"))


def test_missing_credentials_are_401_everywhere(client: httpx.Client) -> None:
    assert client.get("/eachlabs/v1/prediction/x").status_code == 401
    assert client.get("/wavespeed/api/v3/predictions/x/result").status_code == 401
    apikley = client.get("/apikley/api/v1/jobs/recordInfo?taskId=x")
    assert apikley.status_code == 200 and apikley.json()["code"] == 401
