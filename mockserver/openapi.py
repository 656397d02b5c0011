"""OpenAPI 3.1 documents per provider, built from the contracts.

One document per provider (``mockserver openapi <provider>``): every endpoint
of ``provider.yaml`` with its request schema (the create body combined with the
generated model input schemas), every response the mock can give (the success
schema, and every error code of the catalogue with its envelope), the security
schemes, and the webhook payloads under ``webhooks`` and as ``callbacks`` on
create. The documents' own example requests, responses and webhook payloads
ride along as ``examples`` (see :mod:`mockserver.openapi_examples`), and the
licence is the project's (MIT). ``tests/test_openapi_lint.py`` lints the
result with Redocly's CLI under ``tools/openapi-lint/redocly.yaml``.
Schemathesis fuzzes the mock (or the real API) from it, so the document must
describe the superset the mock emits and stay deterministic: the same
contracts always give the same bytes (sorted keys, no timestamps).
"""

from __future__ import annotations

import argparse
import copy
import importlib
import importlib.util
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from mockserver.contracts import ContractError, ContractSet, ProviderContract, load_contracts
from mockserver.openapi_examples import ResponseExample, request_example, response_examples
from mockserver.provider_spec import Endpoint

__all__ = ["build_openapi", "render_openapi", "run_openapi"]

_PATH_PARAM = re.compile(r"\{([^}/]+)\}")
_JSON = "application/json"
#: The licence of the generated description (the project's; SPDX identifier).
LICENSE = {"name": "MIT", "identifier": "MIT"}
#: What a webhook receiver's non-2xx answer means (the mock's sender, per contract).
_UNACKNOWLEDGED = (
    "not acknowledged: the delivery counts as failed and is retried as the retry "
    "policy in the description says, until its attempts run out"
)


