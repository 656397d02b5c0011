"""``mockserver drift docs|live|replay|rules`` and ``mockserver record``.

Exit codes (every ``drift`` subcommand):

* ``0`` no drift at the ``--fail-on`` threshold;
* ``1`` drift found;
* ``2`` could not run (bad arguments, unreadable files, contracts that do not
  load, a live API that cannot be reached, a spend refused over the limit).

``--fail-on`` sets the threshold:

* ``breaking``: only breaking findings fail;
* ``behaviour`` (the default): breaking **and** behaviour findings fail,
  i.e. every non-informational finding. ``non-breaking`` findings (an
  optional input added, an enum widened, a range loosened, an undeclared
  response field) are reported in every format but do not fail the run;
* ``any``: every finding fails, non-breaking ones included.

``--alert-webhook URL`` posts a Slack-compatible message (``{"text",
"blocks"}``) when the exit code is not 0. The URL itself is treated as a
secret (Slack webhook URLs are credentials) and never printed.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, TextIO

from mockserver.drift.findings import FAIL_ON, Report
from mockserver.drift.redact import Redactor
from mockserver.drift.report import FORMATS, render, slack_payload
from mockserver.providers import registry

__all__ = ["register_drift_commands", "run_drift"]


def _output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format", choices=FORMATS, default="table", help="report format (default table)"
    )
    parser.add_argument(
        "--output", metavar="FILE", help="write the --format report to FILE instead of stdout"
    )
    parser.add_argument(
        "--report",
        metavar="FORMAT=FILE",
        action="append",
        default=[],
        help="also write a report in FORMAT to FILE (repeatable), e.g. junit=drift.xml",
    )
    parser.add_argument(
        "--fail-on",
        choices=tuple(FAIL_ON),
        default="behaviour",
        help="lowest severity that makes the exit code 1 (default behaviour: breaking and "
        "behaviour findings fail, non-breaking ones are reported only)",
    )
    parser.add_argument(
        "--alert-webhook",
        metavar="URL",
        help="POST a Slack-compatible summary here when drift is found or the run fails",
    )
    parser.add_argument(
        "--root", metavar="DIR",
        help="contracts directory (default: $MOCKSERVER_CONTRACTS, else the bundled one)",
    )


def _provider_help() -> str:
    """``eachlabs, wavespeed or apikley``: the registry's names, as a sentence."""
    names = registry.names()
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else "".join(names)


def register_drift_commands(commands: Any) -> None:
    """Add the ``drift`` and ``record`` subcommands to the CLI's subparsers."""
    drift = commands.add_parser(
        "drift",
        help="check documents, live APIs or recordings for drift from the contracts",
        description="Compare the contracts with provider documents, a live API or recorded "
        "traffic. Exit 0 no drift, 1 drift, 2 could not run.",
    )
    sources = drift.add_subparsers(dest="drift_command", required=True, metavar="SOURCE")

    docs = sources.add_parser(
        "docs",
        help="derive contracts from the documents (or newer copies) and classify differences",
    )
    docs.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="newer copy of a source document, matched by provider folder and file name "
        "(like `contracts build --source`)",
    )
    _output_options(docs)
    docs.set_defaults(handler=run_drift)

    live = sources.add_parser("live", help="probe a live API (free probes; opt-in spend)")
    live.add_argument("--provider", required=True, help=_provider_help())
    live.add_argument(
        "--base-url", metavar="URL", help="API base URL (default: the contract's real base_url)"
    )
    live.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="environment variable holding the API key (the key itself is never printed)",
    )
    live.add_argument(
        "--spend-limit",
        metavar="AMOUNT",
        help="opt in to ONE real job of the cheapest configuration if it costs at most AMOUNT "
        "(in the provider's billing currency: USD, or credits for Apikley)",
    )
    live.add_argument("--model", help="model id for the paid job (default: the cheapest)")
    live.add_argument("--webhook-url", metavar="URL", help="register this webhook on the paid job")
    live.add_argument(
        "--webhook-listen",
        metavar="[HOST:]PORT",
        help="receive the webhook here (default: the --webhook-url port when it is loopback)",
    )
    live.add_argument(
        "--poll-timeout", type=float, default=600.0, help="give up polling after S seconds"
    )
    live.add_argument(
        "--poll-interval", type=float, default=5.0, help="seconds between polls (default 5)"
    )
    live.add_argument(
        "--webhook-timeout",
        type=float,
        default=60.0,
        help="seconds to wait for the webhook after the job ends (default 60)",
    )
    live.add_argument(
        "--timeout", type=float, default=30.0, help="per-request timeout in seconds (default 30)"
    )
    _output_options(live)
    live.set_defaults(handler=run_drift)

    replay = sources.add_parser(
        "replay", help="check recorded exchanges (fixture format or HAR 1.2) against the contracts"
    )
    replay.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="recording files or directories (searched for *.json, *.har)",
    )
    replay.add_argument(
        "--provider", help="provider of every recording (default: from the folder or host)"
    )
    _output_options(replay)
    replay.set_defaults(handler=run_drift)

    rules = sources.add_parser("rules", help="list the drift rules and their severities")
    rules.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    rules.set_defaults(handler=_run_rules)

    record = commands.add_parser(
        "record",
        help="run a recording proxy in front of a real API",
        description="Forward requests to the provider and save each exchange, secrets "
        "redacted, as fixtures/recordings/<provider>/*.json (replay them with "
        "`mockserver drift replay`).",
    )
    record.add_argument("--provider", required=True, help=_provider_help())
    record.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    record.add_argument("--port", type=int, default=8090, help="bind port (default 8090)")
    record.add_argument(
        "--upstream", metavar="URL", help="upstream base URL (default: the contract's base_url)"
    )
    record.add_argument(
        "--output",
        metavar="DIR",
        help="where to save exchanges (default fixtures/recordings/<provider>)",
    )
    record.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="also redact the value of this environment variable wherever it appears",
    )
    record.add_argument(
        "--max-exchanges", type=int, help="stop after recording this many exchanges"
    )
    record.add_argument("--root", metavar="DIR", help="contracts directory")
    record.set_defaults(handler=_run_record)


