"""Small ASGI helpers: bounded body reads, raw responses, addressing.

The provider routes work on raw ASGI rather than Starlette requests because
they must stop reading a body at the contract's size limit (a Starlette
``Request.body()`` reads everything first) and must answer every failure in
the provider's own envelope.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import Receive, Scope, Send

from mockserver import wirejson

__all__ = [
    "BodyTooLarge",
    "ClientGone",
    "host_without_port",
    "origin",
    "query_params",
    "read_body",
    "request_headers",
    "send_response",
    "wire_body",
]


class BodyTooLarge(Exception):
    """The request body is over the limit (it was not read to the end)."""

    def __init__(self, limit: int, declared: int | None) -> None:
        super().__init__(f"body over {limit} bytes")
        self.limit = limit
        self.declared = declared


class ClientGone(Exception):
    """The client disconnected before sending its whole body."""


#: Scope key under which :func:`request_headers` keeps its result: the routes
#: each look at the Host header to match, then the handler reads them all.
_HEADERS_KEY = "mockserver.headers"


def request_headers(scope: Scope) -> dict[str, str]:
    """Headers with lower-case names; repeated headers joined as HTTP allows.

    Computed once per request (kept in the scope); callers must not mutate it.
    """
    cached: dict[str, str] | None = scope.get(_HEADERS_KEY)
    if cached is not None and scope.get("headers") is scope.get(_HEADERS_KEY + ".raw"):
        return cached
    headers = _parse_headers(scope)
    scope[_HEADERS_KEY] = headers
    scope[_HEADERS_KEY + ".raw"] = scope.get("headers")
    return headers


def _parse_headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if name in headers:
            headers[name] += ("; " if name == "cookie" else ", ") + value
        else:
            headers[name] = value
    return headers


def query_params(scope: Scope) -> dict[str, str]:
    """Query parameters; when one repeats, the last value wins."""
    raw = scope.get("query_string", b"").decode("latin-1")
    if "%" in raw or "+" in raw:
        return dict(parse_qsl(raw, keep_blank_values=True))
    # Nothing to unquote (``?taskId=...``): parse_qsl's result, without its cost.
    params: dict[str, str] = {}
    for part in raw.split("&"):
        if part:
            name, _, value = part.partition("=")
            params[name] = value
    return params


def host_without_port(host: str) -> str:
    """``api.x.ai:443`` -> ``api.x.ai``; ``[::1]:8080`` -> ``[::1]``; lower-case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


def origin(scope: Scope, headers: Mapping[str, str]) -> str:
    """``scheme://host[:port]`` as the client addressed the server, plus any root path."""
    scheme = scope.get("scheme", "http")
    host = headers.get("host")
    if not host:
        server = scope.get("server")
        if server:
            name, port = server[0], server[1]
            default = {"http": 80, "https": 443}.get(scheme)
            host = name if port in (None, default) else f"{name}:{port}"
        else:
            host = "localhost"
    return f"{scheme}://{host}{scope.get('root_path', '')}"


async def read_body(receive: Receive, headers: Mapping[str, str], limit: int) -> bytes:
    """The request body, read in chunks and abandoned as soon as it passes ``limit``.

    A declared ``Content-Length`` over the limit is refused before reading a byte.
    """
    declared: int | None = None
    try:
        declared = int(headers["content-length"])
    except (KeyError, ValueError):
        declared = None
    if declared is not None and declared > limit:
        raise BodyTooLarge(limit, declared)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(limit, declared)
            chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


@dataclass(slots=True)
class Encoded:
    """A response body as bytes with its media type (read only; not frozen, as
    a frozen dataclass costs every response its ``object.__setattr__`` calls)."""

    body: bytes
    media_type: str


def wire_body(body: Any, raw: bytes | None, media_type: str) -> Encoded:
    """Bytes for a WireResponse-like body: ``raw`` as is, else compact JSON (none for None)."""
    if raw is not None:
        return Encoded(raw, media_type)
    if body is None:
        return Encoded(b"", media_type)
    return Encoded(wirejson.dumps(body, lenient=True), media_type)


async def send_response(
    send: Send,
    status: int,
    body: bytes,
    headers: Iterable[tuple[str, str]],
    *,
    media_type: str | None = None,
    head: bool = False,
    content_length: int | None = None,
) -> None:
    """Send a complete response; for HEAD the headers only (with the GET length)."""
    names = set()
    raw_headers: list[tuple[bytes, bytes]] = []
    for name, value in headers:
        names.add(name.lower())
        raw_headers.append((name.lower().encode("latin-1"), str(value).encode("latin-1")))
    if "content-length" not in names:
        length = len(body) if content_length is None else content_length
        raw_headers.append((b"content-length", str(length).encode()))
    if media_type and "content-type" not in names:
        value = media_type
        if media_type.startswith("text/") and "charset" not in media_type:
            value += "; charset=utf-8"
        raw_headers.append((b"content-type", value.encode("latin-1")))
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": b"" if head else body})
