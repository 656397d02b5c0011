"""mockserver.contracts: loading, validation, defaults, caching and errors."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from mockserver import contracts as contracts_module
from mockserver.contracts import (
    ContractError,
    InputError,
    ModelContract,
    contracts_root,
    load_contracts,
)
from mockserver.providers import registry

REPO_CONTRACTS = Path(__file__).resolve().parents[1] / "contracts"
PROVIDERS = registry.names()


def _model(provider: str = "eachlabs", model_id: str = "demo-model") -> dict[str, Any]:
    return {
        "contract": "model",
        "generated_by": "mockserver contracts build",
        "provider": provider,
        "slug": model_id.replace("/", "-"),
        "model_id": model_id,
        "title": "Demo",
        "version": None,
        "output_type": "video",
        "estimated_processing_seconds": 10,
        "input_schema": {
            "type": "object",
            "required": ["prompt", "image_url"],
            "properties": {
                "prompt": {"type": "string", "maxLength": 10},
                "image_url": {
                    "type": "string",
                    "format": "uri",
                    "x-file-url": {"schemes": ["https"], "public": True},
                },
                "resolution": {"type": "string", "enum": ["480p", "720p"], "default": "720p"},
                "duration": {"type": "integer", "minimum": 1, "default": 5},
                "options": {
                    "type": "object",
                    "properties": {"fast": {"type": "boolean", "default": False}},
                },
            },
        },
        "pricing": None,
    }


@pytest.fixture
def tmp_root(tmp_path: Path) -> Path:
    """A copy of the repo's provider contracts with one synthetic model each."""
    root = tmp_path / "contracts"
    for provider in PROVIDERS:
        (root / provider / "models").mkdir(parents=True)
        shutil.copy(REPO_CONTRACTS / provider / "provider.yaml", root / provider)
        model = _model(provider, f"{provider}-demo")
        (root / provider / "models" / f"{provider}-demo.json").write_text(json.dumps(model))
    return root


def test_repo_contracts_load() -> None:
    contract_set = load_contracts(REPO_CONTRACTS)
    assert set(contract_set.providers) == set(PROVIDERS)
    for name in PROVIDERS:
        provider = contract_set.provider(name)
        assert provider.name == name
        assert provider.schema_pointers()
        for model in provider.models.values():  # whatever the deriver has written so far
            assert model.provider == name
            assert provider.model(model.model_id) is model


def test_load_is_cached_per_root(tmp_root: Path) -> None:
    assert load_contracts(tmp_root) is load_contracts(tmp_root)
    assert load_contracts(tmp_root) is not load_contracts(REPO_CONTRACTS)


def test_contracts_root_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MOCKSERVER_CONTRACTS", str(tmp_path))
    assert contracts_root() == tmp_path
    monkeypatch.delenv("MOCKSERVER_CONTRACTS")
    assert contracts_root().name in {"contracts", "_contracts"}
    assert (contracts_root() / "eachlabs" / "provider.yaml").is_file()


def test_zero_models_is_fine(tmp_path: Path) -> None:
    root = tmp_path / "c"
    (root / "eachlabs").mkdir(parents=True)
    shutil.copy(REPO_CONTRACTS / "eachlabs" / "provider.yaml", root / "eachlabs")
    provider = load_contracts(root).provider("eachlabs")
    assert dict(provider.models) == {}
    assert provider.model("anything") is None


def test_validate_input_paths_and_rules(tmp_root: Path) -> None:
    model = load_contracts(tmp_root).provider("eachlabs").model("eachlabs-demo")
    assert model is not None
    assert model.validate_input({"prompt": "hi", "image_url": "https://x.test/a.png"}) == []
    errors = model.validate_input(
        {"prompt": "far too long a prompt", "resolution": "4k", "duration": 0, "image_url": 3}
    )
    assert [(e.path, e.rule) for e in errors] == [
        ("duration", "minimum"),
        ("image_url", "type"),
        ("prompt", "maxLength"),
        ("resolution", "enum"),
    ]
    missing = model.validate_input({})
    assert missing == [
        InputError("image_url", "required", "image_url is required"),
        InputError("prompt", "required", "prompt is required"),
    ]
    assert model.validate_input("not an object")[0].rule == "type"


