"""The admin API under ``/_mock/`` (DESIGN.md, fixed surface).

JSON in, JSON out; every error is ``{"error": "..."}`` with a 4xx status
(a bug: 500, recorded like any unhandled error). The OpenAPI document of
this API is :func:`mockserver.http.admin_openapi.build_admin_openapi`,
served at ``GET /_mock/openapi.json``; keep the two in step (a test checks
that every route here is documented there).
"""

from __future__ import annotations

import datetime
import functools
import json
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, is_dataclass
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Receive, Scope, Send

from mockserver import wirejson
from mockserver.domain.errors import MockError
from mockserver.domain.lifecycle import Job, State
from mockserver.domain.service import WebhookTarget
from mockserver.domain.uploads import Upload, UploadError
from mockserver.domain.webhooks import DeliveryState
from mockserver.http import media
from mockserver.http.admin_openapi import build_admin_openapi
from mockserver.http.asgi import BodyTooLarge, ClientGone, read_body
from mockserver.http.journal import mask_secret, mask_value
from mockserver.http.state import MockState, UnhandledError

__all__ = ["AdminError", "admin_routes", "job_to_dict", "json_response"]

#: Default and maximum number of journal entries one GET /_mock/requests returns.
DEFAULT_REQUEST_LIMIT = 100
#: How long ``{"wait": true}`` on clock/advance waits for webhooks to settle.
ADVANCE_WAIT_SECONDS = 5.0

Endpoint = Callable[[Request], Awaitable[Response]]


