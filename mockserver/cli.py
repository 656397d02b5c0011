"""Command line: ``mockserver`` and its subcommands.

``main()`` is the console entry point; ``run(argv, stdout, stderr)`` does the
work and returns the exit code, so tests call it without a subprocess (the
shape of ``jsonschema/cli.py``). Each subcommand's behaviour lives in the
module that owns it; this file only parses arguments and dispatches.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

PROVIDERS = ("eachlabs", "wavespeed", "apikley")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mockserver",
        description="Contract tests and a mock server for async AI media-generation APIs.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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
        "--job-seconds", type=float, help="every job takes this many mock seconds"
    )
    serve.add_argument(
        "--polls-per-phase", type=int, help="jobs move one phase every N polls, not by clock"
    )
    serve.add_argument("--seed", type=int, help="seed for reproducible ids")
    serve.add_argument(
        "--ca-dir", metavar="DIR",
        help="where the HTTPS proxy's local CA is kept (made on first start; "
        "default: <user data dir>/genmock/ca)",
    )
    serve.add_argument(
        "--no-https-proxy", action="store_true",
        help="do not serve CONNECT to the provider hosts (no CA is made or read)",
    )

    contracts = commands.add_parser("contracts", help="derive and check the contracts")
    contract_commands = contracts.add_subparsers(dest="contracts_command", required=True)
    for name, text in (
        ("build", "derive model contracts from the source documents and write them"),
        ("check", "derive in memory and compare with the committed contracts"),
    ):
        sub = contract_commands.add_parser(name, help=text)
        sub.add_argument(
            "--root", metavar="DIR", help="contracts directory (default: the bundled one)"
        )
        sub.add_argument(
            "--source",
            metavar="FILE",
            action="append",
            default=[],
            help="derive from this copy of a document instead of the committed one "
            "(matched by provider folder and file name); repeatable",
        )

    openapi = commands.add_parser("openapi", help="print the OpenAPI 3.1 document of a provider")
    openapi.add_argument("provider", choices=(*PROVIDERS, "admin"))
    openapi.add_argument("--output", metavar="FILE", help="write to FILE instead of stdout")
    openapi.add_argument(
        "--server-url", metavar="URL", help="server URL to put in the document"
    )
    from mockserver.drift.command import register_drift_commands
    from mockserver.fuzz.command import register_fuzz_command

    register_fuzz_command(commands)
    register_drift_commands(commands)
    return parser


def run(argv: Sequence[str], stdout: TextIO, stderr: TextIO) -> int:
    """Run the command line ``argv`` (without the program name); return the exit code."""
    arguments = _parser().parse_args(list(argv))
    if arguments.command == "contracts":
        from mockserver.derive.command import run_contracts

        return run_contracts(arguments, stdout, stderr)
    if arguments.command == "openapi":
        from mockserver.openapi import run_openapi

        return run_openapi(arguments, stdout, stderr)
    if arguments.command == "serve":
        from mockserver.http.serve import run_serve

        return run_serve(arguments, stdout, stderr)
    if arguments.command in ("fuzz", "drift", "record"):
        # Those modules attach their handler to the parsed arguments.
        handler = arguments.handler
        return int(handler(arguments, stdout, stderr))
    raise AssertionError(f"unhandled command {arguments.command!r}")  # argparse prevents this


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point."""
    sys.exit(run(sys.argv[1:] if argv is None else argv, sys.stdout, sys.stderr))
