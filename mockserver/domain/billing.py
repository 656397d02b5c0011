"""Prices, reservations and charges.

:func:`price` turns a model contract's ``pricing`` object and a request's
inputs into a :class:`Quote`. :class:`Ledger` then reserves the quoted amount
against an account when a job is created, charges it when the job succeeds
(:meth:`Ledger.settle`) and gives it back when the job fails or is cancelled
(:meth:`Ledger.release`): a failed or cancelled job costs nothing.

Money is :class:`decimal.Decimal` everywhere: ``0.10 * 3`` must be ``0.30``
and the balance after a thousand jobs must equal the start minus the sum of
their prices to the cent. Contract prices arrive as JSON numbers (floats);
they are converted through ``str`` so ``0.075`` becomes ``Decimal("0.075")``,
never the binary approximation.

Pricing objects (the format of ``ARCHITECTURE.md``):

``{"kind": "rules", "currency", "unit", "quantity": {"field", "default"}, "rules": [...]}``
    The first rule whose ``when`` matches wins; ``op`` ``"eq"`` is exact string
    equality after ``str()``, ``"eq_i"`` is the same ignoring case. A rule with
    ``when: null`` is the fallback and applies only when no conditional rule
    matched. The amount is ``unit_price × quantity``; the quantity is the input
    named by ``quantity.field`` (numbers in strings, such as Eachlabs Wan 2.5's
    ``"5"``, are accepted), else ``quantity.default``, else the provider's
    ``billed_seconds_assumption`` (for models without a duration input).
    A unit other than seconds with no quantity field prices one unit per job.

``{"kind": "table", "currency", "dimensions": [...], "cells": [{<dim>: v, "price": p}]}``
    The cell whose every dimension equals the input wins. **The caller must
    apply the input schema's defaults first**: a missing dimension is a
    :class:`PricingError`, not a guess, because a wrong price is worse than a
    loud failure.

Provider fallback: a provider whose model contracts carry ``pricing: null``
(Apikley publishes no per-model price) supplies prices in its contract's
``billing`` section instead: ``prices.<model>`` (a pricing object of the same
format, or a one-input price table such as Apikley's credits per resolution)
or ``fallback`` (a pricing object for every unpriced model).
:class:`BillingPolicy` reads that section, and also the per-model
``assumptions.<model>.billed_seconds``. With no price anywhere the job is
free (a zero quote), so the mock never refuses work it cannot price.

Amounts in ``credits`` (see :data:`WHOLE_UNIT_CURRENCIES`) are rounded up to
a whole credit: a provider never charges a fraction of one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any, Literal, Protocol

from mockserver.domain.errors import MockError
from mockserver.provider_spec import Billing

__all__ = [
    "WHOLE_UNIT_CURRENCIES",
    "BillingPolicy",
    "Funded",
    "Ledger",
    "PricingError",
    "Quote",
    "Reservation",
    "format_amount",
    "price",
    "pricing_from_field_table",
    "to_decimal",
]

#: Currencies counted in whole units; amounts in them are rounded up.
WHOLE_UNIT_CURRENCIES = frozenset({"credits", "credit"})

_SECOND_UNITS = frozenset({"second", "seconds", "sec", "s"})

QuoteKind = Literal["rules", "table", "free"]
QuantitySource = Literal["input", "default", "assumption", "unit"]


class PricingError(ValueError):
    """A pricing object or the inputs given to it cannot produce a price.

    This is a bug in a contract or in the caller (defaults not applied), not a
    client error, so it is not a :class:`MockError`: the HTTP layer should let
    it surface as a 500 with this message.
    """


def to_decimal(value: Any, *, what: str = "value") -> Decimal:
    """Convert a JSON number or numeric string to an exact :class:`Decimal`.

    Floats go through ``str`` (``0.1`` -> ``Decimal("0.1")``); booleans are
    refused although Python counts them as integers.
    """
    if isinstance(value, bool):
        raise PricingError(f"{what} must be a number, got {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | float):
        result = Decimal(str(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise PricingError(f"{what} must be a number, got {value!r}") from None
    else:
        raise PricingError(f"{what} must be a number, got {value!r}")
    if not result.is_finite():
        raise PricingError(f"{what} must be finite, got {value!r}")
    return result


def format_amount(amount: Decimal, currency: str) -> str:
    """Render an amount for messages: ``$0.50`` for USD, ``120 credits`` otherwise."""
    if currency.upper() == "USD":
        # At least cents, more digits only when the amount has them (0.375).
        exponent = amount.as_tuple().exponent
        cents = amount.quantize(Decimal("0.01"))
        # Sub-cent prices (0.375) keep their digits; everything else shows cents.
        shown = cents if cents == amount or not isinstance(exponent, int) else amount.normalize()
        return f"${shown}"
    return f"{amount} {currency}"


@dataclass(frozen=True)
class Quote:
    """The price of one job and how it was reached.

    ``rule`` is the matched rule or table cell exactly as in the contract
    (``None`` for a free quote); ``quantity`` is the number of units billed
    (seconds for per-second rules, ``1`` for a table cell) and
    ``quantity_source`` says where it came from.
    """

    amount: Decimal
    currency: str
    kind: QuoteKind
    rule: Mapping[str, Any] | None = None
    label: str | None = None
    unit: str | None = None
    unit_price: Decimal | None = None
    quantity: Decimal | None = None
    quantity_source: QuantitySource | None = None
    from_fallback: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (amounts as strings so no precision is lost)."""
        return {
            "amount": str(self.amount),
            "currency": self.currency,
            "kind": self.kind,
            "label": self.label,
            "unit": self.unit,
            "unit_price": None if self.unit_price is None else str(self.unit_price),
            "quantity": None if self.quantity is None else str(self.quantity),
            "quantity_source": self.quantity_source,
            "from_fallback": self.from_fallback,
            "rule": None if self.rule is None else dict(self.rule),
        }


