"""``mockserver drift ...`` and ``mockserver record`` (argument parsing only)."""

from __future__ import annotations

import argparse
from typing import Any


def register_drift_commands(commands: Any) -> None:
    """Add the ``drift`` and ``record`` subcommands to the CLI's subparsers."""
    drift = commands.add_parser("drift", help="check documents, live APIs or recordings for drift")
    drift.add_subparsers(dest="drift_command", required=True, metavar="SOURCE")
    drift.set_defaults(handler=_not_ready)


def _not_ready(arguments: argparse.Namespace, stdout: Any, stderr: Any) -> int:
    stderr.write("drift: not available yet\n")
    return 2
