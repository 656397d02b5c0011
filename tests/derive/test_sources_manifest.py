"""contracts/sources/MANIFEST.sha256 matches the committed documents byte for byte."""

from __future__ import annotations

import hashlib
from pathlib import Path

from mockserver.providers import registry

SOURCES = Path(__file__).resolve().parents[2] / "contracts" / "sources"


def manifest() -> dict[str, str]:
    lines = (SOURCES / "MANIFEST.sha256").read_text(encoding="utf-8").splitlines()
    entries = {}
    for line in lines:
        digest, separator, name = line.partition("  ")
        assert separator and len(digest) == 64, f"not a sha256sum line: {line!r}"
        entries[name] = digest
    assert list(entries) == sorted(entries), "manifest lines are sorted by path"
    return entries


def test_manifest_lists_every_source_with_its_sha256() -> None:
    files = {
        p.relative_to(SOURCES).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in SOURCES.glob("*/*.txt")
    }
    assert manifest() == files


def test_deriver_sees_no_manifest_problem() -> None:
    from mockserver.derive.command import committed_sources, manifest_problems

    root = SOURCES.parent
    assert manifest_problems(root, committed_sources(root, registry.document_parsers())) == []
