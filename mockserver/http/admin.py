"""The admin API under ``/_mock/`` (DESIGN.md, fixed surface).

JSON in, JSON out; every error is ``{"error": "..."}`` with a 4xx status
(a bug: 500, recorded like any unhandled error). Input is checked before
it changes anything: a number out of range is a 400 naming the field and
its range, a body over ``limits.admin_body_bytes`` a 413. Lists answer one
page at a time (:mod:`mockserver.http.paging`). The OpenAPI document of
this API is :func:`mockserver.http.admin_openapi.build_admin_openapi`,
served at ``GET /_mock/openapi.json``; keep the two in step (a test checks
that every route here is documented there).
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import hashlib
import json
import logging
import math
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, is_dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Receive, Scope, Send

from mockserver import wirejson
from mockserver.domain.errors import MockError
from mockserver.domain.lifecycle import Job, State, WebhookTarget
from mockserver.domain.uploads import Upload, UploadError
from mockserver.domain.webhooks import Delivery, DeliveryState
from mockserver.http import media
from mockserver.http.admin_openapi import build_admin_openapi
from mockserver.http.asgi import BodyTooLarge, ClientGone, read_body
from mockserver.http.journal import exchange_entry, mask_secret, mask_value, request_body
from mockserver.http.nearmiss import near_miss
from mockserver.http.paging import Page, PageRequest, PagingError, page_of
from mockserver.http.state import MockState, UnhandledError
from mockserver.redact import redact_url
from mockserver.store.interface import StoreUnavailable

__all__ = ["AdminError", "admin_routes", "job_to_dict", "json_response"]

#: How long ``{"wait": true}`` on clock/advance waits for webhooks to settle.
ADVANCE_WAIT_SECONDS = 5.0
#: The most one ``POST /_mock/clock/advance`` moves the clock: 100 years.
MAX_ADVANCE_SECONDS = 3_155_760_000
#: Mock time never passes 9000-01-01T00:00:00Z: dates must stay printable
#: (year 9999 is Python's last) with room for jobs and retries after it.
MAX_MOCK_TIME = 221_845_392_000.0

logger = logging.getLogger("mockserver")

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
        except PagingError as error:
            return json_response({"error": str(error)}, 400)
        except StoreUnavailable as error:  # Redis away: a 503 to retry, not our 500
            return json_response(
                {"error": f"the mock's shared store is unavailable; retry shortly ({error})"},
                503, headers={"Retry-After": "1"})
        except ClientDisconnect:
            # Nobody is left to answer; not an error of ours.
            logger.debug("admin %s %s: client left before its whole body",
                         request.method, request.url.path)
            return json_response({"error": "client disconnected"}, 400)
        except Exception as error:
            _state(request).record_unhandled(
                UnhandledError.capture(
                    error, "admin", method=request.method, path=request.url.path
                )
            )
            return json_response({"error": f"internal error: {type(error).__name__}"}, 500)

    return guarded


#: The guard for admin endpoints defined in other modules (admin_insight).
guarded = _guard


async def _body(request: Request) -> bytes:
    """The request body, refused with a 413 beyond ``limits.admin_body_bytes``."""
    limit = _state(request).config.limits.admin_body_bytes
    try:
        return await read_body(request.receive, request.headers, limit)
    except BodyTooLarge:
        raise AdminError(413, f"request body over the admin limit of {limit} bytes "
                              "(limits.admin_body_bytes)") from None
    except ClientGone:
        raise ClientDisconnect() from None


async def _json_object(request: Request) -> dict[str, Any]:
    body = await _body(request)
    if not body:
        return {}
    try:
        data = wirejson.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise AdminError(400, f"body is not valid JSON: {error}") from error
    if not isinstance(data, dict):
        raise AdminError(400, "body must be a JSON object")
    return data


#: For admin endpoints defined in other modules (the console's).
json_object = _json_object


def _iso(seconds: float) -> str | None:
    try:
        moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    except (ValueError, OverflowError, OSError):
        return None  # beyond year 9999: never reached through the API (MAX_MOCK_TIME)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _clock(state: MockState) -> dict[str, Any]:
    now = state.clock.now()
    info: dict[str, Any] = {"kind": state.clock_kind, "now": now, "iso": _iso(now)}
    speed = getattr(state.clock, "speed", None)
    if speed is not None:
        info["speed"] = speed
    return info


def job_to_dict(job: Job, status: str | None = None) -> dict[str, Any]:
    """A job for the admin API: neutral state, the provider's status word, times, plan;
    secrets masked."""
    webhook = job.webhook
    plan = job.plan
    return {
        "id": job.id,
        "provider": job.provider,
        "model_id": job.model_id,
        "key": mask_secret(job.key) if job.key else job.key,
        "state": str(job.state),
        "status": status,
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
                "url": redact_url(webhook.url),
                "secret": mask_secret(webhook.secret) if webhook.secret else None,
            }
            if isinstance(webhook, WebhookTarget)
            else None
        ),
        "extra": mask_value(_job_extra(job)),
    }


def _job_extra(job: Job) -> dict[str, Any]:
    """The job's typed bookkeeping as the admin API has always shown it under ``extra``."""
    extra: dict[str, Any] = {
        "base_url": job.base_url,
        "media_base_url": job.media_base_url,
        "scenario": dict(job.effects),
    }
    if dataclasses.is_dataclass(job.provider_fields):
        extra.update(dataclasses.asdict(job.provider_fields))  # type: ignore[arg-type]
    if job.price is not None:
        extra["price"] = dict(job.price)
    return extra


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
            "webhook_outbox": {
                "waiting": state.outbox.waiting_count,
                "waiting_bytes": state.outbox.waiting_bytes,
                "dropped": state.outbox.dropped,
                "max_pending": state.outbox.max_pending,
                "max_pending_bytes": state.outbox.max_pending_bytes,
            },
            "unhandled_errors": len(state.unhandled_errors),
            "contract_violations": len(state.contract_violations),
            # Which process answered: a worker of `serve --workers N` (index 0..N-1),
            # or the single process (index null).
            "worker": {"index": state.config.server.worker, "pid": os.getpid()},
            "store": {"kind": "memory"} if state.store is None else {
                "kind": "redis", "prefix": state.store.prefix,
                "round_trips": state.store.trips.count},
        }
    )


