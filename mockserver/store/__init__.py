"""State behind one interface: the store boundary (``interface``) and its Redis side.

The in-memory store is today's domain objects; :func:`connect_redis` opens the
shared one (the ``redis`` extra). Importing this package never imports redis.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mockserver.extras import require_extra
from mockserver.store.interface import StoreError, StoreUnavailable

if TYPE_CHECKING:
    from mockserver.store.redis_store import RedisStore, StoreBounds

__all__ = ["StoreError", "StoreUnavailable", "connect_redis"]


def connect_redis(
    url: str,
    *,
    prefix: str = "genmock",
    bounds: StoreBounds | None = None,
    timeout: float | None = None,
    breaker: float = 0.0,
) -> RedisStore:
    """A :class:`~mockserver.store.redis_store.RedisStore` on ``url`` (``redis://HOST:PORT/DB``).

    Raises :class:`~mockserver.extras.MissingExtra` (one line naming
    ``pip install 'genmock[redis]'``) when the client is not installed.
    Connecting is lazy: the first operation reaches Redis. ``breaker`` > 0:
    for that many seconds after Redis was found unavailable, operations raise
    StoreUnavailable at once without I/O (then one probes again).
    """
    require_extra("redis", "the Redis store")
    from mockserver.store.redis_store import DEFAULT_TIMEOUT_SECONDS, RedisStore

    return RedisStore(
        url, prefix=prefix, bounds=bounds,
        timeout=DEFAULT_TIMEOUT_SECONDS if timeout is None else timeout,
        breaker=breaker,
    )
