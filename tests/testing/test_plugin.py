"""The genmock pytest plugin, run the way users run it (pytester)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

CREATE = '''
import httpx

IMAGE = "https://images.example.com/a.jpg"


def create(base="https://api.eachlabs.ai", **extra):
    response = httpx.post(
        base + "/v1/prediction/",
        json={"model": "wan-v2-2-a14b-image-to-video-turbo",
              "input": {"image_url": IMAGE, "prompt": "cat"}, **extra},
        headers={"X-API-Key": "k"},
    )
    assert response.status_code == 200, response.text
    return response.json()["predictionID"]
'''


def test_fixtures_and_marker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        CREATE
        + '''
import pytest
import respx


def test_in_process(provider_mock):
    create(webhook_url="https://hooks.example.com/x")
    provider_mock.advance(60)
    assert provider_mock.jobs[0]["state"] == "succeeded"
    assert provider_mock.received[0].json()["status"] == "succeeded"


@pytest.mark.provider_mock(providers=["eachlabs"], seed=42)
def test_marker_limits_providers(provider_mock):
    assert provider_mock.providers == ["eachlabs"]
    assert provider_mock.config.seed == 42
    with pytest.raises(respx.models.AllMockedAssertionError):
        httpx.get("https://api.wavespeed.ai/api/v3/balance")


@pytest.mark.provider_mock(clock="real", speed=1000)
def test_real_clock(provider_mock, mock_webhook_receiver):
    create(webhook_url=mock_webhook_receiver.url)
    mock_webhook_receiver.wait_for(1, timeout=10)
    assert provider_mock.state.clock_kind == "real"


def test_served(provider_server, mock_webhook_url):
    create(provider_server.base_url("eachlabs"), webhook_url=mock_webhook_url)
    provider_server.advance(60)
    assert [h.url for h in provider_server.received] == [mock_webhook_url]


def test_both(provider_backend, mock_webhook_receiver):
    create(provider_backend.base_url("eachlabs"), webhook_url=mock_webhook_receiver.url)
    provider_backend.advance(60)
    assert len(mock_webhook_receiver.received) == 1
'''
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--strict-markers", "-v")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["*test_both?inprocess? PASSED*", "*test_both?served? PASSED*"])


def test_marker_is_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.provider_mock(*"])


def test_bad_marker_argument_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
import pytest

@pytest.mark.provider_mock(colour="blue")
def test_it(provider_mock):
    pass
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*colour*"])


LEAK = (
    CREATE
    + """

def test_first_leaves_a_mess(provider_backend):
    mock = provider_backend
    # Queued for later calls than this test makes: still queued when it ends.
    mock.queue_scenario("job_failed", provider="eachlabs", nth=3, times=5)
    mock.queue_scenario(429, provider="eachlabs", endpoint="poll", times=5)
    mock.set_account("k", balance=1)
    create(mock.base_url("eachlabs"), webhook_url="https://hooks.example.com/a")
    create(mock.base_url("eachlabs"))  # a job never polled, webhook-less
    mock.advance(3600)
    mock.webhook_status = 500
    assert len(mock.scenarios) == 2
    assert mock.jobs and mock.requests and mock.webhooks and mock.received


def test_second_sees_nothing(provider_backend):
    mock = provider_backend
    assert mock.jobs == []
    assert mock.requests == []
    assert mock.webhooks == []
    assert mock.received == []
    assert mock.scenarios == []
    assert mock.webhook_status == 200
    assert mock.now == 1_767_225_600.0  # the clock starts afresh too
    assert mock.account("k")["accounts"]["eachlabs"]["balance"] == 100
    # Three creates and a poll: the leaked scenarios would fail the third job or 429 the poll.
    ids = [create(mock.base_url("eachlabs")) for _ in range(3)]
    mock.advance(3600)
    poll = httpx.get(mock.base_url("eachlabs") + "/v1/prediction/" + ids[2],
                     headers={"X-API-Key": "k"})
    assert poll.status_code == 200 and poll.json()["status"] == "success"
    assert [j["state"] for j in mock.jobs] == ["succeeded"] * 3
"""
)


def test_no_job_or_scenario_leaks_into_the_next_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(LEAK)
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=4)


def test_isolation_under_xdist(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(LEAK)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")
    result.assert_outcomes(passed=4)
