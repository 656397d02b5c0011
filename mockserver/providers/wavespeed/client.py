"""How a client talks to WaveSpeed: the shapes tests and tools build requests from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from mockserver.providers.kit import WireCall, WireClient

__all__ = ["WaveSpeedClient"]

_IMAGE = "https://example.com/frame.png"


class WaveSpeedClient(WireClient):
    """Bearer key; ``POST /api/v3/{model}`` with the input as the body; poll its result."""

    default_model = "wavespeed-ai/wan-2.2/image-to-video"
    inputs: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "wavespeed-ai/wan-2.2/image-to-video": {"image": _IMAGE, "prompt": "a dancer"},
    }
    done_word = "completed"
    failed_word = "failed"
    balance_path = "/api/v3/balance"

    def create(self, model: str, inputs: Mapping[str, Any], webhook: str | None) -> WireCall:
        body = dict(inputs)
        if webhook:
            body["webhook_url"] = webhook
        return WireCall("POST", f"/api/v3/{model}", body)

    def job_id(self, body: Any) -> str:
        return str(body["data"]["id"])

    def poll(self, job_id: str) -> WireCall:
        return WireCall("GET", f"/api/v3/predictions/{job_id}/result")

    def status_word(self, body: Any) -> str:
        return str(body["data"]["status"])
