"""Apikley (kie.ai style, ``api.apikley.ru``): tasks, ``recordInfo`` polls, credits.

The folder holds everything that is Apikley's own: ``documents`` (its page
embedding OpenAPI -> model contracts), ``adapter`` (the wire <-> neutral job),
``signing`` (kie's HMAC), ``client`` (a client's requests, for tests).
"""

from __future__ import annotations

from mockserver.providers.apikley.adapter import ApikleyAdapter, ApikleyJobFields, _sign
from mockserver.providers.apikley.client import ApikleyClient
from mockserver.providers.apikley.documents import derive
from mockserver.providers.kit import ProviderKit

__all__ = ["KIT", "ApikleyAdapter"]

KIT = ProviderKit(
    name="apikley",
    adapter=ApikleyAdapter,
    currency="credits",
    client=ApikleyClient(),
    parse_document=derive,
    webhook_signers=(_sign,),
    job_fields=ApikleyJobFields,
    # param / resultJson are JSON documents inside strings; failCode a code; times epoch ms.
    semantic_fields=frozenset(
        {"taskId", "task_id", "callbackType", "state", "param", "resultJson", "failCode",
         "createTime", "completeTime", "updateTime", "recordId"}
    ),
)
