"""Client fuzzing: schema-valid but adversarial responses and lifecycle, from a seed.

* :mod:`mockserver.chaos.mutator` — :func:`mutate` a body against its schema (pure);
* :mod:`mockserver.chaos.engine` — lifecycle perturbations: long jobs, poll error
  bursts, duplicate and late webhooks (pure);
* :mod:`mockserver.faults.chaos` — where the HTTP layer applies both (the
  faults wing; its engine belongs to the app);
* :mod:`mockserver.chaos.runner` — :func:`run_chaos`: a client function against
  N seeded worlds, a :class:`ChaosReport` of the seeds that broke it.

Chaos is on for a request with ``Prefer: scenario=chaos[, seed=N]`` (or any
way of selecting the ``chaos`` scenario), or for every request with
``[chaos] enabled = true`` in the config.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mockserver.chaos.engine import ChaosEngine, Perturbation
from mockserver.chaos.mutator import SEMANTIC_FIELDS, Mutation, mutate, semantic_fields

if TYPE_CHECKING:
    from mockserver.chaos.runner import ChaosReport, SeedResult, run_chaos

__all__ = [
    "SEMANTIC_FIELDS",
    "ChaosEngine",
    "ChaosReport",
    "Mutation",
    "Perturbation",
    "SeedResult",
    "mutate",
    "run_chaos",
    "semantic_fields",
]


def __getattr__(name: str) -> Any:
    # The runner is a front end (it drives mockserver.testing, httpx, respx):
    # this package's engine and mutator sit below the HTTP layer (the faults
    # wing uses them), so the runner loads on first use (tests/test_layering.py).
    if name in ("ChaosReport", "SeedResult", "run_chaos"):
        from mockserver.chaos import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'mockserver.chaos' has no attribute {name!r}")
