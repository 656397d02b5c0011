"""Static checks of the hand-written provider contracts (contracts/*/provider.yaml).

These read the YAML directly (not through the loader) so a broken loader
cannot hide a broken contract, and vice versa.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from mockserver.providers import registry

ROOT = Path(__file__).resolve().parents[2] / "contracts"
PROVIDERS = registry.names()
PROVENANCE = re.compile(r"^\[(SEED|DOC|CLIENT|3P|GUESS)\b[^\]]*\] ?\S")
REQUIRED_KEYS = {
    "provider", "base_url", "hosts", "auth", "endpoints", "statuses", "errors",
    "webhook", "rate_limits", "limits", "billing",
}
NEUTRAL = ("queued", "running", "succeeded", "failed", "cancelled")
# Keys whose value is not contract structure but payload data: do not descend.
OPAQUE = ("schema", "template")


def _load(provider: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / provider / "provider.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _walk(node: object, pointer: str = "") -> Iterator[tuple[str, object]]:
    """Yield (pointer, value) for every node, not descending into schemas/templates."""
    yield pointer, node
    if isinstance(node, dict):
        for key, value in node.items():
            if key in OPAQUE:
                yield f"{pointer}/{key}", value
                continue
            yield from _walk(value, f"{pointer}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{pointer}/{index}")


def _schemas(data: dict[str, Any]) -> Iterator[tuple[str, object]]:
    for pointer, value in _walk(data):
        if pointer.endswith("/schema"):
            yield pointer, value


def _fact_objects(data: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Objects that state a fact and therefore need a provenance tag."""
    members_of = [
        "/auth/schemes", "/endpoints", "/statuses/words", "/errors/envelopes",
        "/errors/catalogue", "/errors/cases", "/webhook/registration", "/webhook/payload",
    ]
    singles = [
        "/statuses", "/errors/transport", "/errors/job_failures", "/webhook/headers",
        "/webhook/signing", "/webhook/retry", "/rate_limits/creates",
        "/rate_limits/concurrent", "/limits", "/billing",
    ]
    nodes = dict(_walk(data))
    for pointer in members_of:
        container = nodes[pointer]
        items = container.items() if isinstance(container, dict) else enumerate(container)
        for key, value in items:
            assert isinstance(value, dict), f"{pointer}/{key} is not an object"
            yield f"{pointer}/{key}", value
    for pointer in singles:
        value = nodes[pointer]
        assert isinstance(value, dict), pointer
        yield pointer, value
    # Anything carrying a schema, every endpoint response and poll status.
    for pointer, value in nodes.items():
        if isinstance(value, dict) and ("schema" in value or "template" in value):
            yield pointer, value
        if re.fullmatch(r"/endpoints/[^/]+/responses/[^/]+(/by_status/[^/]+)?", pointer):
            assert isinstance(value, dict)
            yield pointer, value


@pytest.fixture(params=PROVIDERS)
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_required_top_level_keys(provider: str) -> None:
    data = _load(provider)
    assert data.keys() >= REQUIRED_KEYS
    assert data["provider"] == provider
    assert data["base_url"].startswith("https://")
    assert data["hosts"] and all(isinstance(h, str) for h in data["hosts"])


def test_every_schema_is_valid_2020_12(provider: str) -> None:
    data = _load(provider)
    schemas = list(_schemas(data))
    assert len(schemas) > 10
    for pointer, schema in schemas:
        assert isinstance(schema, dict), pointer
        Draft202012Validator.check_schema(schema)


def test_every_fact_object_has_provenance(provider: str) -> None:
    data = _load(provider)
    for pointer, obj in _fact_objects(data):
        tag = obj.get("provenance")
        assert isinstance(tag, str) and PROVENANCE.match(tag), f"{provider}{pointer}: {tag!r}"


def test_every_provenance_string_is_tagged(provider: str) -> None:
    for pointer, value in _walk(_load(provider)):
        if pointer.endswith("provenance"):
            assert isinstance(value, str) and PROVENANCE.match(value), f"{pointer}: {value!r}"


