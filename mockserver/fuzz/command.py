"""``mockserver fuzz``: argument parsing and the handler the CLI calls.

::

    mockserver fuzz --provider wavespeed --max-examples 500 --seed 1
    mockserver fuzz --provider wavespeed --base-url http://127.0.0.1:8080/wavespeed
    mockserver fuzz --provider eachlabs --base-url https://api.eachlabs.ai \\
        --api-key-env EACHLABS_API_KEY [--allow-spend] --report build/fuzz.xml

Exit codes: 0 no failures, 1 failures, 2 the run could not start or part of
it could not run (unreachable target, missing key).
"""

from __future__ import annotations

import argparse
import os
from typing import Any, TextIO

from mockserver.fuzz.runner import CHECKS, DEFAULT_KEY, FuzzError, FuzzOptions, is_loopback
from mockserver.providers import registry

__all__ = ["register_fuzz_command", "run_fuzz_command"]

_PHASES = ("examples", "coverage", "fuzzing", "stateful")


def register_fuzz_command(commands: Any) -> None:
    """Add the ``fuzz`` subcommand to the CLI's subparsers."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "fuzz",
        help="fuzz a provider API (the mock by default) with schemathesis",
        description=(
            "Fuzz one provider's API from its exported OpenAPI document with schemathesis: "
            "the in-process mock by default, or --base-url (a served mock or the real API). "
            "Checks: " + ", ".join(CHECKS) + "."
        ),
    )
    parser.add_argument("--provider", required=True, choices=registry.names())
    parser.add_argument(
        "--base-url",
        metavar="URL",
        help="target base URL, e.g. http://127.0.0.1:8080/wavespeed (default: in-process mock)",
    )
    parser.add_argument(
        "--api-key-env",
        metavar="VAR",
        help=f"environment variable holding the API key (default key: {DEFAULT_KEY!r})",
    )
    parser.add_argument(
        "--allow-spend",
        action="store_true",
        help="against a non-loopback API, also fuzz the operations that cost money (create)",
    )
    parser.add_argument(
        "--max-examples", type=int, default=100, metavar="N",
        help="examples per operation and phase (default 100)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--workers", type=int, default=1, help="concurrent workers (default 1)")
    parser.add_argument("--report", metavar="FILE", help="also write a JUnit XML report")
    parser.add_argument(
        "--exclude-check", action="append", default=[], choices=sorted(CHECKS), metavar="CHECK",
        help="leave a check out (repeatable)",
    )
    parser.add_argument(
        "--phase", action="append", choices=_PHASES, dest="phases",
        help="run only these phases (repeatable; default all)",
    )
    parser.set_defaults(handler=run_fuzz_command)


def _options(arguments: argparse.Namespace) -> FuzzOptions:
    key = DEFAULT_KEY
    if arguments.api_key_env:
        value = os.environ.get(arguments.api_key_env)
        if not value:
            raise FuzzError(f"environment variable {arguments.api_key_env} is not set or empty")
        key = value
    elif arguments.base_url and not is_loopback(arguments.base_url):
        raise FuzzError("a non-loopback --base-url needs --api-key-env VAR")
    if arguments.workers < 1:
        raise FuzzError("--workers must be at least 1")
    return FuzzOptions(
        provider=arguments.provider,
        max_examples=arguments.max_examples,
        seed=arguments.seed,
        workers=arguments.workers,
        base_url=arguments.base_url,
        api_key=key,
        allow_spend=arguments.allow_spend,
        exclude_checks=tuple(arguments.exclude_check),
        phases=tuple(arguments.phases) if arguments.phases else None,
    )


def run_fuzz_command(arguments: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """Handler of ``mockserver fuzz``; returns the exit code."""
    from mockserver.extras import require_extra

    require_extra("fuzz", "mockserver fuzz")  # before importing schemathesis
    from mockserver.fuzz.report import render_summary, write_junit
    from mockserver.fuzz.runner import run_fuzz
    from mockserver.progress import Progress

    try:
        result = run_fuzz(
            _options(arguments), progress=Progress(stderr, f"fuzz {arguments.provider}")
        )
    except FuzzError as error:
        stderr.write(f"mockserver fuzz: {error}\n")
        return 2
    stdout.write(render_summary(result))
    if arguments.report:
        try:
            write_junit(result, arguments.report)
        except OSError as error:
            stderr.write(f"mockserver fuzz: cannot write {arguments.report}: "
                         f"{error.strerror or error}\n")
            return 2
        stdout.write(f"JUnit report: {arguments.report}\n")
    return result.exit_code
