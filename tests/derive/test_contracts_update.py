"""`mockserver contracts update FILE...`: a changed or new provider document is one command.

Run as a user runs it: the console script in a subprocess, inside a folder
holding its own copy of ``contracts/`` (found without ``--root`` or an
environment variable), then ``mockserver contracts check`` must pass.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from test_derive_command import CONTRACTS, WAN25, WAN25_FILE, copy_contracts

MOCKSERVER = str(Path(sys.executable).with_name("mockserver"))


def mockserver(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MOCKSERVER_CONTRACTS"}
    return subprocess.run(
        [MOCKSERVER, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def manifest(root: Path) -> dict[str, str]:
    lines = (root / "sources" / "MANIFEST.sha256").read_text().splitlines()
    return {line.split("  ")[1]: line.split("  ")[0] for line in lines if line}


def test_a_changed_document_is_accepted_with_one_command(tmp_path: Path) -> None:
    root = copy_contracts(tmp_path / "contracts")
    source = CONTRACTS / "sources" / f"{WAN25}.txt"
    edited = tmp_path / "downloads" / source.name  # not in a provider folder: matched by name
    edited.parent.mkdir()
    edited.write_text(
        source.read_text(encoding="utf-8").replace("Max 800 characters", "Max 900 characters"),
        encoding="utf-8",
    )

    result = mockserver(tmp_path, "contracts", "update", str(edited))
    assert result.returncode == 0, result.stderr
    assert f"replaced sources/{WAN25}.txt" in result.stdout
    assert f"{WAN25}: changed fields" in result.stdout
    assert "/input_schema/properties/prompt/maxLength: 800 -> 900" in result.stdout
    assert '+        "maxLength": 900,' in result.stdout  # the unified diff to review
    assert (root / "sources" / f"{WAN25}.txt").read_bytes() == edited.read_bytes()
    assert manifest(root)[f"{WAN25}.txt"] == hashlib.sha256(edited.read_bytes()).hexdigest()
    model = json.loads((root / WAN25_FILE).read_text())
    assert model["input_schema"]["properties"]["prompt"]["maxLength"] == 900

    check = mockserver(tmp_path, "contracts", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "contracts check: OK" in check.stdout
    # The bundled contracts were not the ones checked or touched.
    assert (CONTRACTS / WAN25_FILE).read_text() != (root / WAN25_FILE).read_text()


def test_a_new_document_is_added_with_one_command(tmp_path: Path) -> None:
    root = copy_contracts(tmp_path / "contracts")
    source = CONTRACTS / "sources" / f"{WAN25}.txt"
    new = tmp_path / "eachlabs" / "wan-2-5-preview-copy.txt"  # the folder names the provider
    new.parent.mkdir()
    new.write_bytes(source.read_bytes())

    result = mockserver(tmp_path, "contracts", "update", str(new))
    assert result.returncode == 0, result.stderr
    assert "added sources/eachlabs/wan-2-5-preview-copy.txt" in result.stdout
    assert "eachlabs/wan-2-5-preview-copy: NEW model contract" in result.stdout
    assert (root / "eachlabs" / "models" / "wan-2-5-preview-copy.json").is_file()
    assert "eachlabs/wan-2-5-preview-copy.txt" in manifest(root)

    check = mockserver(tmp_path, "contracts", "check")
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_document_that_does_not_derive_changes_nothing(tmp_path: Path) -> None:
    root = copy_contracts(tmp_path / "contracts")
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    broken = tmp_path / "eachlabs" / "broken.txt"
    broken.parent.mkdir()
    broken.write_text("not a provider page\n")

    result = mockserver(tmp_path, "contracts", "update", str(broken))
    assert result.returncode == 2
    assert result.stderr.startswith("mockserver contracts update: error: ")
    assert "Traceback" not in result.stderr
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


def test_a_document_of_unknown_provider_asks_for_provider(tmp_path: Path) -> None:
    copy_contracts(tmp_path / "contracts")
    stray = tmp_path / "new-model.txt"
    stray.write_text("x\n")
    result = mockserver(tmp_path, "contracts", "update", str(stray))
    assert result.returncode == 2
    assert "pass --provider" in result.stderr
