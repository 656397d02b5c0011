"""The admin API's own OpenAPI 3.1 document (served at ``GET /_mock/openapi.json``).

The document is data: ``admin_openapi.yaml`` beside this module (shipped in
the wheel), written by hand next to :mod:`mockserver.http.admin` and parsed
once. Code fills in only what is computed: the ``servers`` URL. A test
checks that every admin route appears in it and that it is valid OpenAPI 3.1.
"""

from __future__ import annotations

import copy
import functools
from importlib import resources
from typing import Any

import yaml

__all__ = ["ADMIN_OPENAPI_FILE", "DEFAULT_SERVER_URL", "build_admin_openapi"]

#: The document's file inside this package.
ADMIN_OPENAPI_FILE = "admin_openapi.yaml"
#: ``servers[0].url`` when no server URL is given (``mockserver serve``'s default).
DEFAULT_SERVER_URL = "http://127.0.0.1:8080"

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def _document() -> dict[str, Any]:
    """The parsed file, read once per process (never handed out: callers get copies)."""
    text = resources.files(__package__).joinpath(ADMIN_OPENAPI_FILE).read_text(encoding="utf-8")
    document: dict[str, Any] = yaml.load(text, Loader=_LOADER)
    return document


def build_admin_openapi(server_url: str | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``/_mock/`` (a fresh dict on every call)."""
    document = copy.deepcopy(_document())
    document["servers"] = [{"url": server_url or DEFAULT_SERVER_URL}]
    return document
