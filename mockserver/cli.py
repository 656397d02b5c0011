"""Command line: ``mockserver`` and its subcommands.

``main()`` is the console entry point; ``run(argv, stdout, stderr)`` does the
work and returns the exit code, so tests call it without a subprocess (the
shape of ``jsonschema/cli.py``). Each subcommand's behaviour lives in the
module that owns it; this file only parses arguments and dispatches.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn, TextIO

from mockserver import __version__
from mockserver.extras import MissingExtra
from mockserver.logformat import LOG_FORMATS


class _CommandParser(argparse.ArgumentParser):
    """A subcommand's parser: an unknown option is reported with *this* command's usage.

    argparse hands a subparser's leftovers back to the top-level parser, which
    then prints the top-level usage for ``mockserver serve --prot``.
    """

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mockserver",
        description="Contract tests and a mock server for async AI media-generation APIs.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s (genmock) {__version__}"
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_CommandParser
    )

    serve = commands.add_parser("serve", help="run the mock server (all providers)")
    # host/port default to None so a --config file's [server] section can set them;
    # the effective defaults (127.0.0.1:8080) live in mockserver.config.ServerConfig.
    serve.add_argument("--host", help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="bind port; 0 picks a free one (default 8080)")
    serve.add_argument("--config", metavar="FILE", help="TOML configuration file")
    serve.add_argument(
        "--clock", choices=("real", "manual"), help="clock kind (default real)"
    )
    serve.add_argument(
        "--speed", type=float, help="real clock speed-up factor (default 17.5)"
    )
    serve.add_argument(
        "--webhook-attempts", type=int, help="webhook delivery attempts per job"
    )
    serve.add_argument(
        "--webhook-timeout", type=float, help="webhook delivery timeout in seconds (default 30)"
    )
    serve.add_argument("--log-level", default="info", help="log level (default info)")
    serve.add_argument(
        "--log-format", choices=LOG_FORMATS, default="text",
        help="log lines as text (default) or one JSON object per line",
    )
    serve.add_argument(
        "--job-seconds", type=float, help="every job takes this many mock seconds"
    )
    serve.add_argument(
        "--polls-per-phase", type=int, help="jobs move one phase every N polls, not by clock"
    )
    serve.add_argument("--seed", type=int, help="seed for reproducible ids")
    serve.add_argument(
        "--max-connections", type=int,
        help="open connections at most; the longest idle one is closed for a new one "
             "(default 1000, lowered to fit the file limit)")
    serve.add_argument(
        "--keep-alive", type=float, metavar="SECONDS",
        help="close an idle keep-alive connection after this (default 5)")
    serve.add_argument(
        "--header-timeout", type=float, metavar="SECONDS",
        help="close a connection whose request line and headers take longer (default 10)")
    serve.add_argument("--admin-token", help="token the admin API requires (also "
                       "$MOCKSERVER_ADMIN_TOKEN); generated when binding beyond loopback")
    serve.add_argument("--public-url", help="base of output/media URLs (default: the "
                       "request's host when known, else the listening address)")
    serve.add_argument("--drain-seconds", type=float, help="on shutdown, wall seconds to "
                       "deliver webhooks in flight or due (default 5)")
    serve.add_argument(
        "--ca-dir", metavar="DIR",
        help="where the HTTPS proxy's local CA is kept (made on first start; "
        "default: <user data dir>/genmock/ca)",
    )
    serve.add_argument(
        "--no-https-proxy", action="store_true",
        help="do not serve CONNECT to the provider hosts (no CA is made or read)",
    )
    serve.add_argument(
        "--store", metavar="URL",
        help="keep the state in this Redis, shared by every worker and kept across restarts: "
        "redis://[user:password@]HOST[:PORT][/DB], rediss://... or "
        "unix:///path/to/socket[?db=N] (default: this process's memory)")
    serve.add_argument(
        "--store-prefix", metavar="PREFIX",
        help="the Redis keys' prefix, so several mocks can share one Redis; 1-64 of "
        "A-Z a-z 0-9 _ . - (default genmock)")
    serve.add_argument(
        "--workers", type=int, metavar="N",
        help="server processes on the port (1-64, default 1); more than one needs --store")
    # A worker of `--workers N`, started by the supervising process: the inherited
    # listening socket, its index, and the supervisor to watch. Not for people.
    serve.add_argument("--worker-fd", type=int, help=argparse.SUPPRESS)
    serve.add_argument("--worker-index", type=int, help=argparse.SUPPRESS)
    serve.add_argument("--worker-parent", type=int, help=argparse.SUPPRESS)

    from mockserver.providers import registry

    contracts = commands.add_parser("contracts", help="derive, check and update the contracts")
    contract_commands = contracts.add_subparsers(dest="contracts_command", required=True)
    root_help = (
        "contracts directory (default: $MOCKSERVER_CONTRACTS, else ./contracts when it "
        "has sources/, else the bundled one)"
    )
    for name, text in (
        ("build", "derive model contracts from the source documents and write them"),
        ("check", "derive in memory and compare with the committed contracts"),
    ):
        sub = contract_commands.add_parser(name, help=text)
        sub.add_argument("--root", metavar="DIR", help=root_help)
        sub.add_argument(
            "--source",
            metavar="FILE",
            action="append",
            default=[],
            help="derive from this copy of a document instead of the committed one "
            "(matched by provider folder and file name); repeatable",
        )
    update = contract_commands.add_parser(
        "update",
        help="accept changed or new provider documents: copy, update the manifest, rebuild",
        description=(
            "Put each FILE in sources/<provider>/ (replacing the document of the same name, "
            "or adding a new one), update its line in MANIFEST.sha256, rebuild the model "
            "contracts and print the diff to review. `contracts check` passes afterwards."
        ),
    )
    update.add_argument("files", metavar="FILE", nargs="+", help="a provider document")
    update.add_argument(
        "--provider", choices=registry.names(),
        help="the provider of every FILE (default: the FILE's folder name, or the provider "
        "whose sources already hold a document of that name)",
    )
    update.add_argument("--root", metavar="DIR", help=root_help)

    openapi = commands.add_parser(
        "openapi", help="print the OpenAPI 3.1 document of a provider or of the admin API"
    )
    openapi.add_argument("provider", choices=(*registry.names(), "admin"))
    openapi.add_argument("--output", metavar="FILE", help="write to FILE instead of stdout")
    openapi.add_argument(
        "--server-url", metavar="URL", help="server URL to put in the document"
    )
    from mockserver.drift.command import register_drift_commands
    from mockserver.fuzz.command import register_fuzz_command
    from mockserver.webhook_send import register_webhook_command

    register_fuzz_command(commands)
    register_drift_commands(commands)
    register_webhook_command(commands)
    return parser


def run(argv: Sequence[str], stdout: TextIO, stderr: TextIO) -> int:
    """Run the command line ``argv`` (without the program name); return the exit code."""
    arguments = _parser().parse_args(list(argv))
    # `serve --workers N` starts its workers with this same command line.
    arguments.argv = list(argv)
    try:
        return _dispatch(arguments, stdout, stderr)
    except MissingExtra as error:
        stderr.write(f"{error}\n")  # names the command and the install line
        return 2


def _dispatch(arguments: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    if arguments.command == "contracts":
        from mockserver.derive.command import run_contracts
        from mockserver.providers import registry

        return run_contracts(arguments, stdout, stderr, registry.document_parsers())
    if arguments.command == "openapi":
        from mockserver.openapi import run_openapi

        return run_openapi(arguments, stdout, stderr)
    if arguments.command == "serve":
        from mockserver.http.serve import run_serve

        return run_serve(arguments, stdout, stderr)
    if arguments.command in ("fuzz", "drift", "record", "webhook"):
        # Those modules attach their handler to the parsed arguments.
        handler = arguments.handler
        return int(handler(arguments, stdout, stderr))
    raise AssertionError(f"unhandled command {arguments.command!r}")  # argparse prevents this


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: the exit code of :func:`run`; one line, never a traceback,
    for a missing extra, an unwritable file, a closed pipe or Ctrl-C."""
    arguments = sys.argv[1:] if argv is None else argv
    try:
        code = run(arguments, sys.stdout, sys.stderr)
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_stdout()  # `mockserver drift rules | head`: the reader left, nothing to report
        code = 141  # what a shell reports for a process stopped by SIGPIPE
    except KeyboardInterrupt:
        print("mockserver: interrupted", file=sys.stderr)
        code = 130
    except OSError as error:
        # The last resort for a file a command could not read or write
        # (--output into a missing or read-only folder); commands name it first.
        where = f"{error.filename}: " if error.filename else ""
        print(f"mockserver: error: {where}{error.strerror or error}", file=sys.stderr)
        code = 2
    sys.exit(code)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    with contextlib.suppress(OSError, ValueError):
        os.dup2(devnull, sys.stdout.fileno())
