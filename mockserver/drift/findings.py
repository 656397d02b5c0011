"""The data every drift source produces: severities, findings and reports.

Three sources (documents, a live API, recorded traffic) report in one shape so
one renderer, one exit-code convention and one alert serve them all.

Severities, most serious first:

``breaking``
    a client written against the contract can fail: a field removed or
    renamed, a new required field, an enum narrowed, a type changed, a range
    tightened, an endpoint, auth, status word, error transport or envelope
    changed.
``behaviour``
    the same calls still work but do something else: a default, a price, a
    processing time, a model version changed.
``non-breaking``
    informational: an optional field added, an enum widened, a range
    loosened, an undeclared extra field in a response.

The exit-code threshold (``--fail-on``) is documented in :mod:`.command`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "FAIL_ON",
    "SEVERITIES",
    "Finding",
    "Report",
    "Severity",
    "failing",
    "severity_counts",
]

Severity = Literal["breaking", "behaviour", "non-breaking"]

#: Most serious first; renderers sort by this order.
SEVERITIES: tuple[Severity, ...] = ("breaking", "behaviour", "non-breaking")

#: ``--fail-on`` value -> the severities that make the exit code 1.
FAIL_ON: Mapping[str, frozenset[str]] = {
    "breaking": frozenset({"breaking"}),
    "behaviour": frozenset({"breaking", "behaviour"}),
    "any": frozenset(SEVERITIES),
}


@dataclass(frozen=True)
class Finding:
    """One difference between what the contract says and what was observed.

    ``pointer`` is a JSON pointer: into the model contract for document drift,
    into the response body (or webhook payload) for live and recorded drift.
    ``before`` is what the contract says, ``after`` what was seen. ``subject``
    names the thing that was checked (a model, a probe, a recording) so the
    JUnit report can group findings into test cases. ``provenance`` is the tag
    of the contract fact that was contradicted (``[SEED] ...``, ``[GUESS]
    ...``), when known: a [GUESS] disagreeing with the live API is news, a
    [SEED] promise broken is drift.
    """

    rule: str
    severity: Severity
    source: str
    provider: str
    subject: str
    pointer: str
    before: Any
    after: Any
    message: str
    model: str | None = None
    location: str | None = None
    provenance: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stable key order)."""
        return {
            "rule": self.rule,
            "severity": self.severity,
            "source": self.source,
            "provider": self.provider,
            "model": self.model,
            "subject": self.subject,
            "pointer": self.pointer,
            "before": self.before,
            "after": self.after,
            "message": self.message,
            "location": self.location,
            "provenance": self.provenance,
        }

    def sort_key(self) -> tuple[int, str, str, str, str, str]:
        """Severity first, then where, then which rule."""
        return (
            SEVERITIES.index(self.severity),
            self.provider,
            self.model or "",
            self.subject,
            self.pointer,
            self.rule,
        )


@dataclass
class Report:
    """The outcome of one ``mockserver drift <source>`` run.

    ``subjects`` lists everything that was checked, with or without findings
    (models, probes, recordings), in the order checked; ``skipped`` maps a
    subject to why it could not be checked; ``errors`` are problems that
    stopped part of the run (they make the exit code 2).
    """

    source: str
    findings: list[Finding] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add_subject(self, subject: str) -> None:
        """Remember that ``subject`` was checked (once)."""
        if subject not in self.subjects:
            self.subjects.append(subject)

    def extend(self, findings: Iterable[Finding]) -> None:
        """Add findings, skipping exact duplicates (the same rule at the same place)."""
        seen = {(f.rule, f.subject, f.pointer, repr(f.after)) for f in self.findings}
        for finding in findings:
            key = (finding.rule, finding.subject, finding.pointer, repr(finding.after))
            if key not in seen:
                seen.add(key)
                self.findings.append(finding)
                self.add_subject(finding.subject)

    def sorted_findings(self) -> list[Finding]:
        """Findings, most serious first."""
        return sorted(self.findings, key=Finding.sort_key)

    def exit_code(self, fail_on: str) -> int:
        """0 no drift at the threshold, 1 drift, 2 could not run (errors win)."""
        if self.errors:
            return 2
        return 1 if failing(self.findings, fail_on) else 0


def failing(findings: Iterable[Finding], fail_on: str) -> list[Finding]:
    """The findings at or above the ``--fail-on`` threshold."""
    levels = FAIL_ON[fail_on]
    return [f for f in findings if f.severity in levels]


def severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    """{severity: count} with every severity present (zeros included)."""
    counts: dict[str, int] = dict.fromkeys(SEVERITIES, 0)
    for finding in findings:
        counts[finding.severity] += 1
    return counts
