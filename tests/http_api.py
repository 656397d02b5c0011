"""A small client of the three provider APIs for the acceptance tests.

Each call goes over HTTP (a ``served`` app with httpx, or the in-process
``client``) exactly as a user's client would send it; the helpers only
spare every test the three wire shapes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

IMAGE = "https://example.com/frame.png"

#: The default model of each provider and a valid minimal input for it.
MODELS = {
    "eachlabs": "wan-v2-2-a14b-image-to-video-turbo",
    "wavespeed": "wavespeed-ai/wan-2.2/image-to-video",
    "apikley": "wan/2-2-a14b-image-to-video-turbo",
}
INPUTS: dict[str, dict[str, Any]] = {
    "wan-v2-2-a14b-image-to-video-turbo": {"image_url": IMAGE, "prompt": "a dancer"},
    "wan-2-5-preview-image-to-video": {"image_url": IMAGE, "prompt": "a forest"},
    "alibaba-wan-2-7-image-to-video": {"first_frame": IMAGE},
    "wavespeed-ai/wan-2.2/image-to-video": {"image": IMAGE, "prompt": "a dancer"},
    "wan/2-2-a14b-image-to-video-turbo": {"image_url": IMAGE, "prompt": "a dancer"},
}
PROVIDERS = tuple(MODELS)
#: Status word of a finished job, per provider.
DONE = {"eachlabs": "success", "wavespeed": "completed", "apikley": "success"}
FAILED = {"eachlabs": "error", "wavespeed": "failed", "apikley": "fail"}


class Api:
    """One key at one provider, over an httpx client pointed at the mock."""

    def __init__(self, http: httpx.Client, provider: str, key: str) -> None:
        self.http = http
        self.provider = provider
        self.key = key

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        auth = (
            {"X-API-Key": self.key}
            if self.provider == "eachlabs"
            else {"Authorization": f"Bearer {self.key}"}
        )
        return {**auth, **(extra or {})}

    def create(
        self,
        model: str | None = None,
        inputs: dict[str, Any] | None = None,
        *,
        webhook: str | None = None,
        prefer: str | None = None,
        query: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST a create of ``model`` (default: the provider's) with ``inputs`` added."""
        model = model or MODELS[self.provider]
        values = {**INPUTS[model], **(inputs or {})}
        headers = self.headers({"Prefer": prefer} if prefer else None)
        if self.provider == "eachlabs":
            body: dict[str, Any] = {"model": model, "input": values}
            if webhook:
                body["webhook_url"] = webhook
            return self.http.post("/eachlabs/v1/prediction/", json=body, headers=headers,
                                  params=query)
        if self.provider == "wavespeed":
            body = dict(values)
            if webhook:
                body["webhook_url"] = webhook
            return self.http.post(f"/wavespeed/api/v3/{model}", json=body, headers=headers,
                                  params=query)
        body = {"model": model, "input": values}
        if webhook:
            body["callBackUrl"] = webhook
        return self.http.post("/apikley/api/v1/jobs/createTask", json=body, headers=headers,
                              params=query)

    def job_id(self, response: httpx.Response) -> str:
        body = response.json()
        if self.provider == "eachlabs":
            return str(body["predictionID"])
        if self.provider == "wavespeed":
            return str(body["data"]["id"])
        return str(body["data"]["taskId"])

    def create_ok(self, model: str | None = None, inputs: dict[str, Any] | None = None,
                  **kwargs: Any) -> str:
        """Create and return the job id; the create must succeed."""
        response = self.create(model, inputs, **kwargs)
        assert response.status_code == 200, response.text
        assert error_code(self.provider, response) is None, response.text
        return self.job_id(response)

    def poll(self, job_id: str, *, prefer: str | None = None) -> httpx.Response:
        headers = self.headers({"Prefer": prefer} if prefer else None)
        if self.provider == "eachlabs":
            return self.http.get(f"/eachlabs/v1/prediction/{job_id}", headers=headers)
        if self.provider == "wavespeed":
            return self.http.get(f"/wavespeed/api/v3/predictions/{job_id}/result",
                                 headers=headers)
        return self.http.get("/apikley/api/v1/jobs/recordInfo", params={"taskId": job_id},
                             headers=headers)

    def status(self, job_id: str) -> str:
        """The job's wire status word, from a poll."""
        response = self.poll(job_id)
        assert response.status_code == 200, response.text
        body = response.json()
        if self.provider == "eachlabs":
            return str(body["status"])
        if self.provider == "wavespeed":
            return str(body["data"]["status"])
        return str(body["data"]["state"])

    def balance_endpoint(self) -> httpx.Response:
        path = {"wavespeed": "/wavespeed/api/v3/balance",
                "apikley": "/apikley/api/v1/chat/credit"}[self.provider]
        return self.http.get(path, headers=self.headers())

    # --- admin ---------------------------------------------------------------------
    def account(self) -> dict[str, Any]:
        """This key's account at this provider (``GET /_mock/accounts/{key}``)."""
        described = self.http.get(f"/_mock/accounts/{self.key}").json()
        account: dict[str, Any] = described["accounts"][self.provider]
        return account

    def balance(self) -> Decimal:
        return Decimal(str(self.account()["balance"]))

    def set(self, **fields: Any) -> None:
        """``PUT /_mock/accounts/{key}`` for this provider."""
        reply = self.http.put(f"/_mock/accounts/{self.key}",
                              json={"provider": self.provider, **fields})
        assert reply.status_code == 200, reply.text


def error_code(provider: str, response: httpx.Response) -> int | None:
    """The provider error code a response carries, or None for a success.

    Eachlabs and WaveSpeed: the HTTP status when it is not 2xx; Apikley: the
    body's ``code`` unless it is 200 (its errors usually travel as HTTP 200).
    """
    if provider == "apikley":
        code = int(response.json()["code"])
        return None if code == 200 else code
    return None if response.status_code < 300 else response.status_code


def advance(http: httpx.Client, seconds: float) -> None:
    """Move the manual clock and wait until what became due has happened."""
    reply = http.post("/_mock/clock/advance", json={"seconds": seconds, "wait": True})
    assert reply.status_code == 200, reply.text
