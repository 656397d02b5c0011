"""Drive schemathesis' engine over one provider's OpenAPI document.

:func:`run_fuzz` loads the fuzz document (:mod:`mockserver.fuzz.document`)
into schemathesis, points it either at an in-process mock (the ASGI app, no
port) or at a base URL, runs every phase (examples, coverage, fuzzing,
stateful) and folds the engine's events into a :class:`FuzzResult`: per
operation the cases sent and the distinct failures, each with the check that
caught it and a curl line that reproduces it (the key masked).

Runs are bounded and reproducible: ``max_examples`` per operation and phase,
hypothesis' example database off, the seed fixed, no deadline. The checks are
chosen explicitly (:data:`CHECKS`), so a schemathesis upgrade that adds a check
does not silently change what "the mock passes its own fuzzing" means.
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from mockserver.contracts import ContractSet, ProviderContract, load_contracts
from mockserver.fuzz.document import create_operations, fuzz_document, without_operations
from mockserver.openapi import build_openapi
from mockserver.progress import Progress

__all__ = [
    "CHECKS",
    "DEFAULT_KEY",
    "EXCLUDED_CHECKS",
    "FailureRecord",
    "FuzzError",
    "FuzzOptions",
    "FuzzResult",
    "OperationResult",
    "fuzz_app",
    "is_loopback",
    "mask",
    "run_fuzz",
]

#: Key sent to the in-process mock (made its only valid key; see :func:`fuzz_app`).
DEFAULT_KEY = "fuzz-key"

#: Base URL the in-process mock is addressed with: the default of ``mockserver
#: serve``, so a reported curl line reproduces against a locally served mock.
IN_PROCESS_ORIGIN = "http://127.0.0.1:8080"

#: The checks a run applies, and why each one is in.
CHECKS: Mapping[str, str] = {
    "not_a_server_error": "no 5xx, no unparseable response",
    "status_code_conformance": "every status is documented for the operation",
    "content_type_conformance": "every content type is documented",
    "response_schema_conformance": "bodies match their documented schemas",
    "response_headers_conformance": "documented response headers are present and valid",
    "negative_data_rejection": "schema-violating requests are rejected with 4xx",
    "positive_data_acceptance": "schema-valid requests are accepted",
    "missing_required_header": "a missing required header is rejected",
    "ignored_auth": "missing or invalid credentials are refused (401/403)",
    "ensure_resource_availability": "a created job is pollable (stateful create -> poll)",
    "use_after_free": "a deleted resource stays gone",
}

#: Checks left out on purpose.
EXCLUDED_CHECKS: Mapping[str, str] = {
    # WaveSpeed's create is POST /api/v3/<model id>, so any POST under /api/v3/
    # is a create of some (maybe unknown) model: 404 "model not found" is the
    # faithful answer to POST /api/v3/balance, and Allow lists POST on every
    # path. These two checks assume no such catch-all route.
    "unsupported_method": "a catch-all create route (WaveSpeed) answers 404, not 405",
    "allow_header_conformance": "same catch-all route: Allow lists POST everywhere",
    # Needs two configured identities; the providers document no per-job ACL.
    "object_level_authorization": "needs several identities; no per-job ACL documented",
    "max_response_time": "timing is the bench's business, not a contract",
}


class FuzzError(Exception):
    """The run could not start (bad target, missing key, schema not loadable)."""


@dataclass(frozen=True)
class FuzzOptions:
    """What to fuzz and how hard."""

    provider: str
    max_examples: int = 100
    seed: int = 0
    workers: int = 1
    #: None: the in-process mock. Else the provider's base URL (with the prefix
    #: for a mock: ``http://127.0.0.1:8080/wavespeed``).
    base_url: str | None = None
    api_key: str = DEFAULT_KEY
    allow_spend: bool = False
    exclude_checks: tuple[str, ...] = ()
    #: Phases to run (schemathesis names); None: all of them.
    phases: tuple[str, ...] | None = None
    request_timeout: float = 30.0


@dataclass
class FailureRecord:
    """One distinct failure: an operation, the check that caught it, a reproduction."""

    operation: str
    check: str
    title: str
    message: str
    phase: str
    status: int | None
    curl: str
    #: How many cases failed the same way (same operation, check, title).
    occurrences: int = 1


@dataclass
class OperationResult:
    """Cases sent to one operation and the failures they found."""

    label: str
    cases: int = 0
    failures: list[FailureRecord] = field(default_factory=list)


@dataclass
class FuzzResult:
    """Everything a run found, ready for the summary and the JUnit report."""

    provider: str
    target: str
    seed: int
    max_examples: int
    operations: dict[str, OperationResult] = field(default_factory=dict)
    #: Problems that stopped part of the run (connection refused, schema errors).
    errors: list[str] = field(default_factory=list)
    #: Operations left out, with the reason (cost without --allow-spend).
    skipped: dict[str, str] = field(default_factory=dict)
    #: Lines about money: the worst-case spend of the create operations.
    spend: list[str] = field(default_factory=list)
    #: Lines about how the run was set up (a check set aside and why).
    notes: list[str] = field(default_factory=list)
    stateful_scenarios: int = 0
    elapsed: float = 0.0

    @property
    def cases(self) -> int:
        """Cases sent in total (every phase, stateful steps included)."""
        return sum(op.cases for op in self.operations.values())

    @property
    def failures(self) -> list[FailureRecord]:
        """All distinct failures, sorted by operation then check."""
        return sorted(
            (f for op in self.operations.values() for f in op.failures),
            key=lambda f: (f.operation, f.check, f.title),
        )

    @property
    def cases_per_second(self) -> float:
        """Throughput: cases sent per wall second (the bench quotes it)."""
        return self.cases / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def exit_code(self) -> int:
        """0 clean, 1 failures found, 2 the run could not (fully) run."""
        if self.failures:
            return 1
        return 2 if self.errors else 0


def is_loopback(url: str) -> bool:
    """Whether ``url``'s host is this machine (``localhost``, 127/8, ::1)."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def mask(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``***`` (longest first)."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def fuzz_app(api_key: str = DEFAULT_KEY, *, contracts: ContractSet | None = None) -> Any:
    """A fresh in-process mock for fuzzing: manual clock, ``api_key`` the only valid key.

    By default the mock accepts any key (so tests can invent keys); a real API
    does not, and schemathesis' ``ignored_auth`` check sends a wrong key and
    expects 401. So every adapter gets one shared :class:`Accounts` that knows
    just ``api_key`` (the documented ``accounts`` knob of the adapters).
    """
    from mockserver.domain.accounts import Accounts
    from mockserver.domain.clock import ManualClock
    from mockserver.http.app import create_app
    from mockserver.providers import registry

    app = create_app(contracts=contracts, clock=ManualClock(), validate_responses=True)
    accounts = Accounts(known_keys=[api_key], currencies=registry.currencies())
    for adapter in app.state.mock.adapters.values():
        if hasattr(adapter, "accounts"):
            adapter.accounts = accounts
    return app


