"""A progress line for long commands (``fuzz``, ``drift live``), written to stderr.

On a terminal the line is rewritten in place (``\\r``) and cleared at the end;
elsewhere (CI logs, a pipe) each update is its own line, at most one per
``interval`` seconds apart from those that start a new stage, so a log shows
what ran without a flood. stdout keeps only the report.
"""

from __future__ import annotations

import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """``update(text)`` as the work goes on, ``done()`` once at the end."""

    def __init__(self, stream: TextIO, prefix: str, *, interval: float = 1.0) -> None:
        self.stream = stream
        self.prefix = prefix
        self.interval = interval
        isatty = getattr(stream, "isatty", None)
        self.tty = bool(isatty and isatty())
        self._last = 0.0
        self._width = 0
        self._stage: str | None = None

    def update(self, text: str, *, stage: str | None = None) -> None:
        """Show ``text``; a new ``stage`` is always shown, other updates may be thinned."""
        line = f"{self.prefix}: {text}"
        now = time.monotonic()
        new_stage = stage is not None and stage != self._stage
        if stage is not None:
            self._stage = stage
        try:
            if self.tty:
                self.stream.write("\r" + line.ljust(self._width))
                self._width = len(line)
            elif new_stage or now - self._last >= self.interval:
                self.stream.write(line + "\n")
            else:
                return
            self.stream.flush()
        except (OSError, ValueError):  # a closed stderr must not stop the work
            return
        self._last = now

    def done(self) -> None:
        """End the line (on a terminal: clear it)."""
        if self.tty and self._width:
            try:
                self.stream.write("\r" + " " * self._width + "\r")
                self.stream.flush()
            except (OSError, ValueError):
                pass
            self._width = 0
