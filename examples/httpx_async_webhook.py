"""Async httpx clients of WaveSpeed and Apikley, and a webhook receiver app.

``WaveSpeedClient`` registers its webhook with ``?webhook=<url>``;
``ApikleyClient`` with ``callBackUrl``. :func:`create_receiver_app` is the
kind of Starlette endpoint a service exposes for those callbacks: it checks
WaveSpeed's ``webhook-signature`` and keeps each payload. In tests the mock
delivers webhooks to this app in-process (``mock.route_webhooks``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

Sleep = Callable[[float], Awaitable[Any]]


class WaveSpeedClient:
    """``POST /api/v3/{model}?webhook=``, ``GET /api/v3/predictions/{id}/result``."""

    TERMINAL = frozenset({"completed", "failed", "cancelled", "timeout", "deleted"})

    def __init__(self, api_key: str, base_url: str = "https://api.wavespeed.ai",
                 *, sleep: Sleep = asyncio.sleep) -> None:
        self.http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=30.0,
                                      headers={"Authorization": f"Bearer {api_key}"})
        self.sleep = sleep

    async def aclose(self) -> None:
        await self.http.aclose()

    async def submit(
        self, model: str, inputs: dict[str, Any], webhook_url: str | None = None
    ) -> str:
        params = {"webhook": webhook_url} if webhook_url else None
        response = await self.http.post(f"/api/v3/{model}", json=inputs, params=params)
        response.raise_for_status()
        return str(response.json()["data"]["id"])

    async def result(self, request_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/api/v3/predictions/{request_id}/result")
        response.raise_for_status()
        data: dict[str, Any] = response.json()["data"]
        return data

    async def wait(
        self, request_id: str, *, interval: float = 2.0, max_polls: int = 120
    ) -> dict[str, Any]:
        for _ in range(max_polls):
            data = await self.result(request_id)
            if data["status"] in self.TERMINAL:
                return data
            await self.sleep(interval)
        raise TimeoutError(f"{request_id} still running after {max_polls} polls")


class ApikleyClient:
    """``POST /api/v1/jobs/createTask``, ``GET /api/v1/jobs/recordInfo?taskId=``."""

    TERMINAL = frozenset({"success", "fail"})

    def __init__(self, api_key: str, base_url: str = "https://api.apikley.ru",
                 *, sleep: Sleep = asyncio.sleep) -> None:
        self.http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=30.0,
                                      headers={"Authorization": f"Bearer {api_key}"})
        self.sleep = sleep

    async def aclose(self) -> None:
        await self.http.aclose()

    async def create_task(self, model: str, inputs: dict[str, Any],
                          callback_url: str | None = None) -> str:
        body: dict[str, Any] = {"model": model, "input": inputs}
        if callback_url:
            body["callBackUrl"] = callback_url
        envelope = (await self.http.post("/api/v1/jobs/createTask", json=body)).json()
        if envelope.get("code") != 200:  # Apikley: errors are HTTP 200 with a code
            raise RuntimeError(f"createTask failed: {envelope}")
        return str(envelope["data"]["taskId"])

    async def record_info(self, task_id: str) -> dict[str, Any]:
        response = await self.http.get("/api/v1/jobs/recordInfo", params={"taskId": task_id})
        data: dict[str, Any] = response.json()["data"]
        return data

    async def wait(
        self, task_id: str, *, interval: float = 2.0, max_polls: int = 120
    ) -> dict[str, Any]:
        for _ in range(max_polls):
            record = await self.record_info(task_id)
            if record["state"] in self.TERMINAL:
                return record
            await self.sleep(interval)
        raise TimeoutError(f"{task_id} still running after {max_polls} polls")

    @staticmethod
    def result_urls(record: dict[str, Any]) -> list[str]:
        """``resultJson`` is a JSON *string*."""
        return list(json.loads(record["resultJson"] or "{}").get("resultUrls", []))


def verify_wavespeed(headers: dict[str, str], body: bytes, secret: str, *,
                     now: float | None = None, max_age: float = 300.0) -> bool:
    """WaveSpeed: ``v3,<hex HMAC-SHA256("{id}.{timestamp}.{body}")>`` keyed by the secret."""
    try:
        timestamp = int(headers["webhook-timestamp"])
        message_id = headers["webhook-id"]
        signature = headers["webhook-signature"]
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > max_age:
        return False
    key = secret.removeprefix("whsec_").encode()
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(signature, f"v3,{digest.hexdigest()}")


def create_receiver_app(wavespeed_secret: str | None = None,
                        clock: Callable[[], float] = time.time) -> Starlette:
    """A webhook endpoint: ``POST /hooks/wavespeed`` (signed) and ``POST /hooks/apikley``.

    Payloads land in ``app.state.events`` as ``(provider, payload)``.
    """

    async def wavespeed(request: Request) -> JSONResponse:
        body = await request.body()
        if wavespeed_secret is not None and not verify_wavespeed(
            {k.lower(): v for k, v in request.headers.items()}, body, wavespeed_secret,
            now=clock(),
        ):
            return JSONResponse({"error": "bad signature"}, status_code=401)
        request.app.state.events.append(("wavespeed", json.loads(body)))
        return JSONResponse({"ok": True})

    async def apikley(request: Request) -> JSONResponse:
        request.app.state.events.append(("apikley", await request.json()))
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/hooks/wavespeed", wavespeed, methods=["POST"]),
                            Route("/hooks/apikley", apikley, methods=["POST"])])
    app.state.events = []
    return app
