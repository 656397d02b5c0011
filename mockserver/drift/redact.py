"""Keep secrets out of reports, alerts and recordings.

Two complementary passes, because either alone leaks:

* by **name**: any header, JSON field or query parameter the mock's one
  redaction rule calls secret (:func:`mockserver.redact.is_secret_name`:
  ``x-api-key``, ``client_secret``, ``token``, ``signature``, ``password``,
  ``cookie``, ``authorization``...) has its (string) value replaced, and URLs
  lose their user info; ``Authorization: Bearer x`` keeps its scheme so a
  reader still sees how auth was sent. Files keep nothing of a secret
  (``[REDACTED]``), where the admin API keeps the last four characters;
* by **value**: every literal secret the run knows (the API key read from
  the environment, webhook secrets seen in requests) is replaced wherever it
  appears: in bodies, URLs, error messages echoed by a provider, anywhere.

Renderers pass their final text through :meth:`Redactor.text` as the last
step, so a secret that slipped into a message string is still caught.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from mockserver.redact import RECORDING_MASK, is_secret_name

__all__ = ["MASK", "Redactor", "is_sensitive"]

MASK = RECORDING_MASK
_BEARER = re.compile(r"\b(Bearer|Basic|Token)\s+[^\s\"',]+", re.IGNORECASE)
#: Shorter literals would mask ordinary words; real keys are far longer.
_MIN_SECRET = 6


def is_sensitive(name: str) -> bool:
    """True when a field or header called ``name`` holds a credential."""
    return is_secret_name(name)


class Redactor:
    """Replaces known secrets and credential-named values."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Remember a literal secret (ignored when empty or too short to be one)."""
        if secret and len(secret) >= _MIN_SECRET and secret not in self._secrets:
            self._secrets.append(secret)
            # Longest first, so a secret containing another is masked whole.
            self._secrets.sort(key=len, reverse=True)

    @property
    def secrets(self) -> tuple[str, ...]:
        """The literal secrets known so far."""
        return tuple(self._secrets)

    def text(self, value: str) -> str:
        """``value`` with every known secret replaced."""
        for secret in self._secrets:
            value = value.replace(secret, MASK)
        return value

    def header(self, name: str, value: str) -> str:
        """One header value: credential headers masked, keeping a Bearer/Basic scheme."""
        if name.lower() == "authorization" or name.lower() == "proxy-authorization":
            scheme, _, rest = value.partition(" ")
            return f"{scheme} {MASK}" if rest else MASK
        if is_sensitive(name):
            return MASK
        return _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", self.text(value))

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """Every header through :meth:`header`."""
        return {name: self.header(name, value) for name, value in headers.items()}

    def url(self, url: str) -> str:
        """A URL (or a path with a query) with credential parameters and known secrets masked."""
        parts = urlsplit(url)
        if "@" in parts.netloc:
            netloc = MASK + "@" + parts.netloc.rsplit("@", 1)[1]
            parts = parts._replace(netloc=netloc)
            url = urlunsplit(parts)
        if parts.query:
            pairs = [
                (k, MASK if is_sensitive(k) else v)
                for k, v in parse_qsl(parts.query, keep_blank_values=True)
            ]
            query = urlencode(pairs, safe="[]/:")
            url = urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
        return self.text(url)

    def json(self, value: Any, name: str = "") -> Any:
        """A JSON value with credential-named string members and known secrets masked."""
        if isinstance(value, Mapping):
            return {str(k): self.json(v, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(v, name) for v in value]
        if isinstance(value, str):
            if name and is_sensitive(name):
                return MASK
            return _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", self.text(value))
        return value

    def collect(self, headers: Mapping[str, str], body: Any) -> None:
        """Learn the secrets a request carries (API key headers, webhook secrets in the body).

        Recording learns them from traffic so the literal values are also
        masked where they are echoed back (a provider quoting the key in an
        error message, a webhook header repeating a secret).
        """
        for name, value in headers.items():
            if name.lower() in ("authorization", "proxy-authorization"):
                self.add(value.partition(" ")[2] or value)
            elif is_sensitive(name):
                self.add(value)
        self._collect_json(body, "")

    def _collect_json(self, value: Any, name: str) -> None:
        if isinstance(value, Mapping):
            for key, sub in value.items():
                self._collect_json(sub, str(key))
        elif isinstance(value, list):
            for sub in value:
                self._collect_json(sub, name)
        elif isinstance(value, str) and name and is_sensitive(name):
            self.add(value)
