"""Operations published clients call that the mock now serves (issue 18 item 4), over real HTTP.

Each test is written from the client code that uses the operation:

* WaveSpeed ``GET /api/v3/webhook/secret`` [DOC verifying_webhook]: public
  receivers fetch the secret, read it as ``j.data.secret`` (or flat
  ``j.secret``), strip ``whsec_`` and verify deliveries with it;
* Apikley / kie ``POST /api/v1/common/download-url`` [DOC kie common API]:
  the quickstart's client posts ``{"url": <generated file URL>}``, reads
  ``result["data"]`` and downloads it within its 20 minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mockserver.contracts import load_contracts

CONTRACTS = load_contracts()
KEY = "client-ops-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
IMAGE = "https://images.example.com/cat.png"


@pytest.fixture
def http(served: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, timeout=10) as client:
        yield client


def _advance(http: httpx.Client, seconds: float) -> None:
    reply = http.post("/_mock/clock/advance", json={"seconds": seconds, "wait": True})
    assert reply.status_code == 200


def test_wavespeed_webhook_secret_verifies_the_deliveries(
    http: httpx.Client, webhook_receiver: Any
) -> None:
    # The receivers' setup step: GET the secret, read data.secret (or the flat secret).
    reply = http.get("/wavespeed/api/v3/webhook/secret", headers=AUTH)
    assert reply.status_code == 200
    body = reply.json()
    contract = CONTRACTS.provider("wavespeed")
    assert contract.validate("/endpoints/signing_secret/responses/200/schema", body) == []
    secret = (body.get("data") or {}).get("secret") or body["secret"]
    assert secret == body["secret"] and secret.startswith("whsec_")
    assert http.get("/wavespeed/api/v3/webhook/secret").status_code == 401

    http.post("/wavespeed/api/v3/wavespeed-ai/wan-2.2/image-to-video",
              params={"webhook": webhook_receiver.url}, headers=AUTH,
              json={"image": IMAGE, "prompt": "a cat"})
    _advance(http, 600)
    [hook] = webhook_receiver.wait_for(1, timeout=10)
    # The receivers' check: HMAC-SHA256 of id.timestamp.body keyed by the secret sans whsec_.
    headers = hook.headers
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + hook.body
    digest = hmac.new(secret.removeprefix("whsec_").encode(), signed, hashlib.sha256)
    assert headers["webhook-signature"] == f"v3,{digest.hexdigest()}"
    assert abs(time.time() - int(headers["webhook-timestamp"])) <= 300


def _apikley_output(http: httpx.Client) -> str:
    created = http.post("/apikley/api/v1/jobs/createTask", headers=AUTH, json={
        "model": "wan/2-2-a14b-image-to-video-turbo",
        "input": {"image_url": IMAGE, "prompt": "a cat"}}).json()
    task_id = created["data"]["taskId"]
    _advance(http, 600)
    record = http.get("/apikley/api/v1/jobs/recordInfo", params={"taskId": task_id},
                      headers=AUTH).json()["data"]
    return str(json.loads(record["resultJson"])["resultUrls"][0])


def test_kie_download_url_gives_a_link_for_twenty_minutes(http: httpx.Client) -> None:
    url = _apikley_output(http)
    # The kie quickstart's client: POST {url}, read result["data"].
    reply = http.post("/apikley/api/v1/common/download-url", headers=AUTH, json={"url": url})
    result = reply.json()
    assert reply.status_code == 200 and result["code"] == 200 and result["msg"] == "success"
    contract = CONTRACTS.provider("apikley")
    assert contract.validate("/endpoints/download_url/responses/200/schema", result) == []
    link = result["data"]
    assert httpx.get(link).status_code == 200
    _advance(http, 20 * 60 + 1)  # [DOC] valid for 20 minutes
    assert httpx.get(link).status_code == 403
    assert httpx.get(url).status_code == 200  # the task's own URL lives longer


def test_kie_download_url_refuses_external_urls_as_documented(http: httpx.Client) -> None:
    for url in ("https://example.com/video.mp4",
                "https://tempfile.aiquickdraw.com/v/unknown_1.mp4"):
        reply = http.post("/apikley/api/v1/common/download-url", headers=AUTH,
                          json={"url": url})
        # Apikley's transport: HTTP 200, the code in the body.
        assert reply.status_code == 200
        assert reply.json() == {
            "code": 422, "data": None,
            "msg": "Validation Error - Invalid URL (External file URLs are not supported)"}
    missing = http.post("/apikley/api/v1/common/download-url", headers=AUTH, json={})
    assert missing.json()["code"] == 422