@_guard
async def reset(request: Request) -> Response:
    state = _state(request)
    state.reset()
    return json_response({"status": "reset", "clock": _clock(state)})


def _page_body(name: str, page: Page[Any], request: PageRequest, **extra: Any) -> dict[str, Any]:
    """The JSON of one page: ``count``, the items under ``name``, ``next_cursor``, ``limit``."""
    return {"count": len(page.items), name: page.items, "next_cursor": page.next_cursor,
            "limit": request.limit, **extra}


def _choice(request: Request, name: str, known: list[str]) -> str | None:
    value = request.query_params.get(name)
    if value is not None and value not in known:
        raise AdminError(400, f"unknown {name} {value[:80]!r} (known: {', '.join(known)})")
    return value


@_guard
async def list_jobs(request: Request) -> Response:
    state = _state(request)
    provider = _provider_filter(state, request)
    wanted_state = _choice(request, "state", [s.value for s in State])
    query = request.query_params
    model, key = query.get("model"), query.get("key")
    paging = PageRequest.parse(query)
    state.tick()

    def keep(job: Job) -> bool:
        return (provider is None or job.provider == provider) and (
            wanted_state is None or job.state.value == wanted_state) and (
            model is None or job.model_id == model) and (key is None or job.key == key)

    found = page_of(
        ((str(number), job) for number, job in state.world.jobs_from(
            paging.int_cursor(), newest_first=paging.newest_first)),
        paging.limit, keep,
    )
    jobs = [job_to_dict(job, status_word(state, job)) for job in found.items]
    page = Page(jobs, found.next_cursor)
    return json_response(_page_body("jobs", page, paging, stored=len(state.world)))


@_guard
async def get_job(request: Request) -> Response:
    state = _state(request)
    job = state.world.get(request.path_params["job_id"])
    if job is None:
        raise AdminError(404, f"no job {request.path_params['job_id']!r}")
    state.tick()
    return json_response(job_to_dict(job, status_word(state, job)))


def status_word(state: MockState, job: Job) -> str | None:
    """The status word a poll of ``job`` would show now (``processing``, ``generating``...)."""
    word = getattr(state.adapters.get(job.provider), "word", None)
    return str(word(job)) if callable(word) else None


