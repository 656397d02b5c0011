"""API keys and the accounts behind them.

An :class:`Account` is one key *at one provider*: its balance is in that
provider's unit (USD for Eachlabs and WaveSpeed, whole credits for Apikley),
while validity, webhook secret and limit overrides are set per key.
:class:`Accounts` creates accounts on first use, so any test can invent a key.

Defaults (a fresh key, nothing configured):

===========================  =================================================
valid                        yes, unless it is a magic invalid key (below)
balance                      ``USD 100.00`` (Eachlabs, WaveSpeed), ``10000``
                             credits (Apikley); :data:`DEFAULT_BALANCES`
limits                       the provider contract's ``rate_limits``
webhook secret               ``whsec_`` + the first 32 hex digits of
                             ``sha256("genmock:" + key)`` (stable per key, so a
                             test can compute it; WaveSpeed signs with it)
===========================  =================================================

Magic keys (Stripe-test-card style):

=============================================  ==================================
key                                            effect
=============================================  ==================================
``""`` / no key                                401 (missing credentials)
``sk_invalid``, ``invalid``, ``invalid…``      401 (invalid key); any case
``nofunds…``                                   valid, balance 0 everywhere: 402
=============================================  ==================================

Keys that are not configured are kept for at most ``max_keys`` keys and
``max_key_bytes`` estimated bytes (defaults :data:`DEFAULT_MAX_KEYS`,
:data:`DEFAULT_MAX_KEY_BYTES`); beyond either, the least recently used such
key is forgotten (its balances, limits and secret; it starts afresh if it
comes back). Keys from the configuration are never evicted.

A configuration that lists keys (``Accounts(known_keys=...)`` or a config
file's ``keys``) makes every key it does not list invalid. A key explicitly set
``valid`` (config or admin API) is what it says, magic or not.

Setting a balance without naming a provider (``PUT /_mock/accounts/{key}
{"balance": 5}``) applies it to the provider the key has been used with; if
the key has been used with several providers, or with none yet, it applies to
every provider's balance for that key (5 USD at Eachlabs and WaveSpeed, 5
credits at Apikley), including providers the key reaches later. Credits are
whole: a fractional credit balance is rounded down.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from typing import Any, Protocol

from sortedcontainers import SortedList

from mockserver.domain.billing import WHOLE_UNIT_CURRENCIES, PricingError, to_decimal
from mockserver.domain.errors import MockError
from mockserver.domain.ratelimit import LimitOverrides

__all__ = [
    "DEFAULT_BALANCES",
    "DEFAULT_MAX_KEYS",
    "DEFAULT_MAX_KEY_BYTES",
    "INVALID_KEYS",
    "INVALID_KEY_PREFIX",
    "MAX_BALANCE",
    "NO_FUNDS_KEY_PREFIX",
    "Account",
    "Accounts",
    "default_webhook_secret",
]

#: Starting balance of a fresh key, per currency.
DEFAULT_BALANCES: Mapping[str, Decimal] = {
    "USD": Decimal("100.00"),
    "credits": Decimal(10_000),
}
#: Keys not in the configuration kept at most (least recently used go first).
DEFAULT_MAX_KEYS = 10_000
#: Estimated bytes those keys may hold together (a key can be a long header).
DEFAULT_MAX_KEY_BYTES = 32 * 1024 * 1024
#: What one key costs beside its text (settings, accounts, index entries).
KEY_OVERHEAD_BYTES = 1536
#: The largest balance the admin API or a config sets (any currency).
MAX_BALANCE = Decimal(10) ** 12
#: Keys that are always invalid unless configured otherwise (compared ignoring case).
INVALID_KEYS = frozenset({"sk_invalid", "invalid"})
#: Any key starting with this (ignoring case) is invalid.
INVALID_KEY_PREFIX = "invalid"
#: Any key starting with this (ignoring case) is valid but starts with no money.
NO_FUNDS_KEY_PREFIX = "nofunds"


def default_webhook_secret(key: str) -> str:
    """The webhook secret a key has unless one is set: stable and computable."""
    return "whsec_" + hashlib.sha256(f"genmock:{key}".encode()).hexdigest()[:32]


def _whole(amount: Decimal, currency: str) -> Decimal:
    if currency.lower() in WHOLE_UNIT_CURRENCIES:
        return amount.to_integral_value(rounding=ROUND_FLOOR)
    return amount


def _json_number(amount: Decimal) -> int | float:
    return int(amount) if amount == amount.to_integral_value() else float(amount)


@dataclass
class Account:
    """One key at one provider. ``reserved`` is kept by ``billing.Ledger``."""

    provider: str
    key: str
    currency: str
    balance: Decimal
    valid: bool = True
    webhook_secret: str = ""
    limits: LimitOverrides = field(default_factory=LimitOverrides)
    reserved: Decimal = Decimal(0)

    @property
    def available(self) -> Decimal:
        """What a new job may still reserve: balance minus open reservations."""
        return self.balance - self.reserved

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the admin API (amounts as numbers)."""
        return {
            "provider": self.provider,
            "currency": self.currency,
            "balance": _json_number(self.balance),
            "reserved": _json_number(self.reserved),
            "available": _json_number(self.available),
            "limits": self.limits.to_dict(),
        }


