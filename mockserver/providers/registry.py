"""Which adapter serves which provider.

The HTTP layer builds one adapter per provider contract it loads:
``ADAPTERS[name](contract, service)``. Adding a provider adds one line here,
one adapter module and one ``contracts/<provider>/`` folder.
"""

from __future__ import annotations

from mockserver.providers.apikley import ApikleyAdapter
from mockserver.providers.base import AdapterFactory
from mockserver.providers.eachlabs import EachlabsAdapter
from mockserver.providers.wavespeed import WaveSpeedAdapter

__all__ = ["ADAPTERS", "ApikleyAdapter", "EachlabsAdapter", "WaveSpeedAdapter"]

ADAPTERS: dict[str, AdapterFactory] = {
    "eachlabs": EachlabsAdapter,
    "wavespeed": WaveSpeedAdapter,
    "apikley": ApikleyAdapter,
}
