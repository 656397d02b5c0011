"""File-URL rules: inputs must be public HTTPS.

The Eachlabs documents say file-typed parameters accept "publicly-reachable
HTTPS URLs only" and that "Data-URIs and localhost URLs are rejected". The
mock applies the rule without DNS: it judges the URL as written, so private,
loopback and link-local IP literals and local host names are refused.
"""

from __future__ import annotations

import functools
import ipaddress
from urllib.parse import urlsplit

_IPV4_CHARS = "0123456789."
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain")


def public_https_problem(url: object) -> str | None:
    """Why ``url`` is not a public HTTPS URL, or None when it is."""
    if not isinstance(url, str):
        return "must be a string URL"
    return _https_url_problem(url)


@functools.lru_cache(maxsize=1024)
def _https_url_problem(url: str) -> str | None:
    # Cached: every create checks its file URLs, and clients reuse a few.
    if url.lower().startswith("data:"):
        return "data: URIs are rejected; upload the file and pass its public https URL"
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as error:
        return f"is not a valid URL ({error})"
    if parts.scheme.lower() != "https":
        return f"must use https (got {parts.scheme or 'no scheme'!r})"
    if not host:
        return "has no host"
    host = host.rstrip(".").lower()
    if host == "localhost" or host.endswith(_LOCAL_SUFFIXES):
        return f"points at a local host ({host}); it must be publicly reachable"
    # Only digits and dots (IPv4) or a colon (IPv6) can be an IP literal: a
    # domain name skips ip_address(), whose ValueError costs more than the rest.
    if ":" not in host and host.strip(_IPV4_CHARS):
        return None if "." in host else f"host {host!r} is not a public domain name"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if "." not in host:
            return f"host {host!r} is not a public domain name"
        return None
    if not address.is_global:
        return f"points at a non-public address ({address}); it must be publicly reachable"
    return None
