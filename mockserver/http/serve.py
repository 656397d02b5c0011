"""``mockserver serve``: the app on uvicorn.

Settings come from defaults, then ``--config FILE`` (TOML, see
:mod:mockserver.config), then flags. The socket is bound before uvicorn
starts, so ``--port 0`` works and the printed URLs are the real ones.
SIGINT and SIGTERM stop the server gracefully and exit with status 0.
The same port is an HTTPS forward proxy for the provider hosts
(:mod:`mockserver.http.connect`) unless ``--no-https-proxy``.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import logging
import os
import resource
import secrets
import signal
import socket
import threading
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

import uvicorn

from mockserver.config import (
    MAX_SPEED,
    MAX_WORKERS,
    ConfigError,
    MockConfig,
    StoreConfig,
    check_store_prefix,
    check_store_url,
)
from mockserver.console.events import close_streams
from mockserver.contracts import ContractError
from mockserver.extras import require_extra
from mockserver.http.app import create_app
from mockserver.http.connect import ConnectProxy, connect_protocol
from mockserver.http.connlimits import GuardedHttpToolsProtocol, configure
from mockserver.http.guard import is_loopback_bind
from mockserver.http.localca import CAError, LocalCA, default_ca_dir
from mockserver.http.quietgc import QuietCollector
from mockserver.http.workers import Supervisor, watch_supervisor
from mockserver.logformat import log_formatter, worker_log_handler
from mockserver.redact import redact_url
from mockserver.store import StoreError

if TYPE_CHECKING:
    from mockserver.store.redis_store import RedisStore

__all__ = [
    "ADMIN_TOKEN_ENV",
    "config_from_arguments",
    "open_store",
    "run_serve",
    "worker_environment",
]

#: Environment variable holding the admin token (between the config file and the flag).
ADMIN_TOKEN_ENV = "MOCKSERVER_ADMIN_TOKEN"

#: Young collections: CPython's 700 allocations, and every other one also
#: collects the middle generation (CPython: every tenth). Measured with wrk,
#: 32 connections of creates over a full store: a middle generation ten
#: times larger made 10-20 ms pauses (p99 17-21 ms); this keeps p99 under
#: 9 ms. Each young object costs microseconds to scan in a large heap.
GC_GEN0_THRESHOLD = 700
GC_GEN1_THRESHOLD = 1


def config_from_arguments(arguments: argparse.Namespace) -> MockConfig:
    """Defaults < ``--config`` file < flags."""
    path = getattr(arguments, "config", None)
    config = MockConfig.load(path) if path else MockConfig()
    server, clock, jobs, hooks = config.server, config.clock, config.jobs, config.webhooks
    if getattr(arguments, "host", None) is not None:
        server = replace(server, host=arguments.host)
    if getattr(arguments, "port", None) is not None:
        server = replace(server, port=arguments.port)
    if getattr(arguments, "clock", None) is not None:
        clock = replace(clock, kind=arguments.clock)
    if getattr(arguments, "speed", None) is not None:
        if not 0 < arguments.speed <= MAX_SPEED:
            raise ConfigError(f"--speed must be greater than 0 and at most {MAX_SPEED:g}")
        clock = replace(clock, speed=arguments.speed)
    if getattr(arguments, "webhook_attempts", None) is not None:
        if arguments.webhook_attempts < 1:
            raise ConfigError("--webhook-attempts must be at least 1")
        hooks = replace(hooks, attempts=arguments.webhook_attempts)
    if getattr(arguments, "webhook_timeout", None) is not None:
        if arguments.webhook_timeout <= 0:
            raise ConfigError("--webhook-timeout must be greater than 0")
        hooks = replace(hooks, timeout_seconds=arguments.webhook_timeout)
    if getattr(arguments, "job_seconds", None) is not None:
        if arguments.job_seconds <= 0:
            raise ConfigError("--job-seconds must be greater than 0")
        jobs = replace(jobs, seconds=arguments.job_seconds)
    if getattr(arguments, "polls_per_phase", None) is not None:
        if arguments.polls_per_phase < 1:
            raise ConfigError("--polls-per-phase must be at least 1")
        jobs = replace(jobs, polls_per_phase=arguments.polls_per_phase)
    if getattr(arguments, "seed", None) is not None:
        config = replace(config, seed=arguments.seed)
    if getattr(arguments, "max_connections", None) is not None:
        if arguments.max_connections < 1:
            raise ConfigError("--max-connections must be at least 1")
        server = replace(server, max_connections=arguments.max_connections)
    for flag, name in (("keep_alive", "keep_alive_seconds"),
                       ("header_timeout", "header_timeout_seconds")):
        value = getattr(arguments, flag, None)
        if value is not None:
            if not value > 0:
                raise ConfigError(f"--{flag.replace('_', '-')} must be greater than 0")
            server = replace(server, **{name: value})
    if getattr(arguments, "drain_seconds", None) is not None:
        if arguments.drain_seconds < 0:
            raise ConfigError("--drain-seconds must not be negative")
        hooks = replace(hooks, drain_seconds=arguments.drain_seconds)
    security = config.security
    token = getattr(arguments, "admin_token", None) or os.environ.get(ADMIN_TOKEN_ENV)
    if token:
        security = replace(security, admin_token=token)
    public_url = getattr(arguments, "public_url", None)
    if public_url is not None:
        if not public_url.startswith(("http://", "https://")):
            raise ConfigError(f"--public-url must be an http(s) URL, got {public_url!r}")
        security = replace(security, public_url=public_url.rstrip("/"))
    store = _store_from_arguments(arguments, config.store)
    workers = getattr(arguments, "workers", None)
    if workers is not None:
        if not 1 <= workers <= MAX_WORKERS:
            raise ConfigError(f"--workers must be between 1 and {MAX_WORKERS}, got {workers}")
        server = replace(server, workers=workers)
    if server.workers > 1 and store.url is None:
        raise ConfigError(
            f"--workers {server.workers} needs a shared store (--store redis://HOST:PORT/DB or "
            "[store] url): without one each worker keeps its own jobs, balances and journal")
    index = getattr(arguments, "worker_index", None)
    if index is not None:
        server = replace(server, worker=index)
    return replace(config, server=server, clock=clock, jobs=jobs, webhooks=hooks,
                   security=security, store=store)


def _store_from_arguments(arguments: argparse.Namespace, store: StoreConfig) -> StoreConfig:
    """``--store`` and ``--store-prefix`` over the file's ``[store]`` (``--store ""``: memory)."""
    url = getattr(arguments, "store", None)
    if url is not None:
        store = replace(store, url=check_store_url(url) if url else None)
    prefix = getattr(arguments, "store_prefix", None)
    if prefix is not None:
        store = replace(store, prefix=check_store_prefix(prefix))
    return store


