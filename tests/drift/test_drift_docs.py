"""``mockserver drift docs``: edited copies of the documents, each edit classified by its rule."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from mockserver.cli import run
from mockserver.drift.findings import FAIL_ON
from mockserver.drift.receiver import Receiver

REPO = Path(__file__).resolve().parents[2]
SOURCES = REPO / "contracts" / "sources"
EACHLABS = "eachlabs/wan-2-5-preview-image-to-video.txt"

RESOLUTION_ROW = (
    "| resolution | string | No | 720p | 480p,720p,1080p | Video resolution. "
    "Valid values: 480p, 720p, 1080p |"
)
SEED_ROW = (
    "| seed | integer | No | - | - | Random seed for reproducibility. If None, a random seed "
    "is chosen. |"
)


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def _copy(tmp_path: Path, name: str, edit: Callable[[str], str]) -> Path:
    """An edited copy of a committed document, in a folder named after its provider."""
    text = (SOURCES / name).read_text(encoding="utf-8")
    edited = edit(text)
    assert edited != text, "the edit did not apply"
    target = tmp_path / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(edited, encoding="utf-8")
    return target


def _json_report(*argv: str) -> tuple[int, dict[str, object]]:
    code, out, _ = _cli("drift", "docs", *argv, "--format", "json")
    return code, json.loads(out)


def _findings(report: dict[str, object]) -> list[dict[str, object]]:
    findings = report["findings"]
    assert isinstance(findings, list)
    return findings


def test_committed_documents_have_no_drift() -> None:
    code, report = _json_report()
    assert code == 0
    assert _findings(report) == []
    assert len(report["subjects"]) == 5  # type: ignore[arg-type]


def test_narrowed_enum_is_breaking_and_fails(tmp_path: Path) -> None:
    copy = _copy(
        tmp_path,
        EACHLABS,
        lambda t: t.replace(
            RESOLUTION_ROW,
            "| resolution | string | No | 720p | 480p,720p | Video resolution. "
            "Valid values: 480p, 720p |",
        ),
    )
    code, report = _json_report(str(copy))
    assert code == 1
    [finding] = _findings(report)
    assert finding["rule"] == "request-enum-narrowed"
    assert finding["severity"] == "breaking"
    assert finding["provider"] == "eachlabs"
    assert finding["model"] == "wan-2-5-preview-image-to-video"
    assert finding["pointer"] == "/input_schema/properties/resolution/enum"
    assert finding["before"] == ["480p", "720p", "1080p"]
    assert finding["after"] == ["480p", "720p"]
    assert "1080p" in str(finding["message"])
    assert str(finding["provenance"]).startswith("[SEED]")


def test_new_optional_parameter_is_reported_but_does_not_fail(tmp_path: Path) -> None:
    copy = _copy(
        tmp_path,
        EACHLABS,
        lambda t: t.replace(
            SEED_ROW, SEED_ROW + " | watermark | boolean | No | false | - | Add a watermark. |"
        ),
    )
    code, report = _json_report(str(copy))
    assert code == 0, report
    [finding] = _findings(report)
    assert finding["rule"] == "request-property-added-optional"
    assert finding["severity"] == "non-breaking"
    assert finding["pointer"] == "/input_schema/properties/watermark"
    # Non-breaking findings fail only when asked to.
    code, _ = _json_report(str(copy), "--fail-on", "any")
    assert code == 1
    code, _ = _json_report(str(copy), "--fail-on", "breaking")
    assert code == 0


EDITS: list[tuple[str, Callable[[str], str], str, str, str]] = [
    (
        "new required parameter",
        lambda t: t.replace(SEED_ROW, SEED_ROW + " | style | string | Yes | - | - | Style. |"),
        "request-property-added-required",
        "breaking",
        "/input_schema/properties/style",
    ),
    (
        "parameter removed",
        lambda t: t.replace(SEED_ROW, ""),
        "request-property-removed",
        "breaking",
        "/input_schema/properties/seed",
    ),
    (
        "type changed",
        lambda t: t.replace("| seed | integer |", "| seed | string |"),
        "request-type-changed",
        "breaking",
        "/input_schema/properties/seed/type",
    ),
    (
        "maxLength down",
        lambda t: t.replace(
            "desired video motion. Max 800 characters.", "desired video motion. Max 400 characters."
        ),
        "request-range-tightened",
        "breaking",
        "/input_schema/properties/prompt/maxLength",
    ),
    (
        "maxLength up",
        lambda t: t.replace(
            "desired video motion. Max 800 characters.", "desired video motion. Max 900 characters."
        ),
        "request-range-loosened",
        "non-breaking",
        "/input_schema/properties/prompt/maxLength",
    ),
    (
        "enum widened",
        lambda t: t.replace(
            RESOLUTION_ROW,
            "| resolution | string | No | 720p | 480p,720p,1080p,4k | Video resolution. "
            "Valid values: 480p, 720p, 1080p, 4k |",
        ),
        "request-enum-widened",
        "non-breaking",
        "/input_schema/properties/resolution/enum",
    ),
    (
        "default changed",
        lambda t: t.replace(
            RESOLUTION_ROW,
            RESOLUTION_ROW.replace("| No | 720p |", "| No | 480p |"),
        ),
        "default-changed",
        "behaviour",
        "/input_schema/properties/resolution/default",
    ),
    (
        "price changed",
        lambda t: t.replace(
            '| resolution eq_i "720p" | 720p pricing: $0.10/second |',
            '| resolution eq_i "720p" | 720p pricing: $0.12/second |',
        ),
        "price-changed",
        "behaviour",
        "/pricing/rules/1/unit_price",
    ),
    (
        "processing time changed",
        lambda t: t.replace(
            "**Estimated Processing Time:** 60 seconds", "**Estimated Processing Time:** 90 seconds"
        ),
        "processing-time-changed",
        "behaviour",
        "/estimated_processing_seconds",
    ),
    (
        "auth header gone",
        lambda t: t.replace("X-API-Key", "X-Access-Token"),
        "auth-changed",
        "breaking",
        "/auth",
    ),
]


@pytest.mark.parametrize(
    ("edit", "rule", "severity", "pointer"),
    [e[1:] for e in EDITS],
    ids=[e[0] for e in EDITS],
)
def test_each_edit_is_classified(
    tmp_path: Path, edit: Callable[[str], str], rule: str, severity: str, pointer: str
) -> None:
    copy = _copy(tmp_path, EACHLABS, edit)
    code, report = _json_report(str(copy))
    findings = _findings(report)
    matching = [f for f in findings if f["rule"] == rule]
    assert matching, findings
    assert matching[0]["severity"] == severity
    assert matching[0]["pointer"] == pointer
    assert code == (1 if severity in FAIL_ON["behaviour"] else 0)


def test_wavespeed_price_table_change(tmp_path: Path) -> None:
    name = "wavespeed/wan-2.2-image-to-video.txt"
    text = (SOURCES / name).read_text(encoding="utf-8")
    assert "0.15" in text
    copy = _copy(tmp_path, name, lambda t: t.replace("0.15", "0.18", 1))
    code, report = _json_report(str(copy))
    rules = {f["rule"] for f in _findings(report)}
    assert "price-changed" in rules
    assert code == 1


def test_unmatched_file_cannot_run(tmp_path: Path) -> None:
    stray = tmp_path / "eachlabs" / "no-such-model.txt"
    stray.parent.mkdir()
    stray.write_text("nothing", encoding="utf-8")
    code, out, _ = _cli("drift", "docs", str(stray))
    assert code == 2
    assert "matches no committed source" in out


def test_every_format_and_extra_reports(tmp_path: Path) -> None:
    copy = _copy(
        tmp_path,
        EACHLABS,
        lambda t: t.replace(RESOLUTION_ROW, RESOLUTION_ROW.replace("480p,720p,1080p", "480p,720p")),
    )
    outputs = {fmt: tmp_path / f"report.{fmt}" for fmt in ("json", "junit", "markdown", "table")}
    code, out, _ = _cli(
        "drift",
        "docs",
        str(copy),
        *[arg for fmt, path in outputs.items() for arg in ("--report", f"{fmt}={path}")],
    )
    assert code == 1
    assert "request-enum-narrowed" in out  # the table on stdout
    assert json.loads(outputs["json"].read_text())["exit_code"] == 1
    suite = ET.parse(outputs["junit"]).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1" and suite.get("tests") == "5"
    failure = suite.find(".//failure")
    assert failure is not None and failure.get("message") == "request-enum-narrowed"
    markdown = outputs["markdown"].read_text()
    assert "| breaking | 1 |" in markdown and "`request-enum-narrowed`" in markdown
    assert "request-enum-narrowed" in outputs["table"].read_text()


def test_bad_report_option_cannot_run() -> None:
    code, _, err = _cli("drift", "docs", "--report", "pdf=x.pdf")
    assert code == 2 and "FORMAT=FILE" in err


def test_alert_posted_when_drift_found(tmp_path: Path) -> None:
    copy = _copy(
        tmp_path,
        EACHLABS,
        lambda t: t.replace(RESOLUTION_ROW, RESOLUTION_ROW.replace("480p,720p,1080p", "480p,720p")),
    )
    with Receiver() as receiver:
        hook = receiver.url + "/services/T000/B000/SECRETPART"
        code, out, err = _cli("drift", "docs", str(copy), "--alert-webhook", hook)
        [delivery] = receiver.wait(1, timeout=10)
        # No drift, no alert.
        code_clean, _, _ = _cli("drift", "docs", "--alert-webhook", hook)
        assert receiver.wait(2, timeout=0.5) == [delivery]
    assert code == 1 and code_clean == 0
    payload = delivery.json()
    assert set(payload) == {"text", "blocks"}
    assert "1 breaking" in payload["text"]
    assert any("request-enum-narrowed" in json.dumps(b) for b in payload["blocks"])
    assert "SECRETPART" not in out + err


def test_rules_listing() -> None:
    code, out, _ = _cli("drift", "rules", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    ids = {r["id"] for r in rows}
    assert {"request-enum-narrowed", "default-changed", "price-changed"} <= ids
    assert {r["severity"] for r in rows} == {"breaking", "behaviour", "non-breaking"}
