"""``mockserver record``: a recording proxy in front of a provider's API.

Point a client at ``http://127.0.0.1:8090`` instead of the provider's base
URL; every request is forwarded to ``--upstream`` (default: the contract's
real ``base_url``) and the exchange is saved, secrets redacted, as
``<output>/<timestamp>-<n>-<endpoint>-<status>.json`` in our fixture format::

    {"provider", "provenance", "recorded_at", "endpoint",
     "request": {"method", "path", "headers", "body"},
     "response": {"status", "headers", "body"}}

``mockserver drift replay fixtures/recordings/<provider>`` checks them later.

Redaction (:mod:`.redact`): credential headers (``Authorization``,
``X-API-Key``, anything named like a key/secret/token/signature), JSON
fields and query parameters with such names, and the literal values of the
key from ``--api-key-env`` and of every credential seen in a request,
wherever they appear (bodies, URLs, echoed error messages). The provenance
tag is ``[LIVE]``: first-hand traffic, not one of the document tags.

Starlette + httpx (this module is not domain code), served by uvicorn.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mockserver.contracts import ContractError, ProviderContract, load_contracts
from mockserver.drift.exchange import match_endpoint, parse_body
from mockserver.drift.redact import Redactor

__all__ = ["build_proxy_app", "recording", "run_record"]

#: Hop-by-hop headers (RFC 9110 7.6.1) and those httpx/uvicorn recompute.
_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "content-encoding",
        "accept-encoding",
    }
)
#: Bodies larger than this are not stored (a recording is for contract checks, not media).
_MAX_STORED_BODY = 1 << 20


def _stored_body(raw: bytes, content_type: str, redactor: Redactor) -> tuple[Any, bool]:
    """(body, is_json) as saved: JSON redacted by name and value, text by value."""
    if len(raw) > _MAX_STORED_BODY:
        return f"<{len(raw)} bytes, not stored>", False
    value, is_json = parse_body(raw, content_type)
    if is_json:
        return redactor.json(value), True
    if isinstance(value, str) and "\ufffd" not in value:
        return redactor.text(value), False
    return f"<{len(raw)} bytes of {content_type or 'binary'}>", False


def recording(
    contract: ProviderContract,
    upstream: str,
    request: dict[str, Any],
    response: dict[str, Any],
    redactor: Redactor,
    when: datetime,
) -> dict[str, Any]:
    """One exchange in fixture format, every part redacted.

    ``request``/``response`` hold raw parts: method, path (with query),
    headers (dict), body (bytes); status for the response.
    """
    # Learn the request's credentials first, so their literal values are
    # masked wherever the provider echoes them.
    request_body, request_json = parse_body(
        request["body"], request["headers"].get("content-type", "")
    )
    redactor.collect(request["headers"], request_body if request_json else None)
    path_only = request["path"].split("?", 1)[0]
    matched = match_endpoint(contract, request["method"], path_only)
    body, is_json = _stored_body(
        response["body"], response["headers"].get("content-type", ""), redactor
    )
    saved_request: dict[str, Any] = {
        "method": request["method"],
        "path": redactor.url(request["path"]),
        "headers": redactor.headers(request["headers"]),
    }
    if request["body"]:
        saved_request["body"], _ = _stored_body(
            request["body"], request["headers"].get("content-type", ""), redactor
        )
    saved_response: dict[str, Any] = {
        "status": response["status"],
        "headers": redactor.headers(response["headers"]),
        "body": body,
    }
    if not is_json:
        saved_response["body_is_json"] = False
    data = {
        "provider": contract.name,
        "provenance": f"[LIVE] recorded by mockserver record from {redactor.url(upstream)}",
        "recorded_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "endpoint": matched[0] if matched else None,
        "request": saved_request,
        "response": saved_response,
    }
    # Belt and braces: one more pass over the whole document as text.
    cleaned: dict[str, Any] = json.loads(redactor.text(json.dumps(data, ensure_ascii=False)))
    return cleaned


def build_proxy_app(
    contract: ProviderContract,
    upstream: str,
    output: Path,
    redactor: Redactor,
    *,
    timeout: float = 120.0,
    on_saved: Callable[[Path], None] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Starlette:
    """The proxy: forwards every request to ``upstream`` and saves the exchange."""
    base = upstream.rstrip("/")
    counter = itertools.count(1)
    lock = threading.Lock()
    state: dict[str, httpx.AsyncClient] = {}

    async def proxy(request: Request) -> Response:
        client = state.get("client")
        if client is None:
            client = state["client"] = httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        raw = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items() if k.lower() not in _HOP}
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        try:
            upstream_response = await client.request(
                request.method, base + target, headers=headers, content=raw
            )
        except httpx.HTTPError as error:
            message = redactor.text(f"upstream unreachable: {type(error).__name__}")
            return Response(json.dumps({"error": message}), 502, media_type="application/json")
        body = upstream_response.content
        response_headers = {
            k.lower(): v for k, v in upstream_response.headers.items() if k.lower() not in _HOP
        }
        when = clock()
        data = recording(
            contract,
            upstream,
            {"method": request.method, "path": target, "headers": headers, "body": raw},
            {"status": upstream_response.status_code, "headers": response_headers, "body": body},
            redactor,
            when,
        )
        with lock:
            number = next(counter)
        name = (
            f"{when.strftime('%Y%m%dT%H%M%S')}-{number:04d}-"
            f"{data['endpoint'] or 'unmatched'}-{upstream_response.status_code}.json"
        )
        output.mkdir(parents=True, exist_ok=True)
        path = output / name
        path.write_text(
            json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        if on_saved is not None:
            on_saved(path)
        return Response(body, upstream_response.status_code, headers=response_headers)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            client = state.pop("client", None)
            if client is not None:
                await client.aclose()

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    return Starlette(routes=[Route("/{path:path}", proxy, methods=methods)], lifespan=lifespan)


def run_record(arguments: argparse.Namespace, root: Path, stdout: TextIO, stderr: TextIO) -> int:
    """Entry point of ``mockserver record``: serve the proxy until interrupted (or N exchanges)."""
    import uvicorn

    try:
        contract = load_contracts(root).provider(arguments.provider)
    except ContractError as error:
        stderr.write(f"mockserver record: error: {error}\n")
        return 2
    redactor = Redactor()
    if arguments.api_key_env:
        redactor.add(os.environ.get(arguments.api_key_env))
    upstream = arguments.upstream or contract.spec.base_url
    output = Path(arguments.output or Path("fixtures") / "recordings" / contract.name)
    server: uvicorn.Server | None = None
    saved = itertools.count(1)

    def on_saved(path: Path) -> None:
        count = next(saved)
        stdout.write(f"saved {path}\n")
        stdout.flush()
        if arguments.max_exchanges and count >= arguments.max_exchanges and server is not None:
            server.should_exit = True

    app = build_proxy_app(contract, upstream, output, redactor, on_saved=on_saved)
    config = uvicorn.Config(
        app, host=arguments.host, port=arguments.port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    stdout.write(
        f"recording {contract.name}: http://{arguments.host}:{arguments.port} -> "
        f"{redactor.url(upstream)}; saving to {output} (Ctrl-C to stop)\n"
    )
    stdout.flush()
    try:
        server.run()
    except OSError as error:
        stderr.write(f"mockserver record: error: {error}\n")
        return 2
    return 0