class Money(Protocol):
    """An account's money as a shared store keeps it."""

    @property
    def balance(self) -> Decimal: ...

    @property
    def reserved(self) -> Decimal: ...


class MoneySource(Protocol):
    """Balances and reservations kept outside the accounts (a shared store)."""

    def account(self, provider: str, key: str) -> Money | None:
        """The account's money, None before its first use."""

    def set_balance(self, provider: str, key: str, amount: Decimal) -> None:
        """Set the balance; reservations stay."""


class SettingsSource(Protocol):
    """Key settings kept outside the accounts (a shared store), as JSON documents."""

    def key_settings(self, key: str) -> bytes | None:
        """The key's settings document, None if never set."""

    def put_key_settings(self, key: str, doc: bytes, *, configured: bool = False) -> list[str]:
        """Store the key's settings (every worker hears of it); the keys forgotten."""

    def watch(self, on_change: Callable[[str, str], None]) -> None:
        """Call ``on_change(topic, value)`` on another thread whenever something shared
        changes (``("keys", key)``, ``("keys", "*")``, ``("all", "")``)."""


@dataclass
class _KeySettings:
    """What was set for a key, applied to its accounts now and later."""

    valid: bool | None = None
    webhook_secret: str | None = None
    limits: LimitOverrides = field(default_factory=LimitOverrides)
    balances: dict[str, Decimal] = field(default_factory=dict)
    balance_everywhere: Decimal | None = None
    used_with: list[str] = field(default_factory=list)


_SETTABLE = frozenset({"balance", "balances", "valid", "limits", "webhook_secret"})


