"""Generated model contracts: valid schemas, documented examples, invalid inputs, facts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

REPO = Path(__file__).resolve().parents[2]
CONTRACTS = REPO / "contracts"
MODEL_FILES = sorted(CONTRACTS.glob("*/models/*.json"))


def load(provider: str, slug: str) -> dict[str, Any]:
    """One committed model contract."""
    path = CONTRACTS / provider / "models" / f"{slug}.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def props(provider: str, slug: str) -> dict[str, Any]:
    """The input-schema properties of one model."""
    result: dict[str, Any] = load(provider, slug)["input_schema"]["properties"]
    return result


def model_input(contract: dict[str, Any]) -> Any:
    """The part of the example body the input schema describes (WaveSpeed: the whole body)."""
    example = contract["example_request"]
    return example if contract["provider"] == "wavespeed" else example["input"]


def test_all_five_models_are_generated() -> None:
    names = {f"{p.parts[-3]}/{p.stem}" for p in MODEL_FILES}
    assert names == {
        "apikley/wan-2-2-a14b-image-to-video-turbo",
        "eachlabs/alibaba-wan-2-7-image-to-video",
        "eachlabs/wan-2-5-preview-image-to-video",
        "eachlabs/wan-v2-2-a14b-image-to-video-turbo",
        "wavespeed/wan-2.2-image-to-video",
    }


@pytest.mark.parametrize("path", MODEL_FILES, ids=lambda p: f"{p.parts[-3]}/{p.stem}")
def test_input_schema_is_valid_2020_12(path: Path) -> None:
    contract = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(contract["input_schema"])
    assert contract["input_schema"]["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("path", MODEL_FILES, ids=lambda p: f"{p.parts[-3]}/{p.stem}")
def test_contract_shape(path: Path) -> None:
    contract = json.loads(path.read_text(encoding="utf-8"))
    assert set(contract) == {
        "contract", "generated_by", "provider", "slug", "model_id", "title", "version",
        "output_type", "estimated_processing_seconds", "input_schema", "pricing",
        "example_request", "example_request_path", "source", "provenance",
    }  # fmt: skip
    assert contract["contract"] == "model"
    assert contract["generated_by"] == "mockserver contracts build"
    assert contract["provider"] == path.parts[-3]
    assert contract["slug"] == path.stem
    assert contract["output_type"] == "video"
    assert contract["source"]["path"] == f"contracts/sources/{path.parts[-3]}/{path.stem}.txt"
    # Every provenance key is a JSON pointer into this very file.
    for where in contract["provenance"]:
        node: Any = contract
        for token in where.split("/")[1:]:
            token = token.replace("~1", "/").replace("~0", "~")
            node = node[int(token)] if isinstance(node, list) else node[token]
    # Every keyword of every property has a provenance entry.
    for name, prop in contract["input_schema"]["properties"].items():
        for keyword in prop:
            assert f"/input_schema/properties/{name}/{keyword}" in contract["provenance"]
    # Defaults have the declared type and sit inside their enum.
    for prop in contract["input_schema"]["properties"].values():
        if "default" in prop:
            assert not list(Draft202012Validator(prop).iter_errors(prop["default"]))


@pytest.mark.parametrize(
    "path",
    [p for p in MODEL_FILES if p.parts[-3] != "wavespeed"],
    ids=lambda p: f"{p.parts[-3]}/{p.stem}",
)
def test_document_example_is_valid(path: Path) -> None:
    contract = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator(contract["input_schema"]).validate(model_input(contract))
    assert contract["example_request"]["model"] == contract["model_id"]


def test_wavespeed_example_lacks_required_image_and_prompt() -> None:
    # Documented behaviour: the page's curl body leaves out both required fields.
    contract = load("wavespeed", "wan-2.2-image-to-video")
    errors = list(Draft202012Validator(contract["input_schema"]).iter_errors(model_input(contract)))
    assert sorted(e.message for e in errors) == [
        "'image' is a required property",
        "'prompt' is a required property",
    ]
    assert {e.validator for e in errors} == {"required"}
    completed = {**model_input(contract), "image": "https://x.test/a.png", "prompt": "p"}
    Draft202012Validator(contract["input_schema"]).validate(completed)


VALID: dict[str, dict[str, Any]] = {
    "eachlabs/wan-2-5-preview-image-to-video": {"prompt": "p", "image_url": "https://x.test/a.png"},
    "eachlabs/alibaba-wan-2-7-image-to-video": {"first_frame": "https://x.test/a.png"},
    "eachlabs/wan-v2-2-a14b-image-to-video-turbo": {
        "prompt": "p",
        "image_url": "https://x.test/a.png",
    },
    "wavespeed/wan-2.2-image-to-video": {"prompt": "p", "image": "https://x.test/a.png"},
    "apikley/wan-2-2-a14b-image-to-video-turbo": {"prompt": "p", "image_url": "https://x.test/a"},
}

_DROP = object()

# (model, field, bad value or _DROP, expected error path, expected keyword)
INVALID: list[tuple[str, str, Any, str]] = [
    ("eachlabs/wan-2-5-preview-image-to-video", "prompt", _DROP, "required"),
    ("eachlabs/wan-2-5-preview-image-to-video", "prompt", "x" * 801, "maxLength"),
    ("eachlabs/wan-2-5-preview-image-to-video", "negative_prompt", "x" * 501, "maxLength"),
    ("eachlabs/wan-2-5-preview-image-to-video", "duration", "7", "enum"),
    ("eachlabs/wan-2-5-preview-image-to-video", "duration", 5, "type"),
    ("eachlabs/wan-2-5-preview-image-to-video", "resolution", "4K", "enum"),
    ("eachlabs/alibaba-wan-2-7-image-to-video", "first_frame", _DROP, "required"),
    ("eachlabs/alibaba-wan-2-7-image-to-video", "duration", 1, "minimum"),
    ("eachlabs/alibaba-wan-2-7-image-to-video", "duration", 16, "maximum"),
    ("eachlabs/alibaba-wan-2-7-image-to-video", "duration", 5.5, "type"),
    ("eachlabs/alibaba-wan-2-7-image-to-video", "prompt", "x" * 5001, "maxLength"),
    ("eachlabs/alibaba-wan-2-7-image-to-video", "resolution", "720p", "enum"),
    ("eachlabs/alibaba-wan-2-7-image-to-video", "prompt_extend", "yes", "type"),
    ("eachlabs/wan-v2-2-a14b-image-to-video-turbo", "image_url", _DROP, "required"),
    ("eachlabs/wan-v2-2-a14b-image-to-video-turbo", "resolution", "1080p", "enum"),
    ("eachlabs/wan-v2-2-a14b-image-to-video-turbo", "acceleration", "high", "enum"),
    ("eachlabs/wan-v2-2-a14b-image-to-video-turbo", "seed", "42", "type"),
    ("wavespeed/wan-2.2-image-to-video", "image", _DROP, "required"),
    ("wavespeed/wan-2.2-image-to-video", "duration", 6, "enum"),
    ("wavespeed/wan-2.2-image-to-video", "seed", -2, "minimum"),
    ("wavespeed/wan-2.2-image-to-video", "seed", 2147483648, "maximum"),
    ("wavespeed/wan-2.2-image-to-video", "resolution", "1080p", "enum"),
    ("wavespeed/wan-2.2-image-to-video", "prompt", 3, "type"),
    ("apikley/wan-2-2-a14b-image-to-video-turbo", "prompt", _DROP, "required"),
    ("apikley/wan-2-2-a14b-image-to-video-turbo", "prompt", "x" * 5001, "maxLength"),
    ("apikley/wan-2-2-a14b-image-to-video-turbo", "seed", -1, "minimum"),
    ("apikley/wan-2-2-a14b-image-to-video-turbo", "seed", 2147483648, "maximum"),
    ("apikley/wan-2-2-a14b-image-to-video-turbo", "seed", 1.5, "multipleOf"),
    ("apikley/wan-2-2-a14b-image-to-video-turbo", "aspect_ratio", "4:3", "enum"),
    ("apikley/wan-2-2-a14b-image-to-video-turbo", "enable_prompt_expansion", 0, "type"),
]


def test_valid_minimal_inputs() -> None:
    for model, instance in VALID.items():
        provider, slug = model.split("/")
        Draft202012Validator(load(provider, slug)["input_schema"]).validate(instance)


@pytest.mark.parametrize(
    ("model", "field", "value", "keyword"),
    INVALID,
    ids=[f"{m.split('/')[1][:24]}-{f}-{k}" for m, f, _, k in INVALID],
)
def test_invalid_input_is_rejected(model: str, field: str, value: Any, keyword: str) -> None:
    provider, slug = model.split("/")
    instance = dict(VALID[model])
    if value is _DROP:
        instance.pop(field)
    else:
        instance[field] = value
    errors = list(Draft202012Validator(load(provider, slug)["input_schema"]).iter_errors(instance))
    # One bad value may break two keywords (5 for an enum of strings: "type" and
    # "enum"); all errors must point at the field, and the expected one be among them.
    assert errors, "accepted an invalid input"
    assert keyword in {e.validator for e in errors}, [e.message for e in errors]
    for error in errors:
        if keyword == "required":
            assert list(error.absolute_path) == []
            assert f"'{field}'" in error.message
        else:
            assert list(error.absolute_path) == [field]


# --- the acceptance facts, stated explicitly -------------------------


def test_eachlabs_wan_2_5_limits() -> None:
    p = props("eachlabs", "wan-2-5-preview-image-to-video")
    assert p["prompt"]["maxLength"] == 800
    assert p["negative_prompt"]["maxLength"] == 500
    assert p["duration"] == {
        "type": "string",
        "enum": ["5", "10"],
        "default": "5",
        "description": p["duration"]["description"],
    }


def test_eachlabs_wan_2_7_limits() -> None:
    contract = load("eachlabs", "alibaba-wan-2-7-image-to-video")
    p = contract["input_schema"]["properties"]
    assert contract["input_schema"]["required"] == ["first_frame"]
    assert p["duration"]["type"] == "integer"
    assert (p["duration"]["minimum"], p["duration"]["maximum"]) == (2, 15)
    assert p["prompt"]["maxLength"] == 5000
    assert p["resolution"]["enum"] == ["720P", "1080P"]
    assert p["resolution"]["default"] == "1080P"
    assert contract["estimated_processing_seconds"] == 110
    assert contract["provenance"]["/input_schema/properties/prompt/maxLength"] == (
        'description of prompt: "Max 5,000 characters."'
    )


def test_eachlabs_wan_2_2_turbo() -> None:
    contract = load("eachlabs", "wan-v2-2-a14b-image-to-video-turbo")
    p = contract["input_schema"]["properties"]
    assert p["acceleration"]["default"] == "regular"
    assert p["resolution"]["enum"] == ["480p", "580p", "720p"]
    assert contract["pricing"]["quantity"] == {"field": None, "default": None}


def test_wavespeed_facts() -> None:
    contract = load("wavespeed", "wan-2.2-image-to-video")
    p = contract["input_schema"]["properties"]
    assert (p["seed"]["minimum"], p["seed"]["maximum"]) == (-1, 2147483647)
    assert p["duration"]["enum"] == [5, 8]
    assert p["resolution"]["default"] == "480p"
    assert contract["model_id"] == "wavespeed-ai/wan-2.2/image-to-video"
    assert contract["example_request_path"] == "/api/v3/wavespeed-ai/wan-2.2/image-to-video"
    assert contract["pricing"] == {
        "currency": "USD",
        "kind": "table",
        "dimensions": ["duration", "resolution"],
        "cells": [
            {"duration": 5, "resolution": "480p", "price": 0.15},
            {"duration": 5, "resolution": "720p", "price": 0.3},
            {"duration": 8, "resolution": "480p", "price": 0.24},
            {"duration": 8, "resolution": "720p", "price": 0.48},
        ],
    }


def test_apikley_facts() -> None:
    contract = load("apikley", "wan-2-2-a14b-image-to-video-turbo")
    p = contract["input_schema"]["properties"]
    assert (p["seed"]["minimum"], p["seed"]["maximum"]) == (0, 2147483647)
    assert p["acceleration"]["default"] == "none"
    assert contract["model_id"] == "wan/2-2-a14b-image-to-video-turbo"
    assert contract["pricing"] is None
    assert contract["example_request_path"] == "/api/v1/jobs/createTask"


def test_eachlabs_pricing_rules() -> None:
    wan27 = load("eachlabs", "alibaba-wan-2-7-image-to-video")["pricing"]
    assert wan27["unit"] == "second"
    assert wan27["quantity"] == {"field": "duration", "default": 5}
    assert wan27["rules"] == [
        {
            "when": {"field": "resolution", "op": "eq", "value": "720P"},
            "unit_price": 0.1,
            "label": "720P pricing",
            "fallback": False,
        },
        {"when": None, "unit_price": 0.15, "label": "1080P pricing", "fallback": True},
    ]
    wan25 = load("eachlabs", "wan-2-5-preview-image-to-video")["pricing"]
    assert wan25["quantity"] == {"field": "duration", "default": 5}
    assert [r["when"] and r["when"]["op"] for r in wan25["rules"]] == ["eq_i", "eq_i", None]
    turbo = load("eachlabs", "wan-v2-2-a14b-image-to-video-turbo")["pricing"]
    assert [r["unit_price"] for r in turbo["rules"]] == [0.05, 0.075, 0.1]


FILE_URL_FIELDS = {
    "eachlabs/wan-2-5-preview-image-to-video": {"image_url", "audio_url"},
    "eachlabs/alibaba-wan-2-7-image-to-video": {
        "first_frame", "last_frame", "first_clip", "driving_audio",
    },
    "eachlabs/wan-v2-2-a14b-image-to-video-turbo": {"image_url", "end_image_url"},
    "wavespeed/wan-2.2-image-to-video": {"image", "last_image"},
    "apikley/wan-2-2-a14b-image-to-video-turbo": {"image_url"},
}  # fmt: skip


@pytest.mark.parametrize("model", sorted(FILE_URL_FIELDS))
def test_file_url_fields(model: str) -> None:
    provider, slug = model.split("/")
    contract = load(provider, slug)
    marked = {
        name
        for name, prop in contract["input_schema"]["properties"].items()
        if prop.get("format") == "uri"
    }
    assert marked == FILE_URL_FIELDS[model]
    for name in marked:
        prop = contract["input_schema"]["properties"][name]
        assert prop["x-file-url"] == {"schemes": ["https"], "public": True}
        note = contract["provenance"][f"/input_schema/properties/{name}/x-file-url"]
        assert note.startswith("[SEED]" if provider == "eachlabs" else "[GUESS]")
