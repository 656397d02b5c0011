"""Provider routes: one Starlette route per provider and way of addressing it.

A provider is reached either under its path prefix (``/eachlabs/...``) or,
without a prefix, by its real host in the ``Host`` header
(``api.eachlabs.ai``), which is how respx and ``curl --resolve`` address it.
:class:`ProviderRoute` matches either, then does everything itself on raw
ASGI: reads the body up to the contract's limit, finds the adapter's route
(404 / 405 in the provider's envelope when there is none), calls the
handler, renders errors through the one error path, validates the body
against the contract when asked, journals and logs the request.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.routing import BaseRoute, Match, compile_path
from starlette.types import Receive, Scope, Send

from mockserver.domain.errors import MockError
from mockserver.faults.effects import Scenario
from mockserver.faults.selection import forced_error, plan_overrides, select_scenario
from mockserver.http import media
from mockserver.http.asgi import (
    BodyTooLarge,
    ClientGone,
    host_without_port,
    origin,
    query_params,
    read_body,
    request_headers,
    send_response,
    wire_body,
)
from mockserver.http.errors import render_error, render_unexpected, store_unavailable
from mockserver.http.guard import is_known_host
from mockserver.http.scenarios import ConnectionDropped, corrupt
from mockserver.http.state import ContractViolation, MockState, UnhandledError
from mockserver.providers.base import ProviderAdapter, Route, WireRequest, WireResponse
from mockserver.store.interface import StoreUnavailable

__all__ = ["DEFAULT_MAX_BODY_BYTES", "CompiledRoute", "ProviderRoute", "max_body_bytes"]

logger = logging.getLogger("mockserver")

#: Body limit when a contract gives none.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
#: Scope key of the request's Host without its port (see ProviderRoute.matches).
_HOST_KEY = "mockserver.host"
#: Distinct origins whose base URLs are kept (see ProviderRoute._bases).
_BASE_CACHE_SIZE = 256
#: Endpoints whose body is a file: limited by ``limits.max_upload_bytes``.
_UPLOADS = frozenset({"upload"})
#: Methods that never carry a body we need to read.
_BODILESS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


def request_host(scope: Scope) -> str:
    """The Host header without its port, lower-case; computed once per request.

    Every host route asks before the prefix routes do; the result is kept in
    the scope with the header list it came from, as request_headers does.
    """
    cached = scope.get(_HOST_KEY)
    if cached is not None and cached[0] is scope.get("headers"):
        return str(cached[1])
    host = host_without_port(request_headers(scope).get("host", ""))
    scope[_HOST_KEY] = (scope.get("headers"), host)
    return host


def max_body_bytes(adapter: ProviderAdapter, name: str = "max_body_bytes") -> int:
    """The contract's ``limits.max_body_bytes`` (or another limit ``name``), else 1 MiB."""
    value = adapter.contract.spec.limits.get(name)
    return DEFAULT_MAX_BODY_BYTES if value is None else value


@dataclass(frozen=True, slots=True)
class CompiledRoute:
    """An adapter route with its path compiled once."""

    route: Route
    regex: re.Pattern[str]

    @classmethod
    def of(cls, route: Route) -> CompiledRoute:
        regex, _, _ = compile_path(route.path)
        return cls(route, regex)


