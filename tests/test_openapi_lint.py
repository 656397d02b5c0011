"""The exported OpenAPI documents pass Redocly's linter (``@redocly/cli``, pinned in tools/).

The linter is an npm package the project installs with its lockfile
(``npm ci --prefix tools/openapi-lint``). Every rule of Redocly's
``recommended`` set applies except those switched off, with the reason, in
``tools/openapi-lint/redocly.yaml``; one known document contradiction is
ignored by location in ``.redocly.lint-ignore.yaml``. Locally a missing
linter skips with the install line; in CI (``CI`` set) it fails with it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from conftest import missing_tool

from mockserver.openapi import build_openapi, render_openapi
from mockserver.providers import registry

ROOT = Path(__file__).resolve().parents[1]
LINT_DIR = ROOT / "tools" / "openapi-lint"
REDOCLY = LINT_DIR / "node_modules" / ".bin" / "redocly"
INSTALL = "npm ci --prefix tools/openapi-lint"
PROVIDERS = registry.names()
CONFIG_FILES = ("redocly.yaml", ".redocly.lint-ignore.yaml")


def _require_redocly() -> Path:
    if REDOCLY.exists() and shutil.which("node"):
        return REDOCLY
    missing_tool(f"Redocly's CLI is not installed: run `{INSTALL}` (needs Node >= 20.19 and npm)")


def _lint(
    workdir: Path,
    documents: dict[str, dict[str, Any]],
    *,
    copy_config: bool = True,
    names: list[str] | None = None,
) -> dict[str, Any]:
    """Write the documents next to the committed config and lint them (or ``names``
    already there); the JSON report, merged over the documents."""
    redocly = _require_redocly()
    if copy_config:
        for name in CONFIG_FILES:
            shutil.copy(LINT_DIR / name, workdir / name)
    for name, document in documents.items():
        (workdir / name).write_text(render_openapi(document), encoding="utf-8")
    names = names or list(documents)
    env = {
        **os.environ,
        "REDOCLY_TELEMETRY": "off",  # loopback only: no usage reports
        "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true",
        "NO_COLOR": "1",
    }
    completed = subprocess.run(
        [str(redocly), "lint", "--config", "redocly.yaml", "--format", "json", *names],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    # One JSON report per document, one after the other: merge them.
    report: dict[str, Any] = {"problems": [], "totals": Counter(), "files": 0}
    decoder, text = json.JSONDecoder(), completed.stdout
    start = text.find("{")
    while start >= 0:
        part, end = decoder.raw_decode(text, start)
        report["problems"] += part["problems"]
        report["totals"].update(part["totals"])
        report["files"] += 1
        start = text.find("{", end)
    assert report["files"] == len(names), completed.stdout + completed.stderr
    report["exit_code"] = completed.returncode
    return report


def _problems(report: dict[str, Any]) -> list[str]:
    return [
        f"{p['ruleId']} {p['severity']}: {p['message']} at "
        + ", ".join(loc.get("pointer", "") for loc in p.get("location", []))
        for p in report["problems"]
        if not p.get("ignored")
    ]


def test_exported_documents_pass_redocly_lint(tmp_path: Path) -> None:
    report = _lint(tmp_path, {f"{p}.json": build_openapi(p) for p in PROVIDERS})
    assert _problems(report) == []
    assert report["totals"]["errors"] == 0 and report["totals"]["warnings"] == 0
    assert report["exit_code"] == 0
    # Every committed ignore still matches a problem: none is stale.
    ignores = yaml.safe_load((LINT_DIR / ".redocly.lint-ignore.yaml").read_text())
    (tmp_path / ".redocly.lint-ignore.yaml").unlink()
    unignored = _lint(tmp_path, {}, copy_config=False, names=list(ignores))
    found = {
        (p["ruleId"], loc["pointer"]) for p in unignored["problems"] for loc in p["location"]
    }
    for rules in ignores.values():
        for rule, pointers in rules.items():
            for pointer in pointers:
                assert (rule, pointer) in found, f"stale ignore: {rule} {pointer}"


def test_lint_catches_a_broken_example(tmp_path: Path) -> None:
    """The lint is not a no-op: an example that contradicts its schema is reported."""
    document = build_openapi("apikley")
    operation = document["paths"]["/api/v1/jobs/recordInfo"]["get"]
    media = operation["responses"]["200"]["content"]["application/json"]
    example = next(iter(media["examples"].values()))
    example["value"] = {"code": "two hundred"}
    report = _lint(tmp_path, {"apikley.json": document})
    assert any(p.startswith("no-invalid-media-type-examples") for p in _problems(report))


def test_lint_config_says_why_for_every_rule_switched_off() -> None:
    lines = (LINT_DIR / "redocly.yaml").read_text().splitlines()
    config = yaml.safe_load("\n".join(lines))
    for rule, setting in config["rules"].items():
        assert setting == "off"
        index = next(i for i, line in enumerate(lines) if line.strip().startswith(f"{rule}:"))
        assert lines[index - 1].strip().startswith("#"), f"{rule} is off without a reason"
