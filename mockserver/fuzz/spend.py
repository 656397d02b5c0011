"""What fuzzing a real API could cost: the worst-case price of a create.

For every model of the provider, the pricing inputs (the fields a rule
matches on, the quantity field, a table's dimensions) are tried with every
value the input schema allows for them — each enum member, else the minimum,
maximum and default — and priced with :func:`mockserver.domain.billing.price`
(through the provider's :class:`BillingPolicy`, so Apikley's per-model
tables and the billed-seconds assumptions apply). The dearest result, times
the number of creates a run may send, is the spend we print.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from mockserver.contracts import ModelContract, ProviderContract
from mockserver.domain.billing import BillingPolicy, PricingError, format_amount

__all__ = ["CREATE_PHASES", "spend_lines", "worst_case_price"]

#: Phases that send schema-valid creates, each up to ``max_examples`` of them:
#: examples/coverage (positive part), fuzzing, stateful.
CREATE_PHASES = 3

_MAX_COMBINATIONS = 4096


def _pricing_fields(pricing: Mapping[str, Any] | None) -> set[str]:
    if not pricing:
        return set()
    fields: set[str] = set()
    if pricing.get("kind") == "table":
        fields.update(str(d) for d in pricing.get("dimensions", []))
    quantity = pricing.get("quantity") or {}
    if quantity.get("field"):
        fields.add(str(quantity["field"]))
    for rule in pricing.get("rules", []):
        when = rule.get("when")
        if isinstance(when, Mapping) and when.get("field"):
            fields.add(str(when["field"]))
    return fields


def _candidates(schema: Mapping[str, Any]) -> list[Any]:
    if "enum" in schema:
        return list(schema["enum"])
    values = [schema.get(k) for k in ("maximum", "minimum", "default")]
    return [v for v in values if v is not None]


def worst_case_price(
    model: ModelContract, policy: BillingPolicy
) -> tuple[Decimal, str, dict[str, Any]] | None:
    """``(amount, currency, inputs)`` of the dearest request to ``model``; None if unpriced."""
    names = [model.slug, model.model_id]
    pricing = model.pricing
    effective = pricing or next((policy.prices[n] for n in names if n in policy.prices), None)
    effective = effective or policy.fallback
    properties = model.input_schema.get("properties", {})
    fields = sorted(f for f in _pricing_fields(effective) if f in properties)
    choices = [_candidates(properties[f]) or [None] for f in fields]
    best: tuple[Decimal, str, dict[str, Any]] | None = None
    for count, values in enumerate(itertools.product(*choices)):
        if count >= _MAX_COMBINATIONS:
            break
        inputs = model.with_defaults({f: v for f, v in zip(fields, values, strict=True)
                                      if v is not None})
        try:
            quote = policy.price(pricing, inputs, model=names)
        except PricingError:
            continue
        if best is None or quote.amount > best[0]:
            best = (quote.amount, quote.currency, inputs)
    return best


def spend_lines(contract: ProviderContract, max_examples: int) -> list[str]:
    """Readable lines: the dearest model request and the worst case of the run."""
    policy = BillingPolicy.from_spec(contract.spec.billing)
    worst: tuple[Decimal, str, str] | None = None
    for model in sorted(contract.models.values(), key=lambda m: m.model_id):
        found = worst_case_price(model, policy)
        if found is not None and (worst is None or found[0] > worst[0]):
            worst = (found[0], found[1], model.model_id)
    if worst is None or worst[0] == 0:
        return ["creates are free according to the contracts"]
    amount, currency, model_id = worst
    jobs = max_examples * CREATE_PHASES
    return [
        f"dearest create: {format_amount(amount, currency)} ({model_id}, worst-case inputs)",
        f"worst case for this run: {format_amount(amount * jobs, currency)} "
        f"(= {jobs} accepted creates: {max_examples} examples x {CREATE_PHASES} phases)",
    ]
