"""Output URLs that behave like a CDN's signed links (issue 18 item 5), over real HTTP.

Each provider's output URL has its storage's path shape on the mock's host
and carries its expiry on the mock clock (the provider contract's
``media.output_expires_seconds`` after the job finished). After it the file
route answers the contract's ``media.expired`` (403): a client that stored
the URL instead of the file fails, as it would in production; one that
downloaded the file at once still has it. Scenario ``output_expired`` makes
the URL expire the moment the job succeeds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from mockserver.contracts import load_contracts
from mockserver.http.media import sample_video
from mockserver.providers import registry

CONTRACTS = load_contracts()
KEY = "cdn-key"
IMAGE = "https://images.example.com/cat.png"
#: The storage path shape each provider's output URL keeps (provider contract ``media``).
SHAPES = {
    "eachlabs": "/_mock/media/magicpoint/outputs/{id}.mp4",
    "wavespeed": "/_mock/media/predictions/{id}/1.mp4",
    "apikley": "/_mock/media/v/{id}.mp4",
}


@pytest.fixture
def http(served: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, timeout=10) as client:
        yield client


def _create(http: httpx.Client, provider: str, prefer: str | None = None) -> str:
    headers = {"X-API-Key": KEY} if provider == "eachlabs" else {
        "Authorization": f"Bearer {KEY}"}
    if prefer:
        headers["Prefer"] = prefer
    if provider == "eachlabs":
        reply = http.post("/eachlabs/v1/prediction/", headers=headers, json={
            "model": "wan-v2-2-a14b-image-to-video-turbo",
            "input": {"image_url": IMAGE, "prompt": "a cat"}})
        return str(reply.json()["predictionID"])
    if provider == "wavespeed":
        reply = http.post("/wavespeed/api/v3/wavespeed-ai/wan-2.2/image-to-video",
                          headers=headers, json={"image": IMAGE, "prompt": "a cat"})
        return str(reply.json()["data"]["id"])
    reply = http.post("/apikley/api/v1/jobs/createTask", headers=headers, json={
        "model": "wan/2-2-a14b-image-to-video-turbo",
        "input": {"image_url": IMAGE, "prompt": "a cat"}})
    return str(reply.json()["data"]["taskId"])


def _output_url(http: httpx.Client, provider: str, job_id: str) -> str:
    """What a client stores: the output URL of the finished job, as its poll shows it."""
    if provider == "eachlabs":
        body = http.get(f"/eachlabs/v1/prediction/{job_id}", headers={"X-API-Key": KEY}).json()
        assert body["status"] == "success", body
        return str(body["output"])
    auth = {"Authorization": f"Bearer {KEY}"}
    if provider == "wavespeed":
        data = http.get(f"/wavespeed/api/v3/predictions/{job_id}/result", headers=auth).json()
        assert data["data"]["status"] == "completed", data
        return str(data["data"]["outputs"][0])
    record = http.get("/apikley/api/v1/jobs/recordInfo", params={"taskId": job_id},
                      headers=auth).json()["data"]
    assert record["state"] == "success", record
    return str(json.loads(record["resultJson"])["resultUrls"][0])


def _advance(http: httpx.Client, seconds: float) -> None:
    assert http.post("/_mock/clock/advance", json={"seconds": seconds}).status_code == 200


@pytest.mark.parametrize("provider", list(registry.names()))
def test_a_stored_output_url_expires_like_the_providers_cdn(
    http: httpx.Client, provider: str
) -> None:
    job_id = _create(http, provider)
    _advance(http, 600)
    url = _output_url(http, provider, job_id)
    parts = urlsplit(url)
    assert parts.path == SHAPES[provider].format(id=job_id)
    media = CONTRACTS.provider(provider).data["media"]
    finished = http.get(f"/_mock/jobs/{job_id}").json()["finished_at"]
    expires = int(parse_qs(parts.query)["expires"][0])
    assert expires == int(finished + media["output_expires_seconds"])

    # A client that downloads the file at once gets it...
    fresh = httpx.get(url)
    assert fresh.status_code == 200 and fresh.content == sample_video()
    # ...one that stored the URL and comes back after the expiry does not.
    _advance(http, media["output_expires_seconds"])
    stale = httpx.get(url)
    assert stale.status_code == media["expired"]["status"] == 403
    assert b"Request has expired" in stale.content
    assert stale.headers["content-type"].startswith("application/xml")
    assert httpx.head(url).status_code == 403
    with pytest.raises(httpx.HTTPStatusError):
        stale.raise_for_status()  # what a client's download code sees


def test_scenario_output_expired_gives_an_url_already_expired(http: httpx.Client) -> None:
    job_id = _create(http, "wavespeed", prefer="scenario=output_expired")
    _advance(http, 600)
    url = _output_url(http, "wavespeed", job_id)  # the job itself succeeded
    assert httpx.get(url).status_code == 403
    scenarios = {s["name"] for s in http.get("/_mock/scenarios").json()["available"]}
    assert "output_expired" in scenarios


def test_a_tampered_expiry_is_refused_and_a_plain_media_url_never_expires(
    http: httpx.Client, served: Any
) -> None:
    job_id = _create(http, "eachlabs")
    _advance(http, 600)
    url = _output_url(http, "eachlabs", job_id)
    assert httpx.get(url.replace("expires=", "expires=x")).status_code == 403
    _advance(http, 30 * 86_400)
    assert httpx.get(f"{served.url}/_mock/media/{job_id}.mp4").status_code == 200