def price(
    pricing: Mapping[str, Any] | None,
    inputs: Mapping[str, Any],
    *,
    billed_seconds_assumption: float | Decimal | None = None,
    fallback: Mapping[str, Any] | None = None,
    currency: str = "USD",
) -> Quote:
    """Price one job.

    ``pricing`` is the model contract's ``pricing`` (or ``None``); ``inputs``
    the validated model inputs **with schema defaults applied**.
    ``billed_seconds_assumption`` is the provider's assumed length of a video
    from a model without a duration input; ``fallback`` the provider's pricing
    object used when the model has none. ``currency`` labels a free quote.
    Raises :class:`PricingError` when the pricing cannot be applied.
    """
    from_fallback = False
    if pricing is None:
        if fallback is None:
            return Quote(amount=Decimal(0), currency=currency, kind="free")
        pricing, from_fallback = fallback, True
    kind = pricing.get("kind")
    if kind == "rules":
        quote = _price_rules(pricing, inputs, billed_seconds_assumption)
    elif kind == "table":
        quote = _price_table(pricing, inputs)
    else:
        raise PricingError(f"unknown pricing kind {kind!r}")
    if from_fallback:
        quote = replace(quote, from_fallback=True)
    return quote


def _round(amount: Decimal, currency: str) -> Decimal:
    if currency.lower() in WHOLE_UNIT_CURRENCIES:
        return amount.to_integral_value(rounding=ROUND_CEILING)
    return amount


def _currency(pricing: Mapping[str, Any]) -> str:
    value = pricing.get("currency") or "USD"
    return str(value)


def _rule_matches(when: Mapping[str, Any], inputs: Mapping[str, Any]) -> bool:
    name = when.get("field")
    op = when.get("op")
    expected = when.get("value")
    if not isinstance(name, str):
        raise PricingError(f"rule condition without a field: {dict(when)!r}")
    if op not in ("eq", "eq_i"):
        raise PricingError(f"unknown rule operator {op!r}")
    # An absent input matches no condition: defaults are the caller's job, and
    # an absent value then falls through to the fallback rule as on the wire.
    if name not in inputs or inputs[name] is None:
        return False
    actual = _as_text(inputs[name])
    wanted = _as_text(expected)
    if op == "eq":
        return actual == wanted
    return actual.casefold() == wanted.casefold()


