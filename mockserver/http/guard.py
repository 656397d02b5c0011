"""Admin API protection, the way local development servers protect themselves.

A web page the developer visits must not be able to reset the mock or move
its clock, and a server bound beyond loopback must not be steered by anyone
who can reach it. Like Vite's ``server.allowedHosts`` / webpack-dev-server's
``allowedHosts`` (DNS rebinding) and Jupyter's token and Origin checks,
every ``/_mock/`` request passes, in order:

1. **Host** (DNS rebinding; skipped, as Jupyter does, when the server is
   bound beyond loopback with a token): the ``Host`` header must be an IP literal,
   ``localhost`` or ``*.localhost``, a name under a reserved test TLD
   (``.test``, ``.example``, ``.invalid``), Starlette's ``testserver``, a
   provider's real host, the bound host, or one listed in
   ``[security] allowed_hosts``. A rebinding attack needs a domain name the
   attacker controls, which none of these is. Else 403.
2. **Cross-site browser requests**: ``Sec-Fetch-Site: cross-site``, an
   ``Origin`` that is not the request's own host (or a listed one), and an
   ``Origin: null`` are refused (403); a state-changing request whose content
   type a plain HTML form can send without a CORS preflight (``text/plain``,
   form types) is refused (415): the admin API takes JSON.
3. **Token**: when one is configured (``--admin-token``,
   ``$MOCKSERVER_ADMIN_TOKEN``, ``[security] admin_token``; ``serve``
   requires one off loopback), ``Authorization: Bearer <token>`` or
   ``X-Mock-Admin-Token: <token>``; else 401.

The console's static files (``GET /_mock/ui...``) need no token (they hold
no data, and a browser cannot send a header when it opens a page; the page
asks for the token and sends it with its own requests), and a link from
another site may open them as a top-level page (``Sec-Fetch-Dest:
document``); in a frame they are refused here and by their own
``frame-ancestors 'none'``, and every request the page makes passes every check.

Capability URLs are not admin and pass untouched: the media files and the
uploaded files (``GET/HEAD /_mock/media/...``, ``/_mock/uploads/{token}...``)
are what clients download from anywhere, and the upload token is the secret.
The provider routes are never behind this guard.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from mockserver.http.asgi import host_without_port, request_headers, send_response

__all__ = ["TOKEN_HEADER", "AdminGuard", "GuardSettings", "is_known_host", "is_loopback_bind"]

#: The header a token may come in besides ``Authorization: Bearer``.
TOKEN_HEADER = "x-mock-admin-token"
#: TLDs that can never resolve on the public internet (RFC 2606 / 6761).
_RESERVED_SUFFIXES = (".localhost", ".test", ".example", ".invalid")
#: Names a DNS rebinding attacker cannot own (``testserver``: Starlette's TestClient).
_SAFE_NAMES = frozenset({"localhost", "testserver"})
#: Content types a browser form (or a no-cors fetch) sends without a preflight.
_SIMPLE_TYPES = frozenset(
    {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"}
)
_STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class GuardSettings:
    """What the guard accepts (built by create_app from the config)."""

    #: Host names (lower-case, no port) accepted besides the built-in safe ones.
    hosts: frozenset[str] = frozenset()
    #: The admin token; None: not required.
    token: str | None = None
    #: Whether Host is checked. Like Jupyter: a server bound beyond loopback with
    #: a token is reached by names nobody can list in advance, and the token is
    #: what a rebinding page lacks.
    check_host: bool = True

    @classmethod
    def of(cls, hosts: Iterable[str], token: str | None, bind: str = "127.0.0.1") -> GuardSettings:
        token = token or None
        return cls(frozenset(host_without_port(h) for h in hosts if h), token,
                   check_host=token is None or is_loopback_bind(bind))


def is_loopback_bind(host: str) -> bool:
    """Whether binding ``host`` listens on loopback only (``localhost``, 127.0.0.0/8, ::1)."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: whatever it resolves to, treat it as reachable


