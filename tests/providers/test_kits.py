"""Each bundled provider kit agrees with its contract, and the registry's rules hold."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace

import pytest

from mockserver.contracts import load_contracts
from mockserver.providers import registry


@pytest.mark.parametrize("name", registry.names())
def test_a_kit_agrees_with_its_contract(name: str) -> None:
    kit = registry.kit(name)
    contract = registry.contract_of(name, load_contracts())
    assert kit.name == contract.name == name
    assert kit.currency == contract.spec.billing.currency
    assert kit.adapter.name == name  # type: ignore[attr-defined]
    assert kit.client.default_model in contract.models
    for model, values in kit.client.inputs.items():
        assert contract.model(model) is not None, model
        assert contract.model(model).validate_input(dict(values)) == []  # type: ignore[union-attr]
    assert kit.parse_document is not None, "a bundled provider derives its model contracts"


def test_register_refuses_a_taken_name() -> None:
    bundled = registry.kit(registry.names()[0])
    with pytest.raises(ValueError, match="already registered"):
        registry.register(replace(bundled, currency="EUR"))
    assert registry.kit(bundled.name) is bundled


def test_a_kit_named_in_the_environment_that_is_not_a_kit_is_one_clear_error() -> None:
    env = {**os.environ, registry.KITS_VARIABLE: "mockserver.providers.registry:BUNDLED"}
    done = subprocess.run(
        [sys.executable, "-c", "from mockserver.providers import registry; registry.names()"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode != 0
    assert "is a tuple, not a ProviderKit" in done.stderr
