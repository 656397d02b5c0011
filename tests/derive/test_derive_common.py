"""Shared derive rules: prose limits, constraint cells, coercion, file-URL detection."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from mockserver.derive.common import (
    DeriveError,
    Provenance,
    apply_prose,
    coerce,
    file_url_reason,
    parse_constraint_cell,
    pointer,
    prose_facts,
)


def facts(description: str, declared: str) -> list[tuple[str, Any]]:
    return [(f.keyword, f.value) for f in prose_facts(description, declared)]


@pytest.mark.parametrize(
    ("description", "declared", "expected"),
    [
        ("The text prompt. Max 800 characters.", "string", [("maxLength", 800)]),
        ("Supports Chinese. Max 5,000 characters. Optional.", "string", [("maxLength", 5000)]),
        ("The prompt. (Max length: 5000 characters)", "string", [("maxLength", 5000)]),
        ("Video duration. Range: 2-15. Each second billed.", "integer", [
            ("minimum", 2), ("maximum", 15),
        ]),
        ("Seed. (Min: 0, Max: 2147483647, Step: 1) (step: 1)", "number", [
            ("minimum", 0), ("maximum", 2147483647), ("multipleOf", 1),
        ]),
        ("Choose between 5 or 10 seconds.", "string", [("enum", ["5", "10"])]),
        ("Choose between 5 or 10 seconds.", "integer", [("enum", [5, 10])]),
        ("Video resolution. Valid values: 480p, 720p, 1080p", "string", [
            ("enum", ["480p", "720p", "1080p"]),
        ]),
        ('Duration in seconds. Default value: "5"', "string", [("default", "5")]),
        ("Rewriting. Default: true.", "boolean", [("default", True)]),
        # File sizes and media durations are not JSON-value limits.
        ("URL of audio. WAV/MP3, 2-30s, max 15 MB.", "string", []),
        ("Format: WAV. Duration: 3 to 30 s. File size: Up to 15 MB.", "string", []),
        # Character limits only apply to strings, ranges only to numbers.
        ("Max 800 characters.", "integer", []),
        ("Range: 2-15.", "string", []),
        ("-1 means a random seed will be used.", "integer", []),
    ],
)  # fmt: skip
def test_prose_facts(description: str, declared: str, expected: list[tuple[str, Any]]) -> None:
    assert facts(description, declared) == expected


@pytest.mark.parametrize(
    ("cell", "declared", "expected"),
    [
        ('["720P","1080P"]', "string", {"enum": ["720P", "1080P"]}),
        ("480p,720p,1080p", "string", {"enum": ["480p", "720p", "1080p"]}),
        ("5,10", "string", {"enum": ["5", "10"]}),
        ("5, 8", "integer", {"enum": [5, 8]}),
        ("auto,16:9,9:16,1:1", "string", {"enum": ["auto", "16:9", "9:16", "1:1"]}),
        ("-1 ~ 2147483647", "integer", {"minimum": -1, "maximum": 2147483647}),
        ("2-15", "integer", {"minimum": 2, "maximum": 15}),
        ("0.5 ~ 1.5", "number", {"minimum": 0.5, "maximum": 1.5}),
        ("-", "string", {}),
        ("", "integer", {}),
    ],
)
def test_constraint_cell(cell: str, declared: str, expected: dict[str, Any]) -> None:
    assert parse_constraint_cell(cell, declared) == expected


def test_constraint_cell_with_wrong_type_is_an_error() -> None:
    with pytest.raises(DeriveError):
        parse_constraint_cell("5,ten", "integer")


@pytest.mark.parametrize(
    ("value", "declared", "expected"),
    [
        ("5", "string", "5"),
        (5, "string", "5"),
        ("5", "integer", 5),
        ("5.0", "integer", 5),
        ("-1", "integer", -1),
        ("0.25", "number", 0.25),
        ("true", "boolean", True),
        ("False", "boolean", False),
    ],
)
def test_coerce(value: Any, declared: str, expected: Any) -> None:
    result = coerce(value, declared)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("value", "declared"), [("5.5", "integer"), ("yes", "boolean"), (True, "integer")]
)
def test_coerce_rejects(value: Any, declared: str) -> None:
    with pytest.raises(DeriveError):
        coerce(value, declared)


@pytest.mark.parametrize(
    ("name", "description", "is_file"),
    [
        ("image_url", "URL of the input image.", True),
        ("end_image_url", "", True),
        ("callBackUrl", "", True),
        ("first_frame", "URL of the image to use as the first frame.", True),
        ("driving_audio", "URL of audio for audio-visual synchronization (optional).", True),
        ("image", "The image for generating the output.", True),
        ("last_image", "The last image for generating the output.", True),
        ("image_url", "(File URL after upload, not file content)", True),
        ("prompt", "The text prompt describing the desired video motion.", False),
        ("negative_prompt", "Describe what to avoid.", False),
        ("resolution", "Output video resolution.", False),
    ],
)
def test_file_url_rule(name: str, description: str, is_file: bool) -> None:
    assert (file_url_reason(name, description) is not None) is is_file


def test_structured_value_wins_and_conflict_is_recorded() -> None:
    prop: dict[str, Any] = {"type": "string", "maxLength": 500}
    provenance = Provenance()
    apply_prose(
        prop, "p", "/input_schema/properties/p", provenance, "Max 800 characters.", "string"
    )
    assert prop["maxLength"] == 500
    assert "[CONFLICT]" in provenance.entries["/input_schema/properties/p/maxLength"]


def test_pointer_escapes() -> None:
    assert pointer("input_schema", "properties", "a/b~c") == "/input_schema/properties/a~1b~0c"


FORBIDDEN = {"starlette", "httpx", "respx", "uvicorn"}


def test_derive_imports_no_web_stack() -> None:
    package = Path(__file__).resolve().parents[2] / "mockserver" / "derive"
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not {n.split(".")[0] for n in names} & FORBIDDEN, (path.name, names)


def test_default_outside_enum_is_flagged() -> None:
    from mockserver.derive.common import note_defaults_outside_enum

    provenance = Provenance()
    schema = {"properties": {"r": {"type": "string", "enum": ["480p"], "default": "720p"}}}
    note_defaults_outside_enum(schema, provenance)
    assert provenance.entries["/input_schema/properties/r/default"].startswith("[CONFLICT]")
