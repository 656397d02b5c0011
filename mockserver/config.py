"""Configuration of one mock server, from a TOML file, flags, or code.

A file looks like this (every key optional; the values shown are the defaults)::

    seed = 0                    # ids are reproducible with a seed; omit for random ids

    [server]
    host = "127.0.0.1"
    port = 8080
    max_connections = 1000      # open connections at most; more get a 503 at once
    keep_alive_seconds = 5      # an idle keep-alive connection is closed after this
    header_timeout_seconds = 10 # a request's head (line + headers) must arrive within this
    workers = 1                 # server processes on the port (1-64); > 1 needs [store] url

    [store]                     # where state lives
    url = ""                    # "": this process's memory; or a shared Redis:
                                # redis://[user:password@]HOST[:PORT][/DB], rediss://...,
                                # unix:///path/to/socket[?db=N] (also --store)
    prefix = "genmock"          # every Redis key starts with "<prefix>:" (also --store-prefix)

    [clock]
    kind = "real"               # "real": wall time sped up by `speed`; "manual": moves
                                # only on POST /_mock/clock/advance
    speed = 17.5                # real clock: a job estimated at 35 s finishes in ~2 s

    [jobs]
    polls_per_phase = 0         # > 0: jobs move one phase every N polls, ignoring the clock
    seconds = 0                 # > 0: every job takes this many mock seconds (else the
                                # model contract's estimate, or 35 s when it has none)

    [webhooks]                  # unset keys keep each provider contract's webhook.retry
    attempts = 3
    delays_seconds = [10, 10]   # mock seconds between attempts (the last one repeats)
    timeout_seconds = 30        # wall seconds a receiver has to answer
    signature_clock = "wall"    # signature timestamps (webhook-timestamp, X-Webhook-Timestamp):
                                # "wall" (receivers check them against their own clock) or
                                # "mock" (the mock clock, for tests that pin the timestamp)
    min_retry_wall_seconds = 5  # real clock: a retry waits at least this many wall seconds
    drain_seconds = 5           # on shutdown: wall seconds to deliver what is in flight or due
    max_pending = 10000         # deliveries waiting at most; beyond, the oldest is dropped
    max_pending_bytes = 67108864   # and their bodies at most (64 MiB); drops are logged

    [security]                  # see README "Security"
    admin_token = ""            # required on /_mock/ when set (also --admin-token,
                                # $MOCKSERVER_ADMIN_TOKEN); needed off loopback
    allowed_hosts = []          # more Host values the admin API accepts
    public_url = ""             # base of output/media URLs (default: the request's own
                                # host when it is a known one, else the listening address)
    webhook_hosts = []          # webhook URLs may point at these hosts besides loopback
    webhook_any_host = false    # true: any host except link-local/metadata/0.0.0.0/_mock

    [providers.apikley]
    error_transport = "body_code"   # or "http_status": errors as real HTTP statuses

    [chaos]                     # client fuzzing (mockserver.chaos); off by default
    enabled = false             # true: every response valid but adversarial
    seed = 0                    # default: the top-level seed, else 0
    intensity = 0.5             # 0..1: how much is perturbed

    [limits]                    # every store is bounded in count and bytes (README: Limits)
    jobs = 100000               # jobs kept; the oldest finished go first
    job_bytes = 268435456       # estimated bytes of stored jobs (inputs' text + 2 KiB each)
    journal_bytes = 33554432    # request journal, besides journal_size entries
    journal_body_bytes = 4096   # each journaled body is cut beyond this (and says so)
    keys = 10000                # API keys not configured below (least recently used go)
    key_bytes = 33554432        # their estimated bytes
    admin_body_bytes = 1048576  # largest admin API request body (413 beyond)

    [accounts]                  # API keys (mockserver.domain.accounts); by default any
    default_balances = { USD = 100, credits = 10000 }   # key is valid except the magic ones
    [accounts.keys."sk-test"]   # listing keys makes every other key invalid (401)
    balance = 5                 # also: balances = {apikley = 12}, valid, limits, webhook_secret

    # Or one table per key:  [[accounts]]  key = "sk-test"  balance = 5

Unknown keys are refused with an error naming them, so a typo never silently
keeps a default. :meth:`MockConfig.load` reads a file; :meth:`MockConfig.from_mapping`
takes an already parsed mapping (tests); flags override both (``serve``).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from mockserver.domain.clock import DEFAULT_SPEED
from mockserver.domain.webhooks import RetryPolicy
from mockserver.redact import redact_url

__all__ = [
    "ChaosConfig",
    "ClockConfig",
    "ConfigError",
    "JobsConfig",
    "LimitsConfig",
    "MockConfig",
    "ProviderConfig",
    "SecurityConfig",
    "ServerConfig",
    "StoreConfig",
    "WebhookConfig",
]

ClockKind = Literal["real", "manual"]
ErrorTransport = Literal["body_code", "http_status"]


#: The fastest real clock: a day of mock time per 86 ms of wall time.
MAX_SPEED = 1_000_000.0
#: The latest start of a manual clock (8000-01-01): dates stay printable.
MAX_CLOCK_START = 190_288_396_800.0
#: Server processes ``serve --workers`` starts at most.
MAX_WORKERS = 64
#: What a store URL may look like (the forms redis-py's ``from_url`` reads).
STORE_URL_FORMS = ("redis://[user:password@]HOST[:PORT][/DB], rediss://... (TLS) or "
                   "unix:///path/to/socket[?db=N]")
#: A key prefix: the store's own rule (``mockserver.store.redis_store``). No ':', the
#: separator: prefix "a" would otherwise match, and reset, the keys of prefix "a:b".
_STORE_PREFIX = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class ConfigError(ValueError):
    """A configuration file or value is invalid; the message names the key."""


@dataclass(frozen=True)
class ServerConfig:
    """Where ``serve`` listens (default ``127.0.0.1:8080``)."""

    host: str = "127.0.0.1"
    port: int = 8080
    #: Connections open at once; beyond it uvicorn answers 503 and closes.
    max_connections: int = 1000
    #: Wall seconds an idle keep-alive connection stays open.
    keep_alive_seconds: float = 5.0
    #: Wall seconds a client has to send a request's line and headers
    #: (slowloris); also how long a connection may sit without a first byte.
    header_timeout_seconds: float = 10.0
    #: Server processes sharing the port (``--workers``); more than one needs a store URL.
    workers: int = 1
    #: Set in each worker process of ``--workers N``: its index (0..N-1). None: the
    #: single process. ``GET /_mock/health`` shows it.
    worker: int | None = None


@dataclass(frozen=True)
class StoreConfig:
    """Where the state lives: this process's memory (``url`` None) or a Redis.

    ``url``: ``redis://[user:password@]HOST[:PORT][/DB]``, ``rediss://...`` or
    ``unix:///path/to/socket[?db=N]`` (see :func:`check_store_url`).
    ``prefix``: every key starts with ``<prefix>:``, so several mocks can share
    one Redis (``POST /_mock/reset`` clears only its own prefix).
    """

    url: str | None = None
    prefix: str = "genmock"


@dataclass(frozen=True)
class LimitsConfig:
    """Bounds of the stores, in count and in bytes (README: *Limits*)."""

    jobs: int = 100_000
    job_bytes: int = 256 * 1024 * 1024
    journal_bytes: int = 32 * 1024 * 1024
    journal_body_bytes: int = 4096
    keys: int = 10_000
    key_bytes: int = 32 * 1024 * 1024
    admin_body_bytes: int = 1024 * 1024


@dataclass(frozen=True)
class ClockConfig:
    """Which clock the world runs on.

    ``kind="real"`` (the default for ``serve``): mock time runs ``speed`` times
    faster than the wall clock (default 17.5, so a 35 s job takes ~2 s).
    ``kind="manual"``: time moves only by ``POST /_mock/clock/advance``; tests
    use it. ``start`` is the manual clock's first instant (default 2026-01-01).
    """

    kind: ClockKind = "real"
    speed: float = DEFAULT_SPEED
    start: float | None = None


@dataclass(frozen=True)
class JobsConfig:
    """How jobs progress.

    ``polls_per_phase``: when set, a job moves one phase (queued -> running ->
    outcome) every that many polls instead of by the clock. ``seconds``: when
    set, every job takes that many mock seconds instead of its model's
    estimate. Both default to None (clock-driven, model estimate).
    """

    polls_per_phase: int | None = None
    seconds: float | None = None


@dataclass(frozen=True)
class WebhookConfig:
    """Overrides of every provider's webhook retry policy.

    Unset fields (None) keep the provider contract's ``webhook.retry``
    (Eachlabs: 3 attempts 10 s apart, 30 s timeout).
    """

    attempts: int | None = None
    delays_seconds: tuple[float, ...] | None = None
    timeout_seconds: float | None = None
    #: Real clock: the least wall time between two attempts, whatever the speed.
    min_retry_wall_seconds: float = 5.0
    #: Shutdown: wall seconds to deliver what is in flight or due before leaving.
    drain_seconds: float = 5.0
    #: Deliveries waiting (pending or in flight) at most, in count and body bytes.
    max_pending: int = 10_000
    max_pending_bytes: int = 64 * 1024 * 1024
    #: What signature timestamps read: ``"wall"`` (the default: a receiver
    #: compares them with its own clock, WaveSpeed's within 300 s) or ``"mock"``.
    signature_clock: Literal["wall", "mock"] = "wall"

    def apply(self, policy: RetryPolicy) -> RetryPolicy:
        """``policy`` with this config's overrides applied."""
        changes: dict[str, Any] = {}
        if self.attempts is not None:
            changes["attempts"] = self.attempts
        if self.delays_seconds is not None:
            changes["delays_seconds"] = self.delays_seconds
        if self.timeout_seconds is not None:
            changes["timeout_seconds"] = self.timeout_seconds
        return replace(policy, **changes)


