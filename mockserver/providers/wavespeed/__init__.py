"""WaveSpeed (``api.wavespeed.ai``): predictions per model path, uploads, sync mode.

The folder holds everything that is WaveSpeed's own: ``documents`` (its model
pages -> model contracts), ``adapter`` (the wire <-> neutral job), ``signing``
(Standard Webhooks signatures), ``client`` (a client's requests, for tests).
"""

from __future__ import annotations

from mockserver.providers.kit import ProviderKit
from mockserver.providers.wavespeed.adapter import WaveSpeedAdapter, _sign
from mockserver.providers.wavespeed.client import WaveSpeedClient
from mockserver.providers.wavespeed.documents import derive

__all__ = ["KIT", "WaveSpeedAdapter"]

KIT = ProviderKit(
    name="wavespeed",
    adapter=WaveSpeedAdapter,
    currency="USD",
    client=WaveSpeedClient(),
    parse_document=derive,
    webhook_signers=(_sign,),
    # has_nsfw_contents runs parallel to outputs; created_at is a timestamp clients parse.
    # secret: what webhook signatures are verified with.
    semantic_fields=frozenset({"has_nsfw_contents", "created_at", "executionTime", "secret"}),
)
