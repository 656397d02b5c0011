"""WaveSpeed sync mode over real HTTP: the POST waits, the server does not."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from starlette.applications import Starlette

from mockserver.domain.clock import RealClock

MODEL = "wavespeed-ai/wan-2.2/image-to-video"
INPUTS = {"image": "https://example.com/cat.png", "prompt": "a cat walks"}
AUTH = {"Authorization": "Bearer sync-key"}


def test_sync_create_waits_for_the_job_without_blocking_other_requests(
    make_app: Callable[..., Starlette], serve_app: Callable[[Starlette], Any]
) -> None:
    # 35 s of mock time at 35x: the sync POST takes about one wall second.
    served = serve_app(make_app(clock=RealClock(speed=35.0)))
    answer: dict[str, Any] = {}

    def sync_create() -> None:
        response = httpx.post(
            f"{served.url}/wavespeed/api/v3/{MODEL}",
            json={**INPUTS, "enable_sync_mode": True},
            headers=AUTH,
            timeout=30,
        )
        answer["body"] = response.json()
        answer["done"] = time.monotonic()

    started = time.monotonic()
    worker = threading.Thread(target=sync_create)
    worker.start()
    time.sleep(0.2)  # let the sync POST reach the server first
    health = httpx.get(f"{served.url}/_mock/health", timeout=5)
    answered = time.monotonic()
    worker.join(timeout=30)

    assert health.status_code == 200
    assert "done" in answer, "the sync-mode POST never answered"
    # The health check came back while the sync POST was still waiting.
    assert answered < answer["done"]
    assert answer["done"] - started >= 0.5
    data = answer["body"]["data"]
    assert data["status"] == "completed"
    assert data["outputs"] and data["outputs"][0].startswith(served.url)
