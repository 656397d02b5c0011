"""Magic values (Stripe-test-card style): a ``scenario-<name>`` API key, ``[mock:<name>]`` markers.

The key's prefix is matched ignoring case; the scenario name itself is
case-sensitive. An unknown name is a 400, so a typo never silently runs the
happy path. A magic key beats a prompt marker.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from mockserver.faults.effects import Scenario, ScenarioError, combine
from mockserver.faults.registry import SCENARIOS, ScenarioRegistry

__all__ = ["MAGIC_KEY_PREFIX", "PROMPT_MARKER", "is_magic_key", "scenario_from_magic"]

#: API keys starting with this select a scenario.
MAGIC_KEY_PREFIX = "scenario-"
#: ``[mock:<name>]`` inside any text input selects a scenario.
PROMPT_MARKER = re.compile(r"\[mock:([A-Za-z0-9_:.]+)\]")


def is_magic_key(key: str | None) -> bool:
    """Whether ``key`` selects a scenario (``scenario-...``, any case)."""
    return key is not None and key[: len(MAGIC_KEY_PREFIX)].lower() == MAGIC_KEY_PREFIX


def _texts(value: Any, depth: int = 0) -> Iterator[str]:
    """Every string inside an input document (bounded depth: inputs are small)."""
    if depth > 8:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _texts(item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item, depth + 1)


def scenario_from_magic(
    key: str | None,
    inputs: Mapping[str, Any] | None,
    registry: ScenarioRegistry = SCENARIOS,
) -> Scenario | None:
    """The scenario a magic API key and prompt markers select, or ``None``.

    A magic key beats a prompt marker (README, "Faults on demand"): markers
    are merged first, in the order they appear (a later one wins over an
    earlier one), then the key's scenario over them. Unknown names raise
    :class:`ScenarioError`.
    """
    selected: list[Scenario | None] = []
    for text in _texts(inputs or {}):
        for marker in PROMPT_MARKER.findall(text):
            selected.append(registry.resolve_any(marker))
    if key and is_magic_key(key):
        # The name runs to the next "-": scenario names never contain one.
        name = key[len(MAGIC_KEY_PREFIX) :].split("-", 1)[0]
        if not name:
            raise ScenarioError(f"magic key {key!r} names no scenario", field="key")
        selected.append(registry.resolve_any(name))
    return combine(*selected)
