"""A deliberately fragile Eachlabs client: what chaos mode is there to catch.

It works against the happy-path mock, and every assumption below is one a
real API does not promise:

* the create's ``message`` is ASCII (it logs it through an ASCII-only sink);
* every poll carries an ``output`` key (it reads ``prediction["output"]``);
* ``metrics["cost"]`` is always there and a number;
* a poll never answers 429 or 5xx (``raise_for_status`` and give up);
* the job is done within 12 polls.

See ``examples/robust_client.py`` for the same calls done tolerantly, and
``tests/chaos/test_chaos_clients.py`` for chaos finding each of these.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx


def generate(
    api_key: str,
    model: str,
    inputs: dict[str, Any],
    *,
    base_url: str = "https://api.eachlabs.ai",
    sleep: Callable[[float], Any] = time.sleep,
) -> dict[str, Any]:
    """create -> poll -> result: ``{"id", "output", "cost"}`` (raises on anything odd)."""
    with httpx.Client(base_url=base_url, headers={"X-API-Key": api_key}, timeout=30) as http:
        created = http.post("/v1/prediction/", json={"model": model, "version": "0.0.1",
                                                     "input": inputs})
        created.raise_for_status()
        data = created.json()
        data["message"].encode("ascii")  # an ASCII-only log sink
        prediction_id = data["predictionID"]
        for _ in range(12):
            response = http.get(f"/v1/prediction/{prediction_id}")
            response.raise_for_status()  # no retry on 429 / 5xx
            prediction = response.json()
            output = prediction["output"]  # assumes the key is always there
            if prediction["status"] == "success":
                cost = prediction["metrics"]["cost"] * 100  # assumes a number
                return {"id": prediction_id, "output": output, "cost_cents": cost}
            if prediction["status"] in ("error", "cancelled"):
                raise RuntimeError(f"prediction {prediction_id} ended {prediction['status']}")
            sleep(5)
        raise TimeoutError(f"prediction {prediction_id} not done after 12 polls")