@dataclass(frozen=True)
class SecurityConfig:
    """Who may use the admin API, where webhooks may go, which URLs the mock hands out.

    ``admin_token``: when set, every ``/_mock/`` request (but media and
    uploaded-file downloads) needs it as ``Authorization: Bearer`` or
    ``X-Mock-Admin-Token``. ``allowed_hosts``: Host values the admin API
    accepts besides loopback, IP literals and the providers' hosts.
    ``public_url``: the base of output and media URLs. ``webhook_hosts`` /
    ``webhook_any_host``: see :mod:`mockserver.domain.webhook_targets`.
    """

    admin_token: str | None = None
    allowed_hosts: tuple[str, ...] = ()
    public_url: str | None = None
    webhook_hosts: tuple[str, ...] = ()
    webhook_any_host: bool = False


@dataclass(frozen=True)
class ProviderConfig:
    """Per-provider switches.

    ``error_transport``: how errors travel — ``"body_code"`` (HTTP 200 with the
    code in the body; Apikley's default) or ``"http_status"``. None keeps the
    contract's ``errors.transport.mode``.
    """

    error_transport: ErrorTransport | None = None


@dataclass(frozen=True)
class ChaosConfig:
    """Client fuzzing (:mod:`mockserver.chaos`): valid but adversarial responses.

    ``enabled``: every provider request is answered in chaos mode (without it,
    only requests with ``Prefer: scenario=chaos``). ``seed``: where every random
    choice comes from (None: the top-level seed, else 0). ``intensity``: 0..1,
    the share of opportunities taken.
    """

    enabled: bool = False
    seed: int | None = None
    intensity: float = 0.5