def journal_view(adapters: Any, kept: Any) -> dict[str, Any]:
    """A journal entry as the admin API shows it, with its ``near_miss`` (None if matched)."""
    entry = exchange_entry(kept)
    entry["near_miss"] = near_miss(adapters, entry["provider"], entry["method"], entry["path"],
                                   entry["endpoint"], entry["status"], request_body(kept))
    return entry


@_guard
async def list_requests(request: Request) -> Response:
    state = _state(request)
    provider = _provider_filter(state, request)
    paging = PageRequest.parse(request.query_params)
    raw_status = request.query_params.get("status")
    status: int | None = None
    if raw_status is not None:
        try:
            status = int(raw_status)
        except ValueError:
            raise AdminError(
                400, f"status must be an HTTP status code, got {raw_status[:40]!r}") from None
    page = state.journal.page(paging, provider=provider, status=status,
                              endpoint=request.query_params.get("endpoint"),
                              job=request.query_params.get("job"),
                              view=functools.partial(journal_view, state.adapters))
    stored, stored_bytes = state.journal.stats()
    return json_response(_page_body("requests", page, paging, stored=stored,
                                    stored_bytes=stored_bytes))


@_guard
async def list_webhooks(request: Request) -> Response:
    state = _state(request)
    provider = _provider_filter(state, request)
    job_id = request.query_params.get("job_id")
    wanted_state = _choice(request, "state", [s.value for s in DeliveryState])
    paging = PageRequest.parse(request.query_params, newest_first=False)
    deliveries = state.outbox.deliveries()
    found = page_of(
        _positions(deliveries, paging), paging.limit,
        lambda delivery: (provider is None or delivery.provider == provider)
        and (job_id is None or delivery.job_id == job_id)
        and (wanted_state is None or delivery.state.value == wanted_state),
    )
    page = Page([delivery_to_dict(delivery) for delivery in found.items], found.next_cursor)
    return json_response(_page_body("deliveries", page, paging, stored=len(deliveries)))


def _positions(items: list[Any], paging: PageRequest) -> Any:
    """``(cursor, item)`` of a list from the cursor (a position) on, either way."""
    after = paging.int_cursor()
    if paging.newest_first:
        start = len(items) - 1 if after is None else min(after - 1, len(items) - 1)
        return ((str(i), items[i]) for i in range(start, -1, -1))
    start = 0 if after is None else max(after + 1, 0)
    return ((str(i), items[i]) for i in range(start, len(items)))


def delivery_to_dict(delivery: Delivery) -> dict[str, Any]:
    """A delivery for the admin API, its URL without credentials."""
    view = delivery.to_dict()
    view["url"] = redact_url(delivery.url)
    return view


@_guard
async def resend_webhook(request: Request) -> Response:
    """A new attempt series of a finished delivery (delivered or given up), due now."""
    state = _state(request)
    delivery_id = request.path_params["delivery_id"]
    delivery = state.outbox.get(delivery_id)
    if delivery is None:
        raise AdminError(404, f"no webhook delivery {delivery_id!r} (unknown, or evicted)")
    try:
        again = state.outbox.resend(delivery, state.world.new_uuid(), state.clock.now())
    except ValueError as error:
        raise AdminError(409, str(error)) from None
    state.sender.wake()
    return json_response(delivery_to_dict(again), 201)


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
    allowed = f"a number from 0 to {MAX_ADVANCE_SECONDS} (100 years)"
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or (isinstance(seconds, float) and not math.isfinite(seconds))
    ):
        raise AdminError(400, f'"seconds" must be {allowed}, got {_shown(seconds)}')
    if seconds < 0:
        raise AdminError(
            400, f'"seconds" must be {allowed}: the clock never goes back, got {_shown(seconds)}'
        )
    if seconds > MAX_ADVANCE_SECONDS:
        raise AdminError(400, f'"seconds" must be {allowed}, got {_shown(seconds)}')
    room = MAX_MOCK_TIME - state.clock.now()
    if seconds > room:
        raise AdminError(
            400, f'"seconds" would move the clock past 9000-01-01, the latest mock time: '
                 f"at most {max(room, 0):.0f} more, got {_shown(seconds)}")
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


