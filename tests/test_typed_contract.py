"""Code reads provider contracts through their typed objects (issue 19, item 3).

``provider.yaml`` is loaded once into :class:`~mockserver.provider_spec.ProviderSpec`
(``contract.spec``), facts unwrapped there; model contracts carry their typed
fields (``pricing``, ``example_request``, ``provenance``...). The scan below
fails when code starts reading the raw document again (``contract.data[...]``,
``model.data.get(...)``), so the next reader adds a typed field instead.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mockserver.contracts import ContractSet, load_contracts
from mockserver.provider_spec import ErrorCase, Registration

PACKAGE = Path(__file__).resolve().parents[1] / "mockserver"

#: Where the raw document is loaded and turned into typed objects.
LOADERS = frozenset({"contracts.py", "provider_spec.py"})

#: A raw read: ``x.data[...]``, ``x.data.get(...)`` and friends, or any use of a
#: contract's or model's ``data`` (``contract.data``, ``model.data``, ``contract_data``).
RAW_READ = re.compile(
    r"\.data(?:\[|\.(?:get|items|keys|values)\()"
    r"|\b(?:contract|model|provider|chosen)\.data\b"
    r"|\bcontract_data\b"
)

#: Not contracts: an upload's bytes, a multipart part's bytes.
NOT_CONTRACTS = re.compile(r"\b(?:upload|part)\.data\b")

#: (file, text on the line) -> why that one raw read stays.
ALLOWED = {
    ("http/app.py", "copy.deepcopy(contract.data)"): (
        "a configured error transport makes a new contract: the document is copied, "
        "changed and loaded again (spec, validators and schema pointers rebuilt from it)"
    ),
}


def _raw_reads() -> list[tuple[str, int, str]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative in LOADERS:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = NOT_CONTRACTS.sub("", line.split("#", 1)[0])
            if RAW_READ.search(code):
                found.append((relative, number, line.strip()))
    return found


def test_no_raw_contract_reads_outside_the_loader() -> None:
    unexpected = [
        f"mockserver/{file}:{number}: {line}"
        for file, number, line in _raw_reads()
        if not any(file == where and text in line for where, text in ALLOWED)
    ]
    assert not unexpected, (
        "read the typed contract (contract.spec, the model contract's fields), not the raw "
        "document; add a typed field in mockserver/provider_spec.py if one is missing:\n"
        + "\n".join(unexpected)
    )


def test_every_allowed_raw_read_still_exists() -> None:
    reads = _raw_reads()
    for where, text in ALLOWED:
        assert any(file == where and text in line for file, _, line in reads), (
            f"mockserver/{where} no longer has {text!r}: drop it from ALLOWED"
        )


@pytest.mark.parametrize(
    "line",
    [
        'x = contract.data["endpoints"]',
        'x = self.contract.data.get("webhook")',
        'x = model.data.get("example_request")',
        "x = contract.data",
        "def f(contract_data): ...",
        "for k in spec.data.items(): ...",
    ],
)
def test_the_scan_recognises_raw_reads(line: str) -> None:
    assert RAW_READ.search(NOT_CONTRACTS.sub("", line))


@pytest.mark.parametrize(
    "line", ["n = len(upload.data)", "part.data", "contract.spec.endpoints", "doc.data,"]
)
def test_the_scan_ignores_what_is_not_a_contract(line: str) -> None:
    assert not RAW_READ.search(NOT_CONTRACTS.sub("", line))


# --- the typed facts the former raw readers use --------------------------------------


@pytest.fixture(scope="module")
def contracts() -> ContractSet:
    return load_contracts()


def test_statuses_carry_terminal_words_and_provenance(contracts: ContractSet) -> None:
    for contract in contracts.providers.values():
        statuses = contract.spec.statuses
        assert statuses.terminal <= set(statuses.words)
        assert {statuses.neutral_of(w) for w in statuses.terminal} >= {"succeeded", "failed"}
        assert statuses.provenance
        assert contract.spec.errors.transport.provenance
        assert contract.spec.errors.transport.section["mode"] == contract.spec.errors.transport.mode


def test_create_request_and_registration_are_typed(contracts: ContractSet) -> None:
    wavespeed = contracts.provider("wavespeed").spec
    create = wavespeed.endpoints["create"]
    assert create.model_input_pointer == ""
    assert "webhook_url" in create.transport_fields
    assert wavespeed.webhook.registration[0] == Registration("query", name="webhook")
    eachlabs = contracts.provider("eachlabs").spec
    assert eachlabs.endpoints["create"].model_input_pointer == "/input"
    assert [r.role for r in eachlabs.webhook.registration] == [None, "secret"]
    assert eachlabs.auth_header("k") == ("X-API-Key", "k")
    assert wavespeed.auth_header("k") == ("Authorization", "Bearer k")


def test_endpoint_cases_override_the_provider_cases(contracts: ContractSet) -> None:
    apikley = contracts.provider("apikley").spec
    unknown = apikley.endpoints["poll"].cases["unknown_job"]
    assert isinstance(unknown, ErrorCase) and unknown.code == 422
    assert unknown.message == "recordInfo is null"
    assert "terminal_job" in contracts.provider("eachlabs").spec.endpoints["cancel"].cases


def test_billing_and_rate_limits_are_unwrapped(contracts: ContractSet) -> None:
    for contract in contracts.providers.values():
        billing = contract.spec.billing
        assert billing.currency
        for value in (billing.billed_seconds_assumption, billing.fallback,
                      *billing.assumptions.values()):
            assert not (isinstance(value, dict) and "provenance" in value and "value" in value)
    wavespeed = contracts.provider("wavespeed").spec.rate_limits
    assert wavespeed.concurrent_limit == 2 and wavespeed.over_limit == "queue"
