"""Render a drift :class:`~.findings.Report`: table, JSON, JUnit XML, Markdown, Slack.

Every renderer ends with :meth:`Redactor.text`, so no format can carry a
known secret even if one slipped into a message. Output is deterministic (no
timestamps): two runs over the same drift give the same bytes, which keeps
CI artefacts diffable.
"""

from __future__ import annotations

import json
import textwrap
from typing import Any
from xml.etree import ElementTree as ET

from mockserver.drift.findings import SEVERITIES, Finding, Report, failing, severity_counts
from mockserver.drift.redact import Redactor

__all__ = ["FORMATS", "render", "slack_payload", "summary_line"]

FORMATS = ("table", "json", "junit", "markdown")

_TITLE = {"docs": "documents", "live": "live API", "replay": "recorded traffic"}


def _value(value: Any, limit: int = 60) -> str:
    if value is None:
        return "-"
    text = (
        value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    )
    return text if len(text) <= limit else text[: limit - 3] + "..."


def summary_line(report: Report, fail_on: str) -> str:
    """One line: what was checked, counts per severity, the verdict and exit code."""
    counts = severity_counts(report.findings)
    code = report.exit_code(fail_on)
    verdict = {0: "no drift", 1: "DRIFT", 2: "COULD NOT RUN"}[code]
    parts = ", ".join(f"{counts[s]} {s}" for s in SEVERITIES)
    return (
        f"drift {report.source}: {verdict} - {len(report.subjects)} checked, "
        f"{len(report.findings)} finding(s) ({parts}); fail-on {fail_on} -> exit {code}"
    )


def _table(report: Report, fail_on: str) -> str:
    lines: list[str] = []
    findings = report.sorted_findings()
    if findings:
        header = ("SEVERITY", "RULE", "WHERE", "POINTER", "BEFORE -> AFTER")
        rows = [
            (
                f.severity,
                f.rule,
                f.subject,
                f.pointer or "/",
                f"{_value(f.before, 30)} -> {_value(f.after, 30)}",
            )
            for f in findings
        ]
        widths = [min(max(len(r[i]) for r in [header, *rows]), 48) for i in range(4)]

        def line(cells: tuple[str, ...]) -> str:
            fixed = [c.ljust(w)[: max(w, len(c))] for c, w in zip(cells[:4], widths, strict=True)]
            return "  ".join([*fixed, cells[4]]).rstrip()

        lines.append(line(header))
        for finding, row in zip(findings, rows, strict=True):
            lines.append(line(row))
            for text in textwrap.wrap(finding.message, 96):
                lines.append("    " + text)
            if finding.provenance:
                lines.append("    contract: " + _value(finding.provenance, 92))
    for subject, why in report.skipped.items():
        lines.append(f"skipped {subject}: {why}")
    for note in report.notes:
        lines.append(f"note: {note}")
    for error in report.errors:
        lines.append(f"error: {error}")
    lines.append(summary_line(report, fail_on))
    return "\n".join(lines) + "\n"


def _json(report: Report, fail_on: str) -> str:
    document = {
        "tool": "mockserver drift",
        "source": report.source,
        "fail_on": fail_on,
        "exit_code": report.exit_code(fail_on),
        "summary": {
            "checked": len(report.subjects),
            "findings": len(report.findings),
            "failing": len(failing(report.findings, fail_on)),
            "by_severity": severity_counts(report.findings),
        },
        "findings": [f.to_dict() for f in report.sorted_findings()],
        "subjects": report.subjects,
        "skipped": report.skipped,
        "notes": report.notes,
        "errors": report.errors,
    }
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False, default=str) + "\n"


def _junit(report: Report, fail_on: str) -> str:
    """One test case per checked subject; failing findings are failures, the rest system-out."""
    fails = {id(f) for f in failing(report.findings, fail_on)}
    by_subject: dict[str, list[Finding]] = {s: [] for s in report.subjects}
    for finding in report.sorted_findings():
        by_subject.setdefault(finding.subject, []).append(finding)
    suites = ET.Element("testsuites", name="mockserver drift")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=f"drift {report.source}",
        tests=str(len(by_subject) + len(report.errors)),
        failures=str(sum(1 for fs in by_subject.values() if any(id(f) in fails for f in fs))),
        errors=str(len(report.errors)),
        skipped=str(len(report.skipped)),
    )
    for subject, findings in by_subject.items():
        case = ET.SubElement(suite, "testcase", classname=f"drift.{report.source}", name=subject)
        if subject in report.skipped:
            ET.SubElement(case, "skipped", message=report.skipped[subject])
        bad = [f for f in findings if id(f) in fails]
        if bad:
            failure = ET.SubElement(
                case,
                "failure",
                message="; ".join(sorted({f.rule for f in bad})),
                type=bad[0].severity,
            )
            failure.text = "\n".join(_finding_text(f) for f in bad)
        notes = [f for f in findings if id(f) not in fails]
        if notes:
            ET.SubElement(case, "system-out").text = "\n".join(_finding_text(f) for f in notes)
    for number, error in enumerate(report.errors, 1):
        case = ET.SubElement(
            suite, "testcase", classname=f"drift.{report.source}", name=f"run-{number}"
        )
        ET.SubElement(case, "error", message=error[:200]).text = error
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )


