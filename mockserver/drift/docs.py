"""Document drift: derive contracts from (newer) documents and classify the differences.

``mockserver drift docs [FILE...]`` derives every model contract with the
deriver's own API (:mod:`mockserver.derive.command`: the committed documents,
with FILE copies standing in for the documents they match by provider folder
and file name, exactly like ``contracts build --source``) and compares each
result with the committed ``contracts/<provider>/models/<slug>.json``.

Each difference is classified by the ``property``, ``model`` and ``document``
rules of :mod:`.rules` (oasdiff's idea: breaking, behaviour, non-breaking).
Nothing is written: accepting a change is ``contracts build`` after a review.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from mockserver.contracts import ContractError, load_contracts
from mockserver.derive.command import (
    Derived,
    apply_overrides,
    committed_sources,
    derive_all,
    stale_models,
)
from mockserver.derive.common import DeriveError
from mockserver.drift.context import ModelPair, PropertyPair, Where, escape
from mockserver.drift.findings import Finding, Report
from mockserver.drift.rules import RULES
from mockserver.provider_spec import ProviderSpec
from mockserver.providers import registry

__all__ = ["auth_markers", "compare_models", "property_pairs", "run_docs"]


def property_pairs(
    where: Where,
    old_schema: Mapping[str, Any] | None,
    new_schema: Mapping[str, Any] | None,
    base: str = "/input_schema",
) -> Iterator[PropertyPair]:
    """Every property of two object schemas, paired by name, nested objects included."""
    old_schema = old_schema or {}
    new_schema = new_schema or {}
    old_props: Mapping[str, Any] = old_schema.get("properties") or {}
    new_props: Mapping[str, Any] = new_schema.get("properties") or {}
    old_required = set(old_schema.get("required") or ())
    new_required = set(new_schema.get("required") or ())
    for name in sorted(set(old_props) | set(new_props)):
        pointer = f"{base}/properties/{escape(name)}"
        old = old_props.get(name)
        new = new_props.get(name)
        yield PropertyPair(
            where,
            pointer,
            name,
            old if isinstance(old, Mapping) else None,
            new if isinstance(new, Mapping) else None,
            name in old_required,
            name in new_required,
        )
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            if "properties" in old or "properties" in new:
                yield from property_pairs(where, old, new, pointer)
            old_items, new_items = old.get("items"), new.get("items")
            if isinstance(old_items, Mapping) and isinstance(new_items, Mapping):
                yield PropertyPair(
                    where, pointer + "/items", f"{name}[]", old_items, new_items, True, True
                )
                yield from property_pairs(where, old_items, new_items, pointer + "/items")


def compare_models(
    where: Where,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    *,
    old_document: bytes | None = None,
    new_document: bytes | None = None,
    markers: tuple[str, ...] = (),
) -> list[Finding]:
    """Findings between two model contracts (either may be None)."""
    findings: list[Finding] = []
    if old is not None and new is not None:
        for pair in property_pairs(where, old.get("input_schema"), new.get("input_schema")):
            findings.extend(RULES.run("property", pair))
    model_pair = ModelPair(where, old, new, old_document, new_document, markers)
    findings.extend(RULES.run("model", model_pair))
    final = ModelPair(
        where, old, new, old_document, new_document, markers, changed_elsewhere=bool(findings)
    )
    findings.extend(RULES.run("document", final))
    return [_with_provenance(f, new, old) for f in findings]


def _with_provenance(
    finding: Finding, new: Mapping[str, Any] | None, old: Mapping[str, Any] | None
) -> Finding:
    """Tag a finding with the document phrase its fact came from (the contract's map)."""
    for contract in (new, old):
        phrases = (contract or {}).get("provenance") or {}
        pointer = finding.pointer
        while pointer:
            if pointer in phrases:
                return replace(finding, provenance=f"[SEED] {phrases[pointer]}")
            pointer = pointer.rpartition("/")[0]
    return finding


def auth_markers(spec: ProviderSpec) -> tuple[str, ...]:
    """Credential header names of a provider contract (``X-API-Key``, ``Bearer``)."""
    markers: list[str] = []
    for scheme in spec.auth:
        if scheme.type == "apiKey" and scheme.name:
            markers.append(scheme.name)
        elif scheme.type == "http" and scheme.scheme:
            markers.append(scheme.scheme.capitalize())
    return tuple(markers)


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def run_docs(files: Sequence[str], root: Path) -> Report:
    """Compare contracts derived from the documents (FILE copies first) with the committed ones."""
    report = Report("docs")
    try:
        parsers = registry.document_parsers()
        committed = committed_sources(root, parsers)
        documents = apply_overrides(committed, files, parsers)
        derived: list[Derived] = derive_all(documents, parsers)
    except (DeriveError, OSError) as error:
        report.errors.append(str(error))
        return report
    try:
        contracts = load_contracts(root)
    except ContractError as error:
        report.errors.append(str(error))
        return report
    originals = {(d.provider, d.filename): d.data for d in committed}
    for item in derived:
        doc = item.document
        where = Where(
            "docs", doc.provider, f"{doc.provider}/{doc.slug}", doc.slug, _display(doc.origin)
        )
        report.add_subject(where.subject)
        target = item.target(root)
        old: Mapping[str, Any] | None = None
        if target.exists():
            try:
                old = json.loads(target.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                report.errors.append(f"{_display(target)}: {error}")
                continue
        markers: tuple[str, ...] = ()
        if doc.provider in contracts.providers:
            markers = auth_markers(contracts.provider(doc.provider).spec)
        report.extend(
            compare_models(
                where,
                old,
                item.contract,
                old_document=originals.get((doc.provider, doc.filename)),
                new_document=doc.data,
                markers=markers,
            )
        )
    for path in stale_models(root, derived, parsers):
        provider = path.parent.parent.name
        where = Where("docs", provider, f"{provider}/{path.stem}", path.stem, _display(path))
        report.add_subject(where.subject)
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            report.errors.append(f"{_display(path)}: {error}")
            continue
        report.extend(compare_models(where, old, None))
    changed = sum(1 for d in documents if d.origin not in {c.origin for c in committed})
    report.notes.append(
        f"{len(derived)} model contract(s) derived ({changed} from a given copy) and compared "
        f"with {root}"
    )
    return report
