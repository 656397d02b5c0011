"""Log output for the command line: ``--log-format text`` (default) or ``json``.

``json`` writes one JSON object per line (``time``, ``level``, ``logger``,
``message``, plus the structured fields a log call passed as ``extra``, such
as a request's ``provider``, ``method``, ``path``, ``status`` and
``duration_ms``), for log shippers that parse lines.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

__all__ = ["LOG_FORMATS", "JsonFormatter", "log_formatter", "worker_log_handler"]

LOG_FORMATS = ("text", "json")

#: Attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def log_formatter(kind: str) -> logging.Formatter:
    """The formatter of ``--log-format kind`` (``text`` or ``json``)."""
    if kind == "json":
        return JsonFormatter()
    return logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


def worker_log_handler(handler: logging.Handler, kind: str, worker: int) -> None:
    """Mark every line of ``handler`` with the worker of ``serve --workers N`` that wrote it:
    ``worker 2`` after the level in text, a ``"worker": 2`` field in JSON."""

    def tag(record: logging.LogRecord) -> bool:
        record.worker = worker
        return True

    handler.addFilter(tag)
    if kind != "json":
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s worker %(worker)s %(name)s: %(message)s"))
