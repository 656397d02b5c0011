"""A fourth provider built from this folder alone: a small fal.ai-style queue API.

``KIT`` is what a user adding a provider writes: the adapter, the client's
shapes, the currency, and where the contracts are. ``register(KIT)`` (or
``MOCKSERVER_PROVIDER_KITS=toyfal:KIT``) makes the mock serve it.
"""

from __future__ import annotations

from pathlib import Path

from mockserver.providers.kit import ProviderKit

from .adapter import ToyfalAdapter
from .client import ToyfalClient

KIT = ProviderKit(
    name="toyfal",
    adapter=ToyfalAdapter,
    currency="USD",
    client=ToyfalClient(),
    semantic_fields=frozenset({"request_id", "status_url", "response_url", "cancel_url"}),
    contracts=Path(__file__).resolve().parent / "contracts",
)