def _finding_text(finding: Finding) -> str:
    return (
        f"[{finding.severity}] {finding.rule} {finding.pointer or '/'}: {finding.message} "
        f"(before {_value(finding.before)}, after {_value(finding.after)})"
    )


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def _markdown(report: Report, fail_on: str) -> str:
    counts = severity_counts(report.findings)
    code = report.exit_code(fail_on)
    lines = [
        f"## Drift report: {_TITLE.get(report.source, report.source)}",
        "",
        f"**{'No drift' if code == 0 else 'Drift found' if code == 1 else 'Could not run'}** "
        f"(exit {code}, fail-on `{fail_on}`): {len(report.subjects)} checked, "
        f"{len(report.findings)} finding(s).",
        "",
        "| severity | count |",
        "|---|---|",
        *(f"| {s} | {counts[s]} |" for s in SEVERITIES),
        "",
    ]
    if report.findings:
        lines += [
            "| severity | rule | provider | model / subject | pointer | before | after | message |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for f in report.sorted_findings():
            lines.append(
                "| "
                + " | ".join(
                    _cell(x)
                    for x in (
                        f.severity,
                        f"`{f.rule}`",
                        f.provider,
                        f.model or f.subject,
                        f"`{f.pointer or '/'}`",
                        _value(f.before, 40),
                        _value(f.after, 40),
                        f.message,
                    )
                )
                + " |"
            )
        lines.append("")
    for subject, why in report.skipped.items():
        lines.append(f"- skipped `{subject}`: {why}")
    for note in report.notes:
        lines.append(f"- note: {note}")
    for error in report.errors:
        lines.append(f"- **error**: {error}")
    return "\n".join(lines).rstrip() + "\n"


_RENDERERS = {"table": _table, "json": _json, "junit": _junit, "markdown": _markdown}


def render(report: Report, fmt: str, fail_on: str, redactor: Redactor | None = None) -> str:
    """The report as ``fmt`` text, with known secrets masked."""
    text = _RENDERERS[fmt](report, fail_on)
    return (redactor or Redactor()).text(text)


def slack_payload(
    report: Report, fail_on: str, redactor: Redactor | None = None, *, limit: int = 15
) -> dict[str, Any]:
    """A Slack incoming-webhook message: ``{"text", "blocks"}`` (mrkdwn sections).

    ``text`` is the fallback notification line; the blocks list the most
    serious findings first (at most ``limit``, Slack caps a section at 3000
    characters).
    """
    redactor = redactor or Redactor()
    counts = severity_counts(report.findings)
    headline = f"Drift in {_TITLE.get(report.source, report.source)}: " + ", ".join(
        f"{counts[s]} {s}" for s in SEVERITIES if counts[s]
    )
    if not report.findings:
        headline = f"Drift check of {_TITLE.get(report.source, report.source)} could not run"
    providers = sorted({f.provider for f in report.findings})
    bullets = [
        f"• *{f.severity}* `{f.rule}` {f.subject} `{f.pointer or '/'}`: {f.message}"
        for f in report.sorted_findings()[:limit]
    ]
    if len(report.findings) > limit:
        bullets.append(f"… and {len(report.findings) - limit} more (see the full report)")
    bullets += [f"• error: {e}" for e in report.errors[:5]]
    body = "\n".join(bullets)
    if len(body) > 2900:
        body = body[:2897] + "..."
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": headline[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": body or "(no details)"}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": summary_line(report, fail_on)
                    + (f" | providers: {', '.join(providers)}" if providers else ""),
                }
            ],
        },
    ]
    payload: dict[str, Any] = {"text": headline, "blocks": blocks}
    # Round-trip through the redactor as text: it masks secrets anywhere in the payload.
    cleaned: dict[str, Any] = json.loads(redactor.text(json.dumps(payload, ensure_ascii=False)))
    return cleaned