def test_endpoints_are_regular(provider: str) -> None:
    endpoints = _load(provider)["endpoints"]
    assert {"create", "poll"} <= endpoints.keys()
    for name, endpoint in endpoints.items():
        assert endpoint["method"] in {"GET", "POST", "PUT", "DELETE"}, name
        assert endpoint["paths"] and all(p.startswith("/") for p in endpoint["paths"]), name
        assert "200" in endpoint["responses"], name
        for code, response in endpoint["responses"].items():
            assert ("schema" in response) != ("by_status" in response), f"{name} {code}"
    assert "model_input" in endpoints["create"]["request"]


def test_status_maps(provider: str) -> None:
    data = _load(provider)
    statuses = data["statuses"]
    words = statuses["words"]
    emit = statuses["emit"]
    assert set(emit) == set(NEUTRAL)
    for word, fact in words.items():
        assert fact["neutral"] in NEUTRAL, word
        assert isinstance(fact["terminal"], bool), word
        assert fact["terminal"] == (fact["neutral"] in {"succeeded", "failed", "cancelled"})
    for neutral in ("queued", "running"):
        assert emit[neutral], neutral
        for word in emit[neutral]:
            assert words[word]["neutral"] == neutral
    for neutral in ("succeeded", "failed", "cancelled"):
        word = emit[neutral]
        if word is None:
            assert neutral == "cancelled"
            continue
        assert words[word]["neutral"] == neutral
    covered = {fact["neutral"] for fact in words.values()}
    expected = set(NEUTRAL) if emit["cancelled"] else set(NEUTRAL) - {"cancelled"}
    assert covered >= expected
    # Every wire word has a poll schema, and each schema pins that word.
    by_status = data["endpoints"]["poll"]["responses"]["200"]["by_status"]
    assert set(by_status) == set(words)


def test_error_catalogue_and_envelopes(provider: str) -> None:
    errors = _load(provider)["errors"]
    codes = set(errors["catalogue"])
    assert {"400", "401", "402", "404", "422", "429", "455", "500", "501", "502",
            "503", "504", "505"} <= codes
    assert "default" in errors["envelopes"]
    assert set(errors["envelopes"]) - {"default"} <= codes
    for case, fact in errors["cases"].items():
        assert str(fact["code"]) in codes, case
    assert errors["transport"]["mode"] in {"http_status", "body_code"}


def test_webhook_section(provider: str) -> None:
    webhook = _load(provider)["webhook"]
    assert webhook["registration"]
    assert {"succeeded", "failed"} <= webhook["payload"].keys()
    assert webhook["signing"]["scheme"] in {
        "x-webhook-secret", "standard-webhooks-v3", "kie-hmac", "none",
    }
    retry = webhook["retry"]
    assert retry["attempts"] >= 1
    assert len(retry["delays_seconds"]) == retry["attempts"] - 1
    assert retry["timeout_seconds"] == 30
    assert webhook["on_cancel"] is False


def test_specific_wire_facts() -> None:
    each = _load("eachlabs")
    assert each["endpoints"]["create"]["paths"] == ["/v1/prediction/", "/v1/prediction"]
    assert each["endpoints"]["create"]["responses"]["200"]["template"] == {
        "status": "success", "message": "Prediction created successfully",
        "predictionID": "{id}",
    }
    # [SEED] envelope for 402 too (status "error"), the DOC's `error` beside `message`.
    assert each["errors"]["envelopes"]["402"]["template"]["status"] == "error"
    assert each["errors"]["envelopes"]["402"]["template"]["error"] == "{message}"
    assert each["rate_limits"]["creates"]["limit"] == 100
    assert each["rate_limits"]["concurrent"] == each["rate_limits"]["concurrent"] | {
        "limit": 10, "over_limit": "reject"}
    wave = _load("wavespeed")
    assert wave["endpoints"]["poll"]["paths"] == [
        "/api/v3/predictions/{id}/result", "/api/v3/predictions/{id}"]
    assert wave["rate_limits"]["concurrent"]["over_limit"] == "queue"
    assert {r["in"] for r in wave["webhook"]["registration"]} == {"query", "body"}
    kie = _load("apikley")
    assert kie["errors"]["transport"]["mode"] == "body_code"
    assert kie["errors"]["transport"]["real_http_status_codes"] == [429]
    assert kie["statuses"]["emit"]["queued"] == ["waiting", "queuing"]
    assert kie["endpoints"]["balance"]["paths"] == ["/api/v1/chat/credit"]
