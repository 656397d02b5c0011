"""What an app records for its tests to assert on: unexpected errors, contract violations.

Apart from :mod:`mockserver.http.state` so the webhook sender can report an
error without importing the state that holds the sender (no import circle).
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any

__all__ = ["ContractViolation", "UnhandledError"]


@dataclass(frozen=True)
class UnhandledError:
    """An exception no handler expected (a bug): logged, answered as a 500, kept."""

    where: str
    error_type: str
    message: str
    traceback: str
    provider: str | None = None
    method: str | None = None
    path: str | None = None

    @classmethod
    def capture(
        cls,
        error: BaseException,
        where: str,
        *,
        provider: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> UnhandledError:
        """Record ``error`` with its traceback."""
        return cls(
            where=where,
            error_type=type(error).__name__,
            message=str(error),
            traceback="".join(traceback.format_exception(error)),
            provider=provider,
            method=method,
            path=path,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form."""
        return {
            "where": self.where,
            "type": self.error_type,
            "message": self.message,
            "provider": self.provider,
            "method": self.method,
            "path": self.path,
            "traceback": self.traceback,
        }


@dataclass(frozen=True)
class ContractViolation:
    """A body the mock emitted that its own contract schema rejects."""

    provider: str
    endpoint: str | None
    method: str
    path: str
    status: int
    schema: str
    errors: tuple[str, ...]
    body: Any = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form."""
        return {
            "provider": self.provider,
            "endpoint": self.endpoint,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "schema": self.schema,
            "errors": list(self.errors),
        }