def _auth(document: Mapping[str, Any], key: str) -> dict[str, Any]:
    """schemathesis ``auth.openapi`` config: the key for every scheme the document has."""
    schemes: dict[str, Any] = {}
    for name, scheme in document.get("components", {}).get("securitySchemes", {}).items():
        if scheme.get("type") == "apiKey":
            schemes[name] = {"api_key": key}
        elif scheme.get("type") == "http" and scheme.get("scheme", "").lower() == "bearer":
            schemes[name] = {"bearer": key}
    return {"openapi": schemes}


def _state_conflicts(contract: ProviderContract) -> list[dict[str, Any]]:
    """Per-operation config: statuses the contract gives a valid request on a wrong state.

    Also: no ``negative_data_rejection`` on a multipart upload (see below).

    ``positive_data_acceptance`` reads any 4xx but 401/403/404/409 as "valid
    data rejected". A contract that documents another code for a valid request
    hitting a job in the wrong state (Eachlabs: cancel of a finished job is 400,
    a [GUESS]; Apikley: an unknown taskId is 422, [3P]) makes that code an
    accepted answer for that operation only.
    """
    from schemathesis.config._checks import POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES

    operations: list[dict[str, Any]] = []
    for name, spec in sorted(contract.spec.endpoints.items()):
        # Provider-only situations an endpoint answers with a code of its own.
        codes = sorted(
            {
                str(case.code)
                for situation, case in spec.cases.items()
                if situation in ("terminal_job", "unknown_job") and case.code is not None
            }
        )
        if codes:
            statuses = [*POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES, *codes]
            operations.append(
                {
                    "include-tag": name,
                    "checks": {"positive_data_acceptance": {"expected-statuses": statuses}},
                }
            )
        if spec.request.get("content_type") == "multipart/form-data":
            # A file part is bytes whatever schemathesis generated for it: the
            # integer it calls a schema violation arrives as a valid file
            # "1392", which an upload rightly accepts.
            operations.append(
                {"include-tag": name, "checks": {"negative_data_rejection": {"enabled": False}}}
            )
    return operations


