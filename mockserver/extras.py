"""Optional features and the extras that install them.

A plain ``pip install genmock`` gives the server, the in-process mock and the
pytest plugin. Heavier features live behind extras; a command that needs a
missing one raises :class:`MissingExtra`, which the command line turns into
one line naming the install command and exit code 2 (never a traceback).
"""

from __future__ import annotations

import importlib.util

__all__ = ["EXTRAS", "MissingExtra", "require_extra"]

#: extra name -> the top-level modules it provides (checked before importing them).
EXTRAS: dict[str, tuple[str, ...]] = {
    "fuzz": ("schemathesis", "hypothesis"),
    "redis": ("redis", "hiredis"),
}


class MissingExtra(Exception):
    """A feature needs an extra that is not installed; the message says how to install it."""

    def __init__(self, feature: str, extra: str, module: str) -> None:
        super().__init__(
            f"{feature} needs the '{extra}' extra ({module} is not installed): "
            f"pip install 'genmock[{extra}]'"
        )
        self.extra = extra
        self.module = module


def require_extra(extra: str, feature: str) -> None:
    """Raise :class:`MissingExtra` unless every module of ``extra`` can be imported."""
    for module in EXTRAS[extra]:
        if importlib.util.find_spec(module) is None:
            raise MissingExtra(feature, extra, module)
