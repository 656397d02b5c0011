"""How a client talks to the toy provider (the shapes ``tests/http_api.py`` drives)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from mockserver.providers.kit import WireCall, WireClient


class ToyfalClient(WireClient):
    """``Authorization: Key <key>``; ``POST /{model}``; status by request id."""

    default_model = "toy-video"
    inputs: ClassVar[Mapping[str, Mapping[str, Any]]] = {"toy-video": {"prompt": "a lighthouse"}}
    done_word = "COMPLETED"
    failed_word = "COMPLETED"

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Key {key}"}

    def create(self, model: str, inputs: Mapping[str, Any], webhook: str | None) -> WireCall:
        return WireCall("POST", f"/{model}", dict(inputs),
                        params={"fal_webhook": webhook} if webhook else None)

    def job_id(self, body: Any) -> str:
        return str(body["request_id"])

    def poll(self, job_id: str) -> WireCall:
        return WireCall("GET", f"/{self.default_model}/requests/{job_id}/status")

    def status_word(self, body: Any) -> str:
        return str(body["status"])