def _as_text(value: Any) -> str:
    # JSON spellings for booleans so `true` in a rule equals a True input.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _quantity(
    pricing: Mapping[str, Any],
    inputs: Mapping[str, Any],
    assumption: float | Decimal | None,
) -> tuple[Decimal, QuantitySource]:
    spec = pricing.get("quantity") or {}
    if not isinstance(spec, Mapping):
        raise PricingError(f"pricing quantity must be an object, got {spec!r}")
    name = spec.get("field")
    default = spec.get("default")
    if isinstance(name, str) and inputs.get(name) is not None:
        return to_decimal(inputs[name], what=f"input {name!r}"), "input"
    if default is not None:
        return to_decimal(default, what="quantity default"), "default"
    unit = str(pricing.get("unit") or "second").lower()
    if unit in _SECOND_UNITS:
        if assumption is None:
            raise PricingError(
                "per-second pricing without a duration input, default or billed_seconds_assumption"
            )
        return to_decimal(assumption, what="billed_seconds_assumption"), "assumption"
    return Decimal(1), "unit"


def _price_rules(
    pricing: Mapping[str, Any],
    inputs: Mapping[str, Any],
    assumption: float | Decimal | None,
) -> Quote:
    rules = pricing.get("rules")
    if not isinstance(rules, list) or not rules:
        raise PricingError("rules pricing without rules")
    chosen: Mapping[str, Any] | None = None
    fallback: Mapping[str, Any] | None = None
    for rule in rules:
        when = rule.get("when")
        if when is None:
            # The first fallback counts; it applies only after every condition failed.
            fallback = fallback or rule
            continue
        if _rule_matches(when, inputs):
            chosen = rule
            break
    chosen = chosen or fallback
    if chosen is None:
        raise PricingError(f"no pricing rule matches {dict(inputs)!r} and there is no fallback")
    currency = _currency(pricing)
    unit_price = to_decimal(chosen.get("unit_price"), what="unit_price")
    quantity, source = _quantity(pricing, inputs, assumption)
    if quantity < 0:
        raise PricingError(f"negative quantity {quantity}")
    return Quote(
        amount=_round(unit_price * quantity, currency),
        currency=currency,
        kind="rules",
        rule=chosen,
        label=chosen.get("label"),
        unit=str(pricing.get("unit") or "second"),
        unit_price=unit_price,
        quantity=quantity,
        quantity_source=source,
    )


def _same(cell_value: Any, input_value: Any) -> bool:
    # Numbers compare by value (5 == "5" == 5.0); text ignoring case, because
    # table headers come from rendered pages ("480p") while inputs are enums.
    try:
        return to_decimal(cell_value) == to_decimal(input_value)
    except PricingError:
        return _as_text(cell_value).casefold() == _as_text(input_value).casefold()


def _price_table(pricing: Mapping[str, Any], inputs: Mapping[str, Any]) -> Quote:
    dimensions = pricing.get("dimensions")
    cells = pricing.get("cells")
    if not isinstance(dimensions, list) or not dimensions or not isinstance(cells, list):
        raise PricingError("table pricing needs dimensions and cells")
    missing = [d for d in dimensions if inputs.get(d) is None]
    if missing:
        raise PricingError(
            f"table pricing needs input(s) {', '.join(map(repr, missing))}; "
            "apply the input schema defaults before pricing"
        )
    for cell in cells:
        if all(_same(cell.get(d), inputs[d]) for d in dimensions):
            currency = _currency(pricing)
            amount = to_decimal(cell.get("price"), what="cell price")
            label = ", ".join(f"{d}={cell.get(d)}" for d in dimensions)
            return Quote(
                amount=_round(amount, currency),
                currency=currency,
                kind="table",
                rule=cell,
                label=label,
                unit="job",
                unit_price=amount,
                quantity=Decimal(1),
                quantity_source="unit",
            )
    wanted = ", ".join(f"{d}={inputs[d]!r}" for d in dimensions)
    raise PricingError(f"no price in the table for {wanted}")