@dataclass(frozen=True)
class MockConfig:
    """Everything one mock instance is configured with; defaults everywhere."""

    server: ServerConfig = field(default_factory=ServerConfig)
    clock: ClockConfig = field(default_factory=ClockConfig)
    jobs: JobsConfig = field(default_factory=JobsConfig)
    webhooks: WebhookConfig = field(default_factory=WebhookConfig)
    providers: Mapping[str, ProviderConfig] = field(default_factory=dict)
    #: The ``[accounts]`` section in the shape ``Accounts.from_config`` reads
    #: (``default_balances``, ``keys``); ``[[accounts]]`` tables are converted to it.
    accounts: Mapping[str, Any] = field(default_factory=dict)
    #: Client fuzzing (``[chaos]``).
    chaos: ChaosConfig = field(default_factory=ChaosConfig)
    #: Admin API protection, webhook targets, public URL (``[security]``).
    security: SecurityConfig = field(default_factory=SecurityConfig)
    #: Seed for ids; None gives random ids.
    seed: int | None = None
    #: Request journal entries kept (a ring).
    journal_size: int = 2_000
    #: Byte and count bounds of the stores (``[limits]``).
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    #: Where the state lives (``[store]``): memory by default.
    store: StoreConfig = field(default_factory=StoreConfig)

    @classmethod
    def load(cls, path: str | Path) -> MockConfig:
        """Read a TOML file; ConfigError names the file and the offending key."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise ConfigError(f"{path}: cannot read: {error.strerror or error}") from error
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{path}: not valid TOML: {error}") from error
        return cls.from_mapping(data, origin=str(path))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, origin: str = "config") -> MockConfig:
        """Build from parsed TOML (a mapping of tables); ConfigError on any bad key."""
        reader = _Reader(origin)
        reader.known(data, "", ("seed", "journal_size", "server", "clock", "jobs",
                                "webhooks", "providers", "accounts", "chaos", "limits",
                                "security", "store"))
        server = reader.table(data, "server", ("host", "port", "max_connections",
                                               "keep_alive_seconds", "header_timeout_seconds",
                                               "workers"))
        workers = reader.integer(server, "workers", "server.", minimum=1)
        if workers is not None and workers > MAX_WORKERS:
            raise reader.fail(f"'server.workers' must be at most {MAX_WORKERS}, got {workers}")
        limit_table = reader.table(data, "limits", tuple(LimitsConfig.__dataclass_fields__))
        limits = LimitsConfig(**{
            name: value for name in LimitsConfig.__dataclass_fields__
            if (value := reader.integer(limit_table, name, "limits.", minimum=1)) is not None
        })
        clock = reader.table(data, "clock", ("kind", "speed", "start"))
        jobs = reader.table(data, "jobs", ("polls_per_phase", "seconds"))
        hooks = reader.table(data, "webhooks", ("attempts", "delays_seconds", "timeout_seconds",
                                                "min_retry_wall_seconds", "drain_seconds",
                                                "max_pending", "max_pending_bytes",
                                                "signature_clock"))
        security = _security_section(reader, data)
        providers: dict[str, ProviderConfig] = {}
        provider_tables = reader.table(data, "providers", None)
        for name in provider_tables:
            section = reader.table(provider_tables, str(name), ("error_transport",), "providers.")
            transport = reader.choice(section, "error_transport", ("body_code", "http_status"),
                                      f"providers.{name}.")
            providers[str(name)] = ProviderConfig(error_transport=transport)  # type: ignore[arg-type]
        accounts = _accounts_section(data.get("accounts"), origin)
        chaos = reader.table(data, "chaos", ("enabled", "seed", "intensity"))
        enabled = chaos.get("enabled", False)
        if not isinstance(enabled, bool):
            raise ConfigError(f"{origin}: 'chaos.enabled' must be true or false, got {enabled!r}")
        intensity = reader.number(chaos, "intensity", "chaos.", minimum=0)
        if intensity is not None and intensity > 1:
            raise ConfigError(f"{origin}: 'chaos.intensity' must be at most 1, got {intensity!r}")

        kind = reader.choice(clock, "kind", ("real", "manual"), "clock.") or "real"
        polls = reader.integer(jobs, "polls_per_phase", "jobs.", minimum=0)
        seconds = reader.number(jobs, "seconds", "jobs.", minimum=0)
        delays = hooks.get("delays_seconds")
        if delays is not None and (
            not isinstance(delays, list) or not all(_is_number(d) and d >= 0 for d in delays)
        ):
            raise ConfigError(
                f"{origin}: 'webhooks.delays_seconds' must be a list of non-negative numbers"
            )
        port = reader.integer(server, "port", "server.", minimum=0)
        if port is not None and port > 65535:
            raise ConfigError(f"{origin}: 'server.port' must be at most 65535")
        host = server.get("host", ServerConfig.host)
        if not isinstance(host, str) or not host:
            raise ConfigError(f"{origin}: 'server.host' must be a non-empty string")
        speed = reader.number(clock, "speed", "clock.", minimum=0, exclusive=True)
        if speed is not None and speed > MAX_SPEED:
            raise ConfigError(f"{origin}: 'clock.speed' must be at most {MAX_SPEED:g}, "
                              f"got {speed!r}")
        start = reader.number(clock, "start", "clock.", minimum=0)
        if start is not None and start > MAX_CLOCK_START:
            raise ConfigError(f"{origin}: 'clock.start' must be at most {MAX_CLOCK_START:g} "
                              f"(8000-01-01), got {start!r}")
        seed = reader.integer(data, "seed", "", minimum=0)
        journal = reader.integer(data, "journal_size", "", minimum=1)
        return cls(
            server=ServerConfig(
                host=host,
                port=ServerConfig.port if port is None else port,
                max_connections=reader.integer(server, "max_connections", "server.", minimum=1)
                or ServerConfig.max_connections,
                keep_alive_seconds=reader.number(
                    server, "keep_alive_seconds", "server.", minimum=0, exclusive=True
                ) or ServerConfig.keep_alive_seconds,
                header_timeout_seconds=reader.number(
                    server, "header_timeout_seconds", "server.", minimum=0, exclusive=True
                ) or ServerConfig.header_timeout_seconds,
                workers=workers or ServerConfig.workers,
            ),
            store=_store_section(reader, data),
            clock=ClockConfig(
                kind=kind,  # type: ignore[arg-type]
                speed=DEFAULT_SPEED if speed is None else speed,
                start=start,
            ),
            # 0 means "off" in a file, where there is no null.
            jobs=JobsConfig(polls_per_phase=polls or None, seconds=seconds or None),
            webhooks=WebhookConfig(
                attempts=reader.integer(hooks, "attempts", "webhooks.", minimum=1),
                delays_seconds=None if delays is None else tuple(float(d) for d in delays),
                timeout_seconds=reader.number(
                    hooks, "timeout_seconds", "webhooks.", minimum=0, exclusive=True
                ),
                **_delivery_settings(reader, hooks),
                signature_clock=reader.choice(  # type: ignore[arg-type]
                    hooks, "signature_clock", ("wall", "mock"), "webhooks.") or "wall",
            ),
            security=security,
            providers=providers,
            accounts=accounts,
            chaos=ChaosConfig(
                enabled=enabled,
                seed=reader.integer(chaos, "seed", "chaos.", minimum=0),
                intensity=ChaosConfig.intensity if intensity is None else intensity,
            ),
            seed=seed,
            journal_size=2_000 if journal is None else journal,
            limits=limits,
        )

    def with_overrides(self, **sections: Any) -> MockConfig:
        """A copy with whole sections replaced (``server=ServerConfig(...)``)."""
        return replace(self, **sections)


def _delivery_settings(reader: _Reader, hooks: Mapping[str, Any]) -> dict[str, Any]:
    """The ``[webhooks]`` delivery guarantees and bounds that are set (others keep defaults)."""
    found: dict[str, Any] = {}
    for key in ("min_retry_wall_seconds", "drain_seconds"):
        value = reader.number(hooks, key, "webhooks.", minimum=0)
        if value is not None:
            found[key] = value
    for key in ("max_pending", "max_pending_bytes"):
        count = reader.integer(hooks, key, "webhooks.", minimum=1)
        if count is not None:
            found[key] = count
    return found


def _store_section(reader: _Reader, data: Mapping[str, Any]) -> StoreConfig:
    table = reader.table(data, "store", ("url", "prefix"))
    url, prefix = table.get("url"), table.get("prefix", StoreConfig.prefix)
    if url is not None and not isinstance(url, str):
        raise reader.fail(f"'store.url' must be a string, got {url!r}")
    if not isinstance(prefix, str):
        raise reader.fail(f"'store.prefix' must be a string, got {prefix!r}")
    try:
        # "" is "not set" in a file, where there is no null (as security.admin_token).
        return StoreConfig(url=check_store_url(url, "'store.url'") if url else None,
                           prefix=check_store_prefix(prefix, "'store.prefix'"))
    except ConfigError as error:
        raise reader.fail(str(error)) from None


def check_store_url(url: str, name: str = "--store") -> str:
    """``url`` when it is a store URL redis-py reads; else a ConfigError naming ``name``.

    Stricter than redis-py, which ignores a database it cannot read (``/zero``
    silently means 0) and passes unknown query parameters on as connection
    settings. The message never repeats a password.
    """
    shown = redact_url(url)
    problem = _store_url_problem(url)
    if problem:
        raise ConfigError(f"{name} must be {STORE_URL_FORMS}; {shown!r}: {problem}")
    return url


def _store_url_problem(url: str) -> str | None:
    """What is wrong with a store URL, or None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        return str(error)
    if parts.scheme not in ("redis", "rediss", "unix"):
        return f"the scheme must be redis, rediss or unix, not {parts.scheme or 'missing'!r}"
    if parts.fragment:
        return "a '#' fragment is not allowed"
    query = parse_qs(parts.query, keep_blank_values=True)
    if parts.scheme == "unix":
        if not parts.path.startswith("/") or parts.path == "/":
            return "needs the socket's absolute path (unix:///path/to/socket)"
        if parts.hostname or port is not None:
            return "a unix socket URL has no host or port (three slashes: unix:///path)"
        if set(query) - {"db"}:
            return "the only query parameter allowed is ?db=N"
        if "db" in query and not _database(query["db"][-1]):
            return f"?db= must be a database number, got {query['db'][-1]!r}"
        return None
    if not parts.hostname:
        return "needs a host (redis://HOST:PORT/DB)"
    if port is None and parts.netloc.endswith(":"):
        return "the port is empty"
    if parts.query:
        return "no query parameters (the database goes in the path: /DB)"
    database = parts.path[1:] if parts.path.startswith("/") else parts.path
    if database and not _database(database):
        return f"the path must be a database number (/0, /1, ...), got {parts.path!r}"
    return None