class ProviderRoute(BaseRoute):
    """Serves one provider, under ``/<prefix>`` or (``prefix=None``) for its real hosts."""

    def __init__(
        self,
        state: MockState,
        adapter: ProviderAdapter,
        *,
        prefix: str | None,
        hosts: frozenset[str] = frozenset(),
    ) -> None:
        self.state = state
        self.adapter = adapter
        self.prefix = prefix
        self.hosts = hosts
        self.limit = max_body_bytes(adapter)
        self.upload_limit = max_body_bytes(adapter, "max_upload_bytes")
        self.routes = [CompiledRoute.of(r) for r in adapter.routes()]
        self._base_cache: dict[tuple[Any, ...], tuple[str, str]] = {}

    # --- Starlette routing protocol ------------------------------------------
    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        path: str = scope["path"]
        if self.prefix is None:
            if request_host(scope) in self.hosts:
                return Match.FULL, {"mock_provider_root": ""}
            return Match.NONE, {}
        if path == self.prefix or path.startswith(self.prefix + "/"):
            return Match.FULL, {"mock_provider_root": self.prefix}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        from starlette.routing import NoMatchFound

        raise NoMatchFound(name, path_params)

    # --- one request ----------------------------------------------------------
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        state, adapter = self.state, self.adapter
        started = time.perf_counter()
        store_clock = state.store_clock
        at: float | None = None
        if store_clock is None:
            at = state.clock.now()
        else:
            # A shared store's time costs a round trip: the request's first store
            # reply pins it, and the journal takes it from there (see below).
            store_clock.begin_request()
        method: str = scope["method"].upper()
        full_path: str = scope["path"]
        root: str = scope.get("mock_provider_root", "")
        path = full_path[len(root):] or "/"
        headers = request_headers(scope)
        if path.startswith("/_mock/media/"):
            # Output URLs rendered as {base_url}/_mock/media/... work under a prefix too.
            await media.serve(scope, receive, send, path, state=state, provider=adapter.name)
            return
        base_url, media_base_url = self._bases(scope, headers, root)
        query = query_params(scope) if scope.get("query_string") else {}
        state.sender.ensure_started()
        endpoint: str | None = None
        scenario: Scenario | None = None
        job_id: str | None = None
        service = state.service
        body = b""
        params: dict[str, str] = {}
        request: WireRequest | None = None
        try:
            route, params, allowed = self._match(method, path)
            if method not in _BODILESS or "content-length" in headers or (
                "transfer-encoding" in headers
            ):
                limit = self.upload_limit if route is not None and route.name in _UPLOADS else (
                    self.limit)
                body = await read_body(receive, headers, limit)
            state.tick_for_request()
            # Built once, complete: an error below is rendered against it.
            request = WireRequest(method, path, params, query, headers, body, base_url,
                                  media_base_url)
            if route is None:
                if allowed:
                    raise MockError(
                        405,
                        f"method {method} is not allowed on {path}",
                        rule="method",
                        details=f"allowed: {', '.join(allowed)}",
                        headers={"Allow": ", ".join(allowed)},
                    )
                raise MockError(404, f"no endpoint at {method} {path}", rule="route")
            endpoint = route.name
            scenario = select_scenario(adapter.contract, state.scenarios, request, endpoint)
            forced = forced_error(scenario, adapter.contract) if scenario else None
            if forced is not None:
                # Auth first: a forced code answers only a caller with a valid key
                # (order: auth -> forced code -> validation -> 429 -> 402 -> create).
                adapter.authenticate(request)
                try:
                    raise forced
                finally:
                    # The traceback refers to this frame: a frame still holding
                    # its own exception is a cycle that only a full (slow)
                    # collection frees.
                    del forced
            # The scenario travels to the adapter on the request itself.
            request.scenario_overrides = plan_overrides(scenario)
            chaos = state.chaos.turn(adapter, request, endpoint, scenario)  # None unless chaos
            service.touched = None
            try:
                answer = route.handler(request)
            finally:
                job_id = service.touched  # the job this request created or read (sync handler)
            # A handler that must wait (sync mode, real clock) answers later
            # without holding up the event loop.
            response = answer if isinstance(answer, WireResponse) else await answer
            if not isinstance(response, WireResponse):
                raise TypeError(
                    f"{adapter.name}.{route.name} returned {type(response).__name__}, "
                    "not a WireResponse"
                )
            if chaos is not None:
                response = chaos.mutate(response)
        except ClientGone:
            return  # nobody to answer
        except BodyTooLarge as error:
            request = WireRequest(method, path, params, query, headers, body, base_url,
                                  media_base_url)
            size = f"{error.declared} bytes" if error.declared is not None else "more"
            response = render_error(
                state,
                adapter,
                MockError(
                    413,
                    f"request body too large: {size}, limit {error.limit} bytes",
                    rule="max_body_bytes",
                    details=f"limit {error.limit} bytes",
                ),
                request,
            )
        except StoreUnavailable as error:
            if request is None:
                request = WireRequest(method, path, params, query, headers, body, base_url,
                                      media_base_url)
            response = render_error(state, adapter, store_unavailable(error), request)
        except MockError as error:
            if request is None:
                request = WireRequest(method, path, params, query, headers, body, base_url,
                                      media_base_url)
            response = render_error(state, adapter, error, request)
        except Exception as error:
            if request is None:
                request = WireRequest(method, path, params, query, headers, body, base_url,
                                      media_base_url)
            response = render_unexpected(state, adapter, error, request, full_path)
        state.sender.notice_schedule()
        assert request is not None  # every path above that answers has one
        if at is None:
            assert store_clock is not None
            at = store_clock.last_known()
        await self._respond(send, request, response, endpoint, full_path, started, at, scenario,
                            job_id)

    def _bases(self, scope: Scope, headers: Mapping[str, str], root: str) -> tuple[str, str]:
        """``(base_url, media_base_url)`` of this request, one shared pair per origin.

        Every job keeps the base its creator addressed (for URLs rendered
        later, in webhooks): sharing one string per origin instead of a copy
        per request saves memory per stored job, and the formatting per request.
        """
        public = self.state.config.security.public_url
        if public is not None:
            return public + root, public
        host = headers.get("host")
        if not host:  # rare: addressed by the server's own address
            here = origin(scope, headers)
            return here + root, here
        cache_key = (scope.get("scheme"), host, scope.get("root_path"), root)
        bases = self._base_cache.get(cache_key)
        if bases is None:
            # A foreign Host (``evil.example``) never becomes an output URL:
            # the listening address stands in for it (see http.guard).
            known = is_known_host(request_host(scope), self.state.guard.hosts)
            here = origin(scope, headers if known else {})
            bases = (here + root, here)
            if len(self._base_cache) >= _BASE_CACHE_SIZE:
                self._base_cache.clear()  # many hosts: a bound, not an LRU
            self._base_cache[cache_key] = bases
        return bases

    def _match(
        self, method: str, path: str
    ) -> tuple[Route | None, dict[str, str], list[str]]:
        """The route for ``method path``; else None and the methods the path allows."""
        allowed: list[str] = []
        for compiled in self.routes:
            found = compiled.regex.match(path)
            if found is None:
                continue
            route_method = compiled.route.method.upper()
            if route_method == method or (method == "HEAD" and route_method == "GET"):
                return compiled.route, found.groupdict(), allowed
            # A catch-all (WaveSpeed's POST /api/v3/{model_id:path}) matches any
            # path: only a path naming a real model exists for another method (405).
            exists = compiled.route.exists
            if exists is not None and not exists(found.groupdict()):
                continue
            if route_method not in allowed:
                allowed.append(route_method)
        return None, {}, allowed

    async def _respond(
        self,
        send: Send,
        request: WireRequest,
        response: WireResponse,
        endpoint: str | None,
        full_path: str,
        started: float,
        at: float,
        scenario: Scenario | None = None,
        job_id: str | None = None,
    ) -> None:
        state, adapter = self.state, self.adapter
        if state.validate_responses and response.schema and response.raw is None:
            self._validate(request, response, endpoint, full_path)
        try:
            encoded = wire_body(response.body, response.raw, response.media_type)
        except (TypeError, ValueError) as error:  # a body that is not JSON-able: a bug
            state.record_unhandled(
                UnhandledError.capture(
                    error, "encode", provider=adapter.name, method=request.method, path=full_path
                )
            )
            response = WireResponse(500, {"error": f"{adapter.name}: response not JSON-able"})
            encoded = wire_body(response.body, None, "application/json")
        corrupted = corrupt(scenario, response, encoded.body)
        if corrupted is not response:
            response, encoded = corrupted, wire_body(None, corrupted.raw, response.media_type)
        effect = scenario.response if scenario is not None else None
        if effect is not None and effect.delay_seconds > 0:
            await asyncio.sleep(effect.delay_seconds)  # real seconds: a slow provider
        dropped = effect is not None and (effect.drop_connection or effect.drop_after_headers)
        # drop_connection sends nothing: on ConnectionDropped (below) the server's
        # protocol (OneWriteHttpToolsProtocol; the in-process transport) closes
        # the connection before a status line.
        if effect is not None and effect.drop_after_headers and not effect.drop_connection:
            # Headers promising a body that never comes, then the server closes the
            # connection: the client sees a broken response, as on a real drop.
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status,
                    "headers": [(b"content-length", str(len(encoded.body) + 1).encode())],
                }
            )
        elif not dropped:
            await send_response(
                send,
                response.status,
                encoded.body,
                response.headers.items(),
                media_type=encoded.media_type,
                head=request.method == "HEAD",
            )
        duration_ms = (time.perf_counter() - started) * 1000
        state.journal.record(
            at,
            request.method,
            full_path,
            adapter.name,
            endpoint,
            request.query,
            request.headers,  # masked when read
            request.body,
            response.status,
            encoded.body if response.raw is None else None,
            duration_ms,
            scenario.name if scenario is not None else None,
            dropped,
            keep_body=endpoint not in _UPLOADS,  # the upload store keeps the file
            job_id=job_id,
            started=started,
        )
        if logger.isEnabledFor(logging.INFO):  # the arguments cost a request something
            logger.info(
                "%s %s %s -> %d (%.1f ms)%s%s",
                adapter.name,
                request.method,
                full_path,
                response.status,
                duration_ms,
                f" [{endpoint}]" if endpoint else "",
                f" scenario={scenario.name}" if scenario is not None else "",
                extra={  # structured fields for --log-format json
                    "provider": adapter.name,
                    "method": request.method,
                    "path": full_path,
                    "status": response.status,
                    "duration_ms": round(duration_ms, 3),
                    "endpoint": endpoint,
                    "scenario": scenario.name if scenario is not None else None,
                },
            )
        if dropped:
            raise ConnectionDropped(f"{full_path}: connection dropped by scenario")

    def _validate(
        self,
        request: WireRequest,
        response: WireResponse,
        endpoint: str | None,
        full_path: str,
    ) -> None:
        assert response.schema is not None
        try:
            errors = self.adapter.contract.validate(response.schema, response.body)
        except KeyError as missing:
            errors = [f"no schema at {response.schema!r} in the contract ({missing})"]
        if errors:
            self.state.record_violation(
                ContractViolation(
                    provider=self.adapter.name,
                    endpoint=endpoint,
                    method=request.method,
                    path=full_path,
                    status=response.status,
                    schema=response.schema,
                    errors=tuple(errors),
                    body=response.body,
                )
            )
