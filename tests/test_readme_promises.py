"""What the README promises a new user, each checked where it failed before (issue 17 point 5)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from http_api import Api, advance

from mockserver.testing import mock_providers

pytest_plugins = ["pytester"]

KEY = "sk-readme-0123456789"


# --- the scenario queue refuses what can never fire ----------------------------------


@pytest.mark.parametrize(
    ("match", "named", "known"),
    [
        ({"provider": "eachlab"}, "'eachlab'", "apikley, eachlabs, wavespeed"),
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
