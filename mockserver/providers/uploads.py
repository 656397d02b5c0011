"""URLs of uploaded files on the mock: where a client PUTs the bytes, where they are served.

Both live under ``/_mock/uploads/`` on the origin the client addressed (any
host serves ``/_mock``), so they work under a provider prefix and by Host.
"""

from __future__ import annotations

import mimetypes
import re
from urllib.parse import quote

from mockserver.domain.uploads import UPLOADS_PATH, Upload
from mockserver.providers.base import WireRequest

__all__ = ["download_url", "media_type_of", "put_url"]


def put_url(request: WireRequest, upload: Upload) -> str:
    """Where the client PUTs the bytes of an announced upload."""
    return f"{request.media_base_url}{UPLOADS_PATH}/{upload.token}"


def download_url(request: WireRequest, upload: Upload) -> str:
    """Where the upload is served, ending in its file name."""
    name = upload.filename.rsplit("/", 1)[-1]
    if name in ("", ".", ".."):  # a client would resolve these away, and miss the file
        name = "upload"
    name = quote(name, safe="")
    return f"{request.media_base_url}{UPLOADS_PATH}/{upload.token}/{name}"


#: ``type/subtype`` in RFC 6838's restricted-name characters (parameters dropped).
_NAME = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
_MEDIA_TYPE = re.compile(rf"^{_NAME}/{_NAME}$")


def media_type_of(declared: str | None, filename: str) -> str:
    """The media type to serve an upload with: the declared one when it is one.

    Else (absent, or not a ``type/subtype`` a Content-Type header can carry)
    a guess from the file name's extension, else ``application/octet-stream``.
    """
    if declared:
        essence = declared.split(";", 1)[0].strip()
        if _MEDIA_TYPE.match(essence):
            return essence.lower()
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"
