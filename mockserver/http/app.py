"""The Starlette app: all providers, the admin API and the media route, one world.

:func:`create_app` builds everything one mock instance needs — clock, world,
outbox, service, adapters, journal, webhook sender — and keeps it on
``app.state.mock`` (a :class:`~mockserver.http.state.MockState`). Nothing is
global: two apps are two independent mocks.

Routing, in order:

1. ``/_mock/...``: the admin API and ``/_mock/media/{name}.mp4`` (on any host);
2. a request whose ``Host`` is a provider's real host (``api.eachlabs.ai``)
   goes to that provider, path unprefixed;
3. ``/<provider>/...`` goes to that provider with the prefix stripped;
4. anything else: 404 ``{"error": ...}``.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Match, Mount, Router
from starlette.types import Receive, Scope, Send

from mockserver.config import ClockConfig, ConfigError, MockConfig, ProviderConfig
from mockserver.console.routes import console_routes
from mockserver.contracts import ContractSet, ProviderContract, load_contracts
from mockserver.domain.accounts import Accounts
from mockserver.domain.admission import Admission
from mockserver.domain.clock import Clock, ManualClock, RealClock, is_manual, is_real
from mockserver.domain.service import MockService, ServiceSettings
from mockserver.domain.uploads import SharedUploadStore
from mockserver.domain.webhook_targets import WebhookTargetPolicy
from mockserver.domain.webhooks import Outbox, RetryPolicy
from mockserver.domain.world import World
from mockserver.faults import MatchVocabulary, ScenarioQueue
from mockserver.faults.queue import SharedScenarioQueue
from mockserver.http.admin import admin_routes, json_response
from mockserver.http.admin_insight import insight_routes
from mockserver.http.guard import AdminGuard, GuardSettings
from mockserver.http.journal import Journal, StoreJournal
from mockserver.http.routing import ProviderRoute, request_host
from mockserver.http.scenarios import ConnectionDropped
from mockserver.http.sender import WebhookSender
from mockserver.http.state import MockState
from mockserver.providers import registry
from mockserver.providers.base import AdapterFactory, ProviderAdapter
from mockserver.store.clock import StoreClock
from mockserver.store.codec import DeliveryCodec, JobCodec
from mockserver.store.interface import StoreUnavailable
from mockserver.store.outbox import StoreOutbox
from mockserver.store.service import StoreService
from mockserver.store.world import StoreWorld

if TYPE_CHECKING:
    from mockserver.store.redis_store import RedisStore

__all__ = ["MockApp", "build_clock", "create_app", "load_adapter_factories"]


def build_clock(config: ClockConfig) -> Clock:
    """The clock a config asks for: a sped-up RealClock or a ManualClock."""
    if config.kind == "manual":
        return ManualClock() if config.start is None else ManualClock(config.start)
    return RealClock(config.speed)


#: Wall seconds between a worker's looks at a shared store's due jobs and webhooks
#: (another worker's create or clock advance does not wake this one).
STORE_LOOK_SECONDS = 0.1


def _store_domain(
    config: MockConfig, store: RedisStore, clock: Clock | None
) -> tuple[StoreClock, StoreWorld, StoreOutbox]:
    """The clock, world and outbox of an app whose state lives in ``store``.

    The first app on the store sets the clock's mode and speed; later ones adopt
    them (a ``clock`` argument only says which mode this app would want). Ids
    are drawn from the seed and this start's boot number, so two workers (or
    two starts) with one ``--seed`` never mint the same id.
    """
    wanted = clock or build_clock(config.clock)
    manual = is_manual(wanted)
    start = float(wanted.now()) if manual else 0.0
    speed = float(getattr(wanted, "speed", 1.0) or 1.0)
    store_clock = StoreClock.open(store, "manual" if manual else "real", start, speed)
    boot = store.boot()
    seed = None if config.seed is None else f"{config.seed}:{boot}"
    world = StoreWorld(store, store_clock, JobCodec(registry.job_field_types()), seed=seed,
                       journal_size=config.journal_size)
    outbox = StoreOutbox(store, DeliveryCodec(registry.webhook_signers()))
    return store_clock, world, outbox


def load_adapter_factories() -> Mapping[str, AdapterFactory]:
    """Each known provider's adapter, from the provider registry (its kits)."""
    return {name: kit.adapter for name, kit in registry.kits().items()}


