"""The documents' own examples in the exported OpenAPI, and what the mock does with them.

Request examples come from the model contracts (``example_request``),
responses and webhook payloads from the golden fixtures. Every request example
is sent over real HTTP to the served mock as written: it is accepted, or, when
the document contradicts itself (WaveSpeed's curl omits its own required
``image`` and ``prompt``), rejected with a 400 in the provider's envelope
naming the first of the fields ``x-genmock-expected-errors`` lists (and the
example's description names them all).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from mockserver.config import MockConfig
from mockserver.contracts import load_contracts
from mockserver.openapi import LICENSE, build_openapi
from mockserver.openapi_examples import EXPECTED_ERRORS, example_input_errors
from mockserver.providers import registry

PROVIDERS = registry.names()
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
KEY = "examples-key"


#: The Apikley document's example registers ``callBackUrl https://your-domain.com/...``,
#: a domain someone owns: the mock's default webhook rule (README, Security) refuses it,
#: so the example is sent as written to a mock whose config lists that host, as a
#: user who really owned it would.
EXAMPLE_WEBHOOK_HOSTS = ["your-domain.com"]


@pytest.fixture
def served(make_app: Any, serve_app: Any) -> Any:
    """The mock on a loopback port, the examples' webhook host listed."""
    config = MockConfig.from_mapping({"security": {"webhook_hosts": EXAMPLE_WEBHOOK_HOSTS}})
    return serve_app(make_app(config=config))


def _request_examples(provider: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    """``(path, method, name, example)`` of every request-body example."""
    found = []
    for path, item in build_openapi(provider)["paths"].items():
        for method, operation in item.items():
            media = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            for name, example in media.get("examples", {}).items():
                found.append((path, method, name, example))
    return found


def _auth(provider: str) -> dict[str, str]:
    schemes = build_openapi(provider)["components"]["securitySchemes"]
    if "ApiKeyAuth" in schemes:
        return {schemes["ApiKeyAuth"]["name"]: KEY}
    return {"Authorization": f"Bearer {KEY}"}


REQUESTS = [(p, *e) for p in PROVIDERS for e in _request_examples(p)]


def test_every_model_example_request_is_in_the_document() -> None:
    for provider in PROVIDERS:
        contract = load_contracts().provider(provider)
        values = [json.dumps(e[3]["value"], sort_keys=True) for e in _request_examples(provider)]
        for model in contract.models.values():
            assert json.dumps(model.data["example_request"], sort_keys=True) in values, model


@pytest.mark.parametrize(
    ("provider", "path", "method", "name", "example"),
    REQUESTS,
    ids=[f"{r[0]}-{r[2]}-{r[3]}" for r in REQUESTS],
)
def test_request_example_over_http(
    served: Any, provider: str, path: str, method: str, name: str, example: dict[str, Any]
) -> None:
    response = httpx.request(
        method.upper(), f"{served.url}/{provider}{path}", json=example["value"],
        headers=_auth(provider), timeout=10,
    )
    expected = example.get(EXPECTED_ERRORS)
    if not expected:
        assert response.status_code == 200, response.text
        body = response.json()
        # Apikley's errors travel in HTTP 200: the body's own code says success.
        assert body.get("code", 200) == 200 and body.get("status") != "error", body
        return
    # The document contradicts itself: a 400 in the provider's envelope naming
    # each field its own table requires, and the example says so to a reader.
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == 400 and body["data"] is None  # WaveSpeed's own envelope
    for field in expected:
        assert f"`{field}`" in example["description"]
    # The mock names the first field the schema misses (as the provider does).
    assert body["message"].startswith(f"{expected[0]}: "), (expected, body)


def test_only_wavespeed_contradicts_itself() -> None:
    """Which documents' examples are wrong is computed from the contracts, not listed."""
    rejected = {
        (provider, model.model_id): example_input_errors(
            load_contracts().provider(provider), model, model.data["example_request"]
        )
        for provider in PROVIDERS
        for model in load_contracts().provider(provider).models.values()
    }
    wrong = {key: value for key, value in rejected.items() if value}
    assert wrong == {("wavespeed", "wavespeed-ai/wan-2.2/image-to-video"): ["image", "prompt"]}


def _all_examples(node: Any) -> dict[str, Any]:
    """Every named example anywhere in a document, by name."""
    found: dict[str, Any] = {}
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "examples" and isinstance(value, dict):
                found.update(value)
            else:
                found.update(_all_examples(value))
    elif isinstance(node, list):
        for value in node:
            found.update(_all_examples(value))
    return found


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_golden_response_and_webhook_is_an_example(provider: str) -> None:
    document = build_openapi(provider)
    examples = _all_examples(document)
    for file in sorted((FIXTURES / provider).glob("*.json")):
        data = json.loads(file.read_text())
        example = examples[file.stem]
        body = data["webhook"]["body"] if "webhook" in data else data["response"]["body"]
        assert example["value"] == body
        assert example["description"] == data["provenance"]
    hooks = document["webhooks"]["jobCompleted"]["post"]["requestBody"]["content"]
    assert hooks["application/json"]["examples"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_operation_ids_unique_and_on_every_webhook(provider: str) -> None:
    document = build_openapi(provider)
    ids: list[str] = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            if "responses" in node and "operationId" in node:
                ids.append(node["operationId"])
            elif "responses" in node and "requestBody" in node:
                ids.append("")  # an operation without an id
            for value in node.values():
                collect(value)

    collect(document["paths"])
    collect(document["webhooks"])
    assert "" not in ids and len(ids) == len(set(ids))
    assert document["webhooks"]["jobCompleted"]["post"]["operationId"] == "jobCompleted"
    assert document["info"]["license"] == LICENSE == {"name": "MIT", "identifier": "MIT"}
