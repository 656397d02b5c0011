"""Apikley page parser: YAML extraction and OpenAPI 3.0 -> JSON Schema 2020-12."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from mockserver.derive.common import DeriveError, SourceDocument
from mockserver.providers.apikley import documents as apikley

SOURCE = (
    Path(__file__).resolve().parents[2]
    / "contracts"
    / "sources"
    / "apikley"
    / "wan-2-2-a14b-image-to-video-turbo.txt"
)


def test_yaml_block_is_cut_at_the_trailing_prose() -> None:
    text = (
        "Intro\n\nopenapi: 3.0.0\ninfo:\n  title: X\n  note: >-\n    a: b\n\nTo find more: see x\n"
    )
    assert (
        apikley.extract_yaml(text) == "openapi: 3.0.0\ninfo:\n  title: X\n  note: >-\n    a: b\n\n"
    )


def test_no_openapi_is_an_error() -> None:
    with pytest.raises(DeriveError, match="no embedded OpenAPI"):
        apikley.extract_yaml("just prose")


def test_translation_to_2020_12() -> None:
    document: dict[str, Any] = {
        "components": {"schemas": {"Ratio": {"type": "string", "enum": ["1:1"], "nullable": True}}}
    }
    schema = {
        "type": "object",
        "properties": {
            "ratio": {"$ref": "#/components/schemas/Ratio"},
            "strength": {
                "type": "number",
                "minimum": 0,
                "exclusiveMinimum": True,
                "maximum": 1,
                "example": 0.5,
            },
            "tags": {"type": "array", "items": {"type": "string", "xml": {"name": "t"}}},
        },
    }
    out = apikley.translate_schema(schema, document)
    assert out["properties"]["ratio"] == {"type": ["string", "null"], "enum": ["1:1", None]}
    assert out["properties"]["strength"] == {
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": 1,
        "examples": [0.5],
    }
    assert out["properties"]["tags"] == {"type": "array", "items": {"type": "string"}}
    Draft202012Validator.check_schema(out)
    validator = Draft202012Validator(out)
    assert validator.is_valid({"ratio": None, "strength": 0.1})
    assert not validator.is_valid({"strength": 0})


def test_bad_reference_is_an_error() -> None:
    with pytest.raises(DeriveError, match="does not resolve"):
        apikley.translate_schema({"$ref": "#/components/schemas/Nope"}, {})


def test_whole_page() -> None:
    contract = apikley.derive(SourceDocument("apikley", SOURCE.name, SOURCE.read_bytes(), SOURCE))
    seed = contract["input_schema"]["properties"]["seed"]
    assert seed["type"] == "number"  # as declared; integer-ness is multipleOf 1 (Step: 1)
    assert seed["multipleOf"] == 1
    assert contract["example_request"]["model"] == "wan/2-2-a14b-image-to-video-turbo"
    assert contract["title"] == "Wan - Image to Video"
    assert "callBackUrl" not in contract["input_schema"]["properties"]