def _database(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 9


def check_store_prefix(prefix: str, name: str = "--store-prefix") -> str:
    """``prefix`` when it is 1-64 of ``A-Z a-z 0-9 _ . -``; else a ConfigError naming ``name``."""
    if not _STORE_PREFIX.fullmatch(prefix):
        raise ConfigError(f"{name} must be 1-64 letters, digits, '_', '.' or '-' "
                          f"(no ':', the key separator), got {prefix!r}")
    return prefix


def _security_section(reader: _Reader, data: Mapping[str, Any]) -> SecurityConfig:
    table = reader.table(data, "security", ("admin_token", "allowed_hosts", "public_url",
                                            "webhook_hosts", "webhook_any_host"))

    def text(key: str) -> str | None:
        value = table.get(key)
        if value is not None and not isinstance(value, str):
            raise reader.fail(f"'security.{key}' must be a string, got {value!r}")
        return value or None

    def names(key: str) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise reader.fail(f"'security.{key}' must be a list of host names")
        return tuple(value)

    any_host = table.get("webhook_any_host", False)
    if not isinstance(any_host, bool):
        raise reader.fail(f"'security.webhook_any_host' must be true or false, got {any_host!r}")
    public_url = text("public_url")
    if public_url is not None and not public_url.startswith(("http://", "https://")):
        raise reader.fail(f"'security.public_url' must be an http(s) URL, got {public_url!r}")
    return SecurityConfig(
        admin_token=text("admin_token"),
        allowed_hosts=names("allowed_hosts"),
        public_url=public_url.rstrip("/") if public_url else None,
        webhook_hosts=names("webhook_hosts"),
        webhook_any_host=any_host,
    )


def _accounts_section(raw: Any, origin: str) -> Mapping[str, Any]:
    """``[accounts]`` as Accounts.from_config reads it, checked now so errors name the file."""
    if raw is None:
        return {}
    if isinstance(raw, list):  # [[accounts]] key = "..." tables
        keys: dict[str, Any] = {}
        for index, table in enumerate(raw):
            if not isinstance(table, Mapping) or not isinstance(table.get("key"), str):
                raise ConfigError(f"{origin}: 'accounts[{index}]' needs a string 'key'")
            settings = {k: v for k, v in table.items() if k != "key"}
            keys[table["key"]] = settings
        raw = {"keys": keys}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{origin}: 'accounts' must be a table ([accounts]) or [[accounts]]")
    unknown = sorted(set(raw) - {"default_balances", "keys"})
    if unknown:
        raise ConfigError(
            f"{origin}: unknown key 'accounts.{unknown[0]}' (allowed here: default_balances, keys)"
        )
    # Imported here: the accounts module is domain code the config only validates against.
    from mockserver.domain.accounts import Accounts
    from mockserver.domain.errors import MockError

    try:
        Accounts.from_config({"accounts": raw})
    except (ValueError, MockError) as error:
        named = f" ('accounts.keys.{error.field}')" if isinstance(error, MockError) and (
            error.field) else ""
        raise ConfigError(f"{origin}: accounts: {error}{named}") from None
    return dict(raw)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class _Reader:
    """Typed reads from parsed TOML with errors that name the key and the file."""

    def __init__(self, origin: str) -> None:
        self.origin = origin

    def fail(self, message: str) -> ConfigError:
        return ConfigError(f"{self.origin}: {message}")

    def known(self, table: Mapping[str, Any], prefix: str, allowed: tuple[str, ...]) -> None:
        for key in table:
            if key not in allowed:
                raise self.fail(
                    f"unknown key '{prefix}{key}' (allowed here: {', '.join(allowed)})"
                )

    def table(
        self,
        data: Mapping[str, Any],
        name: str,
        allowed: tuple[str, ...] | None,
        prefix: str = "",
    ) -> Mapping[str, Any]:
        value = data.get(name, {})
        if not isinstance(value, Mapping):
            raise self.fail(f"'{prefix}{name}' must be a table ([{prefix}{name}])")
        if allowed is not None:
            self.known(value, f"{prefix}{name}.", allowed)
        return value

    def choice(
        self, table: Mapping[str, Any], key: str, options: tuple[str, ...], prefix: str
    ) -> str | None:
        value = table.get(key)
        if value is not None and value not in options:
            raise self.fail(
                f"'{prefix}{key}' must be one of {', '.join(map(repr, options))}, got {value!r}"
            )
        return value

    def number(
        self,
        table: Mapping[str, Any],
        key: str,
        prefix: str,
        *,
        minimum: float,
        exclusive: bool = False,
    ) -> float | None:
        value = table.get(key)
        if value is None:
            return None
        if not _is_number(value) or value < minimum or (exclusive and value == minimum):
            bound = f"greater than {minimum}" if exclusive else f"at least {minimum}"
            raise self.fail(f"'{prefix}{key}' must be a number {bound}, got {value!r}")
        return float(value)

    def integer(
        self, table: Mapping[str, Any], key: str, prefix: str, *, minimum: int
    ) -> int | None:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise self.fail(f"'{prefix}{key}' must be an integer of at least {minimum}, "
                            f"got {value!r}")
        return value
