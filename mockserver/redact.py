"""The one redaction rule: which names hold secrets, and how a secret is shown.

Everything that leaves the process goes through it: the request journal,
``/_mock/jobs``, ``/_mock/webhooks``, the INFO log lines, and (with the
recording mask :data:`RECORDING_MASK`) drift reports and recordings.

* A **name** (header, JSON field, query parameter) is secret when one of its
  words is a credential word: ``x-api-key``, ``apiKey``, ``key``,
  ``client_secret``, ``webhook_secret``, ``authorization``, ``password``,
  ``access_token``, ``signature``, ``cookie``... (:func:`is_secret_name`).
  Words, not substrings: ``keyframes`` and ``max_tokens`` stay readable.
* A **URL** keeps its shape but loses credentials: user info becomes ``***@``
  and every secret-named query parameter is masked (:func:`redact_url`).
  String values that look like URLs get this treatment wherever they sit.
* A **value** is shown as ``***`` plus at most its last four characters
  (:func:`mask_secret`), enough to tell two keys apart; an auth scheme word
  (``Bearer``) is kept. Files written to disk (recordings) keep nothing.

Pure: no framework imports, so the domain and the drift tools can use it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

__all__ = [
    "MASK",
    "RECORDING_MASK",
    "SECRET_WORDS",
    "is_secret_name",
    "mask_form",
    "mask_headers",
    "mask_query",
    "mask_secret",
    "mask_value",
    "redact_url",
]

#: What a masked value starts with in the admin API, the journal and logs.
MASK = "***"
#: What a masked value becomes in files written to disk (drift recordings, reports).
RECORDING_MASK = "[REDACTED]"

#: A name holding one of these words (after splitting on ``-``, ``_``, ``.``,
#: spaces and camelCase) is a secret.
SECRET_WORDS = frozenset({
    "key", "apikey", "secret", "token", "signature", "sig", "password", "passwd", "pwd",
    "authorization", "auth", "cookie", "credential", "credentials", "session", "jwt",
})
#: Words that are secrets whole even when glued to another word (``accesstoken``).
_SECRET_SUFFIXES = ("apikey", "token", "secret", "password", "passwd")
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def is_secret_name(name: str) -> bool:
    """True when a header, field or parameter called ``name`` holds a credential."""
    for word in _WORD.findall(name):
        lowered = word.lower()
        if lowered in SECRET_WORDS or lowered.endswith(_SECRET_SUFFIXES):
            return True
    return False


def mask_secret(value: str) -> str:
    """``"***"`` plus at most the last four characters, fewer for short secrets.

    A secret shorter than 16 characters keeps a quarter of its length, so a
    short key is never mostly revealed. An auth scheme word (``Bearer``,
    ``Basic``) is kept in front, since it is not secret and helps debugging.
    """
    scheme, _, rest = value.partition(" ")
    if rest and scheme.isalpha() and len(scheme) <= 10:
        return f"{scheme} {mask_secret(rest.strip())}"
    keep = min(4, len(value) // 4)
    return MASK + (value[-keep:] if keep else "")


def redact_url(url: str) -> str:
    """``url`` without credentials: user info and secret-named query parameters masked.

    Anything that does not parse as a URL is returned unchanged.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        netloc = MASK + "@" + netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(is_secret_name(name) for name, _ in pairs):
            query = "&".join(
                f"{quote(name, safe='[]')}="
                + (MASK if is_secret_name(name) else quote(value, safe="/:,"))
                for name, value in pairs
            )
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _looks_like_url(value: str) -> bool:
    return "://" in value and ("@" in value or "?" in value)


def mask_value(value: Any) -> Any:
    """A JSON value with secret-named fields masked and URLs stripped of credentials."""
    if isinstance(value, dict):
        return {
            key: mask_secret(str(item))
            if isinstance(key, str) and item is not None and is_secret_name(key)
            else mask_value(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [mask_value(item) for item in value]
    if isinstance(value, str) and _looks_like_url(value):
        return redact_url(value)
    return value


def mask_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers (names lower-cased) with secret-named ones masked."""
    return {
        name.lower(): mask_secret(value) if is_secret_name(name) else value
        for name, value in headers.items()
    }


def mask_query(query: Mapping[str, str]) -> dict[str, str]:
    """Query parameters with secret-named ones masked."""
    return {
        name: mask_secret(value) if is_secret_name(name) else value
        for name, value in query.items()
    }


def mask_form(text: str) -> str:
    """A form-encoded body (``a=1&api_key=...``) with secret-named fields masked.

    Text that is not a form (no ``=``, or whitespace a form never has) is
    returned unchanged.
    """
    if "=" not in text or any(char.isspace() for char in text):
        return text
    pairs = parse_qsl(text, keep_blank_values=True)
    if not any(is_secret_name(name) for name, _ in pairs):
        return text
    return "&".join(
        f"{quote(name, safe='[]')}="
        + (mask_secret(value) if is_secret_name(name) else quote(value, safe="/:,"))
        for name, value in pairs
    )
