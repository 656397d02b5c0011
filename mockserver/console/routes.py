"""The console's routes under ``/_mock`` (behind the admin guard, like the admin API).

* ``GET /_mock/ui`` (and ``/_mock/ui/``): the page; ``GET /_mock/ui/{file}``
  its script and style. Static files from the package (no build step, no
  CDN), served with a Content-Security-Policy that allows only this origin
  and forbids framing (a cross-site page cannot click through the console).
  They hold no data, so they need no admin token: the page asks for the
  token and sends it with each of its own requests.
* ``GET /_mock/events``: live updates (:mod:`mockserver.console.events`).
* ``POST /_mock/trigger``: start a job (:mod:`mockserver.console.trigger`).
* ``GET``/``PUT /_mock/accounts/by-fingerprint/{fingerprint}``: one key
  named by the fingerprint the account list shows, so the page can show and
  edit a key without the list ever holding whole keys.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mockserver import wirejson
from mockserver.console.events import EventStream
from mockserver.console.trigger import TriggerError, build_create, call_app
from mockserver.domain.errors import MockError
from mockserver.domain.ratelimit import LimitOverrides
from mockserver.redact import mask_value

__all__ = ["ASSETS", "CONSOLE_HEADERS", "console_routes"]

#: The files the console serves, and their types; nothing else under /_mock/ui.
ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}

#: Only this origin's scripts, styles and fetches; never inside another site's frame.
CONSOLE_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cache-control": "no-cache",
}


@cache
def _asset(name: str) -> bytes:
    return (resources.files("mockserver.console") / "static" / name).read_bytes()


async def _ui(request: Request) -> Response:
    name = request.path_params.get("name") or "index.html"
    media_type = ASSETS.get(name)
    if media_type is None:
        return Response(b'{"error": "no such console file"}', 404,
                        media_type="application/json")
    body = b"" if request.method == "HEAD" else _asset(name)
    return Response(body, 200, headers=CONSOLE_HEADERS, media_type=media_type)


def console_routes() -> list[BaseRoute]:
    """The routes, relative to ``/_mock``."""
    from mockserver.http import admin  # admin imports nothing of the console

    @admin.guarded
    async def trigger(request: Request) -> Response:
        state = request.app.state.mock
        body = await admin.json_object(request)
        unknown = sorted(set(body) - {"provider", "model", "scenario", "webhook_url", "key",
                                      "input"})
        if unknown:
            raise admin.AdminError(400, f"unknown field(s): {', '.join(unknown)} (allowed: "
                                        "provider, model, scenario, webhook_url, key, input)")
        provider = body.get("provider")
        adapter = state.adapters.get(provider) if isinstance(provider, str) else None
        if adapter is None:
            raise admin.AdminError(
                400, f'"provider" must be one of: {", ".join(sorted(state.adapters))}')
        contract = getattr(adapter, "contract", None) or state.contracts.provider(provider)
        try:
            call = build_create(contract, body)
        except TriggerError as error:
            raise admin.AdminError(400, str(error)) from None
        newest = next(state.world.jobs_from(), (0, None))[0]
        host = request.headers.get("host") or "127.0.0.1"
        status, headers, answer = await call_app(request.app, call, host)
        try:
            parsed: Any = wirejson.loads(answer) if answer else None
        except ValueError:
            parsed = answer.decode("utf-8", "replace")
        created = next(state.world.jobs_from(), (0, None))
        job = created[1] if created[0] > newest else None
        result: dict[str, Any] = {
            "job": admin.job_to_dict(job, admin.status_word(state, job)) if job else None,
            "request": {"method": call.method, "path": call.path + (
                f"?{call.query}" if call.query else ""), "body": mask_value(call.body),
                "scenario": body.get("scenario") or None},
            "response": {"status": status, "body": parsed,
                         "retry_after": headers.get("retry-after")},
        }
        if job is None:
            result["error"] = (f"the provider refused the create: HTTP {status} (see response; "
                               "the request is in the journal)")
            return admin.json_response(result, 422)
        return admin.json_response(result, 201)

    @admin.guarded
    async def trigger_options(request: Request) -> Response:
        state = request.app.state.mock
        models = {name: sorted((getattr(adapter, "contract", None)
                                or state.contracts.provider(name)).models)
                  for name, adapter in state.adapters.items()}
        return admin.json_response({
            "providers": list(state.adapters), "models": models,
            "scenarios": [s["name"] for s in state.scenarios.registry.to_list()],
        })

    def _key_of(state: Any, fingerprint: str) -> str:
        accounts = state.accounts
        for _, key in accounts.keys_from(0):
            if hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:12] == fingerprint:
                return str(key)
        raise admin.AdminError(404, f"no key with fingerprint {fingerprint[:40]!r} "
                                    "(GET /_mock/accounts lists them)")

    def _account_view(state: Any, key: str) -> dict[str, Any]:
        described = state.accounts.describe(key)
        effective: dict[str, Any] = {}
        admission = state.service.admission
        if admission is not None:
            for provider, account in described["accounts"].items():
                try:  # read only: asking the accounts for the key would create it there
                    overrides = LimitOverrides.from_dict(account.get("limits") or {})
                    policy = admission.limiter.policy(provider, overrides)
                except (ValueError, KeyError, AttributeError):
                    continue
                effective[provider] = {"creates_per_window": policy.creates_per_window,
                                       "window_seconds": policy.window_seconds,
                                       "concurrent": policy.concurrent}
        view = admin.masked_account(described)
        view["webhook_secret_full"] = described["webhook_secret"]
        view["effective_limits"] = effective
        return view

    @admin.guarded
    async def account_by_fingerprint(request: Request) -> Response:
        state = request.app.state.mock
        key = _key_of(state, request.path_params["fingerprint"])
        return admin.json_response(_account_view(state, key))

    @admin.guarded
    async def put_account_by_fingerprint(request: Request) -> Response:
        state = request.app.state.mock
        key = _key_of(state, request.path_params["fingerprint"])
        body = await admin.json_object(request)
        admin.check_tier(state, body)
        try:
            state.accounts.update(key, body)
        except MockError as error:
            raise admin.AdminError(error.status, error.message) from None
        return admin.json_response(_account_view(state, key))

    return [
        Route("/ui", _ui, methods=["GET", "HEAD"]),
        Route("/ui/", _ui, methods=["GET", "HEAD"]),
        Route("/ui/{name:str}", _ui, methods=["GET", "HEAD"]),
        Route("/events", EventStream(), methods=["GET"]),
        Route("/trigger", trigger_options, methods=["GET"]),
        Route("/trigger", trigger, methods=["POST"]),
        Route("/accounts/by-fingerprint/{fingerprint:str}", account_by_fingerprint,
              methods=["GET"]),
        Route("/accounts/by-fingerprint/{fingerprint:str}", put_account_by_fingerprint,
              methods=["PUT"]),
    ]
