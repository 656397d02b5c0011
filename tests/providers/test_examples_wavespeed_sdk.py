"""The official ``wavespeed`` SDK (requests) against the served mock."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "wavespeed_sdk.py"


def _example() -> Any:
    spec = importlib.util.spec_from_file_location("wavespeed_sdk_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


wavespeed = pytest.importorskip("wavespeed")


# The SDK sleeps between polls; jobs here move one phase per poll instead of by the clock.
@pytest.mark.provider_mock(providers=["wavespeed"], config={"jobs": {"polls_per_phase": 1}})
def test_sdk_run_and_download(provider_server: Any) -> None:
    example = _example()
    client = wavespeed.Client(api_key="ws-sdk-key", base_url=provider_server.base_url("wavespeed"))

    video = example.animate(client, "https://images.example.com/cat.png", "a cat yawns")

    assert video[4:8] == b"ftyp"
    assert [job["state"] for job in provider_server.jobs] == ["succeeded"]
    sent = [(r["method"], r["endpoint"]) for r in provider_server.requests]
    assert sent[0][0] == "POST" and all(method == "GET" for method, _ in sent[1:])


@pytest.mark.provider_mock(providers=["wavespeed"], clock="real", speed=500)
def test_sdk_on_a_fast_real_clock(provider_server: Any) -> None:
    example = _example()
    client = wavespeed.Client(api_key="ws-sdk-key", base_url=provider_server.base_url("wavespeed"))
    assert example.animate(client, "https://images.example.com/cat.png", "a cat")[4:8] == b"ftyp"
