"""A small, realistic Eachlabs client on httpx (sync): create -> poll -> download.

Nothing in it knows about the mock: tests point ``base_url`` at whatever
``mock.base_url("eachlabs")`` says (the real ``https://api.eachlabs.ai``
in-process, ``http://127.0.0.1:<port>/eachlabs`` when served) and hand the
mock's ``advance`` in as ``sleep``, so polling moves the mock's clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

TERMINAL = {"success", "error", "cancelled"}


class EachlabsError(RuntimeError):
    """The API refused a call, or a prediction ended without success."""


class EachlabsClient:
    """``POST /v1/prediction/``, ``GET /v1/prediction/{id}``, download the output."""

    def __init__(
        self,
        api_key: str,
        base_url: str = "https://api.eachlabs.ai",
        *,
        sleep: Callable[[float], Any] = time.sleep,
        timeout: float = 30.0,
    ) -> None:
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"), headers={"X-API-Key": api_key}, timeout=timeout
        )
        self.sleep = sleep

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> EachlabsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def create(self, model: str, inputs: dict[str, Any], webhook_url: str | None = None) -> str:
        """Start a prediction; its id."""
        body: dict[str, Any] = {"model": model, "version": "0.0.1", "input": inputs}
        if webhook_url:
            body["webhook_url"] = webhook_url
        response = self.http.post("/v1/prediction/", json=body)
        data = response.json()
        if response.status_code != 200 or data.get("status") != "success":
            raise EachlabsError(f"create failed: {response.status_code} {data}")
        return str(data["predictionID"])

    def get(self, prediction_id: str) -> dict[str, Any]:
        """The prediction as the API shows it now."""
        response = self.http.get(f"/v1/prediction/{prediction_id}")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def wait(
        self, prediction_id: str, *, interval: float = 5.0, max_polls: int = 120
    ) -> dict[str, Any]:
        """Poll until the prediction ends; the final prediction (EachlabsError if it failed)."""
        for _ in range(max_polls):
            prediction = self.get(prediction_id)
            if prediction["status"] in TERMINAL:
                if prediction["status"] != "success":
                    raise EachlabsError(f"prediction {prediction_id} ended {prediction['status']}")
                return prediction
            self.sleep(interval)
        raise TimeoutError(f"prediction {prediction_id} still running after {max_polls} polls")

    def download(self, url: str) -> bytes:
        """The output file."""
        response = self.http.get(url)
        response.raise_for_status()
        return response.content

    def generate(self, model: str, inputs: dict[str, Any], **options: Any) -> bytes:
        """create -> wait -> download: the video's bytes."""
        prediction = self.wait(self.create(model, inputs, options.get("webhook_url")))
        output = prediction["output"]
        return self.download(output[0] if isinstance(output, list) else output)
