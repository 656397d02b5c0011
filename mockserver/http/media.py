"""``/_mock/media/{name}.mp4``: a small real video, so client download code runs offline.

Every output URL the adapters render points here; whatever the name, the
same file is served: ``mockserver/assets/sample.mp4``, a 2 s 160x90 H.264
clip (baseline profile, moov before mdat) that players and ffprobe accept.
It was made once with ffmpeg and committed; nothing needs ffmpeg at run time.

Output URLs carry their expiry like a provider's signed CDN link
(``?expires=<unix seconds on the mock clock>``, see
``AdapterBase.output_url``): after it, or with an ``expires`` that is not a
number, the answer is the provider storage's refusal from the provider
contract's ``media.expired`` (403 with an S3-style XML body), so a client that
stored the URL instead of the file fails as it would in production. A URL
without ``expires`` (the admin route's) never expires.

Players probe with ``HEAD`` and fetch with ``Range``; both are supported
(one range per request; several ranges get the whole file, which RFC 9110
allows; an unsatisfiable range gets 416 with ``Content-Range: bytes */N``).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import time
from importlib import resources
from typing import Any, Literal
from urllib.parse import parse_qs

from starlette.types import Receive, Scope, Send

from mockserver.http.asgi import request_headers, send_response
from mockserver.http.state import MockState

__all__ = ["MEDIA_TYPE", "parse_range", "sample_video", "serve"]

logger = logging.getLogger("mockserver")

MEDIA_TYPE = "video/mp4"
#: ``/_mock/media/[<dir>/...]<name>.mp4``: up to three folders, so each
#: provider's output URL keeps its storage's path shape (``media.output_url_pattern``).
_NAME = re.compile(
    r"^/_mock/media/(?P<dirs>(?:[A-Za-z0-9][A-Za-z0-9._-]{0,100}/){0,3})"
    r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]{0,200})\.mp4$"
)
#: The refusal when a contract says nothing: what S3 and CloudFront answer to an
#: expired signed URL.
_EXPIRED = {
    "status": 403,
    "content_type": "application/xml",
    "body": '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
            "<Message>Request has expired</Message></Error>",
}
_RANGE = re.compile(r"^bytes=(?P<start>\d*)-(?P<end>\d*)$")


@functools.cache
def sample_video() -> bytes:
    """The bytes of the bundled MP4 (read once)."""
    return (resources.files("mockserver") / "assets" / "sample.mp4").read_bytes()


@functools.cache
def _etag() -> str:
    return '"' + hashlib.sha256(sample_video()).hexdigest()[:16] + '"'


def parse_range(header: str | None, size: int) -> tuple[int, int] | Literal[False] | None:
    """The inclusive byte range a ``Range`` header asks for.

    Returns ``(first, last)`` for one satisfiable range, None to send the whole
    file (no header, a malformed one, or several ranges), and False when the
    range cannot be satisfied (416).
    """
    if not header:
        return None
    found = _RANGE.match(header.strip().replace(" ", ""))
    if found is None:
        return None  # several ranges or another unit: ignoring Range is allowed
    start, end = found.group("start"), found.group("end")
    if not start and not end:
        return None
    if not start:  # suffix: the last N bytes
        length = int(end)
        if length == 0:
            return False
        return max(0, size - length), size - 1
    first = int(start)
    last = min(int(end), size - 1) if end else size - 1
    if first >= size or (end and int(end) < first):
        return False
    return first, last


async def serve(
    scope: Scope,
    receive: Receive,
    send: Send,
    path: str,
    *,
    state: MockState,
    provider: str | None = None,
) -> None:
    """Answer a media request (GET or HEAD) on raw ASGI, and journal it."""
    started = time.perf_counter()
    method = scope["method"].upper()
    headers = request_headers(scope)
    data = sample_video()
    size = len(data)
    common = [("accept-ranges", "bytes"), ("etag", _etag()), ("cache-control", "no-cache")]
    found = _NAME.match(path)
    status: int
    expired = None if found is None else _expired(
        scope, state, [*found.group("dirs").split("/"), found.group("name")], provider)
    if expired is not None:
        status = int(expired.get("status", 403))
        await send_response(send, status, str(expired.get("body", "")).encode(), [],
                            media_type=str(expired.get("content_type", "application/xml")),
                            head=method == "HEAD")
    elif found is None:
        status = 404
        await send_response(
            send, status,
            b'{"error":"no such media file; names are /_mock/media/[<folder>/]<name>.mp4"}',
            [], media_type="application/json",
        )
    elif method not in ("GET", "HEAD"):
        status = 405
        await send_response(
            send, status, b'{"error":"media files answer GET and HEAD only"}',
            [("allow", "GET, HEAD")], media_type="application/json",
        )
    else:
        wanted = parse_range(headers.get("range"), size)
        if headers.get("if-range") not in (None, _etag()):
            wanted = None  # the client holds another version: send it whole
        head = method == "HEAD"
        if wanted is False:
            status = 416
            await send_response(
                send, status, b"", [*common, ("content-range", f"bytes */{size}")],
                media_type=MEDIA_TYPE, head=head,
            )
        elif wanted is None:
            status = 200
            await send_response(send, status, data, common, media_type=MEDIA_TYPE, head=head)
        else:
            first, last = wanted
            status = 206
            await send_response(
                send, status, data[first:last + 1],
                [*common, ("content-range", f"bytes {first}-{last}/{size}")],
                media_type=MEDIA_TYPE, head=head,
            )
    duration_ms = (time.perf_counter() - started) * 1000
    state.journal.record(
        state.clock.now(), method, scope["path"], provider, "media", {}, headers, b"", status,
        None, duration_ms,
    )
    logger.info("media %s %s -> %d (%.1f ms)", method, scope["path"], status, duration_ms)


def _expired(
    scope: Scope, state: MockState, names: list[str], provider: str | None
) -> dict[str, Any] | None:
    """The refusal for an output URL past its ``expires`` (or with a bad one), else None."""
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("expires")
    if not values:
        return None
    try:
        expires = float(values[-1])
    except ValueError:
        expires = float("-inf")  # a tampered URL is refused like an expired one
    if state.clock.now() <= expires:
        return None
    # The job id is one of the path's names (WaveSpeed: predictions/<id>/1.mp4).
    jobs = [job for job in map(state.world.get, filter(None, names)) if job is not None]
    owner = jobs[0].provider if jobs else provider
    adapter = state.adapters.get(owner) if owner else None
    answer = adapter.contract.spec.media.expired if adapter else None
    return dict(answer) if answer is not None else dict(_EXPIRED)