def _configured(contract: ProviderContract, settings: ProviderConfig | None) -> ProviderContract:
    """The contract with the config's overrides (error transport) applied."""
    if settings is None or settings.error_transport is None:
        return contract
    transport = contract.spec.errors.transport
    allowed = transport.modes
    if settings.error_transport not in allowed:
        raise ConfigError(
            f"providers.{contract.name}.error_transport: {settings.error_transport!r} is not "
            f"one of this provider's transports ({', '.join(sorted(allowed))})"
        )
    if settings.error_transport == transport.mode:
        return contract
    # The one raw read outside the loader: a contract with another error
    # transport is a new contract (its spec, validators and pointers rebuilt
    # from the document), so the document itself is copied and changed.
    data: dict[str, Any] = copy.deepcopy(contract.data)
    data["errors"]["transport"]["mode"] = settings.error_transport
    return ProviderContract(data, contract.models, origin=f"{contract.name} (configured)")


def _retry_policy(contract: ProviderContract, config: MockConfig, clock: Clock) -> RetryPolicy:
    policy = config.webhooks.apply(RetryPolicy.from_contract(contract.spec.webhook.retry))
    # A sped-up real clock shrinks retry delays in wall time (10 mock s = 0.6 s at
    # 17.5x): the floor keeps a receiver that is down for a few seconds from losing
    # every webhook. A manual clock moves only when told to: no floor.
    speed = getattr(clock, "speed", None) if is_real(clock) else None
    if speed is None:
        return policy
    return replace(policy, min_delay_seconds=config.webhooks.min_retry_wall_seconds * speed)


def _connect(adapter: ProviderAdapter, state: MockState) -> None:
    """Give an adapter the world's shared accounts and the app's template cache.

    These are the knobs :class:`~mockserver.providers.common.AdapterBase`
    documents; an adapter without them (a test double) is left alone.
    """
    if hasattr(adapter, "accounts"):
        adapter.accounts = state.accounts
    if hasattr(adapter, "templates"):
        adapter.templates = state.templates