def pricing_from_field_table(entry: Mapping[str, Any], currency: str) -> dict[str, Any]:
    """Turn a provider contract's per-field price table into a rules pricing object.

    Apikley's ``billing.prices.<model>`` is ``{"unit", "by_field", "table":
    {value: price}, "default_field_value"}``: one price per value of one
    input. It becomes case-insensitive rules, with the default value's price
    as the fallback (an absent input gets the default's price, as the schema
    default would give it).
    """
    by_field = entry.get("by_field")
    table = entry.get("table")
    if not isinstance(by_field, str) or not isinstance(table, Mapping) or not table:
        raise PricingError(f"price table needs by_field and table: {dict(entry)!r}")
    rules: list[dict[str, Any]] = [
        {
            "when": {"field": by_field, "op": "eq_i", "value": value},
            "unit_price": amount,
            "label": f"{by_field} {value}",
            "fallback": False,
        }
        for value, amount in table.items()
    ]
    default = entry.get("default_field_value")
    if default is not None:
        if default not in table:
            raise PricingError(f"default_field_value {default!r} has no price in the table")
        rules.append(
            {
                "when": None,
                "unit_price": table[default],
                "label": f"{by_field} {default} (default)",
                "fallback": True,
            }
        )
    return {
        "kind": "rules",
        "currency": currency,
        "unit": str(entry.get("unit") or "job"),
        "quantity": None,
        "rules": rules,
    }