def _exposure(config: MockConfig) -> tuple[MockConfig, list[str]]:
    """Off loopback: the warning lines, and a generated admin token when none is set.

    A mock that anyone on the network can reach must not let anyone reset it
    or read its keys: like Jupyter, it makes up a token and prints it.
    """
    host = config.server.host
    if is_loopback_bind(host):
        return config, []
    every = " (every interface)" if host in ("0.0.0.0", "::") else ""
    lines = [f"WARNING: listening on {host}{every}, not only on loopback: whoever can reach "
             "this machine can call the providers and see output URLs"]
    if config.security.admin_token is None:
        token = secrets.token_urlsafe(24)
        config = replace(config, security=replace(config.security, admin_token=token))
        lines.append(f"admin token (generated; set --admin-token or ${ADMIN_TOKEN_ENV} to "
                     f"choose one): {token}")
    lines.append("the admin API (/_mock/) needs the token: 'Authorization: Bearer <token>' "
                 "or 'X-Mock-Admin-Token: <token>'")
    return config, lines


def _bound_addresses(sock: socket.socket, host: str) -> list[str]:
    """What the socket really listens on, for the banner (``0.0.0.0`` named as such)."""
    name, port = sock.getsockname()[:2]
    shown = f"[{name}]" if ":" in name else name
    listening = [f"{shown}:{port}"]
    if host in ("0.0.0.0", "::"):
        try:
            others = socket.gethostbyname_ex(socket.gethostname())[2]
        except OSError:
            others = []
        listening += [f"{a}:{port}" for a in others if not a.startswith("127.")]
    return listening


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.setblocking(False)
    return sock


#: File descriptors kept free of connections (listening socket, logs, webhook clients).
_SPARE_FILES = 64