def is_known_host(host: str, extra: frozenset[str]) -> bool:
    """Whether ``host`` (lower-case, no port) cannot be a rebinding attacker's name."""
    if not host or host in _SAFE_NAMES or host in extra or host.endswith(_RESERVED_SUFFIXES):
        return True
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _capability(method: str, path: str) -> bool:
    """Media and uploaded-file URLs: handed to clients, protected by their unguessable names."""
    if path.startswith("/_mock/media/"):
        return method in ("GET", "HEAD")
    if path.startswith("/_mock/uploads/"):
        rest = path[len("/_mock/uploads/"):]
        if "/" in rest:
            return method in ("GET", "HEAD")  # /{token}/{filename}: the download
        return method == "PUT"  # /{token}: where the client puts the bytes
    return False


def _console_file(method: str, path: str) -> bool:
    """The console's page, script and style: no data in them, so no token is asked for
    (the page asks for it and sends it with its own requests); every other check applies."""
    return method in ("GET", "HEAD") and (path == "/_mock/ui" or path.startswith("/_mock/ui/"))


class AdminGuard:
    """Wraps the ``/_mock`` app; answers refused requests with ``{"error": ...}``."""

    def __init__(self, app: ASGIApp, settings: GuardSettings) -> None:
        self.app = app
        self.settings = settings

    @property
    def routes(self) -> object:
        """The wrapped router's routes (Starlette's Mount lists them)."""
        return getattr(self.app, "routes", [])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self.refusal(scope)
            if refusal is not None:
                status, message, extra = refusal
                body = json.dumps({"error": message}).encode()
                await send_response(send, status, body, extra, media_type="application/json")
                return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> tuple[int, str, list[tuple[str, str]]] | None:
        """``(status, message, headers)`` when the request is refused, else None."""
        method: str = scope["method"].upper()
        path = scope.get("root_path", "") + scope["path"]
        if _capability(method, path) or _capability(method, scope["path"]):
            return None
        headers = request_headers(scope)
        raw_host = headers.get("host", "")
        host = host_without_port(raw_host)
        if self.settings.check_host and not is_known_host(host, self.settings.hosts):
            return (403, f"Host {host!r} is not allowed on the admin API (DNS rebinding "
                         "protection); use localhost or an IP address, or list the name in "
                         "[security] allowed_hosts", [])
        console_file = _console_file(method, path) or _console_file(method, scope["path"])
        if headers.get("sec-fetch-site", "").lower() == "cross-site" and not (
                console_file and headers.get("sec-fetch-dest", "document") == "document"):
            return 403, "cross-site browser requests to the admin API are refused", []
        origin = headers.get("origin")
        if origin is not None and not self._same_origin(origin, raw_host):
            return (403, f"Origin {origin!r} is not this mock's own origin; cross-origin "
                         "requests to the admin API are refused (list the host in "
                         "[security] allowed_hosts to allow it)", [])
        if method in _STATE_CHANGING:
            media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if media_type in _SIMPLE_TYPES:
                return (415, f"the admin API takes application/json, not {media_type} "
                             "(a type any web page can send cross-site)", [])
        token = self.settings.token
        if token is not None and not self._token_matches(headers, token) and not console_file:
            return (401, "the admin API needs the admin token: 'Authorization: Bearer "
                         "<token>' or 'X-Mock-Admin-Token: <token>'",
                    [("www-authenticate", 'Bearer realm="genmock-admin"')])
        return None

    def _same_origin(self, origin: str, raw_host: str) -> bool:
        """Whether ``Origin`` names this server as the request addressed it (or a listed host)."""
        try:
            parts = urlsplit(origin)
            origin_host = (parts.hostname or "").lower()
            default = {"http": 80, "https": 443}.get(parts.scheme.lower())
            origin_port = parts.port or default
            host = urlsplit(f"//{raw_host.strip().lower()}")
            host_port = host.port or default
        except ValueError:
            return False
        if not origin_host:  # "null": sandboxed frames, file:// pages
            return False
        if origin_host in self.settings.hosts:
            return True
        return origin_host == (host.hostname or "") and origin_port == host_port

    @staticmethod
    def _token_matches(headers: dict[str, str], token: str) -> bool:
        given = headers.get(TOKEN_HEADER)
        if given is None:
            scheme, _, value = headers.get("authorization", "").partition(" ")
            given = value.strip() if scheme.lower() == "bearer" else None
        return given is not None and hmac.compare_digest(given.encode(), token.encode())
