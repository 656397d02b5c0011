"""Named drift rules, each a plain function registered with a severity.

The shape of ``schemathesis/checks.py``: a rule is a function of one context
(see :mod:`.context`) that yields :class:`Hit` objects; the decorator
:func:`rule` files it in :data:`RULES` under an id, a severity and a kind.
The runner turns hits into :class:`~.findings.Finding` objects that carry the
rule's id and severity, so a rule cannot mislabel itself.

Kinds (which context a rule receives):

``property``  one model-input property before/after (:class:`.PropertyPair`)
``model``     one model contract before/after (:class:`.ModelPair`)
``document``  the same, after the other rules ran (``changed_elsewhere`` set)
``exchange``  one response or webhook (:class:`.ExchangeContext`)
``job``       a whole paid live job (``mockserver.drift.live.JobRun``)

``mockserver drift rules`` lists them all; the README table is generated from
the same data (:func:`rule_table`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from mockserver.drift.context import (
    ExchangeContext,
    ModelPair,
    PropertyPair,
    SchemaIssue,
    Where,
    json_type,
)
from mockserver.drift.findings import SEVERITIES, Finding, Severity

__all__ = ["RULES", "Hit", "Registry", "Rule", "rule", "rule_table"]

F = TypeVar("F", bound=Callable[..., Iterable["Hit"]])

KINDS = ("property", "model", "document", "exchange", "job")


@dataclass(frozen=True)
class Hit:
    """What a rule found: where, what the contract says, what was seen, why it matters."""

    pointer: str
    before: Any
    after: Any
    message: str
    provenance: str | None = None


@dataclass(frozen=True)
class Rule:
    """A registered rule."""

    id: str
    severity: Severity
    kind: str
    summary: str
    check: Callable[[Any], Iterable[Hit]]

    def finding(self, where: Where, hit: Hit) -> Finding:
        """A finding of this rule at ``where``."""
        return Finding(
            rule=self.id,
            severity=self.severity,
            source=where.source,
            provider=where.provider,
            model=where.model,
            subject=where.subject,
            location=where.location,
            pointer=hit.pointer,
            before=hit.before,
            after=hit.after,
            message=hit.message,
            provenance=hit.provenance,
        )


class Registry:
    """Rules by id, in registration order."""

    def __init__(self) -> None:
        self._rules: dict[str, Rule] = {}

    def register(
        self, rule_id: str, severity: Severity, kind: str, summary: str
    ) -> Callable[[F], F]:
        """Decorator: file the function as rule ``rule_id``."""
        if severity not in SEVERITIES:
            raise ValueError(f"rule {rule_id}: unknown severity {severity!r}")
        if kind not in KINDS:
            raise ValueError(f"rule {rule_id}: unknown kind {kind!r}")

        def decorate(function: F) -> F:
            if rule_id in self._rules:
                raise ValueError(f"rule {rule_id!r} registered twice")
            self._rules[rule_id] = Rule(rule_id, severity, kind, summary, function)
            return function

        return decorate

    def __getitem__(self, rule_id: str) -> Rule:
        return self._rules[rule_id]

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._rules

    def all(self) -> list[Rule]:
        """Every rule, in registration order."""
        return list(self._rules.values())

    def of_kind(self, kind: str) -> list[Rule]:
        """The rules that take a context of ``kind``."""
        return [r for r in self._rules.values() if r.kind == kind]

    def run(self, kind: str, context: Any) -> list[Finding]:
        """Run every rule of ``kind`` on ``context``."""
        return [
            registered.finding(context.where, hit)
            for registered in self.of_kind(kind)
            for hit in registered.check(context)
        ]


#: The one registry.
RULES = Registry()
rule = RULES.register


def rule_table() -> list[dict[str, str]]:
    """Rules as rows (id, severity, kind, summary) for listings and docs."""
    return [
        {"id": r.id, "severity": r.severity, "kind": r.kind, "summary": r.summary}
        for r in RULES.all()
    ]


def _show(value: Any) -> str:
    if value is None:
        return "nothing"
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


# ===========================================================================
# Document drift: model-input properties
# ===========================================================================


@rule("request-property-removed", "breaking", "property", "an input property was removed")
def _property_removed(pair: PropertyPair) -> Iterator[Hit]:
    if pair.old is not None and pair.new is None:
        yield Hit(pair.pointer, dict(pair.old), None, f"input property {pair.name!r} was removed")


@rule(
    "request-property-added-required",
    "breaking",
    "property",
    "a new input property is required: existing requests lack it",
)
def _property_added_required(pair: PropertyPair) -> Iterator[Hit]:
    if pair.old is None and pair.new is not None and pair.required_after:
        yield Hit(pair.pointer, None, dict(pair.new), f"new required input property {pair.name!r}")


@rule(
    "request-property-added-optional", "non-breaking", "property", "a new optional input property"
)
def _property_added_optional(pair: PropertyPair) -> Iterator[Hit]:
    if pair.old is None and pair.new is not None and not pair.required_after:
        yield Hit(pair.pointer, None, dict(pair.new), f"new optional input property {pair.name!r}")


@rule(
    "request-property-became-required", "breaking", "property", "an optional input became required"
)
def _became_required(pair: PropertyPair) -> Iterator[Hit]:
    if pair.old is not None and pair.new is not None and pair.required_after > pair.required_before:
        yield Hit(pair.pointer, "optional", "required", f"input {pair.name!r} is now required")


@rule(
    "request-property-became-optional",
    "non-breaking",
    "property",
    "a required input became optional",
)
def _became_optional(pair: PropertyPair) -> Iterator[Hit]:
    if pair.old is not None and pair.new is not None and pair.required_before > pair.required_after:
        yield Hit(pair.pointer, "required", "optional", f"input {pair.name!r} is now optional")


def _types(schema: Mapping[str, Any]) -> set[str]:
    declared = schema.get("type")
    if declared is None:
        return set()
    found = {declared} if isinstance(declared, str) else {str(t) for t in declared}
    if "number" in found:
        found.add("integer")  # every integer is a number: integer -> number widens
    return found


@rule("request-type-changed", "breaking", "property", "an input's type changed (not a widening)")
def _type_changed(pair: PropertyPair) -> Iterator[Hit]:
    if pair.old is None or pair.new is None:
        return
    old, new = _types(pair.old), _types(pair.new)
    if old and new and not old <= new:
        yield Hit(
            pair.pointer + "/type",
            pair.old.get("type"),
            pair.new.get("type"),
            f"input {pair.name!r} changed type {_show(pair.old.get('type'))} -> "
            f"{_show(pair.new.get('type'))}",
        )
    elif not old and new:
        yield Hit(
            pair.pointer + "/type",
            None,
            pair.new.get("type"),
            f"input {pair.name!r} is now restricted to type {_show(pair.new.get('type'))}",
        )


@rule("request-type-widened", "non-breaking", "property", "an input accepts more types")
def _type_widened(pair: PropertyPair) -> Iterator[Hit]:
    if pair.old is None or pair.new is None:
        return
    old, new = _types(pair.old), _types(pair.new)
    if (old and new and old < new) or (old and not new):
        yield Hit(
            pair.pointer + "/type",
            pair.old.get("type"),
            pair.new.get("type"),
            f"input {pair.name!r} accepts more types: {_show(pair.old.get('type'))} -> "
            f"{_show(pair.new.get('type'))}",
        )


def _enum(schema: Mapping[str, Any]) -> dict[str, Any] | None:
    values = schema.get("enum")
    if values is None and "const" in schema:
        values = [schema["const"]]
    if values is None:
        return None
    return {_key(v): v for v in values}


@rule("request-enum-narrowed", "breaking", "property", "allowed input values were removed")
def _enum_narrowed(pair: PropertyPair) -> Iterator[Hit]:
    if pair.old is None or pair.new is None:
        return
    old, new = _enum(pair.old), _enum(pair.new)
    if new is None:
        return
    if old is None:
        yield Hit(
            pair.pointer + "/enum",
            None,
            list(new.values()),
            f"input {pair.name!r} is now limited to {_show(list(new.values()))}",
        )
        return
    removed = [v for k, v in old.items() if k not in new]
    if removed:
        yield Hit(
            pair.pointer + "/enum",
            list(old.values()),
            list(new.values()),
            f"input {pair.name!r} no longer accepts {_show(removed)}",
        )


@rule("request-enum-widened", "non-breaking", "property", "allowed input values were added")
def _enum_widened(pair: PropertyPair) -> Iterator[Hit]:
    if pair.old is None or pair.new is None:
        return
    old, new = _enum(pair.old), _enum(pair.new)
    if old is None:
        return
    if new is None:
        yield Hit(
            pair.pointer + "/enum",
            list(old.values()),
            None,
            f"input {pair.name!r} is no longer limited to a list of values",
        )
        return
    added = [v for k, v in new.items() if k not in old]
    if added:
        yield Hit(
            pair.pointer + "/enum",
            list(old.values()),
            list(new.values()),
            f"input {pair.name!r} now also accepts {_show(added)}",
        )


#: Range keyword -> +1 when a larger value tightens it, -1 when a smaller one does.
_RANGES = {
    "minimum": 1,
    "exclusiveMinimum": 1,
    "minLength": 1,
    "minItems": 1,
    "maximum": -1,
    "exclusiveMaximum": -1,
    "maxLength": -1,
    "maxItems": -1,
}


def _range_changes(pair: PropertyPair) -> Iterator[tuple[str, Any, Any, bool]]:
    """(keyword, old, new, tightened) for every range keyword that changed."""
    if pair.old is None or pair.new is None:
        return
    for keyword, direction in _RANGES.items():
        old, new = pair.old.get(keyword), pair.new.get(keyword)
        if old == new:
            continue
        if old is None:
            yield keyword, old, new, True
        elif new is None:
            yield keyword, old, new, False
        else:
            yield keyword, old, new, (new - old) * direction > 0


@rule("request-range-tightened", "breaking", "property", "a min went up or a max came down")
def _range_tightened(pair: PropertyPair) -> Iterator[Hit]:
    for keyword, old, new, tightened in _range_changes(pair):
        if tightened:
            yield Hit(
                f"{pair.pointer}/{keyword}",
                old,
                new,
                f"input {pair.name!r}: {keyword} {_show(old)} -> {_show(new)} rejects values "
                "that were valid",
            )


@rule("request-range-loosened", "non-breaking", "property", "a min came down or a max went up")
def _range_loosened(pair: PropertyPair) -> Iterator[Hit]:
    for keyword, old, new, tightened in _range_changes(pair):
        if not tightened:
            yield Hit(
                f"{pair.pointer}/{keyword}",
                old,
                new,
                f"input {pair.name!r}: {keyword} {_show(old)} -> {_show(new)}",
            )


@rule("request-format-changed", "breaking", "property", "an input's format (e.g. file URL) changed")
def _format_changed(pair: PropertyPair) -> Iterator[Hit]:
    if pair.old is None or pair.new is None:
        return
    for keyword in ("format", "x-file-url", "pattern"):
        old, new = pair.old.get(keyword), pair.new.get(keyword)
        if new is not None and _key(old) != _key(new):
            yield Hit(
                f"{pair.pointer}/{keyword}",
                old,
                new,
                f"input {pair.name!r}: {keyword} {_show(old)} -> {_show(new)}",
            )


@rule(
    "request-format-relaxed", "non-breaking", "property", "an input's format constraint was dropped"
)
def _format_relaxed(pair: PropertyPair) -> Iterator[Hit]:
    if pair.old is None or pair.new is None:
        return
    for keyword in ("format", "x-file-url", "pattern"):
        old, new = pair.old.get(keyword), pair.new.get(keyword)
        if old is not None and new is None:
            yield Hit(
                f"{pair.pointer}/{keyword}",
                old,
                None,
                f"input {pair.name!r} no longer has {keyword} {_show(old)}",
            )


@rule("default-changed", "behaviour", "property", "an input's default value changed")
def _default_changed(pair: PropertyPair) -> Iterator[Hit]:
    if pair.old is None or pair.new is None:
        return
    old, new = pair.old.get("default", ...), pair.new.get("default", ...)
    if old is ... and new is ...:
        return
    if old is ... or new is ... or _key(old) != _key(new):
        before = None if old is ... else old
        after = None if new is ... else new
        yield Hit(
            pair.pointer + "/default",
            before,
            after,
            f"default of {pair.name!r}: {_show(before)} -> {_show(after)}; requests that omit "
            "it now get something else",
        )


# ===========================================================================
# Document drift: the model as a whole
# ===========================================================================


@rule("model-removed", "breaking", "model", "a model's document is gone")
def _model_removed(pair: ModelPair) -> Iterator[Hit]:
    if pair.old is not None and pair.new is None:
        yield Hit("", pair.old.get("model_id"), None, "the model has no document any more")


@rule("model-added", "non-breaking", "model", "a new model document")
def _model_added(pair: ModelPair) -> Iterator[Hit]:
    if pair.old is None and pair.new is not None:
        yield Hit(
            "",
            None,
            pair.new.get("model_id"),
            "new model (no committed contract yet: run `mockserver contracts build`)",
        )


@rule("endpoint-changed", "breaking", "model", "the model id or request path changed")
def _endpoint_changed(pair: ModelPair) -> Iterator[Hit]:
    if pair.old is None or pair.new is None:
        return
    for key in ("model_id", "example_request_path"):
        old, new = pair.old.get(key), pair.new.get(key)
        if old != new:
            yield Hit(f"/{key}", old, new, f"{key} changed {_show(old)} -> {_show(new)}")


def _auth_mentions(document: bytes | None, markers: tuple[str, ...]) -> set[str]:
    if document is None:
        return set()
    text = document.decode("utf-8", errors="replace").lower()
    return {m for m in markers if m.lower() in text}


@rule("auth-changed", "breaking", "model", "the document no longer names the credential header")
def _auth_changed(pair: ModelPair) -> Iterator[Hit]:
    # The derived contracts do not carry auth (provider.yaml does), so this
    # looks for the contract's credential header names in the page text: a
    # page that used to say `X-API-Key` and no longer does has changed auth.
    if pair.old_document is None or pair.new_document is None:
        return
    before = _auth_mentions(pair.old_document, pair.auth_markers)
    after = _auth_mentions(pair.new_document, pair.auth_markers)
    if before - after:
        yield Hit(
            "/auth",
            sorted(before),
            sorted(after),
            f"the document no longer mentions {', '.join(sorted(before - after))}",
        )


def _leaves(old: Any, new: Any, base: str) -> Iterator[tuple[str, Any, Any]]:
    from mockserver.derive.command import changed_pointers

    for pointer, before, after in changed_pointers(old, new, base):
        yield pointer, None if before is ... else before, None if after is ... else after


@rule("price-changed", "behaviour", "model", "a price, pricing rule or price table changed")
def _price_changed(pair: ModelPair) -> Iterator[Hit]:
    if pair.old is None or pair.new is None:
        return
    old, new = pair.old.get("pricing"), pair.new.get("pricing")
    if _key(old) == _key(new):
        return
    if (
        not isinstance(old, Mapping)
        or not isinstance(new, Mapping)
        or old.get("kind") != new.get("kind")
    ):
        yield Hit("/pricing", old, new, "the pricing changed shape")
        return
    for pointer, before, after in _leaves(old, new, "/pricing"):
        yield Hit(pointer, before, after, f"price {_show(before)} -> {_show(after)}")


@rule("processing-time-changed", "behaviour", "model", "the estimated processing time changed")
def _processing_time_changed(pair: ModelPair) -> Iterator[Hit]:
    if pair.old is None or pair.new is None:
        return
    key = "estimated_processing_seconds"
    old, new = pair.old.get(key), pair.new.get(key)
    if old != new:
        yield Hit(f"/{key}", old, new, f"estimated processing time {old} s -> {new} s")


@rule("model-version-changed", "behaviour", "model", "the model version changed")
def _version_changed(pair: ModelPair) -> Iterator[Hit]:
    if pair.old is None or pair.new is None:
        return
    old, new = pair.old.get("version"), pair.new.get("version")
    if old != new:
        yield Hit("/version", old, new, f"model version {_show(old)} -> {_show(new)}")


@rule("output-type-changed", "breaking", "model", "the model now outputs another media type")
def _output_type_changed(pair: ModelPair) -> Iterator[Hit]:
    if pair.old is None or pair.new is None:
        return
    old, new = pair.old.get("output_type"), pair.new.get("output_type")
    if old != new:
        yield Hit("/output_type", old, new, f"output type {_show(old)} -> {_show(new)}")


@rule(
    "document-changed",
    "non-breaking",
    "document",
    "the document changed but no contract fact did",
)
def _document_changed(pair: ModelPair) -> Iterator[Hit]:
    if pair.old is None or pair.new is None or pair.changed_elsewhere:
        return
    old = (pair.old.get("source") or {}).get("sha256")
    new = (pair.new.get("source") or {}).get("sha256")
    if old != new:
        yield Hit(
            "/source/sha256",
            old,
            new,
            "the document's bytes changed; no contract fact derived from it did",
        )


# ===========================================================================
# Live and recorded drift: one exchange against the provider contract
# ===========================================================================


@rule(
    "endpoint-unmatched", "non-breaking", "exchange", "a recorded call matches no contract endpoint"
)
def _endpoint_unmatched(ctx: ExchangeContext) -> Iterator[Hit]:
    if ctx.endpoint is None and ctx.kind == "response":
        yield Hit(
            "",
            None,
            f"{ctx.exchange.method} {ctx.exchange.path}",
            "no endpoint of the contract has this method and path; the response was not checked",
        )


@rule("response-not-json", "breaking", "exchange", "the body is not JSON")
def _not_json(ctx: ExchangeContext) -> Iterator[Hit]:
    if ctx.endpoint is None and ctx.kind == "response":
        return
    if not ctx.exchange.body_is_json and ctx.exchange.status != 204:
        text = str(ctx.exchange.body)
        yield Hit(
            "",
            "application/json",
            text[:80],
            "the body is not JSON: " + (text[:80] or "(empty)"),
        )


@rule(
    "error-transport-changed",
    "breaking",
    "exchange",
    "an error travelled another way (HTTP status vs code in a 200 body)",
)
def _transport_changed(ctx: ExchangeContext) -> Iterator[Hit]:
    if ctx.kind != "response" or (ctx.endpoint is None and ctx.expect_code is None):
        return
    code = ctx.error_code
    if code is None:
        return
    expected_status = ctx.expected_http_status(code)
    actual_status = ctx.exchange.status or 200
    if expected_status == actual_status:
        return
    mode = ctx.transport.mode

    def how(status: int) -> str:
        return f"HTTP {status}" + (f" with code {code} in the body" if status < 400 else "")

    yield Hit(
        "",
        how(expected_status),
        how(actual_status),
        f"error {code} should travel as {how(expected_status)} (transport {mode}) but came as "
        f"{how(actual_status)}",
        provenance=ctx.transport.provenance,
    )


@rule("error-code-changed", "breaking", "exchange", "a situation now gives another error code")
def _error_code_changed(ctx: ExchangeContext) -> Iterator[Hit]:
    if ctx.expect_code is None:
        return
    case = ctx.contract.spec.errors.cases.get(ctx.expect_case or "")
    provenance = case.provenance if case is not None else None
    if ctx.error_code is None:
        yield Hit(
            "",
            ctx.expect_code,
            f"HTTP {ctx.exchange.status} (no error)",
            f"{ctx.expect_case}: the contract says error {ctx.expect_code}; the call succeeded",
            provenance=provenance,
        )
    elif ctx.error_code != ctx.expect_code:
        yield Hit(
            "",
            ctx.expect_code,
            ctx.error_code,
            f"{ctx.expect_case}: the contract says error {ctx.expect_code}, got {ctx.error_code}",
            provenance=provenance,
        )


@rule("error-code-undeclared", "breaking", "exchange", "an error code the contract does not list")
def _error_code_undeclared(ctx: ExchangeContext) -> Iterator[Hit]:
    # With a probe expectation, error-code-changed already says it.
    if ctx.expect_code is not None or ctx.error_code is None or ctx.endpoint is None:
        return
    if ctx.error_code not in ctx.catalogue:
        yield Hit(
            "",
            sorted(ctx.catalogue),
            ctx.error_code,
            f"error code {ctx.error_code} is not in the contract's error catalogue",
        )


@rule("error-envelope-changed", "breaking", "exchange", "an error body no longer fits its envelope")
def _envelope_changed(ctx: ExchangeContext) -> Iterator[Hit]:
    if not ctx.is_error or not ctx.exchange.body_is_json:
        return
    if ctx.endpoint is None and ctx.expect_code is None:
        return
    pointer = ctx.envelope_pointer(ctx.error_code)
    problems = ctx.contract.validate(pointer, ctx.exchange.body)
    if problems:
        schema = ctx.contract.at(pointer)
        body = ctx.exchange.body
        yield Hit(
            "",
            {"required": schema.get("required"), "schema": pointer},
            sorted(body) if isinstance(body, Mapping) else json_type(body),
            f"error {ctx.error_code} body does not fit {pointer}: " + "; ".join(problems[:3]),
            provenance=ctx.fact_provenance(),
        )


@rule(
    "response-status-unexpected",
    "breaking",
    "exchange",
    "a success came with an HTTP status the endpoint does not declare",
)
def _status_unexpected(ctx: ExchangeContext) -> Iterator[Hit]:
    if ctx.kind != "response" or ctx.endpoint is None or ctx.is_error:
        return
    responses = ctx.contract.spec.endpoints[ctx.endpoint].responses
    status = str(ctx.exchange.status)
    if status not in responses:
        yield Hit(
            "",
            sorted(responses),
            ctx.exchange.status,
            f"{ctx.endpoint} answered HTTP {status}; the contract declares {', '.join(responses)}",
        )


@rule("status-word-unknown", "breaking", "exchange", "a job status word outside the vocabulary")
def _status_word_unknown(ctx: ExchangeContext) -> Iterator[Hit]:
    if ctx.is_error or ctx.word_pointer is None:
        return
    statuses = ctx.contract.spec.statuses
    words = statuses.words
    word = ctx.status_word
    if word is ... or not isinstance(word, str) or word not in words:
        yield Hit(
            ctx.word_pointer,
            sorted(words),
            None if word is ... else word,
            f"status word {_show(None if word is ... else word)} is not in the contract's "
            f"vocabulary ({', '.join(words)})",
            provenance=statuses.provenance,
        )


def _success_issues_of(ctx: ExchangeContext, kind: str) -> Iterator[SchemaIssue]:
    """The success-body schema issues of one kind, when the body was checked at all."""
    if _success_checked(ctx):
        yield from (issue for issue in ctx.success_issues if issue.kind == kind)


def _hit(ctx: ExchangeContext, issue: SchemaIssue, message: str) -> Hit:
    return Hit(issue.pointer, issue.expected, issue.actual, message,
               provenance=ctx.fact_provenance())


def _success_checked(ctx: ExchangeContext) -> bool:
    return not ctx.is_error and ctx.schema_pointer is not None


@rule(
    "response-property-renamed",
    "breaking",
    "exchange",
    "a required field is missing and an undeclared one appeared beside it",
)
def _property_renamed(ctx: ExchangeContext) -> Iterator[Hit]:
    if not _success_checked(ctx):
        return
    for issue, pointer in ctx.renames:
        new_name = pointer.rpartition("/")[2]
        yield Hit(
            issue.pointer,
            issue.name,
            new_name,
            f"field {issue.name!r} looks renamed to {new_name!r}",
            provenance=ctx.fact_provenance(),
        )


@rule("response-property-missing", "breaking", "exchange", "a required response field is missing")
def _property_missing(ctx: ExchangeContext) -> Iterator[Hit]:
    if not _success_checked(ctx):
        return
    renamed = {issue.pointer for issue, _ in ctx.renames}
    for issue in ctx.success_issues:
        if issue.kind == "missing" and issue.pointer not in renamed:
            yield Hit(
                issue.pointer,
                issue.expected,
                None,
                issue.message,
                provenance=ctx.fact_provenance(),
            )


@rule("response-type-changed", "breaking", "exchange", "a response field has another type")
def _response_type_changed(ctx: ExchangeContext) -> Iterator[Hit]:
    for issue in _success_issues_of(ctx, "type"):
        yield _hit(
            ctx,
            issue,
            f"{issue.pointer or '(body)'}: expected {_show(issue.expected)}, got {issue.actual}",
        )


@rule(
    "response-value-changed",
    "breaking",
    "exchange",
    "a response value breaks its const, enum, format, pattern or range",
)
def _response_value_changed(ctx: ExchangeContext) -> Iterator[Hit]:
    for issue in _success_issues_of(ctx, "value"):
        yield _hit(ctx, issue, issue.message)


@rule("response-schema-violation", "breaking", "exchange", "any other response schema violation")
def _schema_violation(ctx: ExchangeContext) -> Iterator[Hit]:
    for issue in _success_issues_of(ctx, "other"):
        yield _hit(ctx, issue, issue.message)


@rule(
    "response-property-added",
    "non-breaking",
    "exchange",
    "a response carries a field the contract does not declare",
)
def _property_added(ctx: ExchangeContext) -> Iterator[Hit]:
    if not _success_checked(ctx):
        return
    renamed = {pointer for _, pointer in ctx.renames}
    for pointer in ctx.undeclared:
        if pointer not in renamed:
            yield Hit(pointer, None, pointer.rpartition("/")[2], f"undeclared field {pointer}")


@rule(
    "webhook-headers-changed", "breaking", "exchange", "webhook headers no longer fit the contract"
)
def _webhook_headers(ctx: ExchangeContext) -> Iterator[Hit]:
    if ctx.kind != "webhook":
        return
    headers = {k.lower(): v for k, v in ctx.exchange.headers.items()}
    problems = ctx.contract.validate("/webhook/headers/schema", headers)
    if problems:
        yield Hit(
            "/headers",
            ctx.contract.at("/webhook/headers/schema").get("required"),
            sorted(headers),
            "webhook headers: " + "; ".join(problems[:3]),
            provenance=ctx.contract.spec.webhook.headers_provenance,
        )
