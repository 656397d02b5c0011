"""The fast "certainly valid" path of ModelContract.validate_input never disagrees with jsonschema.

Not a timing test: it checks that the shortcut is only ever taken when
jsonschema itself finds nothing, over the real model contracts and inputs
mutated field by field.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from mockserver.contracts import ModelContract, _fast_check, load_contracts

MODELS = [m for p in load_contracts().providers.values() for m in p.models.values()]
ODD_VALUES: list[Any] = [
    None, True, False, 0, 1, -1, 5, 5.0, 2.5, 1e9, -1e9, "", "x", "x" * 5000,
    "https://images.example.com/a.png", "not a uri", "ftp://x", "480p", "720p", [], {}, [1],
    {"a": 1},
]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: f"{m.provider}:{m.slug}")
def test_every_model_has_a_fast_path(model: ModelContract) -> None:
    assert model._fast is not None


@pytest.mark.parametrize("model", MODELS, ids=lambda m: f"{m.provider}:{m.slug}")
def test_fast_valid_implies_jsonschema_valid(model: ModelContract) -> None:
    rng = random.Random(1)
    schema = model.input_schema
    assert model._fast is not None
    names = [*schema.get("properties", {}), "unknown_field"]
    base = {n: s["default"] for n, s in schema.get("properties", {}).items() if "default" in s}
    for name in schema.get("required", []):
        base.setdefault(name, "https://images.example.com/a.png")
    for _ in range(400):
        payload = dict(base)
        for name in rng.sample(names, k=rng.randint(0, min(3, len(names)))):
            if rng.random() < 0.2:
                payload.pop(name, None)
            else:
                payload[name] = rng.choice(ODD_VALUES)
        jsonschema_errors = list(model._validator.iter_errors(payload))
        if model._fast(payload):
            assert not jsonschema_errors, (payload, jsonschema_errors)
        # And the public answer is jsonschema's, with or without the shortcut.
        assert bool(model.validate_input(payload)) == bool(jsonschema_errors)


def test_unknown_keywords_get_no_fast_path() -> None:
    assert _fast_check({"type": "object", "patternProperties": {}}) is None
    assert _fast_check({"type": "string", "format": "email"}) is None
    assert _fast_check({"properties": {"a": {"anyOf": []}}}) is None


def test_fast_path_is_strict_about_json_types() -> None:
    check = _fast_check({"type": "object", "properties": {
        "n": {"type": "integer", "minimum": 1, "multipleOf": 1},
        "e": {"enum": [1, "a"]}, "b": {"type": "boolean"}}, "required": ["n"]})
    assert check is not None
    assert check({"n": 1, "e": 1, "b": True})
    assert not check({"n": True})  # bool is not an integer in JSON
    assert not check({"n": 1, "e": True})  # True == 1 in Python, not in JSON
    assert not check({"n": 0})
    assert not check({})