def test_format_uri_is_checked(tmp_root: Path) -> None:
    model = load_contracts(tmp_root).provider("eachlabs").model("eachlabs-demo")
    assert model is not None
    errors = model.validate_input({"prompt": "hi", "image_url": "not a url"})
    assert [(e.path, e.rule) for e in errors] == [("image_url", "format")]


def test_defaults_and_file_fields(tmp_root: Path) -> None:
    model = load_contracts(tmp_root).provider("apikley").model("apikley-demo")
    assert model is not None
    payload = {"prompt": "hi", "options": {}}
    filled = model.with_defaults(payload)
    assert filled == {
        "prompt": "hi", "resolution": "720p", "duration": 5, "options": {"fast": False},
    }
    assert payload == {"prompt": "hi", "options": {}}  # not mutated
    assert model.file_url_fields == ("image_url",)


def test_provider_validator_by_pointer() -> None:
    provider = load_contracts(REPO_CONTRACTS).provider("eachlabs")
    pointer = "/endpoints/create/responses/200/schema"
    assert provider.validator(pointer) is provider.validator(pointer)
    good = {
        "status": "success", "message": "Prediction created successfully",
        "predictionID": "5b8f0c1e-2f3a-4c55-9d1e-0a7b6c5d4e3f",
    }
    assert provider.validate(pointer, good) == []
    assert provider.validate(pointer, {"status": "error"}) != []
    with pytest.raises(KeyError):
        provider.validator("/endpoints/nope/schema")


def test_status_helpers() -> None:
    kie = load_contracts(REPO_CONTRACTS).provider("apikley")
    assert kie.status_words("queued") == ("waiting", "queuing")
    assert kie.status_words("cancelled") == ()
    assert kie.neutral_of("generating") == "running"
    assert kie.neutral_of("bogus") is None


def test_unknown_provider_message() -> None:
    with pytest.raises(ContractError, match="known: " + ", ".join(sorted(registry.names()))):
        load_contracts(REPO_CONTRACTS).provider("nope")


def _broken_root(tmp_path: Path, mutate: Any) -> Path:
    root = tmp_path / "broken"
    (root / "eachlabs").mkdir(parents=True)
    data = yaml.safe_load((REPO_CONTRACTS / "eachlabs" / "provider.yaml").read_text())
    mutate(data)
    (root / "eachlabs" / "provider.yaml").write_text(yaml.safe_dump(data))
    return root


def test_missing_key_is_reported(tmp_path: Path) -> None:
    root = _broken_root(tmp_path, lambda d: d.pop("webhook"))
    with pytest.raises(ContractError, match="lacks webhook"):
        load_contracts(root)


def test_invalid_schema_is_reported(tmp_path: Path) -> None:
    def mutate(data: dict[str, Any]) -> None:
        data["endpoints"]["create"]["responses"]["200"]["schema"]["type"] = "objekt"

    root = _broken_root(tmp_path, mutate)
    with pytest.raises(ContractError, match="/endpoints/create/responses/200/schema"):
        load_contracts(root)


def test_bad_model_is_reported(tmp_root: Path) -> None:
    bad = _model("eachlabs", "bad")
    bad["input_schema"] = {"type": 12}
    (tmp_root / "eachlabs" / "models" / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(ContractError, match=r"bad\.json: invalid input_schema"):
        load_contracts(tmp_root)


def test_model_contract_direct() -> None:
    with pytest.raises(ContractError, match="lacks"):
        ModelContract({"contract": "model"})


def test_no_http_imports() -> None:
    tree = ast.parse(Path(contracts_module.__file__).read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"starlette", "httpx", "respx", "uvicorn"}