def connection_cap(wanted: int) -> int:
    """``wanted``, lowered to what the process's file limit allows (raised to its hard limit).

    Past the file limit ``accept`` fails and every client waits; under it the
    connection cap closes idle connections instead.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted + _SPARE_FILES:
        target = wanted + _SPARE_FILES if hard == resource.RLIM_INFINITY else min(
            hard, wanted + _SPARE_FILES)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - _SPARE_FILES))


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


class _Server(uvicorn.Server):
    """uvicorn, ending the console's event streams before it waits for open responses.

    uvicorn's graceful shutdown waits (without a limit) for every response in
    progress; an event stream never ends by itself, so it is told first.
    """

    def __init__(self, config: uvicorn.Config, app: Any) -> None:
        super().__init__(config)
        self.mock_app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        close_streams(self.mock_app)
        await super().shutdown(sockets)


def run_serve(arguments: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """Serve until SIGINT/SIGTERM; 0 on a clean stop, 2 on bad settings, 1 if it cannot bind.

    With ``--workers N`` (N > 1) this process binds and prints the banner, then
    supervises N workers (:mod:`mockserver.http.workers`); a worker (hidden
    ``--worker-fd``) serves the socket it inherited and prints nothing.
    """
    level = str(getattr(arguments, "log_level", "info") or "info").upper()
    if level not in logging.getLevelNamesMapping():
        print(f"mockserver serve: unknown --log-level {arguments.log_level!r}", file=stderr)
        return 2
    worker_fd: int | None = getattr(arguments, "worker_fd", None)
    try:
        config, exposure = _exposure(config_from_arguments(arguments))
        if config.store.url:
            # Here, not in each worker: a missing client is one line, not a crash loop.
            require_extra("redis", "mockserver serve --store")
        supervising = config.server.workers > 1 and worker_fd is None
        if supervising and getattr(arguments, "argv", None) is None:
            raise ConfigError("--workers: the workers repeat the command line, which "
                              "mockserver.cli.run records; call it instead of run_serve")
        # The supervisor serves nothing and must not touch the store (the workers
        # open it): a memory app checks the settings and contracts and names the
        # providers for the banner, before any worker starts.
        app = (create_app(replace(config, store=StoreConfig())) if supervising
               else create_app(config, store=open_store(config)))
    except (ConfigError, ContractError) as error:
        print(f"mockserver serve: {error}", file=stderr)
        return 2
    except StoreError as error:
        print(f"mockserver serve: the store {_store_shown(config)}: {error}", file=stderr)
        return 1

    protocol: type[GuardedHttpToolsProtocol] = GuardedHttpToolsProtocol
    ca: LocalCA | None = None
    if not getattr(arguments, "no_https_proxy", False):
        ca_dir = getattr(arguments, "ca_dir", None)
        try:
            # Made here by a supervisor on first start, before its workers read it.
            ca = LocalCA.load_or_create(Path(ca_dir) if ca_dir else default_ca_dir())
        except CAError as error:
            print(f"mockserver serve: {error} (or pass --no-https-proxy)", file=stderr)
            return 2
        hosts = app.state.mock.hosts
        protocol = connect_protocol(ConnectProxy.for_hosts(hosts, ca.server_context(hosts)))
        app.state.ca_pem = ca.cert_pem

    handler = logging.StreamHandler(stderr)
    log_format = getattr(arguments, "log_format", "text")
    handler.setFormatter(log_formatter(log_format))
    if config.server.worker is not None:
        worker_log_handler(handler, log_format, config.server.worker)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    try:
        if worker_fd is not None:
            # A worker: the supervisor bound the socket and printed the banner.
            sock = socket.socket(fileno=worker_fd)
        else:
            host, port = config.server.host, config.server.port
            try:
                sock = _bind(host, port)
            except OSError as error:
                print(f"mockserver serve: cannot listen on {host}:{port}: {error.strerror}",
                      file=stderr)
                return 1
            print(_banner(app, config, ca, sock), file=stdout, flush=True)
            for line in exposure:
                print(f"mockserver serve: {line}", file=stderr, flush=True)
        try:
            if supervising:
                del app  # only the workers serve
                code = _supervise(arguments, config, sock)
            else:
                _serve(app, config, protocol, sock, level,
                       getattr(arguments, "worker_parent", None))
                code = 0
        finally:
            sock.close()
    finally:
        root.removeHandler(handler)
    if worker_fd is None:
        print("genmock mock server stopped", file=stdout, flush=True)
    return code


#: Seconds a worker fails store operations at once (a 503, no I/O) after Redis was
#: found unavailable, before one operation probes again: the client is synchronous on
#: the event loop, so without it every request would wait out the connect timeout.
STORE_BREAKER_SECONDS = 0.5


def open_store(config: MockConfig) -> RedisStore | None:
    """The Redis store ``config.store`` names (None: memory), bounded as the memory one.

    Connecting is lazy: the app's first operation reaches Redis. The bounds are
    the config's ``[limits]``, ``journal_size`` and ``[webhooks] max_pending*``,
    so a fleet on Redis holds what one process would.
    """
    if not config.store.url:
        return None
    from mockserver.store import connect_redis
    from mockserver.store.redis_store import StoreBounds

    limits = config.limits
    bounds = StoreBounds(
        max_jobs=limits.jobs, max_job_bytes=limits.job_bytes, journal_size=config.journal_size,
        max_pending=config.webhooks.max_pending,
        max_pending_bytes=config.webhooks.max_pending_bytes,
        max_keys=limits.keys, max_key_bytes=limits.key_bytes,
    )
    return connect_redis(config.store.url, prefix=config.store.prefix, bounds=bounds,
                         breaker=STORE_BREAKER_SECONDS)


def _store_shown(config: MockConfig) -> str:
    """The store for a message: its URL without credentials, and the prefix."""
    store = config.store
    return f"{redact_url(store.url)} (prefix {store.prefix})" if store.url else "memory"


def _banner(app: Any, config: MockConfig, ca: LocalCA | None, sock: socket.socket) -> str:
    """The lines ``serve`` starts with: where each provider, the admin API and the proxy are."""
    host = config.server.host
    base = f"http://{_url_host(host)}:{sock.getsockname()[1]}"
    state = app.state.mock
    speed = getattr(state.clock, "speed", None)
    clock = f"real x{speed:g}" if speed is not None else "manual"
    workers = f"; workers: {config.server.workers}" if config.server.workers > 1 else ""
    lines = [f"genmock mock server on {base}  (clock: {clock}{workers}; listening on "
             f"{', '.join(_bound_addresses(sock, host))})"]
    for name in state.adapters:
        hosts = sorted(h for h, p in state.hosts.items() if p == name)
        also = f"  (or Host: {', '.join(hosts)})" if hosts else ""
        lines.append(f"  {name:<10} {base}/{name}{also}")
    lines.append(f"  {'admin':<10} {base}/_mock/health  (OpenAPI: {base}/_mock/openapi.json)")
    if ca is not None:
        lines += [
            f"  {'proxy':<10} HTTPS_PROXY={base} reaches the provider hosts unmodified; trust "
            f"the CA {ca.cert_path}",
            "             (SSL_CERT_FILE / REQUESTS_CA_BUNDLE / NODE_EXTRA_CA_CERTS; "
            f"also {base}/_mock/ca.pem)",
        ]
    if config.store.url:
        lines.append(f"  {'store':<10} {_store_shown(config)}")
    return "\n".join(lines)


def _supervise(arguments: argparse.Namespace, config: MockConfig, sock: socket.socket) -> int:
    """Run the workers of ``--workers N`` on ``sock`` until a stop signal."""
    argv: list[str] = arguments.argv  # checked by run_serve
    # A worker's graceful stop: its webhook drain, then open responses.
    stop_seconds = config.webhooks.drain_seconds + 30.0
    return Supervisor(argv, sock.fileno(), config.server.workers,
                      env=worker_environment(config, os.environ),
                      stop_seconds=stop_seconds).run()


def worker_environment(config: MockConfig, environ: Mapping[str, str]) -> dict[str, str]:
    """The workers' environment: ``environ`` and the admin token in force.

    Off loopback ``_exposure`` may have made one up; every worker must require
    that one, not make up its own. (A token from the file or a flag reaches
    them the same way; the variable is below both, so it changes nothing.)
    """
    env = dict(environ)
    if config.security.admin_token:
        env[ADMIN_TOKEN_ENV] = config.security.admin_token
    return env


def _serve(app: Any, config: MockConfig, protocol: type[GuardedHttpToolsProtocol],
           sock: socket.socket, level: str, supervisor: int | None) -> None:
    """The app on uvicorn on ``sock`` until SIGINT/SIGTERM (or, in a worker, until its
    supervisor ``supervisor`` is gone)."""
    # The contracts and compiled validators live as long as the process: keep
    # them out of the cyclic collector's scans, keep young collections short,
    # and run full collections only in quiet moments (see QuietCollector), so
    # a store of many jobs does not add GC pauses to request latency.
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_GEN0_THRESHOLD, GC_GEN1_THRESHOLD, gc.get_threshold()[2])
    collector = QuietCollector(app)

    uvicorn_config = uvicorn.Config(
        collector,
        log_config=None,  # our handler above; uvicorn's loggers propagate to it
        log_level=level.lower(),
        access_log=False,  # the app logs one line per request itself
        lifespan="on",
        http=protocol,
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        timeout_keep_alive=config.server.keep_alive_seconds,  # type: ignore[arg-type]
    )
    cap = connection_cap(config.server.max_connections)
    if cap < config.server.max_connections:
        logging.getLogger("mockserver.serve").warning(
            "the file limit allows %d connections (max_connections %d)",
            cap, config.server.max_connections)
    configure(uvicorn_config, header_timeout=config.server.header_timeout_seconds,
              max_connections=cap)
    server = _Server(uvicorn_config, app)

    # uvicorn re-raises the signal that stopped it once it has shut down,
    # into the handler that was installed before it started. With these
    # no-op handlers that re-raise is harmless and the process exits 0.
    def _stopped(signum: int, frame: FrameType | None) -> None:
        pass

    previous = {sig: signal.signal(sig, _stopped) for sig in (signal.SIGINT, signal.SIGTERM)}
    done = threading.Event()
    if supervisor is not None:
        def stop() -> None:
            server.should_exit = True  # uvicorn's main loop looks every 0.1 s

        watch_supervisor(supervisor, stop, done)
    collector.start()
    try:
        server.run(sockets=[sock])
    finally:
        done.set()
        collector.stop()
        for sig, old in previous.items():
            signal.signal(sig, old)
