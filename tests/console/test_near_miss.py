"""Near-miss: for a request the mock could not match, the nearest thing it knows.

The provider's own answer is unchanged (checked against its contract); the
suggestion lives in the journal view (``GET /_mock/requests`` and its detail).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from http_api import Api
from starlette.testclient import TestClient

pytestmark = pytest.mark.store_backends

EACH = {"X-API-Key": "sk-near-1234"}
WAVE = {"Authorization": "Bearer sk-near-1234"}


def newest(http: httpx.Client | TestClient) -> dict[str, Any]:
    entries = http.get("/_mock/requests", params={"limit": 1}).json()["requests"]
    entry: dict[str, Any] = entries[0]
    detail = http.get(f"/_mock/requests/{entry['seq']}").json()
    assert detail == entry  # the detail endpoint shows the same entry
    return entry


def test_unknown_model_suggests_the_nearest_model_over_http(served: Any) -> None:
    with httpx.Client(base_url=served.url) as http:
        reply = http.post("/eachlabs/v1/prediction/", headers=EACH, json={
            "model": "wan-2-5-preview-image-to-vide",
            "input": {"image_url": "https://example.com/a.png", "prompt": "x"}})
        assert reply.status_code == 404
        wire = reply.json()
        assert "near_miss" not in reply.text and "did you mean" not in reply.text
        assert wire["status"] == "error"  # the provider's envelope, as before
        # validated against the contract as it left (response validation is on)
        assert served.state.contract_violations == []
        entry = newest(http)
    near = entry["near_miss"]
    assert near["kind"] == "model"
    assert near["known"][0] == "wan-2-5-preview-image-to-video"
    assert "did you mean wan-2-5-preview-image-to-video?" in near["suggestion"]
    assert len(near["known"]) <= 5


def test_unknown_wavespeed_model_in_the_path(client: TestClient) -> None:
    reply = client.post("/wavespeed/api/v3/wavespeed-ai/wan-2.3/image-to-video", headers=WAVE,
                        json={"image": "https://example.com/a.png", "prompt": "x"})
    assert reply.status_code in (400, 404)
    near = newest(client)["near_miss"]
    assert near["kind"] == "model" and near["known"] == ["wavespeed-ai/wan-2.2/image-to-video"]


@pytest.mark.parametrize(("path", "best"), [
    ("/eachlabs/v1/predictio/abc", "GET /eachlabs/v1/prediction/abc"),
    ("/wavespeed/api/v3/predictions/abc/reslt", "GET /wavespeed/api/v3/predictions/abc/result"),
    ("/apikley/api/v1/jobs/recordinfo", "GET /apikley/api/v1/jobs/recordInfo"),
])
def test_unknown_path_suggests_the_nearest_route(
    client: TestClient, path: str, best: str
) -> None:
    reply = client.get(path, headers={**EACH, **WAVE})
    assert reply.status_code in (200, 404)  # Apikley answers its 404 as HTTP 200
    near = newest(client)["near_miss"]
    assert near["kind"] == "path" and near["known"][0] == best
    assert near["suggestion"] == f"did you mean {best}?"


def test_wrong_method_names_the_allowed_one(client: TestClient) -> None:
    reply = client.delete("/eachlabs/v1/prediction/abc", headers=EACH)
    assert reply.status_code == 405
    near = newest(client)["near_miss"]
    assert near["kind"] == "method" and near["known"] == ["GET"]
    assert "did you mean GET /eachlabs/v1/prediction/abc?" in near["suggestion"]


def test_unknown_provider_prefix_is_journaled_with_a_suggestion(served: Any) -> None:
    with httpx.Client(base_url=served.url) as http:
        reply = http.get("/eachlab/v1/prediction/abc", headers=EACH)
        assert reply.status_code == 404
        entry = newest(http)
    assert entry["provider"] is None and entry["status"] == 404
    assert entry["near_miss"]["known"][0] == "/eachlabs/v1/prediction/abc"
    assert entry["headers"]["x-api-key"].startswith("***")  # masked like any entry


def test_matched_requests_and_plain_errors_have_none(client: TestClient) -> None:
    api = Api(client, "eachlabs", "sk-near-1234")
    job_id = api.create_ok()
    assert newest(client)["near_miss"] is None
    api.poll(job_id)
    assert newest(client)["near_miss"] is None
    bad = api.create(inputs={"image_url": "http://not-https.example/a.png"})
    assert bad.status_code == 400
    assert newest(client)["near_miss"] is None  # a known model: a validation error, no miss


def test_request_detail_errors(client: TestClient) -> None:
    assert client.get("/_mock/requests/notanumber").status_code == 400
    missing = client.get("/_mock/requests/999999")
    assert missing.status_code == 404 and "error" in missing.json()
