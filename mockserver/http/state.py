"""What one app instance holds: its world and the records tests assert on.

An app built by :func:`mockserver.http.app.create_app` exposes one
:class:`MockState` as ``app.state.mock``; there is no module-level state, so
two apps (two tests, two xdist workers) share nothing.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mockserver.config import MockConfig
from mockserver.domain.accounts import Accounts
from mockserver.domain.clock import Clock, RealClock
from mockserver.domain.faults import ScenarioQueue
from mockserver.domain.service import MockService
from mockserver.domain.webhook_targets import WebhookTargetPolicy
from mockserver.domain.webhooks import Outbox
from mockserver.domain.world import World
from mockserver.http.guard import GuardSettings
from mockserver.http.journal import Journal

if TYPE_CHECKING:
    from mockserver.contracts import ContractSet
    from mockserver.http.sender import WebhookSender
    from mockserver.providers.base import ProviderAdapter

__all__ = ["ContractViolation", "MockState", "UnhandledError"]

logger = logging.getLogger("mockserver")


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


@dataclass
class MockState:
    """One mock instance: config, clock, world, outbox, service, adapters, records.

    ``unhandled_errors`` and ``contract_violations`` only grow; the test
    fixtures fail any test that leaves an entry in either.
    """

    config: MockConfig
    clock: Clock
    world: World
    outbox: Outbox
    service: MockService
    contracts: ContractSet
    adapters: Mapping[str, ProviderAdapter]
    journal: Journal
    sender: WebhookSender
    #: API keys, balances, limits and webhook secrets; shared by every adapter.
    accounts: Accounts = field(default_factory=Accounts)
    #: Scenarios queued with ``POST /_mock/scenarios``.
    scenarios: ScenarioQueue = field(default_factory=ScenarioQueue)
    validate_responses: bool = False
    #: lower-case real host -> provider name (``api.eachlabs.ai`` -> ``eachlabs``)
    hosts: Mapping[str, str] = field(default_factory=dict)
    #: Who may use the admin API (Host names accepted, token).
    guard: GuardSettings = field(default_factory=GuardSettings)
    #: Where webhooks may go (checked at create and before each attempt).
    webhook_policy: WebhookTargetPolicy = field(default_factory=WebhookTargetPolicy)
    #: Plan overrides of the scenario of the request being handled (the
    #: adapters' ``scenarios`` hook returns it; handlers are synchronous).
    current_overrides: dict[str, Any] = field(default_factory=dict)
    unhandled_errors: list[UnhandledError] = field(default_factory=list)
    contract_violations: list[ContractViolation] = field(default_factory=list)

    @property
    def clock_kind(self) -> str:
        """``"real"`` or ``"manual"`` (any clock that is not a RealClock counts as manual)."""
        return "real" if isinstance(self.clock, RealClock) else "manual"

    def tick(self) -> int:
        """Apply every job transition due by now; wake the sender if any happened."""
        transitions = self.world.tick()
        if transitions:
            self.sender.wake()
        return len(transitions)

    def advance(self, seconds: float) -> float:
        """Move the clock forward, apply what became due, wake the sender; the new time.

        Raises ValueError for a negative amount, TypeError for a clock that
        cannot be advanced.
        """
        advance = getattr(self.clock, "advance", None)
        if advance is None:
            raise TypeError(f"{type(self.clock).__name__} cannot be advanced")
        now = float(advance(seconds))
        self.world.tick()
        # Retries wait on the mock clock too: wake the sender even without transitions.
        self.sender.wake()
        return now

    def reset(self) -> None:
        """Forget jobs, deliveries, journal, uploads, queued scenarios; accounts back to the config.

        The clock keeps its time (it never goes back).
        """
        self.sender.cancel_in_flight()
        self.world.reset()
        self.outbox.reset()
        self.scenarios.clear()
        self.service.uploads.clear()
        if self.service.admission is not None:
            self.service.admission.reset()  # reservations, windows, slots
        self.accounts.reset()

    def record_unhandled(self, record: UnhandledError) -> None:
        """Keep (and log, with its traceback) an unexpected exception."""
        self.unhandled_errors.append(record)
        logger.error(
            "unhandled %s in %s %s %s:\n%s",
            record.error_type,
            record.where,
            record.method or "",
            record.path or "",
            record.traceback.rstrip(),
        )

    def record_violation(self, violation: ContractViolation) -> None:
        """Keep (and log) a response that breaks its contract schema."""
        self.contract_violations.append(violation)
        logger.warning(
            "contract violation: %s %s -> %d does not match %s: %s",
            violation.method,
            violation.path,
            violation.status,
            violation.schema,
            "; ".join(violation.errors[:5]),
        )
