"""How a client talks to Eachlabs: the shapes tests and tools build requests from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from mockserver.providers.kit import WireCall, WireClient

__all__ = ["EachlabsClient"]

_IMAGE = "https://example.com/frame.png"


class EachlabsClient(WireClient):
    """``X-API-Key``; ``POST /v1/prediction/`` ``{model, input}``; poll by id."""

    default_model = "wan-v2-2-a14b-image-to-video-turbo"
    inputs: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "wan-v2-2-a14b-image-to-video-turbo": {"image_url": _IMAGE, "prompt": "a dancer"},
        "wan-2-5-preview-image-to-video": {"image_url": _IMAGE, "prompt": "a forest"},
        "alibaba-wan-2-7-image-to-video": {"first_frame": _IMAGE},
    }
    done_word = "success"
    failed_word = "error"

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"X-API-Key": key}

    def create(self, model: str, inputs: Mapping[str, Any], webhook: str | None) -> WireCall:
        body: dict[str, Any] = {"model": model, "input": dict(inputs)}
        if webhook:
            body["webhook_url"] = webhook
        return WireCall("POST", "/v1/prediction/", body)

    def job_id(self, body: Any) -> str:
        return str(body["predictionID"])

    def poll(self, job_id: str) -> WireCall:
        return WireCall("GET", f"/v1/prediction/{job_id}")

    def status_word(self, body: Any) -> str:
        return str(body["status"])
