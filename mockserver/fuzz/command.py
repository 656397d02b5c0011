"""``mockserver fuzz`` (argument parsing only)."""

from __future__ import annotations

from typing import Any


def register_fuzz_command(commands: Any) -> None:
    """Add the ``fuzz`` subcommand to the CLI's subparsers (filled in by the fuzz work)."""
