"""The httpx examples, each provider create -> poll -> result -> webhook -> download.

Only the plugin's fixtures: ``provider_backend`` runs every test once
in-process (respx) and once against the served mock (a loopback port).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import load_example

IMAGE = "https://images.example.com/dancer.jpg"


sync_example = load_example("httpx_sync_client")
async_example = load_example("httpx_async_webhook")


def test_eachlabs_sync_client(provider_backend: Any, mock_webhook_receiver: Any) -> None:
    mock = provider_backend
    client = sync_example.EachlabsClient(
        "el-test-key", base_url=mock.base_url("eachlabs"), sleep=mock.advance
    )
    with client:
        prediction_id = client.create(
            "wan-v2-2-a14b-image-to-video-turbo",
            {"image_url": IMAGE, "prompt": "a dancer turns"},
            webhook_url=mock_webhook_receiver.url,
        )
        prediction = client.wait(prediction_id, interval=5)
        video = client.download(prediction["output"])

    assert prediction["status"] == "success"
    assert video[4:8] == b"ftyp"  # a real MP4
    # What the client sent, as the admin API shows it.
    creates = [r for r in mock.requests if r["method"] == "POST"]
    assert creates[0]["headers"]["x-api-key"] != "el-test-key"  # masked in the journal
    assert creates[0]["body"]["model"] == "wan-v2-2-a14b-image-to-video-turbo"
    assert [job["state"] for job in mock.jobs] == ["succeeded"]
    # The webhook: delivered before advance() returned.
    assert [w["state"] for w in mock.webhooks] == ["delivered"]
    (hook,) = mock_webhook_receiver.received
    assert hook.json()["exec_id"] == prediction_id
    assert hook.json()["status"] == "succeeded"


@pytest.mark.anyio
async def test_wavespeed_async_client_signed_webhook(provider_backend: Any) -> None:
    mock = provider_backend
    key = "ws-test-key"
    receiver = async_example.create_receiver_app(mock.webhook_secret(key))
    mock.route_webhooks("https://hooks.myapp.example/", receiver)

    client = async_example.WaveSpeedClient(
        key, base_url=mock.base_url("wavespeed"), sleep=mock.aadvance
    )
    try:
        request_id = await client.submit(
            "wavespeed-ai/wan-2.2/image-to-video",
            {"image": IMAGE, "prompt": "a cat", "duration": 5},
            webhook_url="https://hooks.myapp.example/hooks/wavespeed",
        )
        data = await client.wait(request_id)
        video = await client.http.get(data["outputs"][0])
    finally:
        await client.aclose()

    assert data["status"] == "completed"
    assert video.status_code == 200
    # The receiver app accepted the signature and kept the payload.
    assert receiver.state.events == [("wavespeed", receiver.state.events[0][1])]
    assert receiver.state.events[0][1]["id"] == request_id
    assert mock.received[0].status == 200
    assert mock.received[0].headers["webhook-signature"].startswith("v3,")


@pytest.mark.anyio
async def test_apikley_async_client_callback(provider_backend: Any, mock_webhook_url: str) -> None:
    mock = provider_backend
    client = async_example.ApikleyClient(
        "ak-test-key", base_url=mock.base_url("apikley"), sleep=mock.aadvance
    )
    try:
        task_id = await client.create_task(
            "wan/2-2-a14b-image-to-video-turbo",
            {"image_url": IMAGE, "prompt": "a man walks", "resolution": "720p"},
            callback_url=mock_webhook_url,
        )
        record = await client.wait(task_id)
    finally:
        await client.aclose()

    assert record["state"] == "success"
    assert urlsplit(client.result_urls(record)[0]).path.endswith(".mp4")
    (callback,) = mock.received
    assert callback.url == mock_webhook_url
    assert callback.json()["data"]["state"] == "success"
    assert callback.json()["data"]["taskId"] == task_id


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
