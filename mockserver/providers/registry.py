"""The one list of providers: every :class:`ProviderKit` the mock knows.

The CLI, fuzz, drift, chaos, the HTTP app, the noxfile and the tests read
their provider names and pieces from here; nothing else lists them.

Where kits come from, in this order (a later one with the same name is an error):

1. the bundled folders, ``mockserver/providers/<name>/`` (:data:`BUNDLED`);
2. installed packages declaring an entry point in the group
   ``genmock.providers`` (``toyfal = "my_package.toyfal:KIT"``);
3. ``$MOCKSERVER_PROVIDER_KITS``: comma-separated ``module:attribute`` of kits
   to import (a provider of your own, for ``mockserver serve`` and friends);
4. :func:`register` (a test, or a program embedding the mock).
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import entry_points
from types import MappingProxyType

from mockserver.contracts import ContractSet, ProviderContract
from mockserver.providers.kit import DocumentParser, ProviderKit

__all__ = [
    "BUNDLED",
    "ENTRY_POINT_GROUP",
    "KITS_VARIABLE",
    "UnknownProvider",
    "contract_of",
    "currencies",
    "document_parsers",
    "job_field_types",
    "kit",
    "kits",
    "names",
    "register",
    "registered",
    "unregister",
    "webhook_signers",
]

#: The packages of the providers shipped with the mock, in listing order.
BUNDLED = (
    "mockserver.providers.eachlabs",
    "mockserver.providers.wavespeed",
    "mockserver.providers.apikley",
)
#: Entry-point group an installed package declares its kit under.
ENTRY_POINT_GROUP = "genmock.providers"
#: Environment variable naming kits to import (``module:attribute,...``).
KITS_VARIABLE = "MOCKSERVER_PROVIDER_KITS"

_LOCK = threading.RLock()
_found: dict[str, ProviderKit] | None = None  # bundled + entry points + environment
_added: dict[str, ProviderKit] = {}  # register()


class UnknownProvider(KeyError):
    """A provider name no kit declares."""

    def __str__(self) -> str:
        return str(self.args[0])


def _import_kit(reference: str, where: str) -> ProviderKit:
    module_name, _, attribute = reference.partition(":")
    module = importlib.import_module(module_name.strip())
    found = getattr(module, attribute.strip() or "KIT")
    if not isinstance(found, ProviderKit):
        raise TypeError(f"{where}: {reference!r} is a {type(found).__name__}, not a ProviderKit")
    return found


def _add(into: dict[str, ProviderKit], new: ProviderKit, where: str) -> None:
    if new.name in into and into[new.name] is not new:
        raise ValueError(f"{where}: a provider named {new.name!r} is already registered")
    into[new.name] = new


def _discover() -> dict[str, ProviderKit]:
    found: dict[str, ProviderKit] = {}
    for package in BUNDLED:
        _add(found, _import_kit(f"{package}:KIT", "bundled"), package)
    for point in entry_points(group=ENTRY_POINT_GROUP):
        _add(found, _import_kit(point.value, f"entry point {point.name}"), point.value)
    for reference in filter(None, os.environ.get(KITS_VARIABLE, "").split(",")):
        _add(found, _import_kit(reference, f"${KITS_VARIABLE}"), reference)
    return found


def kits() -> Mapping[str, ProviderKit]:
    """Every known kit by provider name, bundled ones first (a read-only snapshot)."""
    global _found
    with _LOCK:
        if _found is None:
            _found = _discover()
        return MappingProxyType({**_found, **_added})


def names() -> tuple[str, ...]:
    """Every known provider name, in :func:`kits` order."""
    return tuple(kits())


def kit(name: str) -> ProviderKit:
    """The named provider's kit; :class:`UnknownProvider` names the known ones."""
    known = kits()
    try:
        return known[name]
    except KeyError:
        raise UnknownProvider(
            f"no provider {name!r} (known: {', '.join(known) or 'none'})"
        ) from None


def register(new: ProviderKit) -> None:
    """Add a provider from outside the package; a name already taken is a ValueError."""
    with _LOCK:
        _add(dict(kits()), new, "register")
        _added[new.name] = new


def unregister(name: str) -> None:
    """Forget a provider added with :func:`register` (KeyError when it was not)."""
    with _LOCK:
        del _added[name]


@contextmanager
def registered(new: ProviderKit) -> Iterator[ProviderKit]:
    """``register(new)`` for the length of a ``with`` block (tests)."""
    register(new)
    try:
        yield new
    finally:
        unregister(new.name)


def contract_of(name: str, contracts: ContractSet) -> ProviderContract:
    """``name``'s contract: from its kit's own folder when it has one, else from ``contracts``."""
    known = kits().get(name)
    own = known.own_contract() if known is not None else None
    return own if own is not None else contracts.provider(name)


def document_parsers() -> dict[str, DocumentParser]:
    """Each known provider's document parser (``contracts build``, ``drift docs``)."""
    return {
        name: found.parse_document
        for name, found in kits().items()
        if found.parse_document is not None
    }


def currencies() -> dict[str, str]:
    """What each known provider's balances are counted in."""
    return {name: found.currency for name, found in kits().items()}


def job_field_types() -> dict[str, type]:
    """Each known provider's ``Job.provider_fields`` dataclass (for ``store.codec.JobCodec``)."""
    return {name: found.job_fields for name, found in kits().items()
            if found.job_fields is not None}


def webhook_signers() -> tuple[Callable[..., dict[str, str]], ...]:
    """Every known provider's webhook signing functions (for ``store.codec.DeliveryCodec``)."""
    return tuple(function for found in kits().values() for function in found.webhook_signers)
