"""The one error path of the provider routes.

Every failure of a provider request ends here. A :class:`MockError` (expected:
bad key, bad input, unknown id, forced fault, body too large, no such route)
is rendered by the provider's adapter in that provider's envelope and error
transport. Anything else is a bug: it is recorded on the app state with its
traceback and answered as the provider's own 500 envelope, never as a bare
framework error page. If the adapter's renderer itself fails, a plain JSON
500 is the last resort, and that failure is recorded too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mockserver.domain.errors import MockError
from mockserver.http.state import MockState, UnhandledError
from mockserver.providers.base import WireRequest, WireResponse

if TYPE_CHECKING:
    from mockserver.providers.base import ProviderAdapter

__all__ = [
    "STORE_RETRY_SECONDS",
    "internal_error",
    "last_resort",
    "render_error",
    "render_unexpected",
    "store_unavailable",
]

#: Retry-After of a 503 while the shared store cannot be reached.
STORE_RETRY_SECONDS = 1


def store_unavailable(error: BaseException) -> MockError:
    """A 503 for a shared store (Redis) that cannot be reached in time: nothing happened,
    or it may have (a create's answer was lost); the client retries as it would for a
    provider's own 503."""
    return MockError(
        503,
        "the mock's shared store is unavailable; retry shortly",
        details=f"{error} (the mock's store; see its log)",
        rule="store",
        retry_after=float(STORE_RETRY_SECONDS),
        headers={"Retry-After": str(STORE_RETRY_SECONDS)},
    )


def internal_error(error: BaseException) -> MockError:
    """The MockError a bug turns into: a 500 that names the exception type only."""
    return MockError(
        500,
        "internal error in the mock server",
        details=f"{type(error).__name__} (see the mock's log and /_mock/requests)",
    )


def last_resort(message: str) -> WireResponse:
    """A plain JSON 500 when even the provider's renderer failed."""
    return WireResponse(500, {"error": message})


def render_error(
    state: MockState,
    adapter: ProviderAdapter,
    error: MockError,
    request: WireRequest | None,
) -> WireResponse:
    """``error`` in the provider's envelope; a recorded last resort if rendering fails."""
    try:
        response = adapter.render_error(error, request)
        if not isinstance(response, WireResponse):
            raise TypeError(
                f"{adapter.name}.render_error returned {type(response).__name__}, "
                "not a WireResponse"
            )
        return response
    except Exception as failure:
        state.record_unhandled(
            UnhandledError.capture(
                failure,
                "render_error",
                provider=adapter.name,
                method=request.method if request else None,
                path=request.path if request else None,
            )
        )
        return last_resort(f"{adapter.name}: could not render error {error.status}")


def render_unexpected(
    state: MockState,
    adapter: ProviderAdapter,
    error: Exception,
    request: WireRequest,
    full_path: str,
) -> WireResponse:
    """Record an unexpected exception and answer with the provider's 500 envelope."""
    state.record_unhandled(
        UnhandledError.capture(
            error, "provider", provider=adapter.name, method=request.method, path=full_path
        )
    )
    return render_error(state, adapter, internal_error(error), request)
