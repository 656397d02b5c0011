"""Eachlabs (``api.eachlabs.ai``): predictions created, polled and cancelled by id.

The folder holds everything that is Eachlabs' own: ``documents`` (its model
pages -> model contracts), ``adapter`` (the wire <-> neutral job), ``signing``
(the webhook secret header), ``client`` (a client's requests, for tests).
"""

from __future__ import annotations

from mockserver.providers.eachlabs.adapter import EachlabsAdapter, EachlabsJobFields
from mockserver.providers.eachlabs.client import EachlabsClient
from mockserver.providers.eachlabs.documents import derive
from mockserver.providers.kit import ProviderKit

__all__ = ["KIT", "EachlabsAdapter"]

KIT = ProviderKit(
    name="eachlabs",
    adapter=EachlabsAdapter,
    currency="USD",
    client=EachlabsClient(),
    parse_document=derive,
    job_fields=EachlabsJobFields,
    # predictionID and id are both ids; `message` of a create is free text.
    semantic_fields=frozenset({"predictionID"}),
)