def _root(arguments: argparse.Namespace) -> Path:
    from mockserver.contracts import contracts_root

    return Path(arguments.root) if arguments.root else contracts_root()


def _collect(arguments: argparse.Namespace, redactor: Redactor, stderr: TextIO) -> Report:
    command = arguments.drift_command
    if command == "docs":
        from mockserver.drift.docs import run_docs

        return run_docs(arguments.files, _root(arguments))
    if command == "replay":
        from mockserver.drift.replay import run_replay

        return run_replay(arguments.paths, _root(arguments), provider=arguments.provider)
    if command == "live":
        from mockserver.drift.live import LiveOptions, run_live

        key = None
        if arguments.api_key_env:
            key = os.environ.get(arguments.api_key_env) or None
            if key is None:
                stderr.write(
                    f"drift live: ${arguments.api_key_env} is empty or unset; "
                    "running only the probes that need no key\n"
                )
        redactor.add(key)
        options = LiveOptions(
            provider=arguments.provider,
            base_url=arguments.base_url,
            api_key=key,
            spend_limit=arguments.spend_limit,
            model=arguments.model,
            webhook_url=arguments.webhook_url,
            webhook_listen=arguments.webhook_listen,
            poll_timeout=arguments.poll_timeout,
            poll_interval=arguments.poll_interval,
            webhook_timeout=arguments.webhook_timeout,
            timeout=arguments.timeout,
        )
        return run_live(options, _root(arguments), redactor, stderr)
    raise AssertionError(command)


def _parse_reports(values: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        fmt, sep, path = value.partition("=")
        if not sep or fmt not in FORMATS or not path:
            raise ValueError(
                f"--report {value!r}: expected FORMAT=FILE with FORMAT one of {', '.join(FORMATS)}"
            )
        pairs.append((fmt, path))
    return pairs


def run_drift(arguments: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """Entry point of ``mockserver drift docs|live|replay``."""
    redactor = Redactor()
    if arguments.alert_webhook:
        redactor.add(arguments.alert_webhook)  # a Slack webhook URL is a credential
    try:
        extra = _parse_reports(arguments.report)
    except ValueError as error:
        stderr.write(f"mockserver drift: error: {error}\n")
        return 2
    try:
        report = _collect(arguments, redactor, stderr)
    except Exception as error:  # any crash is "could not run", reported as such
        report = Report(arguments.drift_command)
        report.errors.append(f"{type(error).__name__}: {redactor.text(str(error))}")
    fail_on = arguments.fail_on
    code = report.exit_code(fail_on)
    outputs = [(arguments.format, arguments.output), *extra]
    for fmt, path in outputs:
        text = render(report, fmt, fail_on, redactor)
        if path is None:
            stdout.write(text)
            continue
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text, encoding="utf-8")
        except OSError as error:
            stderr.write(f"mockserver drift: cannot write {path}: {error}\n")
            code = 2
    if arguments.output and arguments.format != "table":
        # Keep a one-line verdict on the terminal when the report went to a file.
        from mockserver.drift.report import summary_line

        stderr.write(redactor.text(summary_line(report, fail_on)) + "\n")
    if arguments.alert_webhook and code != 0:
        _post_alert(arguments.alert_webhook, slack_payload(report, fail_on, redactor), stderr)
    return code


def _post_alert(url: str, payload: dict[str, Any], stderr: TextIO) -> None:
    """POST the alert; a failure is a warning (the exit code already says drift)."""
    import httpx

    try:
        response = httpx.post(url, json=payload, timeout=15.0)
    except httpx.HTTPError as error:
        stderr.write(f"mockserver drift: alert not delivered: {type(error).__name__}\n")
        return
    if response.status_code >= 300:
        stderr.write(f"mockserver drift: alert webhook answered HTTP {response.status_code}\n")


def _run_rules(arguments: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """``mockserver drift rules``: the registry as a table, JSON or Markdown."""
    import json

    # Importing the sources registers nothing new (all rules live in rules.py),
    # but keeps the listing honest if a source ever adds its own.
    from mockserver.drift.rules import rule_table

    rows = rule_table()
    if arguments.format == "json":
        stdout.write(json.dumps(rows, indent=2) + "\n")
    elif arguments.format == "markdown":
        stdout.write("| rule | severity | applies to | meaning |\n|---|---|---|---|\n")
        for row in rows:
            stdout.write(
                f"| `{row['id']}` | {row['severity']} | {row['kind']} | {row['summary']} |\n"
            )
    else:
        width = max(len(r["id"]) for r in rows)
        for row in rows:
            stdout.write(
                f"{row['id'].ljust(width)}  {row['severity'].ljust(12)}  "
                f"{row['kind'].ljust(8)}  {row['summary']}\n"
            )
    return 0


def _run_record(arguments: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """``mockserver record``: run the recording proxy until interrupted."""
    from mockserver.drift.record import run_record

    return run_record(arguments, _root(arguments), stdout, stderr)