def _schema_name(provider: str, kind: str, suffix: str = "") -> str:
    """A component name (``^[A-Za-z0-9._-]+$``) that is stable across runs."""
    raw = f"{provider}.{kind}" + (f".{suffix}" if suffix else "")
    return re.sub(r"[^A-Za-z0-9._-]", "_", raw)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _unique(schemas: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop duplicates (YAML anchors reuse one schema for several status words)."""
    seen: set[str] = set()
    result = []
    for schema in schemas:
        key = json.dumps(schema, sort_keys=True)
        if key not in seen:
            seen.add(key)
            result.append(schema)
    return result


def _any_of(schemas: list[dict[str, Any]]) -> dict[str, Any]:
    # anyOf, not oneOf: several status words may share one schema (and a
    # generic envelope may overlap a specific one), which oneOf would reject.
    unique = _unique(schemas)
    return unique[0] if len(unique) == 1 else {"anyOf": unique}


class _Builder:
    """Collects components while walking one provider contract."""

    def __init__(self, contract: ProviderContract, server_url: str | None) -> None:
        self.contract = contract
        self.spec = contract.spec
        self.name = contract.name
        self.server_url = server_url
        self.schemas: dict[str, Any] = {}
        self.responses: dict[str, Any] = {}
        self.examples: list[ResponseExample] = response_examples(contract)

    # --- components -----------------------------------------------------------
    def security(self) -> tuple[dict[str, Any], list[dict[str, list[str]]]]:
        schemes: dict[str, Any] = {}
        requirement: list[dict[str, list[str]]] = []
        for scheme in self.spec.auth:
            if scheme.type == "apiKey":
                key = "ApiKeyAuth"
                schemes[key] = {"type": "apiKey", "in": scheme.location, "name": scheme.name}
            else:
                key = "BearerAuth"
                schemes[key] = {"type": "http", "scheme": scheme.scheme or "bearer"}
                if scheme.bearer_format is not None:
                    schemes[key]["bearerFormat"] = scheme.bearer_format
            schemes[key]["description"] = scheme.provenance
            requirement.append({key: []})  # alternatives: any one scheme suffices
        return schemes, requirement

    def error_codes(self) -> list[str]:
        return sorted(self.spec.errors.catalogue, key=int)

    def error_schema(self, code: str) -> dict[str, str]:
        """Component for the envelope of error ``code`` (code-specific or default)."""
        envelopes = self.spec.errors.envelopes
        key = code if code in envelopes else "default"
        name = _schema_name(self.name, "Error", key)
        if name not in self.schemas:
            self.schemas[name] = copy.deepcopy(envelopes[key].schema)
        return _ref(name)

    def error_response(self, code: str) -> dict[str, str]:
        """A shared response component per error code."""
        name = _schema_name(self.name, "Error", code)
        if name not in self.responses:
            entry = self.spec.errors.catalogue[code]
            self.responses[name] = {
                "description": f"{entry.message} ({entry.provenance})",
                "content": {_JSON: {"schema": self.error_schema(code)}},
            }
        return {"$ref": f"#/components/responses/{name}"}

    def body_code_errors(self) -> dict[str, Any] | None:
        """Error envelopes that travel inside HTTP 200 (Apikley's body_code mode)."""
        transport = self.spec.errors.transport
        if transport.mode != "body_code":
            return None
        real = {str(c) for c in transport.real_http_status_codes}
        return _any_of(
            [self.error_schema(code) for code in self.error_codes() if code not in real]
        )

    def model_input(self, model_slug: str, schema: Mapping[str, Any]) -> dict[str, str]:
        name = _schema_name(self.name, "Input", model_slug)
        self.schemas[name] = copy.deepcopy(dict(schema))
        return _ref(name)

    # --- operations ---------------------------------------------------------
    def parameters(self, path: str, endpoint: Endpoint) -> list[dict[str, Any]]:
        params: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _PATH_PARAM.findall(path)
        ]
        for name, parameter in sorted(endpoint.query.items()):
            params.append(
                {
                    "name": name,
                    "in": "query",
                    "required": parameter.required,
                    "schema": dict(parameter.schema),
                    "description": parameter.provenance or "",
                }
            )
        return params

    def request_body(
        self, endpoint: Endpoint, models: list[tuple[str, str, dict[str, Any]]]
    ) -> dict[str, Any] | None:
        """The request body; for create, the outer body combined with model inputs.

        ``models`` holds ``(model_id, slug, input_schema)`` of the models this
        operation serves (all of them, or the one of a per-model path).
        """
        request = endpoint.request
        if not request:
            return None
        outer = copy.deepcopy(request["schema"])
        model_input = request.get("model_input")
        schema: dict[str, Any] = outer
        if model_input and models:
            pointer = endpoint.model_input_pointer
            selector = endpoint.model_id or {}
            branches = []
            for model_id, slug, input_schema in models:
                ref = self.model_input(slug, input_schema)
                if pointer == "":
                    # The body IS the model input plus transport fields.
                    branches.append({"allOf": [outer, ref]})
                    continue
                field = pointer.strip("/")
                overlay: dict[str, Any] = {"properties": {field: ref}, "required": [field]}
                if selector.get("in") == "body":
                    selector_field = selector["pointer"].strip("/")
                    overlay["properties"][selector_field] = {"const": model_id}
                branches.append({"allOf": [outer, overlay]})
            schema = branches[0] if len(branches) == 1 else {"oneOf": branches}
        media: dict[str, Any] = {"schema": schema}
        examples = {
            slug: request_example(self.contract, self.contract.models[model_id])
            for model_id, slug, _ in models
            if self.contract.models[model_id].has_example_request
        }
        if examples and model_input:
            media["examples"] = examples
        return {
            "required": True,
            "description": request.get("provenance", ""),
            "content": {request.get("content_type", _JSON): media},
        }

    def responses_for(self, endpoint: Endpoint) -> dict[str, Any]:
        responses: dict[str, Any] = {}
        in_body_errors = self.body_code_errors()
        for code, response in sorted(endpoint.responses.items()):
            if "by_status" in response:
                schema = _any_of(
                    [copy.deepcopy(v["schema"]) for _, v in sorted(response["by_status"].items())]
                )
            else:
                schema = copy.deepcopy(response["schema"])
            if code == "200" and in_body_errors is not None:
                schema = {"anyOf": [schema, in_body_errors]}
            responses[str(code)] = {
                "description": response.get("provenance", ""),
                "content": {_JSON: {"schema": schema}},
            }
        for code in self.error_codes():
            responses.setdefault(code, self.error_response(code))
        return responses

    def webhook_operation(self, operation_id: str) -> dict[str, Any]:
        webhook = self.spec.webhook
        payloads = webhook.payload
        headers_schema = webhook.headers_schema
        required = set(headers_schema.get("required", []))
        parameters = [
            {
                "name": name,
                "in": "header",
                "required": name in required,
                "schema": copy.deepcopy(spec),
            }
            # OpenAPI ignores Content-Type header parameters; the media type says it.
            for name, spec in sorted(headers_schema.get("properties", {}).items())
            if name != "content-type"
        ]
        body = _any_of(
            [copy.deepcopy(payloads[outcome]["schema"]) for outcome in sorted(payloads)]
        )
        retry = webhook.retry
        media: dict[str, Any] = {"schema": body}
        examples = {e.name: e.example for e in self.examples if e.endpoint is None}
        if examples:
            media["examples"] = examples
        return {
            "operationId": operation_id,
            "summary": f"{self.name} job-completion webhook ({webhook.signing_scheme})",
            "description": (
                f"Signing: {webhook.signing_provenance}. "
                f"Retry: {retry.get('provenance', 'n/a')}."
            ),
            "parameters": parameters,
            "requestBody": {"required": True, "content": {_JSON: media}},
            "responses": {
                "2XX": {"description": "any 2xx acknowledges the delivery"},
                "4XX": {"description": _UNACKNOWLEDGED},
                "5XX": {"description": _UNACKNOWLEDGED},
            },
        }

    def callbacks(self, create_id: str) -> dict[str, Any]:
        """Runtime-expression callbacks on create, one per registration method."""
        expressions = []
        for registration in self.spec.webhook.registration:
            if registration.role == "secret":
                continue
            if registration.location == "body":
                expressions.append(f"{{$request.body#/{registration.field}}}")
            elif registration.location == "query":
                expressions.append(f"{{$request.query.{registration.name}}}")
        # operationIds are unique in the whole document, callbacks included.
        return {
            "completion": {
                expr: {"post": self.webhook_operation(f"{create_id}_callback_{index}")}
                for index, expr in enumerate(sorted(expressions), start=1)
            }
        }

    def attach_response_examples(
        self, operation: dict[str, Any], endpoint: str, path: str, per_model_path: bool
    ) -> None:
        """The golden responses of ``endpoint``, on the operation's response by status.

        A per-model path (WaveSpeed) takes only the examples sent to it; an
        error code's shared response component takes its examples itself.
        """
        for example in self.examples:
            if example.endpoint != endpoint:
                continue
            if per_model_path and example.path != path:
                continue
            response = operation["responses"].get(example.status)
            if response is None:
                continue
            if "$ref" in response:
                response = self.responses[response["$ref"].rsplit("/", 1)[1]]
            media = response["content"][_JSON]
            media.setdefault("examples", {})[example.name] = example.example

    def models(self) -> list[tuple[str, str, dict[str, Any]]]:
        return [
            (m.model_id, m.slug, m.input_schema)
            for m in sorted(self.contract.models.values(), key=lambda m: m.model_id)
        ]

    def paths(self, security: list[dict[str, list[str]]]) -> dict[str, Any]:
        paths: dict[str, Any] = {}
        models = self.models()
        for name, endpoint in sorted(self.spec.endpoints.items()):
            per_model_path = (endpoint.model_id or {}).get("in") == "path"
            targets: list[tuple[str, list[tuple[str, str, dict[str, Any]]], str]] = []
            for index, path in enumerate(endpoint.paths):
                suffix = "" if index == 0 else f"_{index + 1}"
                if per_model_path and models:
                    # WaveSpeed: the model id (with slashes) is the path; one
                    # operation per model so each carries its own input schema.
                    param = (endpoint.model_id or {})["param"]
                    for model in models:
                        concrete = path.replace(f"{{{param}}}", model[0])
                        op_id = f"{name}{suffix}_{model[1]}"
                        targets.append((concrete, [model], op_id))
                else:
                    targets.append((path, models, f"{name}{suffix}"))
            for path, served, op_id in targets:
                operation: dict[str, Any] = {
                    "operationId": re.sub(r"[^A-Za-z0-9_]", "_", op_id),
                    "summary": f"{self.name} {name}",
                    "description": endpoint.provenance,
                    "tags": [name],
                    "security": security,
                    "responses": self.responses_for(endpoint),
                }
                parameters = self.parameters(path, endpoint)
                if parameters:
                    operation["parameters"] = parameters
                body = self.request_body(endpoint, served)
                if body is not None:
                    operation["requestBody"] = body
                if name == "create":
                    operation["callbacks"] = self.callbacks(operation["operationId"])
                self.attach_response_examples(operation, name, path, per_model_path)
                paths.setdefault(path, {})[endpoint.method.lower()] = operation
        return paths

    def document(self) -> dict[str, Any]:
        schemes, security = self.security()
        paths = self.paths(security)
        return {
            "openapi": "3.1.0",
            "info": {
                "title": f"{self.name} API (genmock contract)",
                "version": "contract",
                "license": LICENSE,
                "description": (
                    f"Generated by `mockserver openapi {self.name}` from "
                    f"contracts/{self.name}/provider.yaml and its model contracts. "
                    "Describes the superset of the provider's documented behaviour "
                    "that the mock emits; see x-provenance / descriptions for sources. "
                    "The examples are the documents' own, each with its provenance; "
                    "quoted document text remains its publisher's."
                ),
            },
            "servers": [{"url": self.server_url or self.spec.base_url}],
            "security": security,
            "paths": paths,
            "webhooks": {"jobCompleted": {"post": self.webhook_operation("jobCompleted")}},
            "components": {
                "securitySchemes": schemes,
                "schemas": self.schemas,
                "responses": self.responses,
            },
            "x-error-transport": copy.deepcopy(dict(self.spec.errors.transport.section)),
        }


def build_openapi(
    provider: str, contracts: ContractSet | None = None, server_url: str | None = None
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``provider`` (a fresh dict; safe to mutate)."""
    contract = (contracts or load_contracts()).provider(provider)
    document = _Builder(contract, server_url).document()
    # A JSON round trip breaks the aliasing YAML anchors introduce and proves
    # the document is plain JSON.
    result: dict[str, Any] = json.loads(json.dumps(document, sort_keys=True))
    return result


def render_openapi(document: Mapping[str, Any]) -> str:
    """Deterministic JSON text of a document: sorted keys, 2-space indent, newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _admin_document(server_url: str | None) -> dict[str, Any] | None:
    """The admin API document, when the HTTP layer provides one."""
    if importlib.util.find_spec("mockserver.http") is None:
        return None
    if importlib.util.find_spec("mockserver.http.admin_openapi") is None:
        return None
    module = importlib.import_module("mockserver.http.admin_openapi")
    for attribute in ("build_admin_openapi", "build_openapi", "admin_openapi"):
        builder = getattr(module, attribute, None)
        if callable(builder):
            try:
                document = builder(server_url=server_url)
            except TypeError:
                document = builder()
            if isinstance(document, dict):
                return document
    return None


def run_openapi(arguments: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """``mockserver openapi <provider> [--output FILE] [--server-url URL]``."""
    provider: str = arguments.provider
    server_url: str | None = getattr(arguments, "server_url", None)
    output: str | None = getattr(arguments, "output", None)
    if provider == "admin":
        document = _admin_document(server_url)
        if document is None:
            stderr.write("admin OpenAPI is served by the mock server\n")
            return 2
    else:
        try:
            document = build_openapi(provider, server_url=server_url)
        except ContractError as exc:
            stderr.write(f"mockserver openapi: {exc}\n")
            return 1
    text = render_openapi(document)
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        stdout.write(text)
    return 0
