"""`mockserver contracts build|check` end to end, through `mockserver.cli.run`."""

from __future__ import annotations

import io
import json
from pathlib import Path

from mockserver.cli import run

REPO = Path(__file__).resolve().parents[2]
CONTRACTS = REPO / "contracts"
WAN25 = "eachlabs/wan-2-5-preview-image-to-video"
WAN25_FILE = "eachlabs/models/wan-2-5-preview-image-to-video.json"


def cli(*argv: str) -> tuple[int, str, str]:
    """Run the command line in-process; (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def copy_contracts(target: Path, *, models: bool = True) -> Path:
    """Writable copy of the sources (and generated models) under ``target``.

    Copied file by file: the committed source folders are read-only and
    shutil.copytree would carry that mode over.
    """
    patterns = ["sources/**/*"] + (["*/models/*.json"] if models else [])
    for pattern in patterns:
        for path in CONTRACTS.glob(pattern):
            if path.is_file():
                destination = target / path.relative_to(CONTRACTS)
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(path.read_bytes())
    return target


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.glob("*/models/*.json")}


def test_committed_contracts_are_up_to_date() -> None:
    code, out, err = cli("contracts", "check", "--root", str(CONTRACTS))
    assert (code, err) == (0, ""), out
    assert "OK (5 model contracts" in out


def test_build_is_deterministic_and_equals_committed(tmp_path: Path) -> None:
    root = copy_contracts(tmp_path / "contracts", models=False)
    assert cli("contracts", "build", "--root", str(root))[0] == 0
    first = snapshot(root)
    code, out, _ = cli("contracts", "build", "--root", str(root))
    assert code == 0
    assert "0 changed" in out
    assert snapshot(root) == first
    assert first == snapshot(CONTRACTS)
    for text in first.values():
        assert text.endswith(b"}\n")
        canonical = json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False)
        assert canonical + "\n" == text.decode("utf-8")


def edited_copy(tmp_path: Path, old: str, new: str, folder: str = "eachlabs") -> Path:
    source = CONTRACTS / "sources" / f"{WAN25}.txt"
    copy = tmp_path / "edited" / folder / source.name
    copy.parent.mkdir(parents=True)
    text = source.read_text(encoding="utf-8")
    assert text.count(old) == 1
    copy.write_text(text.replace(old, new), encoding="utf-8")
    return copy


def test_one_edited_limit_changes_only_that_model(tmp_path: Path) -> None:
    root = copy_contracts(tmp_path / "contracts")
    before = snapshot(root)
    copy = edited_copy(tmp_path, "Max 800 characters", "Max 900 characters")

    code, out, err = cli("contracts", "check", "--root", str(root), "--source", str(copy))
    assert code == 1, err
    assert f"{WAN25}: /input_schema/properties/prompt/maxLength: 800 -> 900" in out
    assert '-        "maxLength": 800,' in out
    assert '+        "maxLength": 900,' in out

    code, out, err = cli("contracts", "build", "--root", str(root), "--source", str(copy))
    assert (code, err) == (0, "")
    after = snapshot(root)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {WAN25_FILE}
    old, new = json.loads(before[WAN25_FILE]), json.loads(after[WAN25_FILE])
    assert new["input_schema"]["properties"]["prompt"]["maxLength"] == 900
    prompt, old_prompt = (
        new["input_schema"]["properties"]["prompt"],
        old["input_schema"]["properties"]["prompt"],
    )
    assert prompt["maxLength"] == 900
    prompt["maxLength"] = 800
    prompt["description"] = old_prompt["description"]  # the edited sentence itself
    new["source"]["sha256"] = old["source"]["sha256"]
    new["provenance"] = old["provenance"]
    assert new == old  # nothing else in that model moved
    # The committed source and its manifest were not touched by --source.
    assert (root / "sources" / "MANIFEST.sha256").read_bytes() == (
        CONTRACTS / "sources" / "MANIFEST.sha256"
    ).read_bytes()


def test_source_outside_a_provider_folder_matches_by_file_name(tmp_path: Path) -> None:
    copy = edited_copy(tmp_path, "Max 500 characters", "Max 400 characters", folder="anywhere")
    code, out, _ = cli("contracts", "check", "--root", str(CONTRACTS), "--source", str(copy))
    assert code == 1
    assert f"{WAN25}: /input_schema/properties/negative_prompt/maxLength: 500 -> 400" in out


def test_missing_source_is_an_error() -> None:
    code, _, err = cli("contracts", "check", "--source", "/nonexistent/eachlabs/x.txt")
    assert code == 2
    assert "no such file" in err


def test_source_matching_nothing_is_an_error(tmp_path: Path) -> None:
    stray = tmp_path / "wavespeed" / "wan-2-5-preview-image-to-video.txt"
    stray.parent.mkdir()
    stray.write_text("x")
    code, _, err = cli("contracts", "check", "--source", str(stray))
    assert code == 2
    assert "matches no committed source" in err


def test_unparsable_document_is_an_error_naming_it(tmp_path: Path) -> None:
    copy = edited_copy(tmp_path, "| Constraints |", "| Limits |")
    for command in ("check", "build"):
        root = copy_contracts(tmp_path / command)
        before = snapshot(root)
        code, _, err = cli("contracts", command, "--root", str(root), "--source", str(copy))
        assert code == 2
        assert copy.name in err and "header" in err
        assert snapshot(root) == before  # all or nothing


def test_edited_committed_source_fails_the_manifest(tmp_path: Path) -> None:
    root = copy_contracts(tmp_path / "contracts")
    source = root / "sources" / "wavespeed" / "wan-2.2-image-to-video.txt"
    source.write_bytes(source.read_bytes().replace(b"-1 ~ 2147483647", b"-1 ~ 99"))

    code, out, _ = cli("contracts", "check", "--root", str(root))
    assert code == 1
    assert "MANIFEST: sources/wavespeed/wan-2.2-image-to-video.txt: sha256" in out
    assert "wavespeed/wan-2.2-image-to-video: /input_schema/properties/seed/maximum" in out

    before = snapshot(root)
    code, _, err = cli("contracts", "build", "--root", str(root))
    assert code == 2
    assert "does not bless an edited source" in err
    assert snapshot(root) == before


def test_build_adds_new_documents_to_the_manifest(tmp_path: Path) -> None:
    root = copy_contracts(tmp_path / "contracts")
    original = CONTRACTS / "sources" / f"{WAN25}.txt"
    new = root / "sources" / "eachlabs" / "copy-of-wan.txt"
    new.write_bytes(original.read_bytes())
    code, out, _ = cli("contracts", "check", "--root", str(root))
    assert code == 1
    assert "copy-of-wan.txt: not listed in MANIFEST.sha256" in out

    code, out, _ = cli("contracts", "build", "--root", str(root))
    assert code == 0
    assert "MANIFEST.sha256: added sources/eachlabs/copy-of-wan.txt" in out
    assert (root / "eachlabs" / "models" / "copy-of-wan.json").exists()
    assert cli("contracts", "check", "--root", str(root))[0] == 0


def test_missing_and_stale_model_files(tmp_path: Path) -> None:
    root = copy_contracts(tmp_path / "contracts")
    (root / "eachlabs" / "models" / "alibaba-wan-2-7-image-to-video.json").unlink()
    stale = root / "wavespeed" / "models" / "gone.json"
    stale.write_text("{}\n")
    code, out, _ = cli("contracts", "check", "--root", str(root))
    assert code == 1
    assert "alibaba-wan-2-7-image-to-video.json is missing" in out
    assert "gone.json: no source document" in out
    assert cli("contracts", "build", "--root", str(root))[0] == 0
    assert not stale.exists()
    assert snapshot(root) == snapshot(CONTRACTS)
