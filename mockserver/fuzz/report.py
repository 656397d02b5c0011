"""Render a :class:`~mockserver.fuzz.runner.FuzzResult`: readable summary and JUnit XML.

The summary is for people: a line per operation (cases, failures), then each
failure with the check that caught it, what it saw, and the curl line(s) that
reproduce it, and a last line with the throughput (``cases/s``, quoted by the
bench). The JUnit XML is for CI: one ``testsuite`` per run, one ``testcase``
per operation, one ``failure`` element per distinct failure, one ``error``
per problem that kept part of the run from happening.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from mockserver.fuzz.runner import FuzzResult

__all__ = ["render_summary", "write_junit"]


def _indent(text: str, prefix: str = "      ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def render_summary(result: FuzzResult) -> str:
    """The human-readable report of a run (ends with a newline)."""
    lines = [
        f"mockserver fuzz {result.provider}: {result.target}",
        f"seed {result.seed}, max {result.max_examples} examples per operation and phase",
    ]
    if result.spend:
        lines.extend(f"spend: {line}" for line in result.spend)
    lines.extend(f"note: {line}" for line in result.notes)
    lines.append("")
    width = max([len(label) for label in result.operations] + [9])
    lines.append(f"  {'operation'.ljust(width)}  {'cases':>6}  failures")
    for label in sorted(result.operations):
        op = result.operations[label]
        lines.append(f"  {label.ljust(width)}  {op.cases:>6}  {len(op.failures)}")
    for label, reason in sorted(result.skipped.items()):
        lines.append(f"  {label.ljust(width)}  {'-':>6}  skipped: {reason}")
    failures = result.failures
    if failures:
        lines.append("")
        lines.append(f"FAILURES ({len(failures)})")
        for number, failure in enumerate(failures, 1):
            seen = f" (x{failure.occurrences})" if failure.occurrences > 1 else ""
            status = "" if failure.status is None else f" -> {failure.status}"
            lines.append(
                f"  {number}. [{failure.check}] {failure.operation}: {failure.title}"
                f"{status}{seen} ({failure.phase} phase)"
            )
            if failure.message:
                lines.append(_indent(failure.message.strip()))
            if failure.curl:
                lines.append("    reproduce:")
                lines.append(_indent(failure.curl.strip()))
    if result.errors:
        lines.append("")
        lines.append(f"ERRORS ({len(result.errors)})")
        lines.extend(_indent(error.strip(), "  ") for error in result.errors)
    lines.append("")
    verdict = {0: "PASSED", 1: "FAILED", 2: "COULD NOT RUN"}[result.exit_code]
    lines.append(
        f"{verdict}: {result.cases} cases, {len(failures)} failures, "
        f"{len(result.errors)} errors in {result.elapsed:.2f} s "
        f"({result.cases_per_second:.1f} cases/s)"
    )
    return "\n".join(lines) + "\n"


def write_junit(result: FuzzResult, path: str | Path) -> None:
    """Write the JUnit XML report of ``result`` to ``path``."""
    suite = ET.Element(
        "testsuite",
        {
            "name": f"mockserver fuzz {result.provider}",
            "tests": str(len(result.operations) + len(result.skipped) + len(result.errors)),
            "failures": str(sum(1 for op in result.operations.values() if op.failures)),
            "errors": str(len(result.errors)),
            "skipped": str(len(result.skipped)),
            "time": f"{result.elapsed:.3f}",
        },
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("target", result.target),
        ("seed", str(result.seed)),
        ("max_examples", str(result.max_examples)),
        ("cases", str(result.cases)),
        ("cases_per_second", f"{result.cases_per_second:.1f}"),
    ):
        ET.SubElement(properties, "property", {"name": name, "value": value})
    for label in sorted(result.operations):
        op = result.operations[label]
        case = ET.SubElement(
            suite, "testcase", {"classname": result.provider, "name": label, "time": "0"}
        )
        ET.SubElement(case, "system-out").text = f"{op.cases} cases"
        for failure in op.failures:
            message = f"{failure.check}: {failure.title}"
            element = ET.SubElement(case, "failure", {"type": failure.check, "message": message})
            element.text = f"{failure.message}\n\nreproduce:\n{failure.curl}\n"
    for label, reason in sorted(result.skipped.items()):
        case = ET.SubElement(suite, "testcase", {"classname": result.provider, "name": label})
        ET.SubElement(case, "skipped", {"message": reason})
    for number, error in enumerate(result.errors, 1):
        case = ET.SubElement(
            suite, "testcase", {"classname": result.provider, "name": f"error {number}"}
        )
        first = error.splitlines()[0] if error else "error"
        ET.SubElement(case, "error", {"message": first}).text = error
    root = ET.Element("testsuites")
    root.append(suite)
    tree = ET.ElementTree(root)
    ET.indent(tree)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tree.write(path, encoding="utf-8", xml_declaration=True)