def _config(options: FuzzOptions, document: Mapping[str, Any], contract: ProviderContract) -> Any:
    from schemathesis.config import SchemathesisConfig

    excluded = set(EXCLUDED_CHECKS) | set(options.exclude_checks)
    if contract.spec.errors.transport.mode == "body_code":
        # ignored_auth sends its no-key/bad-key probes straight through the
        # transport, past the after_call hook that reads in-body codes, so it
        # would take Apikley's HTTP 200 {"code": 401} for acceptance.
        # missing_required_header still covers a missing key there.
        excluded.add("ignored_auth")
    # max_response_time takes a number (off when absent), the others a table.
    checks = {
        name: {"enabled": name not in excluded}
        for name in (*CHECKS, *EXCLUDED_CHECKS)
        if name != "max_response_time"
    }
    data: dict[str, Any] = {
        "seed": options.seed,
        "workers": options.workers,
        "request-timeout": options.request_timeout,
        # Bounded and reproducible: no example database carried between runs,
        # no crash cache on disk, the same cases for the same seed.
        "generation": {"max-examples": options.max_examples, "database": "none"},
        "cache": {"enabled": False},
        "checks": checks,
        "auth": _auth(document, options.api_key),
        # Never let a redirect take requests off the target.
        "max-redirects": 0,
        "operations": _state_conflicts(contract),
    }
    if options.phases is not None:
        data["phases"] = {
            name: {"enabled": name in options.phases}
            for name in ("examples", "coverage", "fuzzing", "stateful")
        }
    return SchemathesisConfig.from_dict(data)


class _Collector:
    """Folds engine events into a :class:`FuzzResult`."""

    def __init__(self, result: FuzzResult, secrets: list[str]) -> None:
        self.result = result
        self.secrets = secrets
        self._seen: dict[tuple[str, str, str], FailureRecord] = {}

    def operation(self, label: str) -> OperationResult:
        if label not in self.result.operations:
            self.result.operations[label] = OperationResult(label)
        return self.result.operations[label]

    def scenario(self, phase: str, recorder: Any) -> None:
        if phase == "stateful":
            self.result.stateful_scenarios += 1
        for node in recorder.cases.values():
            self.operation(node.value.operation.label).cases += 1
        for case_id, checks in recorder.checks.items():
            for check in checks:
                if check.failure_info is None or str(check.status.value) != "failure":
                    continue
                self._failure(phase, recorder, case_id, check)

    def _failure(self, phase: str, recorder: Any, case_id: str, check: Any) -> None:
        failure = check.failure_info.failure
        failing_id = failure.case_id or case_id
        node = recorder.cases.get(failing_id) or recorder.cases.get(case_id)
        label = node.value.operation.label if node is not None else recorder.label
        key = (label, check.name, str(failure.title))
        if key in self._seen:
            self._seen[key].occurrences += 1
            return
        response = recorder.find_response(case_id=failing_id)
        # Stateful failures need the chain (create, then poll): show every step.
        steps = [step.curl for step in check.failure_info.steps] or [
            check.failure_info.code_sample
        ]
        record = FailureRecord(
            operation=label,
            check=str(check.name),
            title=str(failure.title),
            message=mask(str(failure.message), self.secrets),
            phase=phase,
            status=None if response is None else int(response.status_code),
            curl=mask("\n".join(steps), self.secrets),
        )
        self._seen[key] = record
        self.operation(label).failures.append(record)

    def error(self, text: str) -> None:
        self.result.errors.append(mask(text, self.secrets))


