"""Golden exchanges (fixtures/<provider>/*.json) validate against the provider contracts.

Each fixture is a request/response (or webhook) as the documents show it, with
the schema pointers into provider.yaml it must satisfy. Passing proves the
contracts accept what the documents (and the tagged other sources) say.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from mockserver.contracts import load_contracts, resolve_pointer
from mockserver.providers import registry

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
PROVENANCE = re.compile(r"^\[(SEED|DOC|CLIENT|3P|GUESS)\b[^\]]*\] ?\S")
FILES = sorted(FIXTURES.glob("*/*.json"))


def _load(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def test_every_provider_has_fixtures() -> None:
    assert {p.parent.name for p in FILES} == set(registry.names())


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_fixture_is_well_formed(path: Path) -> None:
    data = _load(path)
    assert PROVENANCE.match(data["provenance"]), data["provenance"]
    assert ("response" in data) != ("webhook" in data)
    if "response" in data:
        assert {"method", "path", "headers"} <= data["request"].keys()
        assert {"status", "headers", "body"} <= data["response"].keys()
        assert "response_schema" in data
    else:
        assert {"method", "headers", "body"} <= data["webhook"].keys()
        assert "webhook_schema" in data
    # Deterministic formatting, like the generated contracts.
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert path.read_text(encoding="utf-8") == text


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_fixture_matches_contract(path: Path) -> None:
    data = _load(path)
    contract = load_contracts().provider(path.parent.name)
    if "response" in data:
        body = data["response"]["body"]
        assert contract.validate(data["response_schema"], body) == []
        status = data["response"]["status"]
        transport = contract.data["errors"]["transport"]
        if data["response_schema"].startswith("/errors/") and transport["mode"] == "body_code":
            # Apikley: errors in HTTP 200 except the real status codes.
            expected = status if status in transport["real_http_status_codes"] else 200
            assert status == expected
            assert body["code"] in {int(c) for c in contract.data["errors"]["catalogue"]}
    else:
        body = data["webhook"]["body"]
        assert contract.validate(data["webhook_schema"], body) == []
        headers = {k.lower(): v for k, v in data["webhook"]["headers"].items()}
        assert contract.validate(data["headers_schema"], headers) == []


@pytest.mark.parametrize(
    "path", [p for p in FILES if "request_schema" in _load(p)], ids=_id
)
def test_fixture_request_matches_contract(path: Path) -> None:
    data = _load(path)
    contract = load_contracts().provider(path.parent.name)
    body = data["request"]["body"]
    assert contract.validate(data["request_schema"], body) == []
    create = contract.data["endpoints"]["create"]
    selector = create["model_id"]
    if selector["in"] == "body":
        model_id = resolve_pointer(body, selector["pointer"])
    else:
        model_id = data["request"]["path"].removeprefix("/api/v3/")
    model = contract.model(str(model_id))
    if model is None:
        pytest.skip(f"model contract for {model_id} not generated yet")
    model_input = resolve_pointer(body, data["model_input_pointer"])
    if data["model_input_pointer"] == "":
        transport = set(create["request"].get("transport_fields", []))
        model_input = {k: v for k, v in body.items() if k not in transport}
    errors = model.validate_input(model_input)
    expected = data.get("expected_input_errors", [])
    assert sorted({e.path for e in errors}) == sorted(expected), errors


def test_poll_fixtures_cover_documented_words() -> None:
    """Each poll status the documents show has a golden response."""
    shown = {
        "eachlabs": {"processing", "success", "error"},  # SEED table
        "wavespeed": {"processing", "completed", "failed"},
        "apikley": {"waiting", "generating", "success", "fail"},
    }
    for provider, words in shown.items():
        covered = set()
        for path in (FIXTURES / provider).glob("*.json"):
            pointer = _load(path).get("response_schema", "")
            match = re.fullmatch(r"/endpoints/poll/responses/200/by_status/([^/]+)/schema", pointer)
            if match:
                covered.add(match.group(1))
        assert words <= covered, provider