@dataclass(frozen=True)
class BillingPolicy:
    """A provider's billing facts: currency, per-model assumptions and prices.

    Built from the provider contract's ``billing`` section by
    :meth:`from_contract`; :meth:`price` then prices a model's request with
    them. Models are looked up by any of the names the caller passes (the
    contracts key Eachlabs and WaveSpeed models by slug, Apikley by model id).
    """

    currency: str = "USD"
    #: model -> seconds billed when the model has no duration input.
    billed_seconds: Mapping[str, Decimal] = field(default_factory=dict)
    #: model -> pricing object used when the model contract's pricing is null.
    prices: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: pricing object for any model with neither its own nor a per-model price.
    fallback: Mapping[str, Any] | None = None
    #: seconds billed for any model without a duration input and without its own entry.
    default_billed_seconds: Decimal | None = None

    @classmethod
    def from_contract(cls, contract: Mapping[str, Any] | None) -> BillingPolicy:
        """Build from a provider contract document or its ``billing`` section.

        For callers holding a plain mapping (tests); code holding a loaded
        contract passes ``contract.spec.billing`` to :meth:`from_spec`.
        """
        if not contract:
            return cls()
        section: Mapping[str, Any] = contract
        if isinstance(contract.get("billing"), Mapping):
            section = contract["billing"]
        return cls.from_spec(Billing.of(section))

    @classmethod
    def from_spec(cls, billing: Billing) -> BillingPolicy:
        """Build from a provider contract's typed ``billing`` section.

        Reads (facts already unwrapped by :class:`~mockserver.provider_spec.Billing`):

        - ``currency`` (default ``USD``);
        - ``billed_seconds_assumption``: seconds billed for a model without a
          duration input;
        - ``assumptions.<model>.billed_seconds``: the same for one model
          (null: the model has a duration);
        - ``prices.<model>``: a pricing object (with ``kind``) or a per-field
          table (see :func:`pricing_from_field_table`);
        - ``fallback``: a pricing object for every other unpriced model.
        """
        currency = str(billing.currency or "USD")
        billed: dict[str, Decimal] = {}
        for model, seconds in billing.assumptions.items():
            if seconds is not None:
                billed[model] = to_decimal(seconds, what=f"billed_seconds of {model}")
        prices: dict[str, Mapping[str, Any]] = {}
        for model, entry in billing.prices.items():
            if not isinstance(entry, Mapping):
                raise PricingError(f"price of {model} must be an object")
            if "kind" in entry:
                prices[model] = {"currency": currency, **entry}
            else:
                prices[model] = pricing_from_field_table(entry, currency)
        fallback = billing.fallback
        if fallback is not None and not isinstance(fallback, Mapping):
            raise PricingError(f"billing fallback must be a pricing object, got {fallback!r}")
        default_seconds = billing.billed_seconds_assumption
        return cls(
            currency=currency,
            billed_seconds=billed,
            prices=prices,
            fallback=fallback,
            default_billed_seconds=(
                None
                if default_seconds is None
                else to_decimal(default_seconds, what="billed_seconds_assumption")
            ),
        )

    #: Quotes already computed, keyed by model names and the inputs that price
    #: depends on (see :func:`pricing_inputs`); each entry keeps the pricing
    #: object it was computed from. Quotes are immutable.
    _memo: dict[tuple[Any, ...], tuple[Mapping[str, Any] | None, Quote]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    #: model names -> (pricing, the input fields it reads or None).
    _fields: dict[tuple[str, ...], tuple[Mapping[str, Any] | None, tuple[str, ...] | None]] = (
        field(default_factory=dict, init=False, repr=False, compare=False)
    )

    def price(
        self,
        pricing: Mapping[str, Any] | None,
        inputs: Mapping[str, Any],
        *,
        model: str | Iterable[str] = (),
    ) -> Quote:
        """:func:`price` with this provider's assumption and fallback for ``model``.

        ``model`` is the model's slug, its id, or both; the first name with an
        entry in the contract is used. A create prices its job on the request
        path, so a quote is remembered per model and per the values of the few
        inputs the pricing reads (a prompt never changes a price).
        """
        names = (model,) if isinstance(model, str) else tuple(model)
        fields = self._fields_for(names, pricing)
        key: tuple[Any, ...] | None = None
        if fields is not None:
            # (type, value): 5, 5.0 and True price alike today, but a rule may
            # one day tell them apart; the memo never conflates them.
            key = (names, *[(type(v), v) for v in map(inputs.get, fields)])
            try:
                cached = self._memo.get(key)
            except TypeError:  # an unhashable value (a list): price it afresh
                key, cached = None, None
            # Other pricing for the same model (a reloaded contract): afresh.
            if cached is not None and cached[0] is pricing:
                return cached[1]
        quote = price(
            pricing,
            inputs,
            billed_seconds_assumption=self._assumption_for(names),
            fallback=self._fallback_for(names),
            currency=self.currency,
        )
        if key is not None:
            if len(self._memo) >= _QUOTE_MEMO_SIZE:
                self._memo.clear()  # a bound, not an LRU: inputs rarely vary this much
            self._memo[key] = (pricing, quote)
        return quote

    def _fields_for(
        self, names: tuple[str, ...], pricing: Mapping[str, Any] | None
    ) -> tuple[str, ...] | None:
        known = self._fields.get(names)
        if known is not None and known[0] is pricing:
            return known[1]
        effective = pricing if pricing is not None else self._fallback_for(names)
        fields = None if effective is None else pricing_inputs(effective)
        if len(self._fields) >= _QUOTE_MEMO_SIZE:
            self._fields.clear()
        self._fields[names] = (pricing, fields)
        return fields

    def _assumption_for(self, names: tuple[str, ...]) -> Decimal | None:
        for name in names:
            if name in self.billed_seconds:
                return self.billed_seconds[name]
        return self.default_billed_seconds

    def _fallback_for(self, names: tuple[str, ...]) -> Mapping[str, Any] | None:
        for name in names:
            if name in self.prices:
                return self.prices[name]
        return self.fallback


#: Bound of :attr:`BillingPolicy._memo`.
_QUOTE_MEMO_SIZE = 4096


def pricing_inputs(pricing: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The input fields a pricing object reads, in a fixed order; None if unknown.

    Rules read their conditions' fields and the quantity field; a table reads
    its dimensions. Any other shape (an unknown kind) returns None: the caller
    then prices without remembering, and :func:`price` reports the problem.
    """
    kind = pricing.get("kind")
    names: list[str] = []
    if kind == "rules":
        rules = pricing.get("rules")
        if not isinstance(rules, list):
            return None
        for rule in rules:
            when = rule.get("when") if isinstance(rule, Mapping) else None
            if isinstance(when, Mapping) and isinstance(when.get("field"), str):
                names.append(when["field"])
        quantity = pricing.get("quantity")
        if isinstance(quantity, Mapping) and isinstance(quantity.get("field"), str):
            names.append(quantity["field"])
    elif kind == "table":
        dimensions = pricing.get("dimensions")
        if not isinstance(dimensions, list) or not all(isinstance(d, str) for d in dimensions):
            return None
        names.extend(dimensions)
    else:
        return None
    return tuple(sorted(set(names)))


class Funded(Protocol):
    """What the ledger needs of an account (``accounts.Account`` is one)."""

    balance: Decimal
    reserved: Decimal
    currency: str


@dataclass(slots=True)  # one per job in flight: no __dict__ each
class Reservation:
    """Money held for one job until it settles or is released."""

    job_id: str
    account: Funded
    amount: Decimal
    currency: str
    state: Literal["held", "settled", "released"] = "held"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the admin API."""
        return {
            "job_id": self.job_id,
            "amount": str(self.amount),
            "currency": self.currency,
            "state": self.state,
        }


@dataclass
class Ledger:
    """Reservations against accounts.

    Any :class:`Funded` object is an account here (``accounts.Account`` is
    one); the ledger keeps its ``reserved`` up to date. *Available* balance
    is ``balance - reserved``: Eachlabs documents that each running prediction
    reserves its estimated cost, so a second job is refused while the first
    still holds the money.
    """

    _held: dict[str, Reservation] = field(default_factory=dict)

    def reserve(self, account: Funded, job_id: str, amount: Decimal) -> Reservation:
        """Hold ``amount`` for ``job_id``, or raise ``MockError(402)``.

        The job is refused exactly when the available balance is below the
        price; an exact balance is enough.
        """
        if job_id in self._held:
            raise ValueError(f"job {job_id!r} already holds a reservation")
        if amount < 0:
            raise ValueError("cannot reserve a negative amount")
        currency = account.currency
        available = self.available(account)
        if amount > available:
            raise MockError(
                402,
                f"Insufficient balance: this job costs {format_amount(amount, currency)} "
                f"and the available balance is {format_amount(available, currency)}",
                details=(
                    f"price={amount} available={available} balance={account.balance} "
                    f"reserved={account.reserved} currency={currency}"
                ),
            )
        account.reserved = account.reserved + amount
        reservation = Reservation(job_id=job_id, account=account, amount=amount, currency=currency)
        self._held[job_id] = reservation
        return reservation

    def settle(self, job_id: str) -> Decimal:
        """Charge the job's reservation (it succeeded); return the amount charged.

        Settling a job with no reservation charges nothing: free jobs and jobs
        created before a reset need no special case in the caller.
        """
        reservation = self._held.pop(job_id, None)
        if reservation is None:
            return Decimal(0)
        account = reservation.account
        account.reserved = account.reserved - reservation.amount
        account.balance = account.balance - reservation.amount
        reservation.state = "settled"
        return reservation.amount

    def release(self, job_id: str) -> Decimal:
        """Give the reservation back (the job failed or was cancelled); return it."""
        reservation = self._held.pop(job_id, None)
        if reservation is None:
            return Decimal(0)
        account = reservation.account
        account.reserved = account.reserved - reservation.amount
        reservation.state = "released"
        return reservation.amount

    def held(self, job_id: str) -> Reservation | None:
        """The open reservation of ``job_id``, if any."""
        return self._held.get(job_id)

    @staticmethod
    def available(account: Funded) -> Decimal:
        """Balance minus what open reservations hold."""
        return account.balance - account.reserved

    def clear(self) -> None:
        """Drop every open reservation and return the money to its account."""
        for job_id in list(self._held):
            self.release(job_id)