def _shown(value: Any) -> str:
    """A client's value for an error message: JSON, at most 60 characters."""
    try:
        text = json.dumps(value, default=str)
    except (ValueError, TypeError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def masked_account(described: dict[str, Any]) -> dict[str, Any]:
    """A key's description for lists: key and webhook secret masked, plus a fingerprint.

    The whole key and secret are shown only by ``GET /_mock/accounts/{key}``.
    """
    key = str(described["key"])
    return {
        **described,
        "key": mask_secret(key),
        "fingerprint": hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:12],
        "webhook_secret": mask_secret(str(described["webhook_secret"])),
    }


@_guard
async def list_accounts(request: Request) -> Response:
    accounts = _state(request).accounts
    paging = PageRequest.parse(request.query_params, newest_first=False)
    start = paging.int_cursor() or 0
    if start < 0:
        raise PagingError("cursor must not be negative")
    found = page_of(((str(position + 1), key) for position, key in accounts.keys_from(start)),
                    paging.limit)
    page = Page([masked_account(accounts.describe(key)) for key in found.items],
                found.next_cursor)
    return json_response(_page_body("keys", page, paging, defaults=accounts.defaults(),
                                    stored=len(accounts)))


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
    if tier is not None and not isinstance(tier, str):
        raise AdminError(400, f"limits.tier must be a string, got {_shown(tier)}")
    if tier is None or admission is None:
        return
    known = admission.limiter.known_tiers()
    if known and tier not in known:
        raise AdminError(
            400, f"unknown tier {tier!r} in limits; known tiers: {', '.join(sorted(known))}"
        )


#: For admin endpoints defined in other modules (the console's).
check_tier = _check_tier


@_guard
async def list_scenarios(request: Request) -> Response:
    state = _state(request)
    paging = PageRequest.parse(request.query_params, newest_first=False)
    queued = state.scenarios.list()
    found = page_of(_positions(queued, paging), paging.limit)
    return json_response({
        "queued": found.items, "count": len(found.items), "next_cursor": found.next_cursor,
        "limit": paging.limit, "stored": len(queued),
        "available": state.scenarios.registry.to_list(),
    })


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
            "complete": upload.complete}


@_guard
async def list_uploads(request: Request) -> Response:
    store = _state(request).service.uploads
    paging = PageRequest.parse(request.query_params, newest_first=False)
    uploads = store.uploads()
    found = page_of(_positions(uploads, paging), paging.limit)
    page = Page([upload_to_dict(u) for u in found.items], found.next_cursor)
    return json_response(_page_body("uploads", page, paging, stored=len(uploads),
                                    max_uploads=store.max_uploads, max_bytes=store.max_bytes))


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
                    headers={"content-length": str(len(upload.data)),
                             **upload_headers(upload.content_type, upload.filename)})


#: Served back as attachments: types a browser would run (scripts in HTML, SVG, XML).
_ACTIVE_TYPES = ("text/html", "application/xhtml", "image/svg", "text/xml", "application/xml",
                 "text/javascript", "application/javascript", "application/ecmascript",
                 "text/ecmascript", "text/css", "application/pdf")


def upload_headers(content_type: str, filename: str) -> dict[str, str]:
    """Headers that keep an uploaded file inert on the mock's origin (the admin API's).

    Never sniffed into another type, no script, no subresource, no frame
    (CSP ``sandbox``); an active type (HTML, SVG, XML, JS) is a download.
    """
    headers = {
        "x-content-type-options": "nosniff",
        "content-security-policy": "default-src 'none'; sandbox",
        "cross-origin-resource-policy": "cross-origin",
    }
    base = content_type.split(";", 1)[0].strip().lower()
    if base.startswith(_ACTIVE_TYPES) or base.endswith("+xml"):
        name = filename.rsplit("/", 1)[-1].replace('"', "") or "upload"
        ascii_name = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in name)
        headers["content-disposition"] = (
            f'attachment; filename="{ascii_name}"; filename*=UTF-8\'\'{quote(name, safe="")}'
        )
    return headers


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
        Route("/webhooks/{delivery_id:str}/resend", resend_webhook, methods=["POST"]),
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
