"""Recorded drift: ``mockserver drift replay PATH...``.

Reads exchanges in our fixture format (``{"request", "response",
"provenance"}`` or ``{"webhook", ...}``: the golden fixtures and what
``mockserver record`` writes) and HAR 1.2 files (browser dev tools, mitmproxy,
Charles), matches each to a contract endpoint by method and path pattern and
checks the response with the ``exchange`` rules: status and error transport,
error envelope per code, success schema per status word, the status word
vocabulary.

The provider of a file is, in order: ``--provider``; the file's
``"provider"`` field; its folder name (``fixtures/eachlabs/...``,
``fixtures/recordings/wavespeed/...``); the recorded URL's host or the mock's
``/<provider>`` prefix.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

from mockserver.contracts import ContractError, ContractSet, load_contracts
from mockserver.drift.context import Exchange, Where
from mockserver.drift.exchange import (
    Recorded,
    check,
    exchange_from_fixture,
    exchanges_from_har,
    provider_for_url,
    strip_prefix,
)
from mockserver.drift.findings import Report

__all__ = ["iter_files", "run_replay"]

#: Directories are searched this deep at most (recordings sit one folder down).
_MAX_DEPTH = 4


def iter_files(paths: Sequence[str]) -> Iterator[Path]:
    """Files named on the command line, and ``*.json`` / ``*.har`` under named directories."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = [
                p
                for p in sorted(path.rglob("*"))
                if p.suffix in (".json", ".har")
                and p.is_file()
                and len(p.relative_to(path).parts) <= _MAX_DEPTH
            ]
            yield from found
        else:
            yield path


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _read(path: Path) -> list[Recorded]:
    subject = _display(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{subject}: top level must be an object")
    if "log" in data:
        return list(exchanges_from_har(data, subject))
    return [exchange_from_fixture(data, subject)]


def _provider(
    contracts: ContractSet, item: Recorded, path: Path, forced: str | None
) -> tuple[str, Exchange] | None:
    """The provider of one exchange and the exchange with any mock prefix removed."""
    exchange = item.exchange
    name = forced or item.provider
    if name is None and path.parent.name in contracts.providers:
        name = path.parent.name
    if name is None and item.url:
        found = provider_for_url(contracts, item.url)
        if found:
            name = found[0]
    if name is None:
        for candidate in contracts.providers:
            if exchange.path.startswith(f"/{candidate}/"):
                name = candidate
    if name is None or name not in contracts.providers:
        return None
    path_only = strip_prefix(name, exchange.path)
    if path_only != exchange.path:
        exchange = Exchange(
            method=exchange.method,
            path=path_only,
            query=exchange.query,
            request_headers=exchange.request_headers,
            request_body=exchange.request_body,
            status=exchange.status,
            headers=exchange.headers,
            body=exchange.body,
            body_is_json=exchange.body_is_json,
        )
    return name, exchange


def run_replay(paths: Sequence[str], root: Path, *, provider: str | None = None) -> Report:
    """Check every recorded exchange under ``paths`` against the contracts under ``root``."""
    report = Report("replay")
    try:
        contracts = load_contracts(root)
    except ContractError as error:
        report.errors.append(str(error))
        return report
    if provider is not None and provider not in contracts.providers:
        report.errors.append(f"--provider {provider}: no such provider contract")
        return report
    files = list(iter_files(paths))
    if not files:
        report.errors.append("no recordings found under " + ", ".join(paths))
        return report
    checked = 0
    for path in files:
        try:
            items = _read(path)
        except (OSError, ValueError, KeyError, TypeError) as error:
            report.errors.append(f"{_display(path)}: cannot read: {error}")
            continue
        for item in items:
            found = _provider(contracts, item, path, provider)
            if found is None:
                report.add_subject(item.subject)
                report.skipped[item.subject] = "provider unknown (use --provider)"
                continue
            name, exchange = found
            where = Where("replay", name, item.subject, None, _display(path))
            report.add_subject(item.subject)
            findings, _ = check(contracts.provider(name), exchange, where, kind=item.kind)
            report.extend(findings)
            checked += 1
    report.notes.append(f"{checked} exchange(s) from {len(files)} file(s) checked")
    return report
