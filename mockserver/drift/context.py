"""What a drift rule looks at: contexts for document pairs and HTTP exchanges.

A rule (see :mod:`.rules`) is a plain function of one context. The contexts
here precompute what several rules share, so each rule stays a few lines:

:class:`PropertyPair`
    one input property in the committed and in the newly derived model
    contract (either side may be absent).
:class:`ModelPair`
    one model contract, committed and newly derived, plus the two documents.
:class:`ExchangeContext`
    one response (or webhook delivery) and the provider contract it must
    satisfy: which endpoint it belongs to, how it should have travelled
    (HTTP status vs code in a 200 body), which schema applies, and the
    schema violations already analysed into missing, renamed, retyped and
    undeclared fields.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, cast

from jsonschema.exceptions import ValidationError

from mockserver.contracts import ProviderContract, json_type
from mockserver.provider_spec import ErrorTransport

__all__ = [
    "Exchange",
    "ExchangeContext",
    "ModelPair",
    "PropertyPair",
    "SchemaIssue",
    "Where",
    "escape",
    "json_type",
]


def escape(part: str | int) -> str:
    """One RFC 6901 pointer segment."""
    return str(part).replace("~", "~0").replace("/", "~1")


def _join(base: str, *parts: str | int) -> str:
    return base + "".join("/" + escape(p) for p in parts)


@dataclass(frozen=True)
class Where:
    """Who a finding is about; every context carries one."""

    source: str
    provider: str
    subject: str
    model: str | None = None
    location: str | None = None


# ---------------------------------------------------------------------------
# Document drift
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PropertyPair:
    """One model-input property, before (committed) and after (derived).

    ``pointer`` is where the property sits in the model contract, e.g.
    ``/input_schema/properties/resolution``.
    """

    where: Where
    pointer: str
    name: str
    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None
    required_before: bool
    required_after: bool


@dataclass(frozen=True)
class ModelPair:
    """One model contract before and after, with the documents they came from.

    ``auth_markers`` are the credential header names the provider contract
    declares (``X-API-Key``, ``Authorization``); rules look for them in the
    documents' text. ``changed_elsewhere`` tells the ``document`` rules that
    other rules already found something.
    """

    where: Where
    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None
    old_document: bytes | None = None
    new_document: bytes | None = None
    auth_markers: tuple[str, ...] = ()
    changed_elsewhere: bool = False


# ---------------------------------------------------------------------------
# Exchanges
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Exchange:
    """One HTTP exchange (or one webhook delivery: ``status`` None).

    Header names are lower-case. ``body`` is the parsed JSON body when
    ``body_is_json``, else the text. Request fields are kept for matching and
    for recordings; checks only read the response side.
    """

    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    request_headers: Mapping[str, str] = field(default_factory=dict)
    request_body: Any = None
    status: int | None = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    body_is_json: bool = True


@dataclass(frozen=True)
class SchemaIssue:
    """One schema violation, classified for the rules.

    ``kind``: ``missing`` (a required property is absent), ``type``,
    ``value`` (const, enum, format, pattern, ranges) or ``other``.
    ``pointer`` is into the instance; for ``missing`` it names the absent
    property (its parent is ``parent``).
    """

    kind: Literal["missing", "type", "value", "other"]
    pointer: str
    parent: str
    name: str
    expected: Any
    actual: Any
    message: str


Classification = Literal["success", "error-http", "error-body"]


def _branches(schema: Any) -> list[Mapping[str, Any]]:
    """``schema`` and every subschema under allOf/anyOf/oneOf (flattened)."""
    if not isinstance(schema, Mapping):
        return []
    found: list[Mapping[str, Any]] = [schema]
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key) or []:
            found.extend(_branches(sub))
    return found


def undeclared(schema: Any, instance: Any, pointer: str = "") -> Iterator[str]:
    """Pointers of object members the schema does not declare.

    Contract schemas are tolerant (no ``additionalProperties: false``), so an
    extra field validates; it is still worth reporting, and a missing field
    next to an undeclared one is most likely a rename. Objects whose schema
    declares no properties at all are free-form and not reported.
    """
    branches = _branches(schema)
    if isinstance(instance, dict):
        properties = [
            cast(Mapping[str, Any], b["properties"])
            for b in branches
            if isinstance(b.get("properties"), Mapping)
        ]
        if not properties:
            return
        for key, value in instance.items():
            subs = [p[key] for p in properties if key in p]
            if not subs:
                yield _join(pointer, key)
            else:
                yield from undeclared({"allOf": subs}, value, _join(pointer, key))
    elif isinstance(instance, list):
        items = [b["items"] for b in branches if isinstance(b.get("items"), Mapping)]
        if items:
            for index, value in enumerate(instance):
                yield from undeclared({"allOf": items}, value, _join(pointer, index))


def _find_word_pointer(schema: Any, word: str, pointer: str = "") -> str | None:
    """Where in an instance the status ``word`` sits, read from its schema."""
    for branch in _branches(schema):
        properties = branch.get("properties")
        if not isinstance(properties, Mapping):
            continue
        for name, sub in properties.items():
            for candidate in _branches(sub):
                if candidate.get("const") == word or word in (candidate.get("enum") or ()):
                    return _join(pointer, name)
        for name, sub in properties.items():
            found = _find_word_pointer(sub, word, _join(pointer, name))
            if found is not None:
                return found
    return None


def _at(document: Any, pointer: str) -> Any:
    """The value at ``pointer`` or ``...`` when absent (never raises)."""
    node = document
    if pointer in ("", "/"):
        return node
    for raw in pointer[1:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return ...
    return node


def status_word_pointer(contract: ProviderContract, endpoint: str, status: str) -> str | None:
    """Where the status word sits in a ``by_status`` response of ``endpoint``."""
    response = contract.spec.endpoints[endpoint].responses.get(status) or {}
    by_status = response.get("by_status")
    if not isinstance(by_status, Mapping):
        return None
    for word, fact in by_status.items():
        found = _find_word_pointer(fact.get("schema"), str(word))
        if found is not None:
            return found
    return None


def _issues(error: ValidationError, word_pointer: str | None) -> Iterator[SchemaIssue]:
    """Classify one jsonschema error (and, for anyOf/oneOf, its context)."""
    path = _join("", *error.absolute_path)
    rule = str(error.validator)
    instance = error.instance
    if rule == "required" and isinstance(instance, Mapping):
        for name in cast(list[str], error.validator_value):
            if name not in instance:
                yield SchemaIssue(
                    "missing",
                    _join(path, name),
                    path,
                    str(name),
                    "present",
                    "absent",
                    f"required property {name!r} is missing",
                )
        return
    if (
        rule in ("anyOf", "oneOf")
        and error.context
        and all(str(sub.validator) == "required" for sub in error.context)
    ):
        names = sorted(
            {
                str(n)
                for sub in error.context
                for n in cast(list[str], sub.validator_value)
                if isinstance(instance, Mapping) and n not in instance
            }
        )
        yield SchemaIssue(
            "missing",
            _join(path, names[0]) if names else path,
            path,
            names[0] if names else "",
            "one of " + ", ".join(names),
            "absent",
            f"none of the alternatives {', '.join(names)} is present",
        )
        return
    if word_pointer is not None and path == word_pointer:
        return  # the status word has a rule of its own
    if rule == "type":
        yield SchemaIssue(
            "type",
            path,
            path.rpartition("/")[0],
            path.rpartition("/")[2],
            error.validator_value,
            json_type(instance),
            error.message,
        )
    elif rule in {
        "const",
        "enum",
        "format",
        "pattern",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "contentMediaType",
    }:
        yield SchemaIssue(
            "value",
            path,
            path.rpartition("/")[0],
            path.rpartition("/")[2],
            {rule: error.validator_value},
            instance,
            error.message,
        )
    else:
        yield SchemaIssue(
            "other",
            path,
            path.rpartition("/")[0],
            path.rpartition("/")[2],
            {rule: error.validator_value},
            json_type(instance),
            error.message,
        )


@dataclass
class ExchangeContext:
    """One exchange and the contract facts it is checked against.

    ``endpoint`` is the contract endpoint name (``create``, ``poll``...) or
    None when nothing matched. ``expect_case`` names the situation a live
    probe provoked (``missing_auth``, ``unknown_job``, ``validation``...) and
    ``expect_code`` the provider error code the contract gives it.
    ``kind`` is ``response`` or ``webhook``.
    """

    where: Where
    contract: ProviderContract
    exchange: Exchange
    endpoint: str | None
    kind: Literal["response", "webhook"] = "response"
    expect_case: str | None = None
    expect_code: int | None = None

    # --- transport -----------------------------------------------------------

    @cached_property
    def transport(self) -> ErrorTransport:
        """The contract's ``errors.transport`` section."""
        return self.contract.spec.errors.transport

    @property
    def body_code_transport(self) -> bool:
        """True when errors travel as HTTP 200 with the code in the body."""
        return self.transport.mode == "body_code"

    @cached_property
    def real_status_codes(self) -> frozenset[int]:
        """Codes sent with their own HTTP status even in ``body_code`` mode."""
        return self.transport.real_http_status_codes

    @cached_property
    def catalogue(self) -> frozenset[int]:
        """Error codes the contract knows."""
        return frozenset(int(c) for c in self.contract.spec.errors.catalogue)

    @cached_property
    def _body_code(self) -> int | None:
        body = self.exchange.body
        if not isinstance(body, Mapping):
            return None
        for key in ("code", "status"):
            value = body.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        return None

    @cached_property
    def classification(self) -> Classification:
        """``success``, ``error-http`` (status >= 400) or ``error-body`` (error in a 2xx)."""
        if self.kind == "webhook":
            return "success"  # a webhook's body code (Apikley 501) is the job outcome
        status = self.exchange.status or 200
        if status >= 400:
            return "error-http"
        code = self._body_code
        if code is not None and code >= 400:
            return "error-body"
        if self.body_code_transport and code is not None and code != 200:
            return "error-body"
        if (
            self.expect_code is not None
            and self.success_issues
            and self._closest_envelope_errors() == 0
        ):
            # An error envelope in a 200 where the contract promised a status.
            return "error-body"
        return "success"

    @property
    def is_error(self) -> bool:
        """The exchange carries an error, whichever way it travelled."""
        return self.classification != "success"

    @cached_property
    def error_code(self) -> int | None:
        """The provider error code observed (HTTP status or body code)."""
        if self.classification == "error-http":
            return self.exchange.status
        if self.classification == "error-body":
            return self._body_code if self._body_code is not None else self.expect_code
        return None

    def expected_http_status(self, code: int) -> int:
        """The HTTP status the contract sends error ``code`` with."""
        if self.body_code_transport and code not in self.real_status_codes:
            return self.transport.http_status
        return code

    # --- schemas -------------------------------------------------------------

    def envelope_pointer(self, code: int | None) -> str:
        """Pointer of the error envelope schema for ``code``."""
        envelopes = self.contract.spec.errors.envelopes
        key = str(code) if code is not None and str(code) in envelopes else "default"
        return f"/errors/envelopes/{key}/schema"

    def _closest_envelope_errors(self) -> int:
        envelopes = self.contract.spec.errors.envelopes
        return min(
            len(self.contract.validate(f"/errors/envelopes/{key}/schema", self.exchange.body))
            for key in envelopes
        )

    @cached_property
    def success_status(self) -> str | None:
        """The declared 2xx response key used to check a success body."""
        if self.endpoint is None:
            return None
        responses = self.contract.spec.endpoints[self.endpoint].responses
        status = str(self.exchange.status or 200)
        if status in responses:
            return status
        return next((s for s in responses if s.startswith("2")), None)

    @cached_property
    def word_pointer(self) -> str | None:
        """Where the status word sits in this endpoint's responses (by_status only)."""
        if self.endpoint is None or self.success_status is None or self.kind != "response":
            return None
        return status_word_pointer(self.contract, self.endpoint, self.success_status)

    @cached_property
    def status_word(self) -> Any:
        """The status word in the body (``...`` when absent or not applicable)."""
        if self.word_pointer is None:
            return ...
        return _at(self.exchange.body, self.word_pointer)

    @cached_property
    def schema_pointer(self) -> str | None:
        """The contract schema a success body (or webhook payload) must satisfy."""
        spec = self.contract.spec
        if self.kind == "webhook":
            outcomes = list(spec.webhook.payload)
            if not outcomes:
                return None
            pointers = [f"/webhook/payload/{o}/schema" for o in outcomes]
            return min(pointers, key=lambda p: len(self.contract.validate(p, self.exchange.body)))
        if self.endpoint is None or self.success_status is None:
            return None
        base = f"/endpoints/{self.endpoint}/responses/{self.success_status}"
        response = spec.endpoints[self.endpoint].responses[self.success_status]
        if "schema" in response:
            return base + "/schema"
        by_status = response.get("by_status") or {}
        word = self.status_word
        if isinstance(word, str) and word in by_status:
            return f"{base}/by_status/{escape(word)}/schema"
        return None

    @cached_property
    def success_issues(self) -> list[SchemaIssue]:
        """Classified violations of :attr:`schema_pointer` (empty when none applies)."""
        if self.schema_pointer is None or not self.exchange.body_is_json:
            return []
        validator = self.contract.validator(self.schema_pointer)
        issues: list[SchemaIssue] = []
        for error in validator.iter_errors(self.exchange.body):
            issues.extend(_issues(error, self.word_pointer))
        return sorted(issues, key=lambda i: (i.pointer, i.kind, i.message))

    @cached_property
    def undeclared(self) -> list[str]:
        """Pointers of body members the success schema does not declare."""
        if self.schema_pointer is None or not self.exchange.body_is_json:
            return []
        schema = self.contract.at(self.schema_pointer)
        return sorted(undeclared(schema, self.exchange.body))

    @cached_property
    def renames(self) -> list[tuple[SchemaIssue, str]]:
        """(missing property, undeclared sibling) pairs that look like a rename.

        Pairs within the same parent object, most similar names first; each
        side is used once.
        """
        missing = [i for i in self.success_issues if i.kind == "missing"]
        extra = list(self.undeclared)
        candidates: list[tuple[float, int, int]] = []
        for m_index, issue in enumerate(missing):
            for e_index, pointer in enumerate(extra):
                if pointer.rpartition("/")[0] == issue.parent:
                    name = pointer.rpartition("/")[2]
                    ratio = difflib.SequenceMatcher(None, issue.name.lower(), name.lower()).ratio()
                    candidates.append((-ratio, m_index, e_index))
        pairs: list[tuple[SchemaIssue, str]] = []
        used_m: set[int] = set()
        used_e: set[int] = set()
        for _, m_index, e_index in sorted(candidates):
            if m_index in used_m or e_index in used_e:
                continue
            used_m.add(m_index)
            used_e.add(e_index)
            pairs.append((missing[m_index], extra[e_index]))
        return pairs

    def fact_provenance(self) -> str | None:
        """The provenance of the contract fact the body is checked against."""
        pointer = self.schema_pointer
        if self.is_error:
            pointer = self.envelope_pointer(self.error_code)
        if pointer is None:
            return None
        try:
            fact = self.contract.at(pointer.rsplit("/", 1)[0])
        except KeyError:
            return None
        value = fact.get("provenance") if isinstance(fact, Mapping) else None
        return str(value) if value is not None else None

    def describe_body(self) -> str:
        """A short rendering of the body for messages."""
        text = json.dumps(self.exchange.body, sort_keys=True, ensure_ascii=False)
        return text if len(text) <= 120 else text[:117] + "..."
