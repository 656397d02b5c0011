"""How a client talks to Apikley: the shapes tests and tools build requests from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from mockserver.providers.kit import WireCall, WireClient

__all__ = ["ApikleyClient"]

_IMAGE = "https://example.com/frame.png"


class ApikleyClient(WireClient):
    """Bearer key; ``POST /api/v1/jobs/createTask``; ``recordInfo?taskId=``; errors in the body."""

    default_model = "wan/2-2-a14b-image-to-video-turbo"
    inputs: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "wan/2-2-a14b-image-to-video-turbo": {"image_url": _IMAGE, "prompt": "a dancer"},
    }
    done_word = "success"
    failed_word = "fail"
    balance_path = "/api/v1/chat/credit"

    def create(self, model: str, inputs: Mapping[str, Any], webhook: str | None) -> WireCall:
        body: dict[str, Any] = {"model": model, "input": dict(inputs)}
        if webhook:
            body["callBackUrl"] = webhook
        return WireCall("POST", "/api/v1/jobs/createTask", body)

    def job_id(self, body: Any) -> str:
        return str(body["data"]["taskId"])

    def poll(self, job_id: str) -> WireCall:
        return WireCall("GET", "/api/v1/jobs/recordInfo", params={"taskId": job_id})

    def status_word(self, body: Any) -> str:
        return str(body["data"]["state"])

    def error_code(self, status: int, body: Any) -> int | None:
        """The body's ``code`` unless it is 200: Apikley errors usually travel as HTTP 200."""
        code = int(body["code"])
        return None if code == 200 else code
