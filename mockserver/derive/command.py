"""``mockserver contracts build`` and ``mockserver contracts check``.

``build`` derives every model contract from ``<root>/sources`` and writes
``<root>/<provider>/models/<slug>.json``; ``check`` derives the same in memory
and compares with what is committed.

Exit codes: 0 all equal / written; 1 ``check`` found a difference (a model
contract, or a committed source whose sha256 is not the one in
``sources/MANIFEST.sha256``); 2 an error (missing source, unreadable
document, a ``build`` asked to bless an edited source).

The manifest policy, chosen so that nothing edits a provider document
silently: ``check`` fails on any source whose sha256 differs from its
manifest line, on a source with no line and on a line with no source.
``build`` refuses (exit 2) while a committed source differs from its
manifest line, adds lines only for new documents and drops lines of
documents that were deleted. Accepting a changed provider page is a
deliberate act, and one command: ``contracts update FILE...`` copies each
document into ``sources/<provider>/``, sets its manifest line, rebuilds and
prints the diff of every model contract it changed (all or nothing: a
document that does not derive changes nothing). ``--source`` copies never
touch the manifest: they are not committed files.

Which contracts folder: ``--root``, else ``$MOCKSERVER_CONTRACTS``, else
``./contracts`` when it has a ``sources/`` folder (a user's own copy), else
the bundled one.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from mockserver.derive.common import (
    Contract,
    DeriveError,
    SourceDocument,
    contracts_root,
    dump_contract,
    pointer,
)

Deriver = Callable[[SourceDocument], Contract]


#: Each provider's document parser, keyed by its provider folder name. The front
#: end that runs a command passes them (the provider registry's, in the CLI):
#: derive knows no provider.
Parsers = Mapping[str, Deriver]


MANIFEST = "MANIFEST.sha256"


@dataclass(frozen=True)
class Derived:
    """One model contract and where it belongs."""

    document: SourceDocument
    contract: Contract
    text: str

    def target(self, root: Path) -> Path:
        """``<root>/<provider>/models/<slug>.json``."""
        return root / self.document.provider / "models" / f"{self.document.slug}.json"


# --------------------------------------------------------------------------
# Sources and the manifest
# --------------------------------------------------------------------------


def committed_sources(root: Path, parsers: Parsers) -> list[SourceDocument]:
    """Every ``<root>/sources/<provider>/*.txt``, sorted (provider, file name)."""
    sources = root / "sources"
    if not sources.is_dir():
        raise DeriveError(f"{sources}: no sources directory")
    documents: list[SourceDocument] = []
    for folder in sorted(p for p in sources.iterdir() if p.is_dir()):
        if folder.name not in parsers:
            raise DeriveError(
                f"{folder}: no parser for provider {folder.name!r} (known: {', '.join(parsers)})"
            )
        for path in sorted(folder.glob("*.txt")):
            documents.append(SourceDocument(folder.name, path.name, path.read_bytes(), path))
    if not documents:
        raise DeriveError(f"{sources}: no source documents")
    return documents


def apply_overrides(
    documents: list[SourceDocument], overrides: Sequence[str], parsers: Parsers
) -> list[SourceDocument]:
    """Replace committed documents by ``--source`` copies.

    A copy is matched by its parent folder (a provider name) and file name;
    when the parent folder is not a provider, by file name alone, which must
    then name exactly one committed document.
    """
    result = list(documents)
    for raw in overrides:
        path = Path(raw)
        if not path.is_file():
            raise DeriveError(f"--source {raw}: no such file")
        provider = path.parent.name if path.parent.name in parsers else None
        matches = [
            i
            for i, doc in enumerate(result)
            if doc.filename == path.name and (provider is None or doc.provider == provider)
        ]
        if len(matches) != 1:
            where = f"{provider}/{path.name}" if provider else path.name
            reason = "matches no committed source" if not matches else "is ambiguous"
            raise DeriveError(f"--source {raw}: {where} {reason}")
        committed = result[matches[0]]
        result[matches[0]] = SourceDocument(
            committed.provider, committed.filename, path.read_bytes(), path
        )
    return result


def read_manifest(path: Path) -> dict[str, str]:
    """``sha256sum`` lines -> {relative path: hex digest}; a missing file is empty."""
    if not path.exists():
        return {}
    entries: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        digest, _, name = line.partition("  ")
        if len(digest) != 64 or not name:
            raise DeriveError(f"{path}:{number}: not a 'sha256  path' line: {line!r}")
        entries[name.lstrip("*")] = digest
    return entries


def format_manifest(entries: dict[str, str]) -> str:
    """Sorted ``sha256sum`` text (two spaces, paths relative to sources/)."""
    return "".join(f"{digest}  {name}\n" for name, digest in sorted(entries.items()))


def manifest_problems(root: Path, documents: list[SourceDocument]) -> list[str]:
    """Differences between the committed sources and ``MANIFEST.sha256``."""
    entries = read_manifest(root / "sources" / MANIFEST)
    problems: list[str] = []
    seen: set[str] = set()
    for doc in documents:
        name = f"{doc.provider}/{doc.filename}"
        seen.add(name)
        actual = hashlib.sha256(doc.origin.read_bytes()).hexdigest()  # committed bytes
        if name not in entries:
            problems.append(f"sources/{name}: not listed in {MANIFEST}")
        elif entries[name] != actual:
            problems.append(
                f"sources/{name}: sha256 {actual} differs from {MANIFEST} ({entries[name]})"
            )
    for name in sorted(set(entries) - seen):
        problems.append(f"sources/{name}: listed in {MANIFEST} but missing")
    return problems


# --------------------------------------------------------------------------
# Deriving and comparing
# --------------------------------------------------------------------------


def derive_all(documents: list[SourceDocument], parsers: Parsers) -> list[Derived]:
    """Derive every document; a failure names the document it came from."""
    derived: list[Derived] = []
    for doc in documents:
        try:
            contract = parsers[doc.provider](doc)
        except DeriveError as error:
            raise DeriveError(f"{doc.origin}: {error}") from error
        derived.append(Derived(doc, contract, dump_contract(contract)))
    return derived


def changed_pointers(old: Any, new: Any, base: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(JSON pointer, old, new) for every leaf that differs; missing values are ``...``."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            yield from changed_pointers(old.get(key, ...), new.get(key, ...), base + pointer(key))
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            yield from changed_pointers(a, b, base + pointer(index))
    elif json.dumps(old, sort_keys=True) != json.dumps(new, sort_keys=True) or type(
        old
    ) is not type(new):
        yield base or "/", old, new


def _show(value: Any) -> str:
    if value is ...:
        return "(absent)"
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def stale_models(root: Path, derived: list[Derived], parsers: Parsers) -> list[Path]:
    """Model files with no source document any more."""
    expected = {d.target(root).resolve() for d in derived}
    stale: list[Path] = []
    for provider in parsers:
        folder = root / provider / "models"
        if folder.is_dir():
            stale.extend(p for p in sorted(folder.glob("*.json")) if p.resolve() not in expected)
    return stale


def check(root: Path, overrides: Sequence[str], stdout: TextIO, parsers: Parsers) -> int:
    """Compare derived contracts (and the manifest) with the committed files; 0 or 1."""
    documents = committed_sources(root, parsers)
    problems = manifest_problems(root, documents)
    derived = derive_all(apply_overrides(documents, overrides, parsers), parsers)
    for problem in problems:
        stdout.write(f"MANIFEST: {problem}\n")
    differing = 0
    for item in derived:
        target = item.target(root)
        name = f"{item.document.provider}/{item.document.slug}"
        if not target.exists():
            differing += 1
            stdout.write(
                f"{name}: {_display(target)} is missing (run `mockserver contracts build`)\n"
            )
            continue
        committed = target.read_text(encoding="utf-8")
        if committed == item.text:
            continue
        differing += 1
        try:
            changes = list(changed_pointers(json.loads(committed), item.contract))
        except json.JSONDecodeError:
            changes = []
            stdout.write(f"{name}: {_display(target)} is not valid JSON\n")
        for where, old, new in changes:
            stdout.write(f"{name}: {where}: {_show(old)} -> {_show(new)}\n")
        stdout.writelines(
            difflib.unified_diff(
                committed.splitlines(keepends=True),
                item.text.splitlines(keepends=True),
                fromfile=f"{_display(target)} (committed)",
                tofile=f"{_display(target)} (derived from {_display(item.document.origin)})",
            )
        )
    for path in stale_models(root, derived, parsers):
        differing += 1
        stdout.write(f"{_display(path)}: no source document for this model contract\n")
    if problems or differing:
        stdout.write(
            f"contracts check: FAILED ({differing} model contract(s) differ, "
            f"{len(problems)} manifest problem(s))\n"
        )
        return 1
    stdout.write(f"contracts check: OK ({len(derived)} model contracts match their documents)\n")
    return 0


def build(root: Path, overrides: Sequence[str], stdout: TextIO, parsers: Parsers) -> int:
    """Write every model contract; update the manifest for new or deleted documents only."""
    documents = committed_sources(root, parsers)
    manifest_path = root / "sources" / MANIFEST
    entries = read_manifest(manifest_path)
    edited = [
        p for p in manifest_problems(root, documents) if "differs from" in p
    ]  # new/deleted documents are handled below; edited ones are refused
    if edited:
        raise DeriveError(
            "; ".join(edited) + ". `build` does not bless an edited source: restore it, or, "
            f"if the provider's page really changed, update its line in sources/{MANIFEST} "
            "by hand (sha256sum) and build again"
        )
    derived = derive_all(apply_overrides(documents, overrides, parsers), parsers)  # all or nothing
    written = 0
    for item in derived:
        target = item.target(root)
        old = target.read_text(encoding="utf-8") if target.exists() else None
        if old == item.text:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(item.text, encoding="utf-8", newline="\n")
        written += 1
        stdout.write(f"{'wrote' if old is None else 'updated'} {_display(target)}\n")
    for path in stale_models(root, derived, parsers):
        path.unlink()
        stdout.write(f"removed {_display(path)} (no source document)\n")
    wanted = {
        f"{d.provider}/{d.filename}": hashlib.sha256(d.origin.read_bytes()).hexdigest()
        for d in documents
    }
    # Existing lines are kept as they are (verified equal above); only new
    # documents are added and deleted ones dropped.
    updated = {name: entries.get(name, digest) for name, digest in wanted.items()}
    if updated != entries or not manifest_path.exists():
        for name in sorted(set(updated) - set(entries)):
            stdout.write(f"{MANIFEST}: added sources/{name}\n")
        for name in sorted(set(entries) - set(updated)):
            stdout.write(f"{MANIFEST}: dropped sources/{name} (file deleted)\n")
        manifest_path.write_text(format_manifest(updated), encoding="utf-8", newline="\n")
    stdout.write(f"contracts build: {len(derived)} model contracts, {written} changed\n")
    return 0


def _update_targets(
    root: Path, files: Sequence[str], provider: str | None, parsers: Parsers
) -> list[tuple[Path, str]]:
    """(document, provider folder) for each FILE of ``contracts update``."""
    committed = committed_sources(root, parsers)
    targets: list[tuple[Path, str]] = []
    for raw in files:
        path = Path(raw)
        if not path.is_file():
            raise DeriveError(f"{raw}: no such file")
        if path.suffix != ".txt":
            raise DeriveError(f"{raw}: provider documents are .txt files")
        folder = provider
        if folder is None and path.parent.name in parsers:
            folder = path.parent.name
        if folder is None:
            owners = sorted({d.provider for d in committed if d.filename == path.name})
            if len(owners) != 1:
                raise DeriveError(
                    f"{raw}: cannot tell its provider (its folder is not one of "
                    f"{', '.join(parsers)}"
                    + (f" and {len(owners)} providers have that file name" if owners else "")
                    + "); pass --provider"
                )
            folder = owners[0]
        targets.append((path, folder))
    names = [f"{folder}/{path.name}" for path, folder in targets]
    if len(set(names)) != len(names):
        raise DeriveError("two FILEs would become the same document: " + ", ".join(names))
    return targets


def update(
    root: Path, files: Sequence[str], provider: str | None, stdout: TextIO, parsers: Parsers
) -> int:
    """Accept changed or new documents: copy, set manifest lines, rebuild, print the diff."""
    targets = _update_targets(root, files, provider, parsers)
    documents = committed_sources(root, parsers)
    accepted = {f"{folder}/{path.name}" for path, folder in targets}
    others = [
        p for p in manifest_problems(root, documents)
        if "differs from" in p and p.split(":")[0].removeprefix("sources/") not in accepted
    ]
    if others:
        raise DeriveError(
            "; ".join(others) + ". Name those documents too (`contracts update FILE...`) "
            "or restore them"
        )
    # Derive everything in memory first: a document that does not parse changes nothing.
    by_name = {f"{d.provider}/{d.filename}": i for i, d in enumerate(documents)}
    for path, folder in targets:
        doc = SourceDocument(folder, path.name, path.read_bytes(), path)
        index = by_name.get(f"{folder}/{path.name}")
        if index is None:
            documents.append(doc)
        else:
            documents[index] = doc
    derived = derive_all(documents, parsers)
    before = {
        item.target(root): item.target(root).read_text(encoding="utf-8")
        for item in derived
        if item.target(root).exists()
    }
    for path, folder in targets:
        destination = root / "sources" / folder / path.name
        destination.parent.mkdir(parents=True, exist_ok=True)
        existed = destination.exists()
        if not existed or destination.resolve() != path.resolve():
            shutil.copyfile(path, destination)
        stdout.write(f"{'replaced' if existed else 'added'} sources/{folder}/{path.name}\n")
    manifest_path = root / "sources" / MANIFEST
    entries = read_manifest(manifest_path)
    for path, folder in targets:
        entries[f"{folder}/{path.name}"] = hashlib.sha256(path.read_bytes()).hexdigest()
    manifest_path.write_text(format_manifest(entries), encoding="utf-8", newline="\n")
    stdout.write(f"{MANIFEST}: {len(targets)} line(s) set\n")
    build(root, (), stdout, parsers)
    _print_review(root, derived, before, stdout)
    return 0


def _print_review(
    root: Path, derived: list[Derived], before: dict[Path, str], stdout: TextIO
) -> None:
    """What changed in each model contract: one line per field, then the unified diff."""
    changed = 0
    for item in derived:
        target = item.target(root)
        name = f"{item.document.provider}/{item.document.slug}"
        old = before.get(target)
        if old == item.text:
            continue
        changed += 1
        if old is None:
            stdout.write(f"\n{name}: NEW model contract {_display(target)}\n")
            old_lines: list[str] = []
        else:
            stdout.write(f"\n{name}: changed fields\n")
            for where, was, now in changed_pointers(json.loads(old), item.contract):
                stdout.write(f"  {where}: {_show(was)} -> {_show(now)}\n")
            old_lines = old.splitlines(keepends=True)
        stdout.writelines(
            difflib.unified_diff(
                old_lines,
                item.text.splitlines(keepends=True),
                fromfile=f"{_display(target)} (before)",
                tofile=f"{_display(target)} (after)",
            )
        )
    stdout.write(
        f"\ncontracts update: {changed} model contract(s) changed; review the diff above, "
        "then commit sources/, MANIFEST.sha256 and the model contracts together\n"
    )


def resolve_root(given: str | None) -> Path:
    """The contracts folder: ``--root``, ``$MOCKSERVER_CONTRACTS``, ``./contracts``, bundled."""
    if given:
        return Path(given)
    if os.environ.get("MOCKSERVER_CONTRACTS"):
        return contracts_root()
    local = Path("contracts")
    if (local / "sources").is_dir():
        return local
    return contracts_root()


def run_contracts(
    arguments: argparse.Namespace, stdout: TextIO, stderr: TextIO, parsers: Parsers
) -> int:
    """Entry point of ``mockserver contracts build|check|update`` (called by ``mockserver.cli``)."""
    root = resolve_root(arguments.root)
    command = arguments.contracts_command
    try:
        if command == "build":
            return build(root, arguments.source or (), stdout, parsers)
        if command == "check":
            return check(root, arguments.source or (), stdout, parsers)
        if command == "update":
            return update(root, arguments.files, arguments.provider, stdout, parsers)
    except (DeriveError, OSError) as error:
        stderr.write(f"mockserver contracts {command}: error: {error}\n")
        return 2
    stderr.write(f"unknown contracts command {command!r}\n")
    return 2