class Accounts:
    """Every key and account of one world."""

    def __init__(
        self,
        *,
        known_keys: Iterable[str] | None = None,
        currencies: Mapping[str, str] | None = None,
        default_balances: Mapping[str, Decimal | int | float | str] | None = None,
        max_keys: int = DEFAULT_MAX_KEYS,
        max_key_bytes: int = DEFAULT_MAX_KEY_BYTES,
    ) -> None:
        self.known_keys: frozenset[str] | None = (
            None if known_keys is None else frozenset(known_keys)
        )
        # The providers this world knows and what each counts in (their kits and
        # contracts say; the app passes them). Another provider is counted in USD.
        self.currencies: dict[str, str] = dict(currencies or {})
        self.default_balances: dict[str, Decimal] = dict(DEFAULT_BALANCES)
        for currency, amount in (default_balances or {}).items():
            self.default_balances[currency] = to_decimal(amount, what=f"default {currency}")
        self.max_keys = max_keys
        self.max_key_bytes = max_key_bytes
        #: Least recently used first (configured keys too; they are skipped).
        self._keys: OrderedDict[str, _KeySettings] = OrderedDict()
        self._accounts: dict[tuple[str, str], Account] = {}
        #: key -> provider -> account: one key's accounts without a full scan.
        self._by_key: dict[str, dict[str, Account]] = {}
        #: Every key with settings, sorted: pages of the admin list.
        self._sorted: SortedList[str] = SortedList()
        #: Keys not configured, and their estimated bytes together.
        self._evictable = 0
        self.evictable_bytes = 0
        #: Called with each evicted key (the rate limiter lets go of its windows).
        self.on_evict: list[Callable[[str], None]] = []
        # Settings from the config file, replayed by reset().
        self._configured: dict[str, Mapping[str, Any]] = {}
        #: Where balances and reservations live when several processes share them
        #: (a shared store): read before an account is shown, written when a balance
        #: is set. None: the accounts here are the truth.
        self.money: MoneySource | None = None
        #: Where admin changes of keys live when several processes share them (see
        #: :meth:`share`); None: here only.
        self.shared: SettingsSource | None = None
        #: Keys whose settings here are the shared ones (cleared by change notices).
        self._current: set[str] = set()
        self._replaying = False

    # --- construction from a config file ---------------------------------
    @classmethod
    def from_config(
        cls,
        config: Mapping[str, Any] | None,
        *,
        currencies: Mapping[str, str] | None = None,
        max_keys: int = DEFAULT_MAX_KEYS,
        max_key_bytes: int = DEFAULT_MAX_KEY_BYTES,
    ) -> Accounts:
        """Build from a ``--config`` document or its ``accounts`` section.

        Shape: ``{"default_balances": {"USD": 100, "credits": 10000},
        "keys": {"<key>": {"balance": n, "balances": {"<provider>": n},
        "valid": bool, "limits": {...}, "webhook_secret": "whsec_..."}}}``.
        Listing keys makes every other key invalid.
        """
        section: Mapping[str, Any] = config or {}
        if isinstance(section.get("accounts"), Mapping):
            section = section["accounts"]
        keys = section.get("keys") or {}
        if not isinstance(keys, Mapping):
            raise ValueError("accounts.keys must be an object of key -> settings")
        accounts = cls(
            known_keys=list(keys) or None,
            currencies=currencies,
            default_balances=section.get("default_balances"),
            max_keys=max_keys,
            max_key_bytes=max_key_bytes,
        )
        for key, fields in keys.items():
            accounts._configured[str(key)] = dict(fields or {})
        accounts.reset()
        return accounts

    # --- validity ---------------------------------------------------------
    def is_valid(self, key: str | None) -> bool:
        """Whether ``key`` authenticates (see the module docs for the rules)."""
        if not key:
            return False
        if self.shared is not None and key not in self._current:
            self._sync(key)
        settings = self._keys.get(key)
        if settings is not None and settings.valid is not None:
            return settings.valid
        if self.known_keys is not None:
            return key in self.known_keys
        lowered = key.lower()
        return lowered not in INVALID_KEYS and not lowered.startswith(INVALID_KEY_PREFIX)

    def authenticate(self, provider: str, key: str | None) -> Account:
        """The key's account at ``provider``, or ``MockError(401)``."""
        if not key:
            raise MockError(401, "Missing API key", details="no credentials were sent")
        if not self.is_valid(key):
            raise MockError(401, "Invalid API key", details="the API key is not valid")
        return self.get(provider, key)

    # --- accounts ---------------------------------------------------------
    def currency(self, provider: str) -> str:
        """The unit balances at ``provider`` are kept in."""
        return self.currencies.get(provider, "USD")

    def get(self, provider: str, key: str) -> Account:
        """The key's account at ``provider``, created on first use.

        This is the call for a key being *used* (it records the provider for
        balance updates that name none); the admin API reads with
        :meth:`describe` instead.
        """
        if self.shared is not None and key not in self._current:
            self._sync(key)
        account = self._accounts.get((provider, key))
        settings = self._keys.get(key)
        if account is not None and settings is not None and provider in settings.used_with:
            self._keys.move_to_end(key)  # recently used: evicted last
            return account  # every create asks: the common case first, nothing built
        settings = self._settings(key)
        if provider not in settings.used_with:
            settings.used_with.append(provider)
        account = self._account(provider, key)
        self._evict(keep=key)
        return account

    def current(self, provider: str, key: str) -> Account:
        """:meth:`get`, with the balance and reservations as they are now (a shared
        store's, when there is one): what a balance endpoint shows."""
        return self._refreshed(self.get(provider, key))

    def _refreshed(self, account: Account) -> Account:
        if self.money is not None:
            money = self.money.account(account.provider, account.key)
            if money is not None:
                account.balance, account.reserved = money.balance, money.reserved
        return account

    def _settings(self, key: str) -> _KeySettings:
        """The key's settings, created (and counted against the bound) on first use."""
        settings = self._keys.get(key)
        if settings is None:
            settings = self._keys[key] = _KeySettings()
            self._sorted.add(key)
            if key not in self._configured:
                self._evictable += 1
                self.evictable_bytes += self.key_bytes(key)
        else:
            self._keys.move_to_end(key)
        return settings

    @staticmethod
    def key_bytes(key: str) -> int:
        """Estimated bytes one key holds: its text (kept in several places) plus settings."""
        return KEY_OVERHEAD_BYTES + 4 * len(key)

    def _evict(self, keep: str | None = None) -> None:
        """Forget least recently used keys that are not configured, while over a bound."""
        if self._evictable <= self.max_keys and self.evictable_bytes <= self.max_key_bytes:
            return
        spared = 0  # configured keys met at the front go to the back, once each
        while self._keys and spared <= len(self._keys) and (
            self._evictable > self.max_keys or self.evictable_bytes > self.max_key_bytes
        ):
            key = next(iter(self._keys))
            if key in self._configured or key == keep:
                self._keys.move_to_end(key)
                spared += 1
                continue
            self.forget(key)

    def forget(self, key: str) -> None:
        """Drop a key entirely (balances, settings, accounts); it starts afresh if used again."""
        self._current.discard(key)
        if not self._forget_here(key):
            return
        for listener in self.on_evict:
            listener(key)

    def _account(self, provider: str, key: str) -> Account:
        account = self._accounts.get((provider, key))
        if account is None:
            settings = self._settings(key)
            account = self._preview(provider, key, settings)
            self._accounts[(provider, key)] = account
            self._by_key.setdefault(key, {})[provider] = account
        return account

    def _starting_balance(self, provider: str, key: str, settings: _KeySettings) -> Decimal:
        balance = settings.balances.get(provider, settings.balance_everywhere)
        if balance is not None:
            return balance
        if key.lower().startswith(NO_FUNDS_KEY_PREFIX):
            return Decimal(0)
        currency = self.currency(provider)
        return self.default_balances.get(currency, DEFAULT_BALANCES["USD"])

    def _providers_for_balance(self, key: str) -> tuple[list[str], bool]:
        used = self._keys[key].used_with
        if len(used) == 1:
            return list(used), False
        known = list(self.currencies) + [p for p in used if p not in self.currencies]
        known += [p for p in self._by_key.get(key, {}) if p not in known]
        return known, True

    def set(
        self,
        key: str,
        *,
        provider: str | None = None,
        balance: Decimal | int | float | str | None = None,
        balances: Mapping[str, Decimal | int | float | str] | None = None,
        valid: bool | None = None,
        limits: LimitOverrides | Mapping[str, Any] | None = None,
        webhook_secret: str | None = None,
    ) -> list[Account]:
        """Change a key; return the accounts affected, in provider order.

        ``balance`` goes to ``provider`` if given, else as the module docs say;
        ``balances`` sets named providers explicitly. ``valid``,
        ``webhook_secret`` and ``limits`` apply to the key at every provider
        (``limits`` only at ``provider`` when one is named). Raises
        ``ValueError`` for a negative or non-numeric balance.
        """
        if not key:
            raise ValueError("a key cannot be empty")
        settings = self._settings(key)
        touched: dict[str, Account] = {}
        if isinstance(limits, Mapping):
            limits = LimitOverrides.from_dict(limits)
        if valid is not None:
            settings.valid = bool(valid)
        if webhook_secret is not None:
            if not webhook_secret:
                raise ValueError("webhook_secret cannot be empty")
            settings.webhook_secret = webhook_secret
        if limits is not None and provider is None:
            settings.limits = settings.limits.merged(limits)
        targets: dict[str, Decimal] = {}
        if balance is not None:
            amount = self._amount(balance)
            if provider is not None:
                targets[provider] = amount
            else:
                providers, everywhere = self._providers_for_balance(key)
                if everywhere:
                    settings.balance_everywhere = amount
                for name in providers:
                    targets[name] = amount
        for name, value in (balances or {}).items():
            targets[name] = self._amount(value)
        for name, amount in targets.items():
            settings.balances[name] = amount
            account = self._account(name, key)
            account.balance = _whole(amount, account.currency)
            if self.money is not None:
                self.money.set_balance(name, key, account.balance)
            touched[name] = account
        # Key-wide fields reach every account the key already has.
        for name, account in list(self._by_key.get(key, {}).items()):
            changed = False
            if valid is not None:
                account.valid, changed = settings.valid is not False, True
            if webhook_secret is not None:
                account.webhook_secret, changed = webhook_secret, True
            if limits is not None and (provider is None or provider == name):
                account.limits, changed = account.limits.merged(limits), True
            if changed:
                touched.setdefault(name, account)
        if limits is not None and provider is not None and provider not in touched:
            account = self._account(provider, key)
            account.limits = account.limits.merged(limits)
            touched[provider] = account
        self._evict(keep=key)
        return [touched[name] for name in sorted(touched)]

    @staticmethod
    def _amount(value: Decimal | int | float | str) -> Decimal:
        try:
            amount = to_decimal(value, what="balance")
        except PricingError as error:
            raise ValueError(str(error)) from None
        if not 0 <= amount <= MAX_BALANCE:
            raise ValueError(
                f"balance must be from 0 to {MAX_BALANCE:,.0f} (never negative), "
                f"got {str(value)[:40]}"
            )
        return amount

    def update(self, key: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Apply an admin ``PUT /_mock/accounts/{key}`` body; return :meth:`describe`.

        Fields: ``balance``, ``balances`` ({provider: n}), ``provider`` (the
        provider ``balance`` and ``limits`` apply to), ``valid``, ``limits``,
        ``webhook_secret``. Anything wrong raises ``MockError(400)``.
        """
        if not isinstance(body, Mapping):
            raise MockError(400, "the body must be a JSON object")
        unknown = set(body) - _SETTABLE - {"provider"}
        if unknown:
            raise MockError(
                400,
                f"unknown account field(s): {', '.join(sorted(unknown))}",
                field=sorted(unknown)[0],
            )
        valid = body.get("valid")
        if valid is not None and not isinstance(valid, bool):
            raise MockError(400, "valid must be true or false", field="valid")
        secret = body.get("webhook_secret")
        if secret is not None and not isinstance(secret, str):
            raise MockError(400, "webhook_secret must be a string", field="webhook_secret")
        balances = body.get("balances")
        if balances is not None and not isinstance(balances, Mapping):
            raise MockError(400, "balances must be an object of provider -> amount", "balances")
        limits = body.get("limits")
        if limits is not None and not isinstance(limits, Mapping):
            raise MockError(400, "limits must be an object", field="limits")
        provider = body.get("provider")
        if provider is not None and not isinstance(provider, str):
            raise MockError(400, "provider must be a string", field="provider")
        if self.shared is not None and key not in self._current:
            self._sync(key)
        try:
            self.set(
                key,
                provider=provider,
                balance=body.get("balance"),
                balances=balances,
                valid=valid,
                limits=limits,
                webhook_secret=secret,
            )
        except ValueError as error:
            raise MockError(400, str(error)) from None
        if self.shared is not None and not self._replaying:
            self._publish(key, body)
        return self.describe(key)

    # --- shared settings ----------------------------------------------------
    def share(self, source: SettingsSource) -> None:
        """Keep admin changes of keys in ``source``, shared with every process on it.

        A change (``PUT /_mock/accounts/{key}``) is applied here and appended to
        the key's document there; every process hears of it and reads the
        document again before it next uses the key. Config-file settings are the
        same in every process and are not stored.
        """
        self.shared = source
        self._current.clear()
        source.watch(self._changed)

    def _changed(self, topic: str, value: str) -> None:
        """A change notice (on the watch's thread): read those keys again when used."""
        if topic == "keys" and value != "*":
            self._current.discard(value)
        else:
            self._current.clear()

    def _sync(self, key: str) -> None:
        """Rebuild ``key``'s settings here from the configured ones and the shared changes."""
        assert self.shared is not None
        self._current.add(key)  # first: a change heard while reading clears it again
        doc = self.shared.key_settings(key)
        changes = [] if doc is None else list(json.loads(doc).get("changes", []))
        # Replayed balances are starting points only (the store keeps the money), and
        # a replay is not a new change to publish.
        money, self.money, self._replaying = self.money, None, True
        try:
            self._forget_here(key)
            if key in self._configured:
                self.update(key, self._configured[key])
            for change in changes:
                self.update(key, change)
        finally:
            self.money, self._replaying = money, False

    def _forget_here(self, key: str) -> bool:
        """Drop the key's settings and accounts here (a shared store keeps its money);
        whether it had any."""
        if self._keys.pop(key, None) is None:
            return False
        self._sorted.discard(key)
        if key not in self._configured:
            self._evictable -= 1
            self.evictable_bytes -= self.key_bytes(key)
        for provider in self._by_key.pop(key, {}):
            self._accounts.pop((provider, key), None)
        return True

    def _publish(self, key: str, body: Mapping[str, Any]) -> None:
        """Append this change to the key's shared document (the others then read it)."""
        assert self.shared is not None
        doc = self.shared.key_settings(key)
        changes = [] if doc is None else list(json.loads(doc).get("changes", []))
        changes.append(dict(body))
        self.shared.put_key_settings(
            key, json.dumps({"changes": changes}).encode(), configured=key in self._configured
        )

    # --- admin views ------------------------------------------------------
    def describe(self, key: str) -> dict[str, Any]:
        """One key for ``GET /_mock/accounts/{key}``; shows every known provider.

        Reading creates nothing: providers the key has not reached are shown
        with the balance they would start with.
        """
        if self.shared is not None and key not in self._current:
            self._sync(key)
        settings = self._keys.get(key, _KeySettings())
        own = self._by_key.get(key, {})
        providers = sorted(set(self.currencies) | set(own))
        accounts: dict[str, Any] = {}
        for provider in providers:
            account = own.get(provider)
            if account is None:
                account = self._preview(provider, key, settings)
            accounts[provider] = self._refreshed(account).to_dict()
        return {
            "key": key,
            "valid": self.is_valid(key),
            "webhook_secret": settings.webhook_secret or default_webhook_secret(key),
            "limits": settings.limits.to_dict(),
            "used_with": list(settings.used_with),
            "accounts": accounts,
        }

    def _preview(self, provider: str, key: str, settings: _KeySettings) -> Account:
        """The account the key would have at ``provider`` (not stored)."""
        currency = self.currency(provider)
        return Account(
            provider=provider,
            key=key,
            currency=currency,
            balance=_whole(self._starting_balance(provider, key, settings), currency),
            valid=self.is_valid(key),
            webhook_secret=settings.webhook_secret or default_webhook_secret(key),
            limits=settings.limits,
        )

    def defaults(self) -> dict[str, Any]:
        """Default balances, currencies and whether only configured keys are valid."""
        return {
            "balances": {c: _json_number(a) for c, a in sorted(self.default_balances.items())},
            "currencies": dict(sorted(self.currencies.items())),
            "known_keys_only": self.known_keys is not None,
        }

    def to_dict(self) -> dict[str, Any]:
        """Every key seen or configured, described in full (tests; the admin list pages)."""
        keys = sorted(set(self._keys) | set(self.known_keys or ()))
        return {"defaults": self.defaults(), "keys": {key: self.describe(key) for key in keys}}

    def keys_from(self, position: int) -> Iterable[tuple[int, str]]:
        """``(position, key)`` of every key with settings, sorted, from ``position`` on."""
        return enumerate(self._sorted.islice(position), start=position)

    def __len__(self) -> int:
        return len(self._keys)

    def reset(self) -> None:
        """Back to the configured start: usage, balances and admin changes go.

        Keys from the config file get their configured settings again.
        """
        self._keys.clear()
        self._accounts.clear()
        self._by_key.clear()
        self._sorted.clear()
        self._evictable = 0
        self.evictable_bytes = 0
        self._current.clear()
        self._replaying = True  # the configured start is every process's own
        try:
            for key, fields in self._configured.items():
                self.update(key, fields)
        finally:
            self._replaying = False
