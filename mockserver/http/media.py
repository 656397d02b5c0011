"""``/_mock/media/{name}.mp4``: a small real video, so client download code runs offline.

Every output URL the adapters render points here; whatever the name, the
same file is served: ``mockserver/assets/sample.mp4``, a 2 s 160x90 H.264
clip (baseline profile, moov before mdat) that players and ffprobe accept.
It was made once with ffmpeg and committed; nothing needs ffmpeg at run time.

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
from typing import Literal

from starlette.types import Receive, Scope, Send

from mockserver.http.asgi import request_headers, send_response
from mockserver.http.state import MockState

__all__ = ["MEDIA_TYPE", "parse_range", "sample_video", "serve"]

logger = logging.getLogger("mockserver")

MEDIA_TYPE = "video/mp4"
_NAME = re.compile(r"^/_mock/media/(?P<name>[A-Za-z0-9][A-Za-z0-9._-]{0,200})\.mp4$")
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
    if found is None:
        status = 404
        await send_response(
            send, status, b'{"error":"no such media file; names are /_mock/media/<id>.mp4"}',
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
