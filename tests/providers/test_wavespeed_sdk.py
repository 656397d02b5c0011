"""The official ``wavespeed`` SDK, unmodified, against the served mock.

The SDK uses ``requests`` and sleeps between polls, so the mock runs on a
sped-up real clock (a 35 s job takes 35/400 s of wall time): nothing has to
move a manual clock from another thread, and the SDK's own loop decides when
the job is done. Failures are forced through the adapter's scenario hook.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import requests

from mockserver.domain.clock import RealClock

wavespeed = pytest.importorskip("wavespeed")

MODEL = "wavespeed-ai/wan-2.2/image-to-video"
INPUTS = {"image": "https://images.example.com/cat.png", "prompt": "a cat yawns"}
SPEED = 400.0


@pytest.fixture
def mock(make_app: Callable[..., Any], serve_app: Callable[[Any], Any]) -> Any:
    return serve_app(make_app(clock=RealClock(SPEED)))


@pytest.fixture
def client(mock: Any) -> Any:
    return wavespeed.Client(api_key="ws-sdk-key", base_url=f"{mock.url}/wavespeed",
                            max_connection_retries=0)


def _queue(mock: Any, entry: dict[str, Any]) -> None:
    """Force a scenario on the next creates, as a user would (POST /_mock/scenarios)."""
    entry["match"] = {"provider": "wavespeed", "endpoint": "create"}
    reply = httpx.post(f"{mock.url}/_mock/scenarios", json=entry, timeout=10)
    assert reply.status_code == 201, reply.text


def test_run_returns_outputs(client: Any, mock: Any) -> None:
    result = client.run(MODEL, INPUTS, poll_interval=0.02, timeout=30)
    [url] = result["outputs"]
    assert url.startswith(f"{mock.url}/_mock/media/")
    video = requests.get(url, timeout=10)
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"
    [job] = mock.state.world.jobs()
    assert job.state == "succeeded" and job.model_id == MODEL


def test_sync_mode_returns_outputs_in_one_request(client: Any, mock: Any) -> None:
    result = client.run(MODEL, INPUTS, enable_sync_mode=True, timeout=30)
    assert len(result["outputs"]) == 1
    methods = [entry["method"] for entry in mock.state.journal.entries()]
    assert methods == ["POST"]


def test_forced_failure_surfaces_as_sdk_failure(client: Any, mock: Any) -> None:
    _queue(mock, {"scenario": "job_failed:content_moderation", "times": 2})
    with pytest.raises(RuntimeError, match=r"Prediction failed .*Content flagged by moderation"):
        client.run(MODEL, INPUTS, poll_interval=0.02, timeout=30)
    result = client.run_no_throw(MODEL, INPUTS, poll_interval=0.02, timeout=30)
    assert result["status"] == "failed" and result["outputs"] is None
    assert result["task_id"] != "unknown"


def test_sync_timeout_is_reported_as_processing(client: Any, mock: Any) -> None:
    _queue(mock, {"scenario": "sync_timeout"})
    result = client.run_no_throw(MODEL, INPUTS, enable_sync_mode=True, timeout=30)
    assert result["status"] == "processing"
    assert "Sync mode timed out" in result["error"]
    # The task keeps running and can be fetched later, as the SDK suggests.
    data: dict[str, Any] = {}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        data = client.get_result(result["task_id"])["data"]
        if data["status"] == "completed":
            break
        time.sleep(0.02)
    assert data["status"] == "completed"


def test_missing_parameter_is_a_submission_error(client: Any) -> None:
    with pytest.raises(RuntimeError, match=r"HTTP 400: .*image"):
        client.run(MODEL, {"prompt": "no image"}, poll_interval=0.02, timeout=30)


def test_bad_key_is_a_submission_error(mock: Any) -> None:
    bad = wavespeed.Client(api_key="sk_invalid", base_url=f"{mock.url}/wavespeed")
    with pytest.raises(RuntimeError, match="HTTP 401"):
        bad.run(MODEL, INPUTS, poll_interval=0.02, timeout=30)
