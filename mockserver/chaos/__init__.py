"""Client fuzzing: schema-valid but adversarial responses and lifecycle, from a seed.

* :mod:`mockserver.chaos.mutator` — :func:`mutate` a body against its schema (pure);
* :mod:`mockserver.chaos.engine` — lifecycle perturbations: long jobs, poll error
  bursts, duplicate and late webhooks (pure);
* :mod:`mockserver.chaos.hook` — where the HTTP layer applies both;
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
    # The runner needs mockserver.testing (httpx, respx), which imports the HTTP
    # layer, which imports the hook from this package: load it on first use.
    if name in ("ChaosReport", "SeedResult", "run_chaos"):
        from mockserver.chaos import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'mockserver.chaos' has no attribute {name!r}")