class AdminError(Exception):
    """A client error on the admin API: rendered as ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """Pretty enough, deterministic JSON (sorted keys are not needed: dicts are ordered)."""
    body = json.dumps(data, ensure_ascii=False, default=_default).encode()
    return Response(body, status, headers=headers, media_type="application/json")


def _state(request: Request) -> MockState:
    state: MockState = request.app.state.mock
    return state


def _guard(endpoint: Endpoint) -> Endpoint:
    """Turn AdminError into its 4xx JSON, and any other exception into a recorded 500."""

    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        try:
            return await endpoint(request)
        except AdminError as error:
            return json_response({"error": error.message}, error.status)
        except Exception as error:
            _state(request).record_unhandled(
                UnhandledError.capture(
                    error, "admin", method=request.method, path=request.url.path
                )
            )
            return json_response({"error": f"internal error: {type(error).__name__}"}, 500)

    return guarded


async def _json_object(request: Request) -> dict[str, Any]:
    body = await request.body()
    if not body:
        return {}
    try:
        data = wirejson.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise AdminError(400, f"body is not valid JSON: {error}") from error
    if not isinstance(data, dict):
        raise AdminError(400, "body must be a JSON object")
    return data


def _iso(seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _clock(state: MockState) -> dict[str, Any]:
    now = state.clock.now()
    info: dict[str, Any] = {"kind": state.clock_kind, "now": now, "iso": _iso(now)}
    speed = getattr(state.clock, "speed", None)
    if speed is not None:
        info["speed"] = speed
    return info


def job_to_dict(job: Job) -> dict[str, Any]:
    """A job for the admin API: neutral state, times, plan; secrets masked."""
    extra = {k: v for k, v in job.extra.items() if k != "webhook"}
    webhook = job.extra.get("webhook")
    plan = job.plan
    return {
        "id": job.id,
        "provider": job.provider,
        "model_id": job.model_id,
        "key": mask_secret(job.key) if job.key else job.key,
        "state": str(job.state),
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "updated_at": job.updated_at,
        "next_due": job.next_due(),
        "polls": job.polls,
        "held": job.held,
        "scenario": job.scenario,
        "failure": job.failure,
        "outputs": list(job.outputs),
        "cost": job.cost,
        "input": mask_value(job.input),
        "plan": {
            "queue_seconds": plan.queue_seconds,
            "run_seconds": plan.run_seconds,
            "outcome": str(plan.outcome),
            "polls_per_phase": plan.polls_per_phase,
            "stuck": plan.stuck,
            "failure": plan.failure,
        },
        "webhook": (
            {
                "url": webhook.url,
                "secret": mask_secret(webhook.secret) if webhook.secret else None,
            }
            if isinstance(webhook, WebhookTarget)
            else None
        ),
        "extra": mask_value(extra),
    }


def _provider_filter(state: MockState, request: Request) -> str | None:
    provider = request.query_params.get("provider")
    if provider is not None and provider not in state.adapters:
        known = ", ".join(sorted(state.adapters)) or "none"
        raise AdminError(400, f"unknown provider {provider!r} (known: {known})")
    return provider


# --- endpoints ----------------------------------------------------------------


@_guard
async def health(request: Request) -> Response:
    state = _state(request)
    return json_response(
        {
            "status": "ok",
            "providers": {
                name: {
                    "prefix": f"/{name}",
                    "hosts": sorted(h for h, p in state.hosts.items() if p == name),
                }
                for name in state.adapters
            },
            "clock": _clock(state),
            "jobs": len(state.world),
            "webhook_sender": "running" if state.sender.running else "stopped",
            "unhandled_errors": len(state.unhandled_errors),
            "contract_violations": len(state.contract_violations),
        }
    )


@_guard
async def reset(request: Request) -> Response:
    state = _state(request)
    state.reset()
    return json_response({"status": "reset", "clock": _clock(state)})


@_guard
async def list_jobs(request: Request) -> Response:
    state = _state(request)
    provider = _provider_filter(state, request)
    wanted_state = request.query_params.get("state")
    if wanted_state is not None and wanted_state not in {s.value for s in State}:
        raise AdminError(
            400, f"unknown state {wanted_state!r} (known: {', '.join(s.value for s in State)})"
        )
    state.tick()
    jobs = [
        job_to_dict(job)
        for job in state.world.jobs()
        if (provider is None or job.provider == provider)
        and (wanted_state is None or job.state.value == wanted_state)
    ]
    return json_response({"count": len(jobs), "jobs": jobs})


@_guard
async def get_job(request: Request) -> Response:
    state = _state(request)
    job = state.world.get(request.path_params["job_id"])
    if job is None:
        raise AdminError(404, f"no job {request.path_params['job_id']!r}")
    return json_response(job_to_dict(job))


@_guard
async def list_requests(request: Request) -> Response:
    state = _state(request)
    provider = _provider_filter(state, request)
    raw = request.query_params.get("limit", str(DEFAULT_REQUEST_LIMIT))
    try:
        limit = int(raw)
    except ValueError:
        raise AdminError(400, f"limit must be an integer, got {raw!r}") from None
    if limit < 0:
        raise AdminError(400, "limit must not be negative")
    entries = state.journal.entries(provider=provider, limit=limit)
    return json_response({"count": len(entries), "requests": entries})


@_guard
async def list_webhooks(request: Request) -> Response:
    state = _state(request)
    provider = _provider_filter(state, request)
    job_id = request.query_params.get("job_id")
    wanted_state = request.query_params.get("state")
    if wanted_state is not None and wanted_state not in {s.value for s in DeliveryState}:
        known = ", ".join(s.value for s in DeliveryState)
        raise AdminError(400, f"unknown delivery state {wanted_state!r} (known: {known})")
    deliveries = [
        delivery.to_dict()
        for delivery in state.outbox.deliveries()
        if (provider is None or delivery.provider == provider)
        and (job_id is None or delivery.job_id == job_id)
        and (wanted_state is None or delivery.state.value == wanted_state)
    ]
    return json_response({"count": len(deliveries), "deliveries": deliveries})


@_guard
async def get_clock(request: Request) -> Response:
    return json_response(_clock(_state(request)))


@_guard
async def advance_clock(request: Request) -> Response:
    state = _state(request)
    data = await _json_object(request)
    unknown = sorted(set(data) - {"seconds", "wait"})
    if unknown:
        raise AdminError(400, f"unknown field(s): {', '.join(unknown)} (allowed: seconds, wait)")
    seconds = data.get("seconds")
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not math.isfinite(seconds)
    ):
        raise AdminError(400, f'"seconds" must be a number, got {json.dumps(seconds)}')
    if seconds < 0:
        raise AdminError(400, '"seconds" must not be negative: the clock never goes back')
    wait = data.get("wait", False)
    if not isinstance(wait, bool):
        raise AdminError(400, '"wait" must be true or false')
    before = len(state.outbox.log)
    state.advance(float(seconds))
    settled = await state.sender.idle(ADVANCE_WAIT_SECONDS) if wait else None
    body = {**_clock(state), "advanced": seconds}
    if wait:
        body["settled"] = settled
        body["webhook_attempts"] = len(state.outbox.log) - before
    return json_response(body)


@_guard
async def list_accounts(request: Request) -> Response:
    return json_response(_state(request).accounts.to_dict())


@_guard
async def get_account(request: Request) -> Response:
    return json_response(_state(request).accounts.describe(request.path_params["key"]))


@_guard
async def put_account(request: Request) -> Response:
    state = _state(request)
    body = await _json_object(request)
    _check_tier(state, body)
    try:
        described = state.accounts.update(request.path_params["key"], body)
    except MockError as error:  # the accounts module's 400s
        raise AdminError(error.status, error.message) from None
    return json_response(described)


def _check_tier(state: MockState, body: dict[str, Any]) -> None:
    """Refuse a tier no provider has now, rather than at the key's next create."""
    limits = body.get("limits")
    tier = limits.get("tier") if isinstance(limits, dict) else None
    admission = state.service.admission
    if tier is None or admission is None:
        return
    known = admission.limiter.known_tiers()
    if known and tier not in known:
        raise AdminError(
            400, f"unknown tier {tier!r} in limits; known tiers: {', '.join(sorted(known))}"
        )


