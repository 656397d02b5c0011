"""JSON on the wire: request bodies in, response and webhook bodies out.

orjson does both about five times faster than the standard library, which
is a tenth of a poll's cost. It is stricter in places (numbers beyond 64
bits, lone surrogates, non-string keys, other encodings than UTF-8); there
the standard library takes over, so the mock accepts and produces exactly
what it would without orjson, only sooner.

Two documents the standard library reads are refused here, as
``JSONDecodeError`` like any unreadable body, because a value read from them
breaks later: a string holding a lone surrogate (``"\\ud800"``: no UTF-8
encoding exists, so every later write of a job, journal entry or account
holding it would fail) and an integer of more than 4,300 digits (Python
refuses to turn it into text again). The error names where in the document
the value sits (``$.input.prompt``).
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

__all__ = ["MAX_INT_DIGITS", "dumps", "loads"]

#: Longest integer a body may hold: Python's int <-> str conversion limit.
MAX_INT_DIGITS = 4300

#: The standard library's fallback, built once (``json.dumps`` with options
#: builds a new encoder per call): compact, UTF-8 text as the providers send.
_STRICT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_LENIENT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str)
#: orjson writes dataclasses and datetimes itself; the standard library hands
#: them to ``default``. Passing them through keeps both writers' output equal.
#: 19 digits in a row: perhaps an integer orjson cannot hold (a string's
#: digits match too and merely take the slower path).
_LONG_BYTES = re.compile(rb"\d{19}")
_LONG_TEXT = re.compile(r"\d{19}")
_SAME_AS_JSON = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME


def dumps(body: Any, *, lenient: bool = False) -> bytes:
    """Compact JSON bytes of ``body``.

    With ``lenient`` a value JSON cannot hold (a Decimal, a datetime) is
    written as its ``str()``; without it such a value raises TypeError.
    """
    try:
        written = orjson.dumps(body, default=str if lenient else None, option=_SAME_AS_JSON)
        # orjson's bytes keep the buffer it wrote into (4 KiB for a 120-byte
        # body, 128 KiB for 10 KB); the journal and the webhook outbox keep
        # bodies, so keep an exact-size copy instead (0.2 us).
        return bytes(memoryview(written))
    except TypeError:  # orjson.JSONEncodeError too: a non-string key, a huge int
        encoder = _LENIENT if lenient else _STRICT
        return encoder.encode(body).encode()


def loads(data: bytes | str) -> Any:
    """The JSON value in ``data``; raises what ``json.loads`` raises.

    Except for a document nested too deeply to read: ``json.loads`` raises
    RecursionError, which no caller expects from a client's body; here it is
    a JSONDecodeError like any other unreadable body.
    """
    try:
        return _loads(data)
    except RecursionError:
        raise json.JSONDecodeError("document nested too deeply", _text(data), 0) from None
    except json.JSONDecodeError:
        raise
    except ValueError as error:
        if "integer string conversion" not in str(error):
            raise
        raise json.JSONDecodeError(
            f"an integer has more than {MAX_INT_DIGITS} digits", _text(data), 0
        ) from None


def _text(data: bytes | str) -> str:
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data


def _checked(value: Any, data: bytes | str) -> Any:
    """``value``, read by the standard library: refused if a string in it has a lone surrogate.

    Only the standard library's results need the walk: orjson refuses such
    strings itself, so the common path never pays for it.
    """
    where = _surrogate_path(value, "$")
    if where is not None:
        raise json.JSONDecodeError(
            f"lone surrogate (\\ud800-\\udfff escape without its pair) in {where}: "
            "JSON text must be valid Unicode",
            _text(data),
            0,
        )
    return value


def _surrogate_path(value: Any, path: str) -> str | None:
    """The JSON path of the first string (value or key) that is not valid Unicode."""
    if isinstance(value, str):
        return None if _encodable(value) else path
    if isinstance(value, dict):
        for key, item in value.items():
            if not _encodable(key):
                return f"{path} (an object key)"
            found = _surrogate_path(item, f"{path}.{key}")
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _surrogate_path(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _loads(data: bytes | str) -> Any:
    long_number = (
        _LONG_BYTES.search(data) if isinstance(data, bytes) else _LONG_TEXT.search(data)
    )
    if long_number:
        # orjson reads an integer beyond 64 bits as a float; json as an int.
        return _checked(json.loads(data), data)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        # Not always an error: the standard library reads some documents
        # orjson refuses (UTF-16 bytes, a 100-digit integer, NaN).
        return _checked(json.loads(data), data)
