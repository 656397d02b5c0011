"""The wire JSON codec reads and writes exactly what the standard library does."""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import re
from decimal import Decimal
from typing import Any

import pytest

from mockserver import wirejson


@dataclasses.dataclass
class _Point:
    x: int


def _stdlib(value: Any, *, lenient: bool) -> bytes:
    return json.dumps(
        value, separators=(",", ":"), ensure_ascii=False, default=str if lenient else None
    ).encode()


@pytest.mark.parametrize(
    "value",
    [
        {"status": "success", "output": ["https://x/a.mp4"], "cost": 0.15, "n": None},
        {1: "int key"},
        10**30,
        "é ✓ \U0001f600",
        [1.5, 1e16, -0.0, True],
        Decimal("0.40"),
        datetime.datetime(2026, 11, 21, 12, 0, tzinfo=datetime.UTC),
        _Point(1),
    ],
)
def test_lenient_dumps_equals_the_standard_library(value: Any) -> None:
    assert wirejson.dumps(value, lenient=True) == _stdlib(value, lenient=True)


def test_strict_dumps_refuses_what_json_cannot_hold() -> None:
    assert wirejson.dumps({1: [2]}) == _stdlib({1: [2]}, lenient=False)
    with pytest.raises(TypeError):
        wirejson.dumps({"amount": Decimal("1")})


@pytest.mark.parametrize(
    "document",
    [
        b'{"prompt": "a cat", "seed": -1, "duration": 5.0}',
        b'{"seed": 123456789012345678901234567890}',
        b"-9223372036854775809",
        b"[1e400, NaN]",
        '{"a": "b"}'.encode("utf-16"),
        '{"text": "é"}',
    ],
)
def test_loads_reads_what_the_standard_library_reads(document: bytes | str) -> None:
    ours, theirs = wirejson.loads(document), json.loads(document)
    assert repr(ours) == repr(theirs)  # repr: the same types, and nan equal to nan
    if isinstance(theirs, int):
        assert type(ours) is int


@pytest.mark.parametrize("document", [b"", b"{", b'{"a": 1,}', b"\xff\xfe\x00"])
def test_loads_refuses_what_the_standard_library_refuses(document: bytes) -> None:
    with pytest.raises(ValueError) as ours:
        wirejson.loads(document)
    with pytest.raises(ValueError) as theirs:
        json.loads(document)
    assert type(ours.value) is type(theirs.value)


@pytest.mark.parametrize(
    ("document", "where"),
    [
        (b'"\\ud800"', "$"),
        (b'{"input": {"prompt": "a \\udc00 cat"}}', "$.input.prompt"),
        (b'{"a": [1, "\\ud800"], "n": 12345678901234567890}', "$.a[1]"),
        (b'{"\\ud800": 1}', "(an object key)"),
    ],
)
def test_loads_refuses_a_lone_surrogate_and_names_where(document: bytes, where: str) -> None:
    # json.loads reads it, but no later write (journal, admin lists, webhooks) could.
    with pytest.raises(json.JSONDecodeError, match=re.escape(where)):
        wirejson.loads(document)


def test_loads_keeps_a_surrogate_pair() -> None:
    assert wirejson.loads(b'{"s": "\\ud83d\\ude00"}') == {"s": "\U0001f600"}


def test_loads_refuses_an_integer_python_cannot_print() -> None:
    with pytest.raises(json.JSONDecodeError, match="more than 4300 digits"):
        wirejson.loads(b'{"seed": ' + b"9" * 5000 + b"}")
    assert wirejson.loads(b"9" * 4300) == int("9" * 4300)


def test_nan_round_trip_keeps_its_meaning() -> None:
    assert math.isnan(wirejson.loads(b"NaN"))


@pytest.mark.parametrize("size", [100, 10_000])
def test_written_bodies_hold_no_more_memory_than_their_bytes(size: int) -> None:
    # The journal and the webhook outbox keep bodies: each must cost its size,
    # not the encoder's working buffer (orjson's was 4 KiB for 120 bytes).
    import tracemalloc

    body = {"text": "x" * size}
    wirejson.dumps(body)  # warm
    tracemalloc.start()
    try:
        kept = [wirejson.dumps(body) for _ in range(100)]
        traced = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(kept[0]) == size + len('{"text":""}')
    assert traced / 100 < size + 200


def test_loads_turns_a_too_deep_document_into_a_decode_error() -> None:
    with pytest.raises(json.JSONDecodeError, match="nested too deeply"):
        wirejson.loads(b"[" * 100_000)


def test_a_too_deep_body_is_a_400_in_the_envelope_over_http(served: Any) -> None:
    import httpx

    deep = b'{"model": "x", "input": ' + b"[" * 50_000 + b"}"
    with httpx.Client(base_url=served.url, timeout=10) as client:
        headers = {"X-API-Key": "sk-test-0123456789abcdef", "Content-Type": "application/json"}
        reply = client.post("/eachlabs/v1/prediction/", content=deep, headers=headers)
        assert reply.status_code == 400
        assert reply.json()["status"] == "error"
        assert "not valid JSON" in reply.json()["message"]
        admin = client.post("/_mock/clock/advance", content=b"[" * 50_000,
                            headers={"Content-Type": "application/json"})
        assert admin.status_code == 400
        journal = client.get("/_mock/requests?limit=5")
        assert journal.status_code == 200
    assert not served.state.unhandled_errors
