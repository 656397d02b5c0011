"""The ``Prefer`` request header (RFC 7240): ``code=``, ``scenario=``, ``delay=``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from mockserver.faults.effects import (
    MAX_DELAY_SECONDS,
    Scenario,
    ScenarioError,
    combine,
    forced_code,
)
from mockserver.faults.registry import SCENARIOS, ScenarioRegistry

__all__ = ["Preference", "parse_prefer"]


@dataclass(frozen=True)
class Preference:
    """What a ``Prefer`` header asks of the mock.

    ``preferences`` holds every preference as parsed (names lower-cased, the
    first of duplicates kept, as RFC 7240 says); the mock acts on ``code``,
    ``scenario`` and ``delay`` and ignores the rest (``return=minimal``...).
    """

    code: int | None = None
    scenario: Scenario | None = None
    delay_seconds: float | None = None
    preferences: Mapping[str, str | None] = field(default_factory=dict)

    def effective(self) -> Scenario | None:
        """The one scenario to apply: the named one, the forced code, the delay."""
        result = combine(self.scenario, None if self.code is None else forced_code(self.code))
        if self.delay_seconds is not None:
            base = result or Scenario(name="delay", description="the response is delayed")
            result = base.with_delay(self.delay_seconds)
        return result


def _split(text: str, separator: str) -> list[str]:
    """Split on ``separator`` outside quoted strings (escapes honoured)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif quoted and char == "\\":
            current.append(char)
            escaped = True
        elif char == '"':
            current.append(char)
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if quoted:
        raise ScenarioError("Prefer header has an unterminated quoted string", field="Prefer")
    parts.append("".join(current))
    return parts


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
#: An unquoted value: a token, leniently also with ":" (RFC 7240 token chars
#: exclude it, but ``scenario=job_failed:timeout`` is what people write).
_LENIENT_VALUE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z:-]+")


def _word(raw: str) -> str:
    """A token or a quoted-string, unquoted; an unquoted value may contain ":"."""
    raw = raw.strip()
    if raw.startswith('"'):
        if len(raw) < 2 or not raw.endswith('"'):
            raise ScenarioError(f"bad quoted value {raw!r} in Prefer", field="Prefer")
        return re.sub(r"\\(.)", r"\1", raw[1:-1])
    if not _LENIENT_VALUE.fullmatch(raw):
        raise ScenarioError(f"bad value {raw!r} in Prefer", field="Prefer")
    return raw


def parse_prefer(header_value: str | None, registry: ScenarioRegistry = SCENARIOS) -> Preference:
    """Parse a ``Prefer`` header (several headers: join them with ``", "``).

    Grammar (RFC 7240): ``preference *( "," preference )``, each
    ``token [ "=" word ] *( ";" parameter )``, ``word`` a token or a quoted
    string. Leniently, an unquoted word may contain ``:`` so
    ``scenario=job_failed:timeout`` works without quotes. Parameters are
    accepted and ignored. Raises
    :class:`ScenarioError` (answer 400) for syntax errors, a ``code`` that
    is not an allowed error code, an unknown ``scenario`` or a bad ``delay``.
    """
    if header_value is None or not header_value.strip():
        return Preference()
    found: dict[str, str | None] = {}
    for item in _split(header_value, ","):
        if not item.strip():
            continue  # "a, , b" is legal list syntax (RFC 9110 #rule)
        head = _split(item, ";")[0]
        name, equals, value = head.partition("=")
        name = name.strip()
        if not _TOKEN.fullmatch(name):
            raise ScenarioError(f"bad preference {item.strip()!r} in Prefer", field="Prefer")
        key = name.lower()
        parsed = _word(value) if equals else None
        found.setdefault(key, parsed)  # RFC 7240: only the first instance counts
    code: int | None = None
    scenario: Scenario | None = None
    delay: float | None = None
    if "code" in found:
        code_value = found["code"] or ""
        code = int(forced_code(code_value).name.removeprefix("code="))
    if "scenario" in found:
        scenario = registry.resolve(found["scenario"] or "")
    if "delay" in found:
        try:
            delay = float(found["delay"] or "")
        except ValueError:
            raise ScenarioError(
                f"delay must be a number of seconds, got {found['delay']!r}", field="delay"
            ) from None
        if not 0 <= delay <= MAX_DELAY_SECONDS:
            raise ScenarioError(
                f"delay must be between 0 and {MAX_DELAY_SECONDS:g} seconds", field="delay"
            )
    return Preference(
        code=code,
        scenario=scenario,
        delay_seconds=delay,
        preferences=MappingProxyType(found),
    )
