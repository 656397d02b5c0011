"""What one app instance holds: its world and the records tests assert on.

An app built by :func:`mockserver.http.app.create_app` exposes one
:class:`MockState` as ``app.state.mock``; there is no module-level state, so
two apps (two tests, two xdist workers) share nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mockserver.config import MockConfig
from mockserver.domain.accounts import Accounts
from mockserver.domain.clock import Clock, is_real
from mockserver.domain.service import MockService
from mockserver.domain.webhook_targets import WebhookTargetPolicy
from mockserver.domain.webhooks import Outbox
from mockserver.domain.world import World
from mockserver.faults.chaos import ChaosHook
from mockserver.faults.queue import ScenarioQueue
from mockserver.http.guard import GuardSettings
from mockserver.http.journal import Journal
from mockserver.http.records import ContractViolation, UnhandledError
from mockserver.providers.common import TemplateCache
from mockserver.store.clock import StoreClock
from mockserver.store.world import StoreWorld

if TYPE_CHECKING:
    from mockserver.contracts import ContractSet
    from mockserver.http.sender import WebhookSender
    from mockserver.providers.base import ProviderAdapter
    from mockserver.store.redis_store import RedisStore

__all__ = ["ContractViolation", "MockState", "UnhandledError"]

logger = logging.getLogger("mockserver")


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
    #: Compiled response templates of this app's adapters (see TemplateCache).
    templates: TemplateCache = field(default_factory=TemplateCache)
    unhandled_errors: list[UnhandledError] = field(default_factory=list)
    contract_violations: list[ContractViolation] = field(default_factory=list)
    #: Chaos of this app: its engine (made on first use) and the per-request turn.
    chaos: ChaosHook = field(init=False)
    #: The shared store's clock when state lives in a store (None: in this process).
    store_clock: StoreClock | None = field(init=False)
    #: The shared store state lives in (None: in this process).
    store: RedisStore | None = field(init=False)

    def __post_init__(self) -> None:
        self.chaos = ChaosHook(self.config, self.world, self.outbox)
        self.store_clock = self.clock if isinstance(self.clock, StoreClock) else None
        self.store = self.world.store if isinstance(self.world, StoreWorld) else None

    @property
    def clock_kind(self) -> str:
        """``"real"`` or ``"manual"`` (a clock whose ``mode`` is not ``"real"`` is manual)."""
        return "real" if is_real(self.clock) else "manual"

    def tick(self) -> int:
        """Apply every job transition due by now; wake the sender if any happened."""
        transitions = self.world.tick()
        if transitions:
            self.sender.wake()
        return len(transitions)

    def tick_for_request(self) -> None:
        """What a provider request does first (:meth:`World.tick_for_request`)."""
        if self.world.tick_for_request():
            self.sender.wake()

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
