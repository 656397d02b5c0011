"""Where chaos meets a request: one call before the handler, one after.

Each app owns one :class:`ChaosHook` (``MockState.chaos``; two apps share
nothing). The HTTP layer calls :meth:`ChaosHook.turn` once the request's
scenario is known and before the handler runs. Outside chaos mode it returns
None at once. In chaos mode (``[chaos] enabled = true``, or ``Prefer:
scenario=chaos`` / any other way of selecting the ``chaos`` scenario) it may
raise a poll error of a burst (a :class:`MockError`, rendered like any
other), adds plan and webhook overrides to a create's
``request.scenario_overrides``, and returns a :class:`ChaosTurn` whose
:meth:`~ChaosTurn.mutate` makes the handler's body adversarial but still
valid against its contract schema (the HTTP layer then validates it again
when response validation is on).

``Prefer: scenario=chaos, seed=7, intensity=0.8`` picks the seed and the
intensity per request (``scenario=chaos; seed=7`` works too).

No starlette here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from mockserver.chaos.engine import ChaosEngine
from mockserver.chaos.mutator import mutate, semantic_fields
from mockserver.config import MockConfig
from mockserver.domain.webhooks import Delivery, Outbox
from mockserver.domain.world import World
from mockserver.faults.effects import Scenario
from mockserver.providers.base import ProviderAdapter, WireRequest, WireResponse

if TYPE_CHECKING:
    import random

__all__ = ["ChaosHook", "ChaosTurn"]

_SEED = re.compile(r"(?:^|[,;\s])seed\s*=\s*\"?([0-9]{1,18})\"?")
_INTENSITY = re.compile(r"(?:^|[,;\s])intensity\s*=\s*\"?([0-9]*\.?[0-9]+)\"?")

class ChaosHook:
    """The chaos of one app: its engine, made on first use, and the per-request turn."""

    def __init__(self, config: MockConfig, world: World, outbox: Outbox) -> None:
        self.config = config
        self.world = world
        self.outbox = outbox
        #: None until chaos first runs in this app (the runner reads its record).
        self.engine: ChaosEngine | None = None

    def engine_for(self) -> ChaosEngine:
        """This app's chaos engine (made on first use; it delays ``late`` webhooks)."""
        if self.engine is None:
            self.engine = ChaosEngine(polls_per_phase=self.config.jobs.polls_per_phase)
            self.outbox.watch(self._delay_late)
        return self.engine

    def _delay_late(self, delivery: Delivery) -> None:
        """Outbox watcher: a delivery of a job chaos made ``late`` becomes due later."""
        if "late" not in delivery.effects or delivery.kind != "final":
            return
        job = self.world.get(delivery.job_id)
        late = job.effects.get("webhook_late") if job is not None else None
        if isinstance(late, int | float) and not isinstance(late, bool) and late > 0:
            self.outbox.reschedule(delivery, delivery.due + float(late))

    def _settings(self, request: WireRequest) -> tuple[int, float]:
        config = self.config.chaos
        seed = config.seed if config.seed is not None else (self.config.seed or 0)
        intensity = config.intensity
        prefer = request.headers.get("prefer")
        if prefer:
            if (found := _SEED.search(prefer)) is not None:
                seed = int(found.group(1))
            if (found := _INTENSITY.search(prefer)) is not None:
                intensity = min(1.0, float(found.group(1)))
        return seed, intensity

    def turn(
        self,
        adapter: ProviderAdapter,
        request: WireRequest,
        endpoint: str | None,
        scenario: Scenario | None,
    ) -> ChaosTurn | None:
        """Chaos for this request, or None outside chaos mode (may raise a burst's MockError).

        Call after ``request.scenario_overrides`` is set: a create's lifecycle
        perturbations are added to it.
        """
        if not self.config.chaos.enabled and (scenario is None or not scenario.response.chaos):
            return None
        engine = self.engine_for()
        seed, intensity = self._settings(request)
        rng = engine.rng(seed)
        if endpoint == "poll":
            catalogue = adapter.contract.spec.errors.catalogue
            codes = {int(code) for code in catalogue if str(code).isdigit()}
            error = engine.poll_error(rng, adapter.name, intensity, codes)
            if error is not None:
                adapter.authenticate(request)  # auth first, as for a forced code
                raise error
        elif endpoint == "create":
            overrides = engine.create_overrides(rng, adapter.name, intensity)
            request.scenario_overrides = {
                "name": "chaos", **request.scenario_overrides, **overrides
            }
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
