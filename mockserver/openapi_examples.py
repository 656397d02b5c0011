"""The documents' own examples, as OpenAPI Example Objects.

Two sources, both written from the provider documents (and tagged sources):

- **requests**: each model contract's ``example_request`` (the JSON of the
  document's curl), for the create operation at ``example_request_path``;
- **responses and webhook payloads**: the golden exchanges under
  ``fixtures/<provider>/*.json`` (the same ones ``tests/providers/test_fixtures.py``
  validates against the contracts), each with its provenance.

A document's example that its own schema rejects (WaveSpeed's curl omits the
required ``image`` and ``prompt``) is still carried as written: its
description says so and ``x-genmock-expected-errors`` names the missing or
wrong fields, so a reader, the examples test and the fuzzer know the mock
answers it with a 400 naming them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mockserver.contracts import ModelContract, ProviderContract, contracts_root, resolve_pointer

__all__ = [
    "EXPECTED_ERRORS",
    "ResponseExample",
    "example_input_errors",
    "fixtures_root",
    "request_example",
    "response_examples",
]

#: Example Object extension: the fields the mock names when it rejects the example.
EXPECTED_ERRORS = "x-genmock-expected-errors"

_ENDPOINT_POINTER = re.compile(r"^/endpoints/([^/]+)/")


def fixtures_root() -> Path | None:
    """``fixtures/`` of a source checkout, or the copy a wheel carries (``_fixtures``)."""
    base = contracts_root().parent
    for name in ("fixtures", "_fixtures"):
        if (base / name).is_dir():
            return base / name
    return None


def example_input_errors(
    contract: ProviderContract, model: ModelContract, body: Any
) -> list[str]:
    """Fields of ``body``'s model input that the model's own schema rejects (sorted)."""
    create = contract.spec.endpoints["create"]
    pointer = create.model_input_pointer
    if pointer == "":
        transport = set(create.transport_fields)
        model_input = body
        if isinstance(body, dict):
            model_input = {k: v for k, v in body.items() if k not in transport}
    else:
        model_input = resolve_pointer(body, pointer)
    return sorted({error.path for error in model.validate_input(model_input)})


def request_example(contract: ProviderContract, model: ModelContract) -> dict[str, Any]:
    """The Example Object of ``model``'s documented create request."""
    body = model.example_request
    provenance = model.provenance.get("/example_request", "")
    source = model.source_path if model.source_path is not None else "the provider document"
    description = f"[SEED] {source}: {provenance}".rstrip(": ")
    example: dict[str, Any] = {
        "summary": f"{model.model_id}: the document's example request",
        "description": description,
        "value": body,
    }
    rejected = example_input_errors(contract, model, body)
    if rejected:
        fields = ", ".join(f"`{name}`" for name in rejected)
        example["description"] += (
            f". As written the mock rejects it with a 400 naming {fields}: the document's "
            "own parameter table requires what its example omits or gets wrong."
        )
        example[EXPECTED_ERRORS] = rejected
    return example


@dataclass(frozen=True)
class ResponseExample:
    """One golden response or webhook payload, and where it belongs in the document.

    ``endpoint`` is the provider contract's endpoint name (``None`` for a
    webhook); ``status`` the HTTP status as a string; ``path`` the request
    path without its query (to pick the operation of a per-model path).
    """

    name: str
    endpoint: str | None
    method: str
    path: str
    status: str
    example: dict[str, Any]


def _endpoint_of(contract: ProviderContract, data: dict[str, Any]) -> str | None:
    match = _ENDPOINT_POINTER.match(str(data.get("response_schema", "")))
    if match:
        return match.group(1)
    # An error envelope: the endpoint the request went to.
    request = data["request"]
    path = str(request["path"]).split("?", 1)[0]
    for name, endpoint in sorted(contract.spec.endpoints.items()):
        if endpoint.method != str(request["method"]).upper():
            continue
        # A model id in the path (WaveSpeed) holds slashes; other parameters do not.
        model_param = (endpoint.model_id or {}).get("param") or ""
        for template in endpoint.paths:
            pattern = re.escape(template).replace(f"\\{{{model_param}\\}}", ".+")
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", pattern)
            if re.fullmatch(pattern, path):
                return str(name)
    return None


def response_examples(contract: ProviderContract) -> list[ResponseExample]:
    """The provider's golden responses and webhook payloads, by file name."""
    root = fixtures_root()
    if root is None:
        return []
    examples = []
    for file in sorted((root / contract.name).glob("*.json")):
        data = json.loads(file.read_text(encoding="utf-8"))
        example = {
            "summary": file.stem.replace("-", " "),
            "description": str(data.get("provenance", "")),
        }
        if "webhook" in data:
            examples.append(
                ResponseExample(
                    file.stem, None, "POST", "", "", {**example, "value": data["webhook"]["body"]}
                )
            )
            continue
        endpoint = _endpoint_of(contract, data)
        if endpoint is None:
            continue
        examples.append(
            ResponseExample(
                file.stem,
                endpoint,
                str(data["request"]["method"]).upper(),
                str(data["request"]["path"]).split("?", 1)[0],
                str(data["response"]["status"]),
                {**example, "value": data["response"]["body"]},
            )
        )
    return examples
