"""A tolerant Eachlabs client: the same calls as ``fragile_client.py``, done robustly.

* unknown fields are ignored, optional ones read with ``.get``;
* free text (``message``, ``logs``) is never assumed ASCII;
* polls retry 429 and 5xx, waiting ``Retry-After`` seconds when given (else
  a capped backoff), at most ``max_retries`` times in a row;
* statuses may repeat any number of times; the wait is bounded by a deadline
  in (mock) seconds, not by a poll count;
* ``metrics.cost`` may be absent, null, an integer or a float.

Tests hand in the mock's ``advance`` as ``sleep``, so waits move the mock's clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

TERMINAL = {"success", "error", "cancelled"}
RETRYABLE = {429, 500, 502, 503, 504}


class EachlabsError(RuntimeError):
    """The API refused a call or the prediction did not succeed."""


class RobustEachlabsClient:
    """``POST /v1/prediction/`` and ``GET /v1/prediction/{id}`` with retries."""

    def __init__(
        self,
        api_key: str,
        base_url: str = "https://api.eachlabs.ai",
        *,
        sleep: Callable[[float], Any] = time.sleep,
        max_retries: int = 6,
    ) -> None:
        self.http = httpx.Client(base_url=base_url.rstrip("/"), headers={"X-API-Key": api_key},
                                 timeout=30)
        self.sleep = sleep
        self.max_retries = max_retries

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> RobustEachlabsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, path: str) -> dict[str, Any]:
        for attempt in range(self.max_retries + 1):
            response = self.http.get(path)
            if response.status_code not in RETRYABLE or attempt == self.max_retries:
                break
            self.sleep(_retry_after(response, attempt))
        response.raise_for_status()
        data = response.json()
        if not isinstance(data, dict):
            raise EachlabsError(f"unexpected body from {path}: {data!r}")
        return data

    def create(self, model: str, inputs: dict[str, Any]) -> str:
        """Start a prediction; its id (creates are not retried: they are not idempotent)."""
        response = self.http.post("/v1/prediction/", json={"model": model, "version": "0.0.1",
                                                           "input": inputs})
        data = response.json()
        if response.status_code != 200 or data.get("status") != "success":
            raise EachlabsError(f"create failed: {response.status_code} {data}")
        prediction_id = data.get("predictionID") or data.get("id")
        if not isinstance(prediction_id, str):
            raise EachlabsError(f"create answered no id: {data}")
        return prediction_id

    def wait(self, prediction_id: str, *, interval: float = 5.0,
             deadline_seconds: float = 3600.0) -> dict[str, Any]:
        """Poll until the prediction ends or ``deadline_seconds`` of waiting have passed."""
        waited = 0.0
        while waited <= deadline_seconds:
            prediction = self._get(f"/v1/prediction/{prediction_id}")
            status = prediction.get("status")
            if status in TERMINAL:
                if status != "success":
                    raise EachlabsError(f"prediction {prediction_id} ended {status}")
                return prediction
            self.sleep(interval)
            waited += interval
        raise TimeoutError(f"prediction {prediction_id} not done after {deadline_seconds:g} s")

    def generate(self, model: str, inputs: dict[str, Any]) -> dict[str, Any]:
        """create -> wait: ``{"id", "output", "cost_cents"}`` (cost None when not reported)."""
        prediction_id = self.create(model, inputs)
        prediction = self.wait(prediction_id)
        output = prediction.get("output")
        if isinstance(output, list):
            output = output[0] if output else None
        if not isinstance(output, str):
            raise EachlabsError(f"prediction {prediction_id} succeeded without an output")
        metrics = prediction.get("metrics") or {}
        cost = metrics.get("cost") if isinstance(metrics, dict) else None
        cost_cents = float(cost) * 100 if isinstance(cost, int | float) else None
        return {"id": prediction_id, "output": output, "cost_cents": cost_cents}


def _retry_after(response: httpx.Response, attempt: int) -> float:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, min(float(value), 60.0))
    except ValueError:
        return min(2.0 ** attempt, 30.0)