@_guard
async def list_scenarios(request: Request) -> Response:
    state = _state(request)
    return json_response(
        {"queued": state.scenarios.list(), "available": state.scenarios.registry.to_list()}
    )


@_guard
async def add_scenario(request: Request) -> Response:
    state = _state(request)
    body = await _json_object(request)
    try:
        entry = state.scenarios.add(body)
    except MockError as error:  # ScenarioError: a 400 naming the problem
        raise AdminError(error.status, error.message) from None
    return json_response(entry.to_dict(), 201)


@_guard
async def clear_scenarios(request: Request) -> Response:
    return json_response({"cleared": _state(request).scenarios.clear()})


@_guard
async def openapi(request: Request) -> Response:
    return json_response(build_admin_openapi())


@_guard
async def ca_pem(request: Request) -> Response:
    """The HTTPS proxy's CA certificate (PEM), for clients to trust."""
    pem: bytes | None = getattr(request.app.state, "ca_pem", None)
    if pem is None:
        raise AdminError(
            404, "no HTTPS proxy here: `mockserver serve` runs one unless --no-https-proxy"
        )
    return Response(pem, media_type="application/x-pem-file")


def upload_to_dict(upload: Upload) -> dict[str, Any]:
    """The admin view of an upload (no bytes)."""
    return {"token": upload.token, "filename": upload.filename,
            "content_type": upload.content_type, "size": upload.size,
            "complete": upload.data is not None}


@_guard
async def list_uploads(request: Request) -> Response:
    store = _state(request).service.uploads
    return json_response({"uploads": [upload_to_dict(u) for u in store.uploads()],
                          "max_uploads": store.max_uploads, "max_bytes": store.max_bytes})


@_guard
async def put_upload(request: Request) -> Response:
    store = _state(request).service.uploads
    token = request.path_params["token"]
    if store.get(token) is None:
        raise AdminError(404, f"no upload {token!r} (unknown, or evicted)")
    try:
        data = await read_body(request.receive, request.headers, store.max_bytes)
        upload = store.receive(token, data)
    except BodyTooLarge as error:
        raise AdminError(413, f"body over the upload limit of {error.limit} bytes") from None
    except ClientGone:
        raise AdminError(400, "the client went away before the whole body") from None
    except UploadError as error:
        raise AdminError(error.status, error.message) from None
    return json_response(upload_to_dict(upload))


@_guard
async def get_upload(request: Request) -> Response:
    token = request.path_params["token"]
    upload = _state(request).service.uploads.get(token)
    if upload is None or upload.data is None:
        raise AdminError(404, f"no uploaded file {token!r} (unknown, evicted, or never put)")
    data = b"" if request.method == "HEAD" else upload.data
    return Response(data, 200, media_type=upload.content_type,
                    headers={"content-length": str(len(upload.data))})


async def _media(scope: Scope, receive: Receive, send: Send) -> None:
    from starlette.requests import Request as _Request

    state = _state(_Request(scope))
    tail = scope["path"].split("/_mock/media/", 1)[-1]
    await media.serve(scope, receive, send, "/_mock/media/" + tail, state=state)


def admin_routes() -> list[BaseRoute]:
    """The routes of ``/_mock`` (mount them at ``/_mock``)."""
    return [
        Route("/health", health, methods=["GET"]),
        Route("/reset", reset, methods=["POST"]),
        Route("/jobs", list_jobs, methods=["GET"]),
        Route("/jobs/{job_id:str}", get_job, methods=["GET"]),
        Route("/requests", list_requests, methods=["GET"]),
        Route("/webhooks", list_webhooks, methods=["GET"]),
        Route("/clock", get_clock, methods=["GET"]),
        Route("/clock/advance", advance_clock, methods=["POST"]),
        Route("/accounts", list_accounts, methods=["GET"]),
        Route("/accounts/{key:str}", get_account, methods=["GET"]),
        Route("/accounts/{key:str}", put_account, methods=["PUT"]),
        Route("/scenarios", list_scenarios, methods=["GET"]),
        Route("/scenarios", add_scenario, methods=["POST"]),
        Route("/scenarios", clear_scenarios, methods=["DELETE"]),
        Route("/uploads", list_uploads, methods=["GET"]),
        Route("/uploads/{token:str}", put_upload, methods=["PUT"]),
        Route("/uploads/{token:str}/{filename:str}", get_upload, methods=["GET", "HEAD"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/ca.pem", ca_pem, methods=["GET"]),
        Mount("/media", app=_media),
    ]
