"""mockserver.openapi: valid OpenAPI 3.1 per provider, loadable by schemathesis, deterministic."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from openapi_spec_validator import validate

from mockserver.contracts import load_contracts
from mockserver.openapi import build_openapi, render_openapi, run_openapi
from mockserver.providers import registry

PROVIDERS = registry.names()


@pytest.fixture(params=PROVIDERS)
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def test_passes_openapi_spec_validator(provider: str) -> None:
    document = build_openapi(provider)
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_loads_in_schemathesis(provider: str) -> None:
    document = build_openapi(provider)
    schema = schemathesis.openapi.from_dict(document)
    labels = []
    for result in schema.get_all_operations():
        operation = result.ok()
        labels.append(operation.label)
    assert len(labels) == len(_operations(document))


def test_deterministic(provider: str) -> None:
    first = render_openapi(build_openapi(provider))
    second = render_openapi(build_openapi(provider))
    assert first == second
    assert json.loads(first) == build_openapi(provider)


def test_every_error_code_on_every_operation(provider: str) -> None:
    document = build_openapi(provider)
    codes = set(load_contracts().provider(provider).data["errors"]["catalogue"])
    for path, method, operation in _operations(document):
        assert codes <= set(operation["responses"]), f"{method} {path}"
        assert "200" in operation["responses"]
    for code in codes:
        name = f"{provider}.Error.{code}"
        assert document["components"]["responses"][name]["content"]


def test_security_schemes() -> None:
    each = build_openapi("eachlabs")
    assert each["components"]["securitySchemes"]["ApiKeyAuth"]["name"] == "X-API-Key"
    assert each["components"]["securitySchemes"]["BearerAuth"]["scheme"] == "bearer"
    assert each["security"] == [{"ApiKeyAuth": []}, {"BearerAuth": []}]
    assert build_openapi("wavespeed")["security"] == [{"BearerAuth": []}]


def test_create_combines_model_inputs(provider: str) -> None:
    contract = load_contracts().provider(provider)
    document = build_openapi(provider)
    schemas = document["components"]["schemas"]
    for model in contract.models.values():
        assert schemas[f"{provider}.Input.{model.slug}"] == model.input_schema
    if provider == "wavespeed":
        for model in contract.models.values():
            operation = document["paths"][f"/api/v3/{model.model_id}"]["post"]
            body = operation["requestBody"]["content"]["application/json"]["schema"]
            assert {"$ref": f"#/components/schemas/wavespeed.Input.{model.slug}"} in body["allOf"]
    elif contract.models:
        path = "/v1/prediction/" if provider == "eachlabs" else "/api/v1/jobs/createTask"
        body = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        text = json.dumps(body)
        for model in contract.models.values():
            assert json.dumps({"const": model.model_id}) in text


def test_webhooks_and_callbacks(provider: str) -> None:
    document = build_openapi(provider)
    hook = document["webhooks"]["jobCompleted"]["post"]
    assert hook["requestBody"]["content"]["application/json"]["schema"]
    creates = [op for _, _, op in _operations(document) if op["tags"] == ["create"]]
    assert creates and all("callbacks" in op for op in creates)
    if provider == "wavespeed":
        expressions = set(creates[0]["callbacks"]["completion"])
        assert expressions == {"{$request.body#/webhook_url}", "{$request.query.webhook}"}
        names = {p["name"] for p in hook["parameters"]}
        assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= names


def test_apikley_errors_may_arrive_in_http_200() -> None:
    document = build_openapi("apikley")
    ok = document["paths"]["/api/v1/jobs/recordInfo"]["get"]["responses"]["200"]
    text = json.dumps(ok)
    assert "apikley.Error.default" in text


def test_server_url() -> None:
    document = build_openapi("eachlabs", server_url="http://127.0.0.1:8080/eachlabs")
    assert document["servers"] == [{"url": "http://127.0.0.1:8080/eachlabs"}]
    assert build_openapi("eachlabs")["servers"] == [{"url": "https://api.eachlabs.ai"}]


def _args(provider: str, **extra: Any) -> argparse.Namespace:
    return argparse.Namespace(
        provider=provider, output=extra.get("output"), server_url=extra.get("server_url")
    )


def test_run_openapi_stdout_and_file(tmp_path: Path) -> None:
    stdout, stderr = io.StringIO(), io.StringIO()
    assert run_openapi(_args("apikley"), stdout, stderr) == 0
    assert json.loads(stdout.getvalue())["openapi"] == "3.1.0"
    target = tmp_path / "out.json"
    assert run_openapi(_args("apikley", output=str(target)), io.StringIO(), stderr) == 0
    assert target.read_text() == stdout.getvalue()


def test_run_openapi_through_cli() -> None:
    from mockserver.cli import run

    stdout, stderr = io.StringIO(), io.StringIO()
    code = run(["openapi", "wavespeed", "--server-url", "http://x.test"], stdout, stderr)
    assert code == 0
    assert json.loads(stdout.getvalue())["servers"] == [{"url": "http://x.test"}]


def test_admin_without_admin_module() -> None:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = run_openapi(_args("admin"), stdout, stderr)
    if code == 2:
        assert "admin OpenAPI is served by the mock server" in stderr.getvalue()
    else:  # the admin module exists now
        assert code == 0
        assert json.loads(stdout.getvalue())["openapi"].startswith("3.")