def _prepare(
    options: FuzzOptions, contracts: ContractSet, app: Any = None
) -> tuple[dict[str, Any], str, Any, FuzzResult]:
    """The document to load, the base URL, the app (or None) and an empty result."""
    if options.max_examples < 1:
        raise FuzzError("--max-examples must be at least 1")
    try:
        contract = contracts.provider(options.provider)
    except Exception as error:  # the loader's own error names the problem
        raise FuzzError(f"unknown provider {options.provider!r}: {error}") from error
    if options.base_url is None:
        base_url = f"{IN_PROCESS_ORIGIN}/{options.provider}"
        app = app if app is not None else fuzz_app(options.api_key, contracts=contracts)
        target = "in-process mock (no server, no port)"
    else:
        parts = urlsplit(options.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FuzzError(f"--base-url must be an http(s) URL, got {options.base_url!r}")
        base_url = options.base_url.rstrip("/")
        app = None
        target = base_url
    document = fuzz_document(build_openapi(options.provider, contracts, base_url), contract)
    result = FuzzResult(options.provider, target, options.seed, options.max_examples)
    if app is not None:
        result.notes.append(
            f"curl lines address `mockserver serve` on its default port ({base_url})"
        )
    creates = create_operations(document)
    if creates and app is None and not is_loopback(base_url):
        # Only a real API bills: a mock's balance is play money.
        from mockserver.fuzz.spend import spend_lines

        result.spend = spend_lines(contract, options.max_examples)
    if app is None and not is_loopback(base_url) and not options.allow_spend:
        # A real API bills every accepted create: leave them out unless asked.
        document = without_operations(document, "create")
        for method, path in creates:
            result.skipped[f"{method} {path}"] = "costs money; pass --allow-spend to include it"
    return document, base_url, app, result


def run_fuzz(
    options: FuzzOptions,
    *,
    contracts: ContractSet | None = None,
    app: Any = None,
    progress: Progress | None = None,
) -> FuzzResult:
    """Fuzz one provider; raises :class:`FuzzError` when the run cannot start.

    ``app`` replaces the in-process mock (an ASGI app serving the provider
    under ``/<provider>``): tests fuzz deliberately broken variants with it.
    ``progress`` gets a line per phase and per operation done.
    """
    import schemathesis
    from schemathesis.engine import events, from_schema

    from mockserver.fuzz.document import register_formats

    register_formats()
    contracts = contracts or load_contracts()
    document, base_url, app, result = _prepare(options, contracts, app)
    collector = _Collector(result, [options.api_key])
    contract = contracts.provider(options.provider)
    if app is None and "ignored_auth" not in options.exclude_checks and _accepts_any_key(
        document, base_url, options.request_timeout
    ):
        options = replace(options, exclude_checks=(*options.exclude_checks, "ignored_auth"))
        result.notes.append(
            "ignored_auth left out: the target accepted a made-up API key (a mock served "
            "with its default config accepts any key; list keys under [accounts.keys] in "
            "its config to check auth too)"
        )
    try:
        schema = schemathesis.openapi.from_dict(
            document, config=_config(options, document, contract)
        )
    except Exception as error:
        raise FuzzError(f"schemathesis cannot load the document: {error}") from error
    schema.config.base_url = base_url
    translate = _body_code_translator(contract)
    if translate is not None:
        schema.hook("after_call")(translate)
    if app is not None:
        schema.app = app
    started = time.perf_counter()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            collector.scenario(str(event.phase.value), event.recorder)
            if progress is not None:
                phase = str(event.phase.value)
                progress.update(
                    f"{phase} phase: {event.recorder.label}; {result.cases} cases, "
                    f"{len(result.failures)} failures so far",
                    stage=phase,
                )
        elif isinstance(event, events.NonFatalError):
            collector.error(f"{event.label}: {event.info.format(base_url_is_set=True)}")
        elif isinstance(event, events.FatalError):
            collector.error(f"fatal: {event.exception}")
        elif isinstance(event, events.Interrupted):
            collector.error("interrupted")
    result.elapsed = time.perf_counter() - started
    if progress is not None:
        progress.done()
    if app is not None:
        _mock_findings(app, collector)
    return result


#: The made-up key of :func:`_accepts_any_key`: no real API knows it.
PROBE_KEY = "genmock-fuzz-made-up-key-0f3a9c"


def _accepts_any_key(document: Mapping[str, Any], base_url: str, timeout: float) -> bool:
    """Whether the target answers a made-up key with anything but 401/403.

    One GET of a read-only operation (a poll of a made-up id, or a balance)
    with :data:`PROBE_KEY`. A real API refuses it; ``mockserver serve`` with
    its default config accepts any key, so ``ignored_auth``, which sends a
    wrong key and expects a refusal, could only fail there. An unreachable
    target or an in-body code counts as "refused": the run reports those.
    """
    import httpx

    for path, item in sorted(document.get("paths", {}).items()):
        operation = item.get("get") if isinstance(item, Mapping) else None
        if not isinstance(operation, Mapping) or not operation.get("security", True):
            continue
        headers: dict[str, str] = {}
        for scheme in document.get("components", {}).get("securitySchemes", {}).values():
            if scheme.get("type") == "apiKey" and scheme.get("in") == "header":
                headers[str(scheme["name"])] = PROBE_KEY
            elif scheme.get("type") == "http":
                headers["Authorization"] = f"Bearer {PROBE_KEY}"
        query = {
            str(p["name"]): "genmock-probe"
            for p in operation.get("parameters", [])
            if isinstance(p, Mapping) and p.get("in") == "query" and p.get("required")
        }
        url = base_url + re.sub(r"\{[^}]+\}", "genmock-probe", str(path))
        try:
            response = httpx.get(url, headers=headers, params=query, timeout=timeout)
        except httpx.HTTPError:
            return False
        if response.status_code in (401, 403):
            return False
        try:
            body = response.json()
        except ValueError:
            return True
        code = body.get("code") if isinstance(body, dict) else None
        return code not in (401, 403)
    return False


def _body_code_translator(contract: ProviderContract) -> Any:
    """An ``after_call`` hook judging in-body error codes as HTTP statuses, or None.

    Apikley answers most errors with HTTP 200 and the code in the body
    (``{"code": 401, "msg": ...}``); schemathesis' checks read the HTTP status
    only, so they would call a refused key "accepted" and a rejected body
    "valid". For a ``body_code`` transport the hook sets the response's status
    to the body's code before the checks run: every check then judges what
    the provider meant, and the status must still be documented and the body
    must match that code's envelope.
    """
    errors = contract.spec.errors
    if errors.transport.mode != "body_code":
        return None
    wrapper = errors.transport.http_status
    codes = {int(c) for c in errors.catalogue}
    template = errors.envelopes["default"].template
    field_name = next((k for k, v in template.items() if v == "{code}"), None)
    if field_name is None:
        return None

    def after_call(context: Any, case: Any, response: Any) -> None:
        if response.status_code != wrapper:
            return
        try:
            body = response.json()
        except Exception:  # not JSON: content_type/schema checks will say so
            return
        if isinstance(body, dict):
            code = body.get(field_name)
            if isinstance(code, int) and code != wrapper and code in codes:
                response.status_code = code

    return after_call


def _mock_findings(app: Any, collector: _Collector) -> None:
    """What the in-process mock noticed itself: unhandled errors, contract violations.

    schemathesis only sees the wire; the mock validates its own responses
    against the contracts and records exceptions it turned into 500s, which
    name the broken code path directly.
    """
    state = getattr(getattr(app, "state", None), "mock", None)
    if state is None:  # a wrapped app (tests): nothing of its own to report
        return
    for record in list(getattr(state, "unhandled_errors", [])):
        label = f"{record.method or ''} {record.path or ''}".strip() or str(record.where)
        collector.operation("(mock internals)").failures.append(
            FailureRecord(
                operation="(mock internals)",
                check="mock_unhandled_error",
                title=f"unhandled {record.error_type} in {record.where}",
                message=f"{label}\n{record.traceback}",
                phase="any",
                status=500,
                curl="",
            )
        )
    for violation in list(getattr(state, "contract_violations", [])):
        collector.operation("(mock internals)").failures.append(
            FailureRecord(
                operation="(mock internals)",
                check="mock_contract_violation",
                title=f"{violation.method} {violation.path} -> {violation.status} "
                f"breaks {violation.schema}",
                message="; ".join(str(e) for e in violation.errors),
                phase="any",
                status=int(violation.status),
                curl="",
            )
        )
