"""Admitting a create: rate limits, then money; and what a job's end gives back.

:class:`Admission` joins the pure pieces — :class:`~mockserver.domain.ratelimit.RateLimiter`,
:class:`~mockserver.domain.billing.BillingPolicy` and
:class:`~mockserver.domain.billing.Ledger` — to the shared
:class:`~mockserver.domain.accounts.Accounts` of one world.
:class:`~mockserver.domain.service.MockService` calls :meth:`Admission.admit`
for every create and :meth:`Admission.ended` when a job reaches any terminal
state.

The order of checks on a create, from the first byte to the stored job:

1. **auth** (401): the adapter, and the HTTP layer before a forced code;
2. **forced scenario codes** (``Prefer: code=``, a queued code, a magic key or
   prompt marker): the HTTP layer, once the key is known to be valid;
3. **validation** (400 / 422): the adapter and
   :meth:`MockService.validate_input` (body, model, input schema, file and
   webhook URLs);
4. **rate limit** (429): creates per window, then jobs in flight
   (:meth:`RateLimiter.check_create`; nothing is recorded yet, so a refused
   create does not count);
5. **price / 402**: the model contract's pricing (defaults already applied)
   with the provider contract's billing facts, reserved against the
   *available* balance (balance minus open reservations); refused exactly
   when the available balance is below the price, and a refused create
   holds no slot and does not count in the window;
6. **create**: the create counts in the window and holds a concurrency
   slot, or waits in line (``Job.held``) where the provider queues.

When a job ends: success charges its reservation (``job.cost`` is the price),
failure or cancel releases it (``job.cost`` is 0), and its slot goes to the
next job waiting in line, whose ids :meth:`Admission.ended` returns for the
world to release.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mockserver.domain.accounts import Accounts
from mockserver.domain.billing import BillingPolicy, Ledger, Quote
from mockserver.domain.errors import MockError
from mockserver.domain.lifecycle import Job, State
from mockserver.domain.ratelimit import Decision, LimitOverrides, RateLimiter, RateLimitPolicy

if TYPE_CHECKING:
    from mockserver.contracts import ModelContract
    from mockserver.provider_spec import ProviderSpec

__all__ = ["Admission", "Admitted", "planned_end", "unpack_counts"]

#: Distinct price texts shared at most (see Admission._shared).
_SHARED_AMOUNTS = 4_096


@dataclass(slots=True)
class Admitted:
    """What an admitted create got: its price and its place (slot or line); read only."""

    quote: Quote
    decision: Decision


_COUNT_BITS = 32
_COUNT_MASK = (1 << _COUNT_BITS) - 1


def unpack_counts(packed: int) -> tuple[int, int] | None:
    """``(place in the window, jobs in flight before it)`` of an admitted create, from
    :attr:`Job.admitted`: ``in_flight << 32 | place`` (set by :meth:`Admission.admit`;
    0: not admitted through the limiter)."""
    if packed <= 0:
        return None
    return packed & _COUNT_MASK, packed >> _COUNT_BITS


def planned_end(job: Job) -> float | None:
    """Mock time ``job`` is planned to end, or None when no clock decides it.

    Stuck, held and poll-driven jobs have no planned end; a finished job has
    its real one.
    """
    if job.terminal:
        return job.finished_at
    plan = job.plan
    if plan.stuck or plan.polls_per_phase or job.held:
        return None
    if job.state is State.QUEUED:
        return job.queued_since + plan.queue_seconds + plan.run_seconds
    if job.started_at is None:
        return None
    return job.started_at + plan.run_seconds


class Admission:
    """Rate limits and billing of every create of one world."""

    def __init__(
        self,
        accounts: Accounts,
        limiter: RateLimiter,
        billing: Mapping[str, BillingPolicy],
        ledger: Ledger | None = None,
    ) -> None:
        self.accounts = accounts
        self.limiter = limiter
        self.billing = dict(billing)
        self.ledger = ledger or Ledger()
        # A key the accounts forget (not configured, least recently used) leaves no windows.
        accounts.on_evict.append(limiter.forget_key)
        self._amounts: dict[tuple[str, str, str | None], tuple[Decimal, dict[str, Any]]] = {}
        self._by_quote: dict[int, tuple[Quote, tuple[Decimal, dict[str, Any]]]] = {}

    @classmethod
    def from_specs(cls, accounts: Accounts, specs: Mapping[str, ProviderSpec]) -> Admission:
        """Limits and billing facts from ``{provider: its typed provider contract}``."""
        return cls(
            accounts,
            RateLimiter.from_specs({name: spec.rate_limits for name, spec in specs.items()}),
            {name: BillingPolicy.from_spec(spec.billing) for name, spec in specs.items()},
        )

    # --- create ----------------------------------------------------------------
    def price(self, provider: str, model: ModelContract, inputs: Mapping[str, Any]) -> Quote:
        """The price of a job of ``model`` with ``inputs`` (schema defaults applied)."""
        return self._quote(provider, model, model.with_defaults(dict(inputs)))

    def _quote(self, provider: str, model: ModelContract, inputs: Mapping[str, Any]) -> Quote:
        """:meth:`price` of inputs that already have the schema's defaults (read only)."""
        policy = self.billing.get(provider) or BillingPolicy(
            currency=self.accounts.currency(provider)
        )
        return policy.price(
            model.pricing, inputs, model=(model.slug, model.model_id)
        )

    def admit(
        self,
        job: Job,
        model: ModelContract,
        *,
        soonest_end: float | Callable[[], float | None] | None = None,
    ) -> Admitted:
        """Check the rate limits, then reserve the price; record the create.

        ``soonest_end`` (or a function that finds it, asked only when the
        key's slots are full) is the planned end of the key's soonest-ending
        job in flight, for the concurrency ``Retry-After``.

        Raises ``MockError(429)`` (with a ``Retry-After``) or ``MockError(402)``
        and changes nothing then. On success the job holds its reservation and
        a slot, or waits in line (``job.held``).
        """
        provider, key, now = job.provider, job.key, job.created_at
        account = self.accounts.get(provider, key)
        self._policy(provider, account.limits)
        decision = self.limiter.check_create(
            provider,
            key,
            now,
            overrides=account.limits,
            soonest_end=soonest_end,
            balance=float(account.balance),
        )
        # A stored job's input is validated with defaults applied
        # (MockService.validate_input): no second copy with defaults here.
        quote = self._quote(provider, model, job.input)
        amount, record = self._shared(quote)
        self.ledger.reserve(account, job.id, amount)
        self.limiter.record_create(provider, key, now, job.id, decision)
        job.held = decision.queued
        job.price = record  # shared by every job at this price: read only
        # The counts the decision saw, for the job's timeline: one int, not an
        # object or a mapping.
        # Inline (no call on the create path); counts stay far below 2**32 (limits <= 1e9).
        job.admitted = (decision.in_flight << _COUNT_BITS) | (decision.window_count + 1)
        return Admitted(quote, decision)

    def _shared(self, quote: Quote) -> tuple[Decimal, dict[str, Any]]:
        """The quote's amount and its ``job.price`` record, shared per price (bounded).

        Prices repeat (a few per model): one Decimal, one string and one
        record for every job at the same price instead of three objects per
        job in flight (about 300 bytes, and as many to free when the full
        store evicts one). Keyed by the text, as ``Decimal("0.40") ==
        Decimal("0.4")`` but they print differently.
        """
        # Quotes are memoised (BillingPolicy.price): the same object comes back
        # for every create at one price, so look it up by identity first (the
        # entry holds the quote, so its id cannot be reused meanwhile).
        known = self._by_quote.get(id(quote))
        if known is not None and known[0] is quote:
            return known[1]
        text = str(quote.amount)
        cache_key = (text, quote.currency, quote.label)
        shared = self._amounts.get(cache_key)
        if shared is None:
            shared = (quote.amount,
                      {"amount": text, "currency": quote.currency, "label": quote.label})
            if len(self._amounts) < _SHARED_AMOUNTS:
                self._amounts[cache_key] = shared
        if len(self._by_quote) >= _SHARED_AMOUNTS:
            self._by_quote.clear()  # a bound, not an LRU
        self._by_quote[id(quote)] = (quote, shared)
        return shared

    def _policy(self, provider: str, limits: LimitOverrides) -> RateLimitPolicy:
        try:
            return self.limiter.policy(provider, limits)
        except ValueError as error:  # a tier this provider does not have
            raise MockError(
                400, f"the key's limits cannot apply: {error}", rule="limits"
            ) from None

    # --- end -------------------------------------------------------------------
    def ended(self, job: Job) -> list[str]:
        """Settle or release ``job``'s money, free its slot; the ids of jobs that start now."""
        if job.state is State.SUCCEEDED:
            charged = self.ledger.settle(job.id)
        else:
            self.ledger.release(job.id)
            charged = _NOTHING
        if job.price is not None:
            job.cost = _json_number(charged) if charged else 0
        if not self.limiter.anyone_waiting(job.provider, job.key):
            # Only a waiting job needs the key's limits (is there a slot for it?);
            # every job the full store evicts on a create passes here.
            return self.limiter.job_ended(job.provider, job.key, job.id)
        account = self.accounts.get(job.provider, job.key)
        try:
            return self.limiter.job_ended(
                job.provider,
                job.key,
                job.id,
                overrides=account.limits,
                balance=float(account.balance),
            )
        except ValueError:  # the key's tier became unknown: free the slot, start nobody
            return self.limiter.job_ended(job.provider, job.key, job.id)

    def reset(self) -> None:
        """Forget every reservation, window and slot (policies stay)."""
        self.ledger.clear()
        self.limiter.reset()


_NOTHING = Decimal(0)


def _json_number(amount: Decimal) -> int | float:
    return int(amount) if amount == amount.to_integral_value() else float(amount)
