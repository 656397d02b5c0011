"""Apikley page with an embedded OpenAPI 3.0 document -> model contract.

The page is prose around a YAML OpenAPI 3.0 document (from the line
``openapi: 3.0.x`` to the first unindented line that is not a YAML key). The
model input is ``requestBody ... schema.properties.input``; it is translated
from the OpenAPI 3.0 schema dialect to JSON Schema 2020-12 (``nullable``,
``example``, boolean ``exclusiveMinimum`` and ``$ref`` differ), then the same
prose rules as for the other providers add limits written only in
descriptions, e.g. ``(Min: 0, Max: 2147483647, Step: 1)``.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from mockserver.derive.common import (
    SCHEMA_DIALECT,
    Contract,
    DeriveError,
    JSONSchema,
    Provenance,
    SourceDocument,
    apply_prose,
    describe,
    mark_file_urls,
    model_contract,
    output_type_from_title,
    pointer,
)

FORMAT = "apikley-openapi"

_OPENAPI_START_RE = re.compile(r"^openapi:\s*[\"']?3\.", re.MULTILINE)
_YAML_TOP_KEY_RE = re.compile(r"^[A-Za-z_$][\w$.-]*:(?:\s|$)")
# Keywords of OpenAPI 3.0 schema objects that JSON Schema 2020-12 does not have
# (or that carry no validation meaning for a request input).
_DROPPED = frozenset({"discriminator", "xml", "externalDocs"})
_NAVIGATION = frozenset({"skip to main content"})


def extract_yaml(text: str) -> str:
    """The embedded OpenAPI YAML: from ``openapi: 3.`` to the first unindented non-key line."""
    start = _OPENAPI_START_RE.search(text)
    if start is None:
        raise DeriveError("no embedded OpenAPI document (a line starting 'openapi: 3.')")
    kept: list[str] = []
    for line in text[start.start() :].splitlines():
        if line and not line[0].isspace() and not _YAML_TOP_KEY_RE.match(line):
            break  # prose after the document ("To find navigation ...")
        kept.append(line)
    return "\n".join(kept) + "\n"


def load_openapi(text: str) -> dict[str, Any]:
    """Parse the embedded document with ``yaml.safe_load``; must be OpenAPI 3.0."""
    try:
        document = yaml.safe_load(extract_yaml(text))
    except yaml.YAMLError as error:
        raise DeriveError(f"embedded OpenAPI YAML does not parse: {error}") from error
    if not isinstance(document, dict) or not str(document.get("openapi", "")).startswith("3.0"):
        raise DeriveError("embedded document is not an OpenAPI 3.0 mapping")
    return document


def resolve(document: dict[str, Any], ref: str) -> Any:
    """Follow a local ``#/...`` reference."""
    if not ref.startswith("#/"):
        raise DeriveError(f"only local references are supported, got {ref!r}")
    node: Any = document
    for token in ref[2:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or token not in node:
            raise DeriveError(f"reference {ref!r} does not resolve")
        node = node[token]
    return node


def translate_schema(
    schema: Any, document: dict[str, Any], _seen: tuple[str, ...] = ()
) -> JSONSchema:
    """Translate an OpenAPI 3.0 Schema Object into JSON Schema 2020-12.

    ``$ref`` is inlined (the contract is self-contained); ``nullable: true``
    adds ``"null"`` to ``type`` (and to ``enum``); ``example`` becomes
    ``examples: [..]``; boolean ``exclusiveMinimum``/``exclusiveMaximum``
    turn the paired ``minimum``/``maximum`` into the numeric 2020-12 form;
    ``discriminator``/``xml``/``externalDocs`` are dropped.
    """
    if not isinstance(schema, dict):
        raise DeriveError(f"schema object expected, got {schema!r}")
    if "$ref" in schema:
        ref = str(schema["$ref"])
        if ref in _seen:
            raise DeriveError(f"recursive reference {ref!r} is not supported")
        return translate_schema(resolve(document, ref), document, (*_seen, ref))
    out: JSONSchema = {}
    for key, value in schema.items():
        if key in _DROPPED or key == "nullable":
            continue
        if key == "example":
            out["examples"] = [value]
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and isinstance(value, bool):
            bound = "minimum" if key == "exclusiveMinimum" else "maximum"
            if value and bound in schema:
                out[key] = schema[bound]
        elif key in ("minimum", "maximum") and schema.get(f"exclusive{key.title()}") is True:
            continue  # moved into exclusiveMinimum/exclusiveMaximum above
        elif key == "properties":
            out[key] = {name: translate_schema(sub, document, _seen) for name, sub in value.items()}
        elif key in ("items", "not", "additionalProperties") and isinstance(value, dict):
            out[key] = translate_schema(value, document, _seen)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [translate_schema(sub, document, _seen) for sub in value]
        elif key == "description" and isinstance(value, str):
            out[key] = " ".join(value.split())
        else:
            out[key] = value
    if schema.get("nullable") is True:
        declared = out.get("type")
        if isinstance(declared, str):
            out["type"] = [declared, "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    return out


def _record(provenance: Provenance, base: str, yaml_path: str, schema: JSONSchema) -> None:
    """Provenance for every keyword of a translated property schema."""
    for key, value in schema.items():
        where = f"{base}{pointer(key)}"
        if key == "properties":
            for name, sub in value.items():
                _record(
                    provenance, f"{where}{pointer(name)}", f"{yaml_path}.properties.{name}", sub
                )
        elif key in ("description", "examples") or isinstance(value, dict):
            provenance.add(where, f"OpenAPI {yaml_path}.{'example' if key == 'examples' else key}")
        else:
            provenance.add(where, f"OpenAPI {yaml_path}.{key}: {describe(value)}")


def derive(document: SourceDocument) -> Contract:
    """Derive the model contract of the Apikley page."""
    text = document.text
    openapi = load_openapi(text)
    provenance = Provenance()

    operations = [
        (path, item["post"])
        for path, item in (openapi.get("paths") or {}).items()
        if isinstance(item, dict) and "post" in item
    ]
    if len(operations) != 1:
        raise DeriveError(f"expected exactly one POST operation, found {len(operations)}")
    path, operation = operations[0]
    try:
        media = operation["requestBody"]["content"]["application/json"]
    except (KeyError, TypeError) as error:
        raise DeriveError("the POST operation has no application/json requestBody") from error
    body = translate_schema(media.get("schema"), openapi)
    # Short label for provenance; the full location is recorded once on /input_schema.
    body_path = "requestBody"

    model_enum = body.get("properties", {}).get("model", {}).get("enum")
    if not isinstance(model_enum, list) or len(model_enum) != 1:
        raise DeriveError(
            f"the request body's model enum should have one value, got {model_enum!r}"
        )
    model_id = str(model_enum[0])
    provenance.add("/model_id", f"OpenAPI {body_path}.model.enum: {describe(model_enum)}")

    raw_input = body.get("properties", {}).get("input")
    if not isinstance(raw_input, dict):
        raise DeriveError("the request body has no input object")
    schema: JSONSchema = {"$schema": SCHEMA_DIALECT, **raw_input}
    _record(provenance, "/input_schema", f"{body_path}.input", raw_input)
    provenance.add(
        "/input_schema",
        f"OpenAPI paths.{path}.post.requestBody.content.application/json.schema.properties.input, "
        "translated from OpenAPI 3.0 to JSON Schema 2020-12",
    )
    for name, prop in schema.get("properties", {}).items():
        declared = prop.get("type")
        if isinstance(declared, str) and isinstance(prop.get("description"), str):
            base = pointer("input_schema", "properties", name)
            apply_prose(prop, name, base, provenance, prop["description"], declared)
    mark_file_urls(schema, text, provenance)

    if "example" in media:
        example = media["example"]
        provenance.add(
            "/example_request",
            f"OpenAPI paths.{path}.post.requestBody.content.application/json.example",
        )
    else:
        raise DeriveError("the requestBody has no example")
    provenance.add("/example_request_path", f"OpenAPI paths key {path}")

    title = next(
        (
            line.strip()
            for line in text.splitlines()
            if line.strip() and line.strip().lower() not in _NAVIGATION
        ),
        "",
    )
    provenance.add("/title", f"page heading: {title}")
    output_type = output_type_from_title(title)
    provenance.add("/output_type", f'title "{title}"')
    provenance.add(
        "/version",
        "absent: the page names no model version (info.version is the OpenAPI document's own)",
    )
    provenance.add("/estimated_processing_seconds", "absent: the page gives no processing time")
    provenance.add("/pricing", "absent: the page has no pricing")

    return model_contract(
        document=document,
        source_format=FORMAT,
        model_id=model_id,
        title=title,
        version=None,
        output_type=output_type,
        estimated_processing_seconds=None,
        input_schema=schema,
        pricing=None,
        example_request=example,
        example_request_path=path,
        provenance=provenance,
    )
