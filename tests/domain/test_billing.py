"""Pricing from the real contracts, reservations, and money that adds up to the cent."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from mockserver.domain.accounts import Account
from mockserver.domain.billing import (
    BillingPolicy,
    Ledger,
    PricingError,
    format_amount,
    price,
    pricing_from_field_table,
    to_decimal,
)
from mockserver.domain.errors import MockError

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"


def model(provider: str, slug: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (CONTRACTS / provider / "models" / f"{slug}.json").read_text(encoding="utf-8")
    )
    return data


def provider_contract(provider: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(
        (CONTRACTS / provider / "provider.yaml").read_text(encoding="utf-8")
    )
    return data


WAN25 = model("eachlabs", "wan-2-5-preview-image-to-video")["pricing"]
WAN27 = model("eachlabs", "alibaba-wan-2-7-image-to-video")["pricing"]
WAN22_TURBO = model("eachlabs", "wan-v2-2-a14b-image-to-video-turbo")["pricing"]
WAVESPEED = model("wavespeed", "wan-2.2-image-to-video")["pricing"]
EACHLABS_BILLING = BillingPolicy.from_contract(provider_contract("eachlabs"))
APIKLEY_BILLING = BillingPolicy.from_contract(provider_contract("apikley"))


# --- Eachlabs rules -------------------------------------------------------------


@pytest.mark.parametrize(
    ("resolution", "duration", "amount", "label"),
    [
        ("480p", "5", "0.25", "480p pricing"),
        ("720p", "5", "0.50", "720p pricing"),
        ("1080p", "5", "0.75", "1080p pricing (fallback)"),
        ("480p", "10", "0.50", "480p pricing"),
        ("720p", "10", "1.00", "720p pricing"),
        ("1080p", "10", "1.50", "1080p pricing (fallback)"),
    ],
)
def test_wan25_every_rule_with_string_durations(
    resolution: str, duration: str, amount: str, label: str
) -> None:
    quote = price(WAN25, {"resolution": resolution, "duration": duration})
    assert quote.amount == Decimal(amount)
    assert quote.currency == "USD"
    assert quote.label == label
    assert quote.quantity == Decimal(duration)
    assert quote.quantity_source == "input"


def test_wan25_documented_example_price_uses_the_quantity_default() -> None:
    # The page says "Estimated Price (default example): $0.5000" at 720p.
    quote = price(WAN25, {"resolution": "720p"})
    assert quote.amount == Decimal("0.50")
    assert quote.quantity_source == "default"


@pytest.mark.parametrize("spelling", ["720P", "720p", "720p".upper(), "720P".lower()])
def test_eq_i_ignores_case(spelling: str) -> None:
    assert price(WAN25, {"resolution": spelling, "duration": 5}).label == "720p pricing"


def test_eq_is_case_sensitive_and_misses_fall_back() -> None:
    assert price(WAN27, {"resolution": "720P", "duration": 5}).amount == Decimal("0.50")
    # Wan 2.7 says `resolution == "720P"`: lower case misses and pays the fallback.
    quote = price(WAN27, {"resolution": "720p", "duration": 5})
    assert quote.label == "1080P pricing"
    assert quote.amount == Decimal("0.75")


@pytest.mark.parametrize(
    ("resolution", "duration", "amount"),
    [("720P", 2, "0.20"), ("1080P", 5, "0.75"), ("1080P", 15, "2.25"), ("720P", 15, "1.50")],
)
def test_wan27_every_rule(resolution: str, duration: int, amount: str) -> None:
    assert price(WAN27, {"resolution": resolution, "duration": duration}).amount == Decimal(amount)


def test_fallback_rule_applies_when_the_input_is_absent() -> None:
    quote = price(WAN27, {"duration": 4})
    assert quote.rule is not None and quote.rule["when"] is None
    assert quote.amount == Decimal("0.60")


@pytest.mark.parametrize(
    ("resolution", "amount"), [("480p", "0.25"), ("580p", "0.375"), ("720p", "0.50")]
)
def test_model_without_duration_bills_the_provider_assumption(resolution: str, amount: str) -> None:
    quote = EACHLABS_BILLING.price(
        WAN22_TURBO, {"resolution": resolution}, model="wan-v2-2-a14b-image-to-video-turbo"
    )
    assert quote.amount == Decimal(amount)
    assert quote.quantity == Decimal(5)
    assert quote.quantity_source == "assumption"


def test_model_without_duration_and_without_assumption_is_a_pricing_error() -> None:
    with pytest.raises(PricingError, match="billed_seconds_assumption"):
        price(WAN22_TURBO, {"resolution": "720p"})


def test_quote_rule_is_the_contract_rule() -> None:
    quote = price(WAN25, {"resolution": "480p", "duration": "5"})
    assert quote.rule is WAN25["rules"][0]
    assert quote.to_dict()["amount"] == "0.25"
    assert quote.to_dict()["unit_price"] == "0.05"


# --- WaveSpeed table ------------------------------------------------------------


@pytest.mark.parametrize(
    ("duration", "resolution", "amount"),
    [(5, "480p", "0.15"), (5, "720p", "0.3"), (8, "480p", "0.24"), (8, "720p", "0.48")],
)
def test_wavespeed_table_all_four_cells(duration: int, resolution: str, amount: str) -> None:
    quote = price(WAVESPEED, {"duration": duration, "resolution": resolution})
    assert quote.amount == Decimal(amount)
    assert quote.kind == "table"
    assert quote.rule == {"duration": duration, "resolution": resolution, "price": float(amount)}


def test_table_matches_numbers_in_strings() -> None:
    assert price(WAVESPEED, {"duration": "8", "resolution": "720p"}).amount == Decimal("0.48")


def test_table_needs_defaults_applied_first() -> None:
    with pytest.raises(PricingError, match="apply the input schema defaults"):
        price(WAVESPEED, {"resolution": "480p"})


def test_table_without_a_cell_is_a_pricing_error() -> None:
    with pytest.raises(PricingError, match="no price in the table"):
        price(WAVESPEED, {"duration": 6, "resolution": "480p"})


# --- Apikley: prices from the provider contract ---------------------------------


@pytest.mark.parametrize(
    ("inputs", "credits"),
    [({"resolution": "480p"}, 40), ({"resolution": "580P"}, 60), ({"resolution": "720p"}, 80)],
)
def test_apikley_credits_from_the_billing_section(inputs: dict[str, str], credits: int) -> None:
    pricing = model("apikley", "wan-2-2-a14b-image-to-video-turbo")["pricing"]
    assert pricing is None
    quote = APIKLEY_BILLING.price(pricing, inputs, model="wan/2-2-a14b-image-to-video-turbo")
    assert quote.amount == Decimal(credits)
    assert quote.currency == "credits"
    assert quote.from_fallback


def test_apikley_model_names_any_spelling() -> None:
    quote = APIKLEY_BILLING.price(
        None, {"resolution": "720p"}, model=["wan-2-2-a14b-image-to-video-turbo", "wan/2-2"]
    )
    assert quote.amount == Decimal(80)


def test_remembered_quotes_follow_the_inputs_that_price_reads() -> None:
    policy = BillingPolicy.from_contract(provider_contract("wavespeed"))
    pricing = model("wavespeed", "wan-2.2-image-to-video")["pricing"]
    base = {"resolution": "480p", "duration": 5, "prompt": "a cat"}
    first = policy.price(pricing, base, model="wan-2.2-image-to-video")
    # Another prompt: the same quote object (remembered), the same price.
    assert policy.price(pricing, {**base, "prompt": "a dog"}, model="wan-2.2-image-to-video") is (
        first
    )
    # Each input the table reads changes the price, remembered or not.
    for _ in range(2):
        longer = policy.price(pricing, {**base, "duration": 8}, model="wan-2.2-image-to-video")
        sharper = policy.price(pricing, {**base, "resolution": "720p"},
                               model="wan-2.2-image-to-video")
        assert longer.amount != first.amount
        assert sharper.amount != first.amount
        assert longer == price(pricing, {**base, "duration": 8})
        assert sharper == price(pricing, {**base, "resolution": "720p"})
    # Other pricing for the same model name is never answered from the memo.
    doubled = {**pricing, "cells": [{**c, "price": c["price"] * 2} for c in pricing["cells"]]}
    assert policy.price(doubled, base, model="wan-2.2-image-to-video").amount == (
        2 * first.amount
    )


def test_no_pricing_anywhere_is_free() -> None:
    quote = BillingPolicy.from_contract(provider_contract("wavespeed")).price(None, {})
    assert quote.amount == Decimal(0)
    assert quote.kind == "free"


def test_provider_wide_billed_seconds_assumption() -> None:
    policy = BillingPolicy.from_contract(
        {
            "billing": {
                "currency": "USD",
                "billed_seconds_assumption": {"value": 4, "provenance": "x"},
            }
        }
    )
    assert policy.price(WAN22_TURBO, {"resolution": "480p"}, model="other").amount == Decimal(
        "0.20"
    )


def test_per_field_price_tables_become_rules() -> None:
    policy = BillingPolicy.from_contract(
        {
            "currency": "credits",
            "prices": {
                "m": {
                    "unit": "video",
                    "by_field": "resolution",
                    "table": {"480p": 40, "720p": 80},
                    "default_field_value": "720p",
                }
            },
        }
    )
    assert policy.price(None, {"resolution": "480P"}, model="m").amount == Decimal(40)
    assert policy.price(None, {}, model="m").amount == Decimal(80)


def test_generic_fallback_pricing_object_and_whole_credits() -> None:
    fallback = {
        "kind": "rules",
        "currency": "credits",
        "unit": "second",
        "quantity": {"field": "duration", "default": None},
        "rules": [{"when": None, "unit_price": 2.5, "label": "per second", "fallback": True}],
    }
    policy = BillingPolicy.from_contract({"billing": {"currency": "credits", "fallback": fallback}})
    # 2.5 credits x 3 s = 7.5 -> a provider never charges half a credit: 8.
    assert policy.price(None, {"duration": 3}).amount == Decimal(8)


def test_field_table_default_must_be_priced() -> None:
    with pytest.raises(PricingError):
        pricing_from_field_table(
            {"by_field": "resolution", "table": {"480p": 1}, "default_field_value": "720p"},
            "credits",
        )


def test_bad_pricing_objects_fail_loudly() -> None:
    with pytest.raises(PricingError, match="unknown pricing kind"):
        price({"kind": "tiers"}, {})
    bad_op = {**WAN25, "rules": [{"when": {"field": "resolution", "op": "gt", "value": 1}}]}
    with pytest.raises(PricingError, match="operator"):
        price(bad_op, {"resolution": "480p"})
    no_fallback = {**WAN25, "rules": WAN25["rules"][:2]}
    with pytest.raises(PricingError, match="no pricing rule"):
        price(no_fallback, {"resolution": "1080p", "duration": 5})
    with pytest.raises(PricingError, match="must be a number"):
        price(WAN25, {"resolution": "480p", "duration": "five"})


def test_to_decimal_is_exact() -> None:
    assert to_decimal(0.075) == Decimal("0.075")
    assert to_decimal("10") == Decimal(10)
    with pytest.raises(PricingError):
        to_decimal(True)
    with pytest.raises(PricingError):
        to_decimal(float("nan"))


def test_format_amount() -> None:
    assert format_amount(Decimal("0.5"), "USD") == "$0.50"
    assert format_amount(Decimal("0.375"), "USD") == "$0.375"
    assert format_amount(Decimal(80), "credits") == "80 credits"


# --- the ledger -----------------------------------------------------------------


def account(balance: str, currency: str = "USD") -> Account:
    return Account(provider="eachlabs", key="k", currency=currency, balance=Decimal(balance))


def test_balance_after_many_jobs_is_exact_to_the_cent() -> None:
    acct = account("1000.00")
    ledger = Ledger()
    charged = Decimal(0)
    for n in range(400):
        quote = price(
            WAN22_TURBO if n % 2 else WAN25,
            {"resolution": ["480p", "580p", "720p", "1080p"][n % 4], "duration": "5"},
            billed_seconds_assumption=n % 3 + 1,
        )
        ledger.reserve(acct, f"job-{n}", quote.amount)
        charged += ledger.settle(f"job-{n}")
    assert charged == sum(
        (
            price(
                WAN22_TURBO if n % 2 else WAN25,
                {"resolution": ["480p", "580p", "720p", "1080p"][n % 4], "duration": "5"},
                billed_seconds_assumption=n % 3 + 1,
            ).amount
            for n in range(400)
        ),
        Decimal(0),
    )
    assert acct.balance == Decimal("1000.00") - charged
    assert acct.reserved == 0
    # The float way drifts, which is why money is Decimal. (Added one by one:
    # since 3.12 the builtin sum() of floats compensates and hides the drift.)
    total = 0.0
    for _ in range(30):
        total += 0.1
    assert total != 3.0
    assert sum([Decimal("0.1")] * 30) == Decimal(3)


def test_ten_cent_jobs_add_exactly() -> None:
    acct = account("1.00")
    ledger = Ledger()
    for n in range(10):
        ledger.reserve(acct, f"j{n}", Decimal("0.10"))
        ledger.settle(f"j{n}")
    assert acct.balance == Decimal("0.00")
    with pytest.raises(MockError):
        ledger.reserve(acct, "one-more", Decimal("0.10"))


def test_402_exactly_when_balance_is_below_the_price() -> None:
    ledger = Ledger()
    exact = account("0.50")
    ledger.reserve(exact, "a", Decimal("0.50"))  # an exact balance is enough
    short = account("0.49")
    with pytest.raises(MockError) as caught:
        ledger.reserve(short, "b", Decimal("0.50"))
    assert caught.value.status == 402
    assert "$0.50" in caught.value.message
    assert "$0.49" in caught.value.message
    assert short.reserved == 0


def test_reservations_reduce_the_available_balance() -> None:
    acct = account("1.00")
    ledger = Ledger()
    ledger.reserve(acct, "a", Decimal("0.75"))
    assert ledger.available(acct) == acct.available == Decimal("0.25")
    with pytest.raises(MockError) as caught:
        ledger.reserve(acct, "b", Decimal("0.50"))
    assert "available balance is $0.25" in caught.value.message
    assert acct.balance == Decimal("1.00")  # nothing charged yet


@pytest.mark.parametrize("ending", ["failed", "cancelled"])
def test_failed_or_cancelled_jobs_cost_nothing(ending: str) -> None:
    acct = account("1.00")
    ledger = Ledger()
    ledger.reserve(acct, "a", Decimal("0.75"))
    assert ledger.release("a") == Decimal("0.75")
    assert acct.balance == Decimal("1.00")
    assert acct.available == Decimal("1.00")
    assert ledger.held("a") is None
    # The money is usable again.
    ledger.reserve(acct, "b", Decimal("1.00"))


def test_settle_and_release_are_idempotent() -> None:
    acct = account("1.00")
    ledger = Ledger()
    reservation = ledger.reserve(acct, "a", Decimal("0.30"))
    assert ledger.settle("a") == Decimal("0.30")
    assert reservation.state == "settled"
    assert ledger.settle("a") == 0
    assert ledger.release("a") == 0
    assert acct.balance == Decimal("0.70")


def test_double_reservation_and_negative_amounts_are_bugs() -> None:
    acct = account("1.00")
    ledger = Ledger()
    ledger.reserve(acct, "a", Decimal("0.10"))
    with pytest.raises(ValueError):
        ledger.reserve(acct, "a", Decimal("0.10"))
    with pytest.raises(ValueError):
        ledger.reserve(acct, "b", Decimal("-1"))


def test_credits_402_message() -> None:
    acct = account("30", currency="credits")
    with pytest.raises(MockError) as caught:
        Ledger().reserve(acct, "a", Decimal(40))
    assert "40 credits" in caught.value.message
    assert "30 credits" in caught.value.message


def test_clear_returns_all_held_money() -> None:
    acct = account("1.00")
    ledger = Ledger()
    ledger.reserve(acct, "a", Decimal("0.30"))
    ledger.reserve(acct, "b", Decimal("0.30"))
    ledger.clear()
    assert acct.reserved == 0
    assert acct.balance == Decimal("1.00")
