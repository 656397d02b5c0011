"""Keys, balances per provider, magic keys and the admin views."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mockserver.domain.accounts import (
    DEFAULT_BALANCES,
    Accounts,
    default_webhook_secret,
)
from mockserver.domain.billing import Ledger
from mockserver.domain.errors import MockError
from mockserver.domain.ratelimit import LimitOverrides
from mockserver.providers import registry

#: Every provider's currency, as the app passes them (the kits say).
CURRENCIES = registry.currencies()


def test_fresh_key_defaults() -> None:
    accounts = Accounts(currencies=CURRENCIES)
    eachlabs = accounts.authenticate("eachlabs", "sk_anything")
    assert eachlabs.valid
    assert eachlabs.balance == Decimal("100.00") == DEFAULT_BALANCES["USD"]
    assert eachlabs.currency == "USD"
    apikley = accounts.get("apikley", "sk_anything")
    assert (apikley.balance, apikley.currency) == (Decimal(10_000), "credits")
    assert accounts.get("newprovider", "k").currency == "USD"
    assert eachlabs.webhook_secret == default_webhook_secret("sk_anything")
    assert eachlabs.webhook_secret.startswith("whsec_") and len(eachlabs.webhook_secret) == 38


@pytest.mark.parametrize(
    "key", ["sk_invalid", "invalid", "INVALID", "invalid-key-123", "Invalid_x"]
)
def test_magic_invalid_keys(key: str) -> None:
    accounts = Accounts(currencies=CURRENCIES)
    assert not accounts.is_valid(key)
    with pytest.raises(MockError) as caught:
        accounts.authenticate("eachlabs", key)
    assert caught.value.status == 401
    assert caught.value.message == "Invalid API key"


@pytest.mark.parametrize("key", [None, ""])
def test_missing_key_is_401(key: str | None) -> None:
    with pytest.raises(MockError) as caught:
        Accounts(currencies=CURRENCIES).authenticate("wavespeed", key)
    assert caught.value.status == 401
    assert caught.value.message == "Missing API key"


def test_nofunds_keys_start_empty() -> None:
    accounts = Accounts(currencies=CURRENCIES)
    account = accounts.authenticate("eachlabs", "nofunds-1")
    assert account.balance == 0
    with pytest.raises(MockError) as caught:
        Ledger().reserve(account, "job", Decimal("0.25"))
    assert caught.value.status == 402


def test_known_keys_make_every_other_key_invalid() -> None:
    accounts = Accounts(known_keys=["sk_live_a"], currencies=CURRENCIES)
    assert accounts.is_valid("sk_live_a")
    assert not accounts.is_valid("sk_live_b")
    accounts.set("sk_live_b", valid=True)
    assert accounts.is_valid("sk_live_b")


def test_explicit_validity_beats_magic() -> None:
    accounts = Accounts(currencies=CURRENCIES)
    accounts.set("invalid-but-allowed", valid=True)
    assert accounts.is_valid("invalid-but-allowed")
    account = accounts.get("eachlabs", "ok")
    accounts.set("ok", valid=False)
    assert not accounts.is_valid("ok")
    assert not account.valid


def test_balance_goes_to_the_one_provider_the_key_was_used_with() -> None:
    accounts = Accounts(currencies=CURRENCIES)
    accounts.get("apikley", "k")
    touched = accounts.set("k", balance=5)
    assert [a.provider for a in touched] == ["apikley"]
    assert accounts.get("apikley", "k").balance == Decimal(5)
    assert accounts.get("eachlabs", "k").balance == Decimal("100.00")


def test_balance_on_an_unused_key_goes_everywhere_in_each_unit() -> None:
    accounts = Accounts(currencies=CURRENCIES)
    touched = accounts.set("k", balance=5)
    assert [a.provider for a in touched] == sorted(registry.names())
    assert accounts.get("eachlabs", "k").balance == Decimal(5)
    assert accounts.get("apikley", "k").balance == Decimal(5)
    # Providers the key reaches later start there too.
    assert accounts.get("fourth", "k").balance == Decimal(5)


def test_balance_on_a_key_used_with_several_providers_goes_everywhere() -> None:
    accounts = Accounts(currencies=CURRENCIES)
    accounts.get("eachlabs", "k")
    accounts.get("wavespeed", "k")
    accounts.set("k", balance="0.30")
    assert accounts.get("eachlabs", "k").balance == Decimal("0.30")
    assert accounts.get("wavespeed", "k").balance == Decimal("0.30")
    assert accounts.get("apikley", "k").balance == Decimal(0)  # credits are whole: 0.30 -> 0


def test_named_provider_and_balances() -> None:
    accounts = Accounts(currencies=CURRENCIES)
    accounts.set("k", provider="wavespeed", balance=1.1)
    accounts.set("k", balances={"apikley": 70})
    assert accounts.get("wavespeed", "k").balance == Decimal("1.1")
    assert accounts.get("apikley", "k").balance == Decimal(70)
    assert accounts.get("eachlabs", "k").balance == Decimal("100.00")


def test_setting_a_balance_keeps_reservations() -> None:
    accounts = Accounts(currencies=CURRENCIES)
    account = accounts.get("eachlabs", "k")
    ledger = Ledger()
    ledger.reserve(account, "job", Decimal("0.50"))
    accounts.set("k", balance=1)
    assert account.available == Decimal("0.50")


def test_bad_balances() -> None:
    accounts = Accounts(currencies=CURRENCIES)
    with pytest.raises(ValueError):
        accounts.set("k", balance=-1)
    with pytest.raises(ValueError):
        accounts.set("k", balance="lots")
    with pytest.raises(ValueError):
        accounts.set("", balance=1)


def test_limits_and_secret_apply_to_the_key() -> None:
    accounts = Accounts(currencies=CURRENCIES)
    before = accounts.get("eachlabs", "k")
    accounts.set("k", limits={"concurrent": 2}, webhook_secret="whsec_abc")
    later = accounts.get("wavespeed", "k")
    for account in (before, later):
        assert account.limits == LimitOverrides(concurrent=2)
        assert account.webhook_secret == "whsec_abc"
    accounts.set("k", provider="eachlabs", limits=LimitOverrides(creates_per_window=1))
    assert before.limits == LimitOverrides(concurrent=2, creates_per_window=1)
    assert later.limits == LimitOverrides(concurrent=2)


def test_admin_update_and_describe() -> None:
    accounts = Accounts(currencies=CURRENCIES)
    accounts.get("eachlabs", "k")
    view = accounts.update("k", {"balance": 5, "limits": {"concurrent": 1}})
    assert view["key"] == "k"
    assert view["valid"] is True
    assert view["used_with"] == ["eachlabs"]
    assert view["accounts"]["eachlabs"]["balance"] == 5
    assert view["accounts"]["eachlabs"]["limits"] == {"concurrent": 1}
    assert view["accounts"]["apikley"]["balance"] == 10_000
    assert view["limits"] == {"concurrent": 1}


@pytest.mark.parametrize(
    "body",
    [
        {"balance": -3},
        {"balance": "x"},
        {"colour": "red"},
        {"valid": "yes"},
        {"limits": {"bogus": 1}},
        {"limits": 3},
        {"webhook_secret": 7},
        {"balances": [1]},
    ],
)
def test_admin_update_rejects_bad_bodies(body: dict[str, object]) -> None:
    with pytest.raises(MockError) as caught:
        Accounts(currencies=CURRENCIES).update("k", body)
    assert caught.value.status == 400


def test_describe_creates_nothing() -> None:
    accounts = Accounts(currencies=CURRENCIES)
    view = accounts.describe("nofunds-x")
    assert view["accounts"]["eachlabs"]["balance"] == 0
    assert view["used_with"] == []
    assert accounts.to_dict()["keys"] == {}


def test_from_config_and_reset() -> None:
    accounts = Accounts.from_config(
        {
            "accounts": {
                "default_balances": {"USD": 20},
                "keys": {
                    "sk_a": {"balance": 3, "webhook_secret": "whsec_a"},
                    "sk_b": {"balances": {"apikley": 12}},
                },
            }
        },
        currencies=CURRENCIES,
    )
    assert not accounts.is_valid("sk_other")
    assert accounts.get("eachlabs", "sk_a").balance == Decimal(3)
    assert accounts.get("eachlabs", "sk_b").balance == Decimal(20)
    assert accounts.get("apikley", "sk_b").balance == Decimal(12)
    accounts.set("sk_a", balance=99)
    accounts.reset()
    assert accounts.get("eachlabs", "sk_a").balance == Decimal(3)
    assert accounts.get("eachlabs", "sk_a").webhook_secret == "whsec_a"
    listing = accounts.to_dict()
    assert listing["defaults"]["known_keys_only"] is True
    assert listing["defaults"]["balances"]["USD"] == 20
    assert sorted(listing["keys"]) == ["sk_a", "sk_b"]


def test_empty_config_accepts_any_key() -> None:
    accounts = Accounts.from_config({})
    assert accounts.is_valid("whatever")
