"""What the README promises a new user, each checked where it failed before (issue 17 point 5)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from conftest import Served
from http_api import Api, advance

from mockserver.providers import registry
from mockserver.testing import mock_providers

pytest_plugins = ["pytester"]

KEY = "sk-readme-0123456789"


# --- the scenario queue refuses what can never fire ----------------------------------


@pytest.mark.parametrize(
    ("match", "named", "known"),
    [
        ({"provider": "eachlab"}, "'eachlab'", ", ".join(sorted(registry.names()))),
        ({"provider": "eachlabs", "endpoint": "creat"}, "'creat'", "create"),
        ({"endpoint": "creat"}, "'creat'", "create"),
        ({"provider": "eachlabs", "model": "wan-2-2"}, "'wan-2-2'",
         "wan-v2-2-a14b-image-to-video-turbo"),
    ],
)
def test_queue_refuses_unknown_provider_endpoint_model(
    client: httpx.Client, match: dict[str, str], named: str, known: str
) -> None:
    reply = client.post("/_mock/scenarios", json={"scenario": "job_failed", "match": match})
    assert reply.status_code == 400, reply.text
    message = reply.text
    assert named in message and known in message
    assert client.get("/_mock/scenarios").json()["queued"] == []


def test_queue_refuses_unknown_scenario(client: httpx.Client) -> None:
    reply = client.post("/_mock/scenarios", json={"scenario": "job_fail"})
    assert reply.status_code == 400
    assert "job_failed" in reply.text  # the known names are listed


def test_queue_accepts_known_names_and_fires(client: httpx.Client) -> None:
    reply = client.post(
        "/_mock/scenarios",
        json={"code": 429, "match": {"provider": "eachlabs", "endpoint": "create",
                                     "model": "wan-v2-2-a14b-image-to-video-turbo"}},
    )
    assert reply.status_code == 201, reply.text
    assert Api(client, "eachlabs", KEY).create().status_code == 429


# --- /_mock/jobs shows the provider's status words -------------------------------------


@pytest.mark.parametrize(
    ("provider", "first", "last"),
    [("eachlabs", "created", "success"), ("wavespeed", "created", "completed"),
     ("apikley", "waiting", "success")],
)
def test_jobs_show_provider_status_words(
    client: httpx.Client, provider: str, first: str, last: str
) -> None:
    api = Api(client, provider, KEY)
    job_id = api.job_id(api.create())
    assert client.get("/_mock/jobs").json()["jobs"][0]["status"] == first
    assert client.get(f"/_mock/jobs/{job_id}").json()["status"] == api.status(job_id) == first
    advance(client, 3600)
    job = client.get(f"/_mock/jobs/{job_id}").json()
    assert (job["state"], job["status"]) == ("succeeded", last)
    assert api.status(job_id) == last


# --- the marker and the README's own mock.toml -------------------------------------------


def readme_mock_toml() -> str:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    assert "[providers.apikley]" in block and '[accounts.keys."sk-test"]' in block
    return block


def test_one_provider_with_the_readme_config(tmp_path: Path) -> None:
    config = tmp_path / "mock.toml"
    config.write_text(readme_mock_toml())
    with mock_providers(providers=["eachlabs"], config=config) as mock:
        assert mock.providers == ["eachlabs"]
        assert mock.account("sk-test")["valid"] is True


def test_marker_accounts_are_valid_when_the_config_lists_keys(tmp_path: Path) -> None:
    config = tmp_path / "mock.toml"
    config.write_text(readme_mock_toml())
    with mock_providers(
        providers=["eachlabs"], config=config, accounts={"poor-key": {"balance": 0}}
    ) as mock:
        client = httpx.Client(base_url=mock.base_url("eachlabs"))
        reply = client.post(
            "/v1/prediction/", headers={"X-API-Key": "poor-key"},
            json={"model": "wan-v2-2-a14b-image-to-video-turbo",
                  "input": {"image_url": "https://example.com/a.jpg", "prompt": "cat"}},
        )
        assert reply.status_code == 402, reply.text  # a known key with no money, not 401
        unknown = client.get("/v1/prediction/x", headers={"X-API-Key": "other-key"})
        assert unknown.status_code == 401  # the config's list still rules other keys


def test_the_readme_marker_example_runs(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", mock=readme_mock_toml())
    pytester.makepyfile(
        '''
import pytest

@pytest.mark.provider_mock(providers=["eachlabs"], clock="manual", seed=0,
                           accounts={"poor-key": {"balance": 0}},
                           scenarios=["job_failed", 429], config="mock.toml")
def test_x(provider_mock):
    assert provider_mock.providers == ["eachlabs"]
    assert provider_mock.account("poor-key")["valid"] is True
'''
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


# --- drop_connection closes before the status line; drop_after_headers after them ------


def _raw_create(url: str, prefer: str) -> bytes:
    """Send one create on a raw socket and read until the server closes."""
    import json
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    body = json.dumps({"model": "wan-v2-2-a14b-image-to-video-turbo",
                       "input": {"image_url": "https://example.com/a.jpg", "prompt": "cat"}})
    request = (
        f"POST /eachlabs/v1/prediction/ HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"X-API-Key: {KEY}\r\nContent-Type: application/json\r\nPrefer: {prefer}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def test_drop_connection_sends_nothing_over_http(served: Served) -> None:
    assert _raw_create(served.url, "scenario=drop_connection") == b""
    assert served.state.unhandled_errors == []


def test_drop_after_headers_sends_the_head_only(served: Served) -> None:
    received = _raw_create(served.url, "scenario=drop_after_headers")
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length")))
    assert len(body) < length  # the promised body never came
    assert served.state.unhandled_errors == []


@pytest.mark.parametrize("scenario", ["drop_connection", "drop_after_headers"])
def test_drops_in_process(scenario: str) -> None:
    with mock_providers(providers=["eachlabs"]):
        http = httpx.Client(base_url="https://api.eachlabs.ai", headers={"X-API-Key": KEY})
        with pytest.raises(httpx.RemoteProtocolError) as raised:
            http.post(
                "/v1/prediction/", headers={"Prefer": f"scenario={scenario}"},
                json={"model": "wan-v2-2-a14b-image-to-video-turbo",
                      "input": {"image_url": "https://example.com/a.jpg", "prompt": "cat"}},
            )
        if scenario == "drop_connection":
            assert "without sending a response" in str(raised.value)
