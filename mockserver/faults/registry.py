"""The scenario registry: definitions by name, and the built-in ones.

Definitions are registered by a decorator at import time and the built-in
registry (:data:`SCENARIOS`) is frozen afterwards, like schemathesis' checks;
:meth:`ScenarioRegistry.extended` makes an unfrozen copy to add to.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Any

from mockserver.faults.effects import (
    CODE,
    DEFAULT_SLOW_DELAY_SECONDS,
    Effects,
    JobEffect,
    ResponseEffect,
    Scenario,
    ScenarioError,
    WebhookEffect,
    forced_code,
)

__all__ = ["SCENARIOS", "Factory", "ScenarioRegistry"]

_NAME = re.compile(r"[a-z][a-z0-9_]*(?::[A-Za-z0-9_.]+)?")


Factory = Callable[[], Effects]


class ScenarioRegistry:
    """Scenario definitions by name.

    ``register`` is a decorator for a factory returning :class:`Effects`.
    ``job_failed:<kind>`` resolves for any kind (the provider contract knows
    which kinds exist; an unknown one falls back to its default failure).
    A frozen registry refuses new names; :meth:`extended` makes an unfrozen copy.
    """

    def __init__(self, scenarios: Iterable[Scenario] = ()) -> None:
        self._scenarios: dict[str, Scenario] = {}
        self._frozen = False
        for scenario in scenarios:
            self.add(scenario)

    def add(self, scenario: Scenario) -> Scenario:
        """Register one scenario; names are unique."""
        if self._frozen:
            raise RuntimeError("this scenario registry is frozen; use extended()")
        if not _NAME.fullmatch(scenario.name):
            raise ValueError(f"bad scenario name {scenario.name!r}")
        if scenario.name in self._scenarios:
            raise ValueError(f"scenario {scenario.name!r} is already registered")
        self._scenarios[scenario.name] = scenario
        return scenario

    def register(self, name: str, description: str) -> Callable[[Factory], Factory]:
        """Decorator: register the scenario the factory's effects describe."""

        def decorate(factory: Factory) -> Factory:
            effects = factory()
            self.add(
                Scenario(
                    name=name,
                    description=description,
                    response=effects.response,
                    job=effects.job,
                    webhook=effects.webhook,
                )
            )
            return factory

        return decorate

    def freeze(self) -> None:
        """Refuse further registrations (the built-in registry after import)."""
        self._frozen = True

    def extended(self, scenarios: Iterable[Scenario] = ()) -> ScenarioRegistry:
        """A new, unfrozen registry with these definitions plus ``scenarios``."""
        return ScenarioRegistry([*self._scenarios.values(), *scenarios])

    def get(self, name: str) -> Scenario | None:
        """The scenario called ``name`` (``job_failed:<kind>`` included), or None."""
        found = self._scenarios.get(name)
        if found is not None:
            return found
        base, _, kind = name.partition(":")
        template = self._scenarios.get(base)
        if kind and template is not None and template.job.outcome == "failed":
            if not re.fullmatch(r"[A-Za-z0-9_.]+", kind):
                return None
            return replace(
                template,
                name=name,
                description=f"{template.description} ({kind})",
                job=replace(template.job, failure=kind),
            )
        return None

    def resolve(self, name: str) -> Scenario:
        """:meth:`get`, or :class:`ScenarioError` listing the known names."""
        found = self.get(name)
        if found is None:
            raise ScenarioError(
                f"unknown scenario {name!r}; known: {', '.join(self.names())}", field="scenario"
            )
        return found

    def resolve_any(self, value: str) -> Scenario:
        """A scenario name or a three-digit error code."""
        return forced_code(value) if CODE.fullmatch(value) else self.resolve(value)

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._scenarios)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[Scenario]:
        return iter([self._scenarios[n] for n in self.names()])

    def __len__(self) -> int:
        return len(self._scenarios)

    def to_list(self) -> list[dict[str, Any]]:
        """Every definition, for the admin API and the docs."""
        return [s.to_dict() for s in self]


SCENARIOS = ScenarioRegistry()


@SCENARIOS.register("job_failed", "the job runs, then fails with the provider's default failure")
def _job_failed() -> Effects:
    return Effects(job=JobEffect(outcome="failed"))


# The failure kinds the provider contracts share (errors.job_failures.kinds);
# other kinds still resolve through the `job_failed:<kind>` template.
for _kind, _text in (
    ("generation_failed", "the model failed to generate"),
    ("content_moderation", "the input or output was flagged by moderation"),
    ("invalid_input_media", "an input file could not be fetched"),
    ("timeout", "the provider timed out the job"),
):
    SCENARIOS.add(
        Scenario(
            name=f"job_failed:{_kind}",
            description=f"the job runs, then fails: {_text}",
            job=JobEffect(outcome="failed", failure=_kind),
        )
    )


@SCENARIOS.register("job_stuck", "the job is accepted and never finishes")
def _job_stuck() -> Effects:
    return Effects(job=JobEffect(stuck=True))


@SCENARIOS.register("slow", "the response is delayed (default 3 s; Prefer: delay=<s>)")
def _slow() -> Effects:
    return Effects(response=ResponseEffect(delay_seconds=DEFAULT_SLOW_DELAY_SECONDS))


@SCENARIOS.register("drop_connection", "the connection closes without a response")
def _drop_connection() -> Effects:
    return Effects(response=ResponseEffect(drop_connection=True))


@SCENARIOS.register(
    "drop_after_headers",
    "the status line and headers are sent (promising a body), then the connection closes",
)
def _drop_after_headers() -> Effects:
    return Effects(response=ResponseEffect(drop_after_headers=True))


@SCENARIOS.register("malformed_body", "the response body is not valid JSON")
def _malformed_body() -> Effects:
    return Effects(response=ResponseEffect(malformed_body=True))


@SCENARIOS.register("truncated_body", "the response body is cut off halfway")
def _truncated_body() -> Effects:
    return Effects(response=ResponseEffect(truncated_body=True))


@SCENARIOS.register("webhook_refused", "every webhook delivery meets a refused connection")
def _webhook_refused() -> Effects:
    return Effects(webhook=WebhookEffect(refused=True))


@SCENARIOS.register("webhook_timeout", "every webhook delivery times out")
def _webhook_timeout() -> Effects:
    return Effects(webhook=WebhookEffect(timeout=True))


@SCENARIOS.register("webhook_duplicate", "the final webhook is delivered twice")
def _webhook_duplicate() -> Effects:
    return Effects(webhook=WebhookEffect(duplicate=True))


@SCENARIOS.register(
    "webhook_out_of_order", "a stale earlier-state webhook arrives after the final one"
)
def _webhook_out_of_order() -> Effects:
    return Effects(webhook=WebhookEffect(out_of_order=True))


@SCENARIOS.register(
    "output_expired", "the job succeeds, but its output URL has already expired (403)"
)
def _output_expired() -> Effects:
    return Effects(job=JobEffect(output_expired=True))


@SCENARIOS.register(
    "sync_timeout", "a sync-mode create gives up waiting: status processing, code 5004"
)
def _sync_timeout() -> Effects:
    return Effects(job=JobEffect(sync_timeout=True))


@SCENARIOS.register(
    "chaos", "schema-valid but adversarial responses and lifecycle from a seed (Prefer: seed=<n>)"
)
def _chaos() -> Effects:
    return Effects(response=ResponseEffect(chaos=True))


SCENARIOS.freeze()