class _DroppedConnectionFilter(logging.Filter):
    """Keep uvicorn from logging a scenario's deliberate connection drop as a crash."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, ConnectionDropped)


_DROP_FILTER = _DroppedConnectionFilter()


async def _store_error(request: Request, exc: Exception) -> Response:
    """An admin or console request while the shared store is unreachable: a 503."""
    return json_response(
        {"error": f"the mock's shared store is unavailable; retry shortly ({exc})"},
        503, headers={"Retry-After": "1"},
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    """Framework 404/405 (admin and unknown paths) as ``{"error": ...}``.

    ``GET /`` that nothing else answers (a provider served on its own host
    answers its own ``/``) goes to the console.
    """
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404 and request.url.path == "/" and request.method in ("GET", "HEAD"):
        return RedirectResponse("/_mock/ui", 307)
    if exc.status_code == 404:
        message = (
            f"no route for {request.method} {request.url.path}; providers are served under "
            + ", ".join(f"/{n}" for n in request.app.state.mock.adapters)
            + " and the admin API under /_mock/"
        )
    elif exc.status_code == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    response = json_response({"error": message}, exc.status_code, headers=exc.headers)
    if exc.status_code == 404 and not request.url.path.startswith("/_mock"):
        # Journaled (no provider) so the admin view can say which provider was meant.
        request.app.state.mock.journal.record(
            request.app.state.mock.clock.now(), request.method, request.url.path, None, None,
            dict(request.query_params), dict(request.headers), b"", 404, bytes(response.body),
            0.0, started=time.perf_counter())
    return response


class MockApp(Starlette):
    """Starlette, with provider requests handed straight to their :class:`ProviderRoute`.

    The route is chosen exactly as Starlette's router chooses it (the routes
    in order, first full match); when it is a ProviderRoute the request skips
    the error and exception middleware and the router's own pass. A
    ProviderRoute answers every failure itself in the provider's envelope
    (404/405 included), so those layers never act on its requests; they cost
    about a tenth of a poll. Everything else (``/_mock``, unknown paths,
    lifespan) goes through the full stack.
    """

    _table: _ProviderTable | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            table = self._table
            if table is None or table.routes is not self.router.routes or (
                table.count != len(self.router.routes)
            ):
                table = self._table = _ProviderTable(self.router.routes)
            found = table.find(scope) if table.usable else self._first_match(scope)
            if found is not None:
                route, child_scope = found
                scope["app"] = self
                scope.setdefault("router", self.router)
                scope["route"] = route
                scope.update(child_scope)
                await route.handle(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    def _first_match(self, scope: Scope) -> tuple[ProviderRoute, Scope] | None:
        for route in self.router.routes:
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                if isinstance(route, ProviderRoute):
                    return route, child_scope
                return None  # another kind of route: the full stack serves it
        return None


class _ProviderTable:
    """The provider routes as two dictionaries (real hosts, path prefixes).

    Asking every route in turn costs a poll a tenth of its time; the answer
    is the same when the routes are laid out as create_app lays them out:
    other routes (the ``/_mock`` mount) first, then the host routes, then
    the prefix routes. Any other layout is not ``usable`` and the app asks
    route by route.
    """

    def __init__(self, routes: list[BaseRoute]) -> None:
        self.routes, self.count = routes, len(routes)
        #: Each other route with a text its path must contain to match, or None.
        self.leading: list[tuple[BaseRoute, str | None]] = []
        self.hosts: dict[str, ProviderRoute] = {}
        self.prefixes: dict[str, ProviderRoute] = {}
        self.usable = True
        seen_prefix = False
        for route in routes:
            if not isinstance(route, ProviderRoute):
                if self.hosts or self.prefixes:
                    self.usable = False  # a non-provider route between them
                self.leading.append((route, _mount_needle(route)))
            elif route.prefix is None:
                if seen_prefix:
                    self.usable = False  # a host route after a prefix route
                for host in route.hosts:
                    self.hosts.setdefault(host, route)
            else:
                seen_prefix = True
                if route.prefix.count("/") != 1:
                    self.usable = False  # only one-segment prefixes are looked up
                self.prefixes.setdefault(route.prefix, route)

    def find(self, scope: Scope) -> tuple[ProviderRoute, Scope] | None:
        path: str = scope["path"]
        for other, needle in self.leading:
            if needle is not None and needle not in path:
                continue  # cannot match: no regex run (the /_mock mount, on every request)
            if other.matches(scope)[0] is Match.FULL:
                return None
        if self.hosts:
            by_host = self.hosts.get(request_host(scope))
            if by_host is not None:
                return by_host, {"mock_provider_root": ""}
        end = path.find("/", 1)
        prefix = path if end < 0 else path[:end]
        found = self.prefixes.get(prefix)
        if found is None:
            return None
        return found, {"mock_provider_root": prefix}


def _mount_needle(route: BaseRoute) -> str | None:
    """``"/_mock/"`` for ``Mount("/_mock")``: a text every path it matches contains.

    A mount matches ``<root_path><mount path>/<rest>``, so a path without
    ``<mount path>/`` cannot match; mounts with parameters have no such text.
    """
    if isinstance(route, Mount) and route.path and "{" not in route.path:
        return route.path + "/"
    return None


def create_app(
    config: MockConfig | None = None,
    *,
    contracts: ContractSet | None = None,
    clock: Clock | None = None,
    validate_responses: bool = False,
    adapters: Mapping[str, AdapterFactory] | None = None,
    store: RedisStore | None = None,
) -> Starlette:
    """A new mock server app with its own world.

    ``config`` defaults to :class:`MockConfig()` (real clock at 17.5x);
    ``contracts`` to :func:`load_contracts`; ``clock`` overrides the config's
    clock; ``adapters`` (tests) replaces the provider registry. With
    ``validate_responses`` every JSON body that names its contract schema is
    validated and violations are kept in ``app.state.mock.contract_violations``.
    Raises :class:`ConfigError` when the config names an unknown provider or
    an error transport the provider does not have. With ``store`` (a
    :class:`RedisStore`), jobs, money, limits, webhooks and the clock live
    there, shared with every other app on it (``mockserver serve --store``).
    """
    config = config or MockConfig()
    contracts = contracts or load_contracts()
    limits = config.limits
    security = config.security
    webhook_policy = WebhookTargetPolicy.of(security.webhook_hosts, security.webhook_any_host)
    world: World
    outbox: Outbox
    if store is None:
        clock = clock or build_clock(config.clock)
        world = World(clock, seed=config.seed, journal_size=config.journal_size,
                      max_jobs=limits.jobs, max_job_bytes=limits.job_bytes)
        outbox = Outbox(
            max_pending=config.webhooks.max_pending,
            max_pending_bytes=config.webhooks.max_pending_bytes,
        )
    else:
        clock, world, outbox = _store_domain(config, store, clock)
    factories = load_adapter_factories() if adapters is None else adapters
    unknown = sorted(set(config.providers) - set(factories))
    if unknown:
        raise ConfigError(
            f"[providers.{unknown[0]}]: no such provider (known: {', '.join(sorted(factories))})"
        )

    configured = {
        name: _configured(registry.contract_of(name, contracts), config.providers.get(name))
        for name in factories
    }
    settings = ServiceSettings(
        polls_per_phase=config.jobs.polls_per_phase,
        job_seconds=config.jobs.seconds,
        retry_policies={n: _retry_policy(c, config, clock) for n, c in configured.items()},
        webhook_policy=webhook_policy,
        shared_jobs=frozenset(
            n for n, c in configured.items()
            if c.spec.job_isolation == "any_key"
        ),
    )
    if isinstance(outbox, StoreOutbox):
        # A leased delivery is the holder's for the longest attempt plus a drain: a
        # live worker never loses one it is sending; a dead one's comes back after it.
        outbox.lease_seconds = max(
            (policy.timeout_seconds for policy in settings.retry_policies.values()),
            default=30.0,
        ) + config.webhooks.drain_seconds + 5.0
    service = (
        MockService(world, outbox, settings)
        if not isinstance(world, StoreWorld) or not isinstance(outbox, StoreOutbox)
        else StoreService(world, outbox, outbox.codec, settings)
    )
    built: dict[str, ProviderAdapter] = {}
    hosts: dict[str, str] = {}
    for name, factory in factories.items():
        adapter = factory(configured[name], service)
        if adapter.name != name:
            raise ConfigError(f"adapter registered as {name!r} calls itself {adapter.name!r}")
        service.register_webhook_renderer(name, adapter.webhook)
        built[name] = adapter
        for host in configured[name].spec.hosts:
            hosts[host] = name

    # Every known provider's currency (accounts list them all, as before a
    # mock served only some), then what the served contracts say.
    currencies = registry.currencies() | {
        name: contract.spec.billing.currency
        for name, contract in configured.items()
        if contract.spec.billing.currency
    }
    accounts = Accounts.from_config(
        {"accounts": dict(config.accounts)}, currencies=currencies,
        max_keys=limits.keys, max_key_bytes=limits.key_bytes,
    )
    if store is not None:
        accounts.money = store  # balances and reservations are the store's
        accounts.share(store)  # admin changes of keys reach every worker
    # Creates are rate-limited and billed against the shared accounts.
    service.admission = Admission.from_specs(
        accounts, {name: contract.spec for name, contract in configured.items()}
    )
    vocabulary = {
        name: MatchVocabulary(
            frozenset(configured[name].spec.endpoints),
            frozenset(configured[name].models),
        )
        for name in built
    }
    scenarios = (
        ScenarioQueue(vocabulary=vocabulary) if store is None
        else SharedScenarioQueue(store, vocabulary=vocabulary)
    )
    sender = WebhookSender(world, outbox, clock, target_policy=webhook_policy,
                           drain_seconds=config.webhooks.drain_seconds)
    if config.webhooks.signature_clock == "mock":
        sender.signature_clock = clock.now
    if store is not None:
        sender.max_sleep = STORE_LOOK_SECONDS
    journal = (
        Journal(world, max_bytes=limits.journal_bytes, body_bytes=limits.journal_body_bytes)
        if store is None
        else StoreJournal(world, store, max_bytes=limits.journal_bytes,
                          body_bytes=limits.journal_body_bytes)
    )
    if store is not None:  # every worker's files, in the store
        service.uploads = SharedUploadStore(store, max_uploads=store.bounds.max_uploads,
                                            max_bytes=store.bounds.max_upload_bytes)
    guard = GuardSettings.of(
        [*hosts, config.server.host, *security.allowed_hosts], security.admin_token,
        bind=config.server.host,
    )
    state = MockState(
        config=config,
        clock=clock,
        world=world,
        outbox=outbox,
        service=service,
        contracts=contracts,
        adapters=built,
        journal=journal,
        sender=sender,
        accounts=accounts,
        scenarios=scenarios,
        validate_responses=validate_responses,
        hosts=hosts,
        guard=guard,
        webhook_policy=webhook_policy,
    )
    sender.on_error = state.record_unhandled
    for adapter in built.values():
        _connect(adapter, state)

    admin = AdminGuard(Router([*admin_routes(), *insight_routes(), *console_routes()]), guard)
    routes: list[BaseRoute] = [Mount("/_mock", app=admin)]
    for name, adapter in built.items():
        own_hosts = frozenset(h for h, p in hosts.items() if p == name)
        if own_hosts:
            routes.append(ProviderRoute(state, adapter, prefix=None, hosts=own_hosts))
    routes.extend(ProviderRoute(state, a, prefix=f"/{n}") for n, a in built.items())

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # Filters are a set: adding it for every app is harmless.
        logging.getLogger("uvicorn.error").addFilter(_DROP_FILTER)
        sender.start()
        try:
            yield
        finally:
            await sender.stop()
            journal.close()  # a store's journal writes what this worker still holds

    app = MockApp(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error, StoreUnavailable: _store_error},
    )
    app.state.mock = state
    return app
