"""Where chaos meets a request: one call before the handler, one after.

The HTTP layer calls :func:`chaos_turn` once the request's scenario is known
and before the handler runs. Outside chaos mode it returns None at once.
In chaos mode (``[chaos] enabled = true``, or ``Prefer: scenario=chaos`` /
any other way of selecting the ``chaos`` scenario) it may raise a poll error
of a burst (a :class:`MockError`, rendered like any other), adds plan and
webhook overrides to a create, and returns a :class:`ChaosTurn` whose
:meth:`~ChaosTurn.mutate` makes the handler's body adversarial but still
valid against its contract schema (the HTTP layer then validates it again
when response validation is on).

``Prefer: scenario=chaos, seed=7, intensity=0.8`` picks the seed and the
intensity per request (``scenario=chaos; seed=7`` works too).

No starlette here: the state is only read through attributes.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from mockserver.chaos.engine import ChaosEngine
from mockserver.chaos.mutator import mutate, semantic_fields
from mockserver.domain.faults import Scenario
from mockserver.domain.webhooks import Delivery
from mockserver.providers.base import WireRequest, WireResponse

if TYPE_CHECKING:
    import random

    from mockserver.http.state import MockState
    from mockserver.providers.base import ProviderAdapter

__all__ = ["ChaosTurn", "chaos_turn", "engine_for", "find_engine"]

_SEED = re.compile(r"(?:^|[,;\s])seed\s*=\s*\"?([0-9]{1,18})\"?")
_INTENSITY = re.compile(r"(?:^|[,;\s])intensity\s*=\s*\"?([0-9]*\.?[0-9]+)\"?")

#: id(MockState) -> its engine; an entry goes when its state is collected.
_ENGINES: dict[int, ChaosEngine] = {}


def find_engine(state: MockState) -> ChaosEngine | None:
    """The chaos engine of a mock, if chaos ever ran in it."""
    return _ENGINES.get(id(state))


def engine_for(state: MockState) -> ChaosEngine:
    """The chaos engine of a mock (made on first use; it delays ``late`` webhooks)."""
    engine = _ENGINES.get(id(state))
    if engine is None:
        engine = ChaosEngine(polls_per_phase=state.config.jobs.polls_per_phase)
        _ENGINES[id(state)] = engine
        weakref.finalize(state, _ENGINES.pop, id(state), None)
        ref = weakref.ref(state)
        state.outbox.watch(lambda delivery: _delay_late(ref, delivery))
    return engine


def _delay_late(ref: weakref.ReferenceType[MockState], delivery: Delivery) -> None:
    """Outbox watcher: a delivery of a job chaos made ``late`` becomes due later."""
    state = ref()
    if state is None or "late" not in delivery.effects or delivery.kind != "final":
        return
    job = state.world.get(delivery.job_id)
    late = job.effects.get("webhook_late") if job is not None else None
    if isinstance(late, int | float) and not isinstance(late, bool) and late > 0:
        state.outbox.reschedule(delivery, delivery.due + float(late))


def _settings(request: WireRequest, state: MockState) -> tuple[int, float]:
    config = state.config.chaos
    seed = config.seed if config.seed is not None else (state.config.seed or 0)
    intensity = config.intensity
    prefer = request.headers.get("prefer")
    if prefer:
        if (found := _SEED.search(prefer)) is not None:
            seed = int(found.group(1))
        if (found := _INTENSITY.search(prefer)) is not None:
            intensity = min(1.0, float(found.group(1)))
    return seed, intensity


def chaos_turn(
    state: MockState,
    adapter: ProviderAdapter,
    request: WireRequest,
    endpoint: str | None,
    scenario: Scenario | None,
) -> ChaosTurn | None:
    """Chaos for this request, or None outside chaos mode (may raise a burst's MockError).

    Call after ``state.current_overrides`` is set for the request: a create's
    lifecycle perturbations are added to it.
    """
    if not state.config.chaos.enabled and (scenario is None or not scenario.response.chaos):
        return None
    engine = engine_for(state)
    seed, intensity = _settings(request, state)
    rng = engine.rng(seed)
    if endpoint == "poll":
        catalogue = adapter.contract.data.get("errors", {}).get("catalogue", {})
        codes = {int(code) for code in catalogue if str(code).isdigit()}
        error = engine.poll_error(rng, adapter.name, intensity, codes)
        if error is not None:
            state.current_overrides = {}
            adapter.authenticate(request)  # auth first, as for a forced code
            raise error
    elif endpoint == "create":
        overrides = engine.create_overrides(rng, adapter.name, intensity)
        state.current_overrides.update(overrides)
        state.current_overrides.setdefault("name", "chaos")
    return ChaosTurn(engine, rng, adapter, endpoint, intensity)


@dataclass
class ChaosTurn:
    """Chaos for one request after its handler answered."""

    engine: ChaosEngine
    rng: random.Random
    adapter: ProviderAdapter
    endpoint: str | None
    intensity: float

    def mutate(self, response: WireResponse) -> WireResponse:
        """``response`` with an adversarial but schema-valid body (others unchanged)."""
        if response.schema is None or response.raw is not None or response.body is None:
            return response
        contract = self.adapter.contract
        try:
            validator = contract.validator(response.schema)
            schema: Any = contract.at(response.schema)
        except KeyError:
            return response
        body, mutations = mutate(
            response.body,
            validator,
            self.rng,
            schema=schema if isinstance(schema, dict) else None,
            semantic=semantic_fields(self.adapter.name),
            intensity=self.intensity,
        )
        if not mutations:
            return response
        shown = "; ".join(str(m) for m in mutations[:8])
        more = f"; +{len(mutations) - 8} more" if len(mutations) > 8 else ""
        self.engine.record(self.adapter.name, self.endpoint, "response", shown + more)
        return replace(response, body=body)
