"""``provider.yaml`` as typed objects, built once when a contract is loaded.

:class:`ProviderSpec` is what code reads of a provider contract: its auth
schemes, endpoints, status words, errors (transport, envelopes, catalogue,
cases, job failures), webhook, limits, billing and media. Facts written as
``{value: ..., provenance: ...}`` are unwrapped here, once. JSON Schemas and
response templates stay plain mappings: they are data the validators and
the renderer read, not fields code picks apart.

Pure: no web framework or HTTP client imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as _field
from types import MappingProxyType
from typing import Any

__all__ = [
    "AuthScheme",
    "Billing",
    "CatalogueEntry",
    "Endpoint",
    "Envelope",
    "ErrorCase",
    "ErrorTransport",
    "Errors",
    "JobFailures",
    "Limits",
    "Media",
    "ProviderSpec",
    "QueryParameter",
    "RateLimits",
    "Registration",
    "Statuses",
    "Webhook",
    "unwrap",
]

_EMPTY: Mapping[str, Any] = MappingProxyType({})
#: Where generated files are served when a contract does not say.
_DEFAULT_OUTPUT_URL = "{base_url}/_mock/media/{id}.mp4"


def _empty() -> Mapping[str, Any]:
    return _EMPTY


def unwrap(value: Any) -> Any:
    """``v`` for a fact object ``{"value": v, "provenance": ...}``; anything else as it is."""
    if isinstance(value, Mapping) and "value" in value and "provenance" in value:
        return value["value"]
    return value


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else _EMPTY


def _frozen(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


def _text(value: Any) -> str | None:
    """``str(value)``, or None for None (a fact's provenance, an optional name)."""
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class AuthScheme:
    """One way a request carries its key: ``apiKey`` in a header, or ``http`` bearer."""

    type: str
    location: str | None = None
    name: str | None = None
    scheme: str | None = None
    #: Text before the key in the header (fal's ``Authorization: Key <key>``).
    prefix: str = ""
    #: OpenAPI's ``bearerFormat`` (a hint for readers), or None.
    bearer_format: str | None = None
    provenance: str | None = None

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> AuthScheme:
        return cls(
            type=str(raw.get("type", "")),
            location=None if raw.get("in") is None else str(raw["in"]),
            name=None if raw.get("name") is None else str(raw["name"]),
            scheme=None if raw.get("scheme") is None else str(raw["scheme"]),
            prefix=str(raw.get("prefix") or ""),
            bearer_format=_text(raw.get("bearerFormat")),
            provenance=_text(raw.get("provenance")),
        )


@dataclass(frozen=True, slots=True)
class QueryParameter:
    """One documented query parameter of an endpoint."""

    required: bool
    #: Its JSON Schema (plain: ``type``, ``format`` ...).
    schema: Mapping[str, Any]
    provenance: str | None = None

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> QueryParameter:
        return cls(
            required=bool(raw.get("required", False)),
            schema=_frozen({k: v for k, v in raw.items() if k not in {"required", "provenance"}}),
            provenance=_text(raw.get("provenance")),
        )


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One endpoint: method, route paths, the request section and responses by status."""

    name: str
    method: str
    paths: tuple[str, ...]
    request: Mapping[str, Any]
    #: ``"200"`` -> ``{template?, schema?, by_status?}`` (plain: templates and schemas).
    responses: Mapping[str, Any]
    #: Where the model id is read from a request (``{"in": "path", ...}``), or None.
    model_id: Mapping[str, Any] | None
    #: The whole section as written (for the few keys only one provider has).
    raw: Mapping[str, Any]
    #: Where the job id goes in a request (``{"in": "query", "name": ...}``), or None
    #: (then it fills the path's ``{id}``).
    job_id: Mapping[str, Any] | None = None
    #: ``request.model_input.pointer``: where the model input sits in the body
    #: (``"/input"``), or ``""`` when the body is the model input.
    model_input_pointer: str = ""
    #: ``request.transport_fields``: body fields that are not model input.
    transport_fields: tuple[str, ...] = ()
    #: name -> the documented query parameter.
    query: Mapping[str, QueryParameter] = _field(default_factory=_empty)
    provenance: str | None = None
    #: Situations this endpoint answers with a code of its own (``unknown_job``,
    #: ``terminal_job``), overriding ``errors.cases``.
    cases: Mapping[str, ErrorCase] = _field(default_factory=_empty)

    @classmethod
    def of(cls, name: str, raw: Mapping[str, Any]) -> Endpoint:
        model_id = raw.get("model_id")
        job_id = raw.get("job_id")
        request = _mapping(raw.get("request"))
        return cls(
            name=name,
            method=str(raw["method"]).upper(),
            paths=tuple(str(p) for p in raw["paths"]),
            request=request,
            responses=_mapping(raw.get("responses")),
            model_id=model_id if isinstance(model_id, Mapping) else None,
            raw=raw,
            job_id=job_id if isinstance(job_id, Mapping) else None,
            model_input_pointer=str(_mapping(request.get("model_input")).get("pointer", "")),
            transport_fields=tuple(str(f) for f in request.get("transport_fields") or ()),
            query=_frozen({
                str(n): QueryParameter.of(q) for n, q in _mapping(raw.get("query")).items()
                if isinstance(q, Mapping)
            }),
            provenance=_text(raw.get("provenance")),
            cases=_frozen({
                str(key): ErrorCase.of(value) for key, value in raw.items()
                if isinstance(value, Mapping) and value.get("code") is not None
            }),
        )

    def template(self, status: str = "200") -> Any:
        """The response template of ``status`` (plain data), or None."""
        return _mapping(self.responses.get(status)).get("template")


@dataclass(frozen=True, slots=True)
class Statuses:
    """Wire status words: each word's neutral state, and the word(s) shown per state."""

    #: wire word -> neutral state.
    words: Mapping[str, str]
    #: neutral state -> one word, words shown in turn across the state's time, or None.
    emit: Mapping[str, str | tuple[str, ...] | None]
    #: Words that end a job (``terminal: true``).
    terminal: frozenset[str] = frozenset()
    #: The section's provenance (drift findings cite it).
    provenance: str | None = None

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Statuses:
        facts = _mapping(raw.get("words"))
        words = {
            str(word): str(fact["neutral"])
            for word, fact in facts.items()
            if isinstance(fact, Mapping) and "neutral" in fact
        }
        terminal = frozenset(
            str(word) for word, fact in facts.items()
            if isinstance(fact, Mapping) and fact.get("terminal")
        )
        emit: dict[str, str | tuple[str, ...] | None] = {}
        for state, shown in _mapping(raw.get("emit")).items():
            if state == "provenance":
                continue
            emit[str(state)] = (
                None if shown is None
                else tuple(str(w) for w in shown) if isinstance(shown, list) else str(shown)
            )
        return cls(_frozen(words), _frozen(emit), terminal, _text(raw.get("provenance") or None))

    def neutral_of(self, word: str) -> str | None:
        """Neutral state of a wire status word, or None for an unknown word."""
        return self.words.get(word)

    def words_for(self, neutral: str) -> tuple[str, ...]:
        """Wire words emitted for ``neutral``, in phase order (empty if none)."""
        shown = self.emit.get(neutral)
        if shown is None:
            return ()
        return shown if isinstance(shown, tuple) else (shown,)


@dataclass(frozen=True, slots=True)
class ErrorTransport:
    """How errors travel: real HTTP statuses, or a code in a 200 body (Apikley)."""

    mode: str
    alternative_mode: str | None = None
    #: The HTTP status of a ``body_code`` error response.
    http_status: int = 200
    #: Codes sent as real HTTP statuses even in ``body_code`` mode (Apikley's 429).
    real_http_status_codes: frozenset[int] = frozenset()
    provenance: str | None = None
    #: The section as written: the OpenAPI document exports it as is
    #: (``x-error-transport``), keys that were not written staying absent.
    section: Mapping[str, Any] = _field(default_factory=_empty)

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> ErrorTransport:
        alternative = raw.get("alternative_mode")
        return cls(
            mode=str(raw.get("mode", "http_status")),
            alternative_mode=None if alternative is None else str(alternative),
            http_status=int(raw.get("http_status", 200)),
            real_http_status_codes=frozenset(
                int(c) for c in raw.get("real_http_status_codes") or ()
            ),
            provenance=_text(raw.get("provenance") or None),
            section=raw,
        )

    @property
    def modes(self) -> frozenset[str]:
        """Every transport this provider can be configured to."""
        return frozenset(m for m in (self.mode, self.alternative_mode) if m is not None)


@dataclass(frozen=True, slots=True)
class Envelope:
    """An error body: its template, and whether its message is the catalogue's."""

    template: Any
    message_from_catalogue: bool = False
    #: The envelope's JSON Schema (plain), or None.
    schema: Any = None


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """The default texts of one error code."""

    message: str | None = None
    details: str | None = None
    provenance: str | None = None


@dataclass(frozen=True, slots=True)
class ErrorCase:
    """Which code (and message) a named situation gets (``unknown_model``, ``validation``)."""

    code: int | None = None
    message: str | None = None
    provenance: str | None = None

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> ErrorCase:
        return cls(
            None if raw.get("code") is None else int(raw["code"]),
            None if raw.get("message") is None else str(raw["message"]),
            _text(raw.get("provenance")),
        )


@dataclass(frozen=True, slots=True)
class JobFailures:
    """Why a job failed, as the provider words it: kinds or codes, and the default one."""

    default: str
    #: kind or code -> its facts (``error_code``, ``failMsg``, ``message`` ...).
    table: Mapping[str, Mapping[str, Any]]

    def describe(self, failure: str | None) -> tuple[str, Mapping[str, Any]]:
        """``(kind, facts)`` for a job's failure; anything unknown is the default."""
        kind = failure or ""
        if kind in self.table:
            return kind, self.table[kind]
        return self.default, self.table.get(self.default, _EMPTY)


@dataclass(frozen=True, slots=True)
class Errors:
    """The ``errors`` section."""

    transport: ErrorTransport
    envelopes: Mapping[str, Envelope]
    catalogue: Mapping[str, CatalogueEntry]
    cases: Mapping[str, ErrorCase]
    job_failures: JobFailures

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Errors:
        envelopes = {
            str(key): Envelope(
                env.get("template"), env.get("message_from") == "catalogue", env.get("schema")
            )
            for key, env in _mapping(raw.get("envelopes")).items()
            if isinstance(env, Mapping)
        }
        catalogue = {
            str(code): CatalogueEntry(
                None if entry.get("message") is None else str(entry["message"]),
                None if entry.get("details") is None else str(entry["details"]),
                _text(entry.get("provenance")),
            )
            for code, entry in _mapping(raw.get("catalogue")).items()
            if isinstance(entry, Mapping)
        }
        cases = {
            str(name): ErrorCase.of(facts)
            for name, facts in _mapping(raw.get("cases")).items()
            if isinstance(facts, Mapping)
        }
        failures = _mapping(raw.get("job_failures"))
        table = _mapping(failures.get("kinds") or failures.get("codes"))
        return cls(
            transport=ErrorTransport.of(_mapping(raw.get("transport"))),
            envelopes=_frozen(envelopes),
            catalogue=_frozen(catalogue),
            cases=_frozen(cases),
            job_failures=JobFailures(
                str(failures.get("default", "")),
                _frozen({str(k): _mapping(v) for k, v in table.items()}),
            ),
        )

    def case_code(self, name: str, default: int) -> int:
        """``cases.<name>.code``, else ``default``."""
        case = self.cases.get(name)
        return default if case is None or case.code is None else case.code


@dataclass(frozen=True, slots=True)
class Registration:
    """One way a create registers its webhook: a body field or a query parameter."""

    #: ``body`` or ``query``.
    location: str
    #: The body field (``in: body``), or None.
    field: str | None = None
    #: The query parameter (``in: query``), or None.
    name: str | None = None
    #: ``secret`` for a field that carries the signing secret, else None.
    role: str | None = None

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Registration:
        return cls(
            location=str(raw.get("in", "")),
            field=_text(raw.get("field")),
            name=_text(raw.get("name")),
            role=_text(raw.get("role")),
        )


@dataclass(frozen=True, slots=True)
class Webhook:
    """The ``webhook`` section: when it fires, payload templates, signing, retries."""

    fires_on: frozenset[str]
    on_cancel: bool
    #: outcome -> ``{template?, schema}`` (plain).
    payload: Mapping[str, Any]
    signing_scheme: str | None
    #: ``{attempts, delays_seconds, timeout_seconds}`` as written (RetryPolicy reads it).
    retry: Mapping[str, Any]
    #: How a create registers a webhook (field names, where they go).
    registration: tuple[Registration, ...]
    #: Apikley's callback facts (``code_success``, ``callback_type`` ...), else empty.
    callback: Mapping[str, Any]
    #: The provenance of the webhook's headers (drift findings cite it).
    headers_provenance: str | None = None
    #: The JSON Schema of the webhook's headers (plain).
    headers_schema: Mapping[str, Any] = _field(default_factory=_empty)
    signing_provenance: str | None = None

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Webhook:
        signing = _mapping(raw.get("signing"))
        return cls(
            fires_on=frozenset(str(s) for s in raw.get("fires_on") or ()),
            on_cancel=bool(raw.get("on_cancel", False)),
            payload=_mapping(raw.get("payload")),
            signing_scheme=None if signing.get("scheme") is None else str(signing["scheme"]),
            retry=_mapping(raw.get("retry")),
            registration=tuple(
                Registration.of(r) for r in raw.get("registration") or () if isinstance(r, Mapping)
            ),
            callback=_mapping(raw.get("callback")),
            headers_provenance=_text(_mapping(raw.get("headers")).get("provenance") or None),
            headers_schema=_mapping(_mapping(raw.get("headers")).get("schema")),
            signing_provenance=_text(signing.get("provenance")),
        )


@dataclass(frozen=True, slots=True)
class Limits:
    """Size limits, unwrapped: ``max_body_bytes`` and any other integer limit by name."""

    values: Mapping[str, int]

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Limits:
        values = {}
        for name, value in raw.items():
            value = unwrap(value)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                values[str(name)] = value
        return cls(_frozen(values))

    def get(self, name: str) -> int | None:
        """The limit ``name`` (a positive integer), or None when the contract has none."""
        return self.values.get(name)


@dataclass(frozen=True, slots=True)
class Billing:
    """The ``billing`` section, unwrapped (the domain's BillingPolicy reads it)."""

    currency: str | None = None
    #: Seconds billed for any model without a duration input, or None.
    billed_seconds_assumption: Any = None
    #: model -> seconds billed when it has no duration input (None: it has one).
    assumptions: Mapping[str, Any] = _field(default_factory=_empty)
    #: model -> a pricing object or a per-field price table (plain data), as written.
    prices: Mapping[str, Any] = _field(default_factory=_empty)
    #: A pricing object for every other unpriced model (plain data), or None.
    fallback: Any = None

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Billing:
        currency = unwrap(raw.get("currency"))
        return cls(
            currency=None if not currency else str(currency),
            billed_seconds_assumption=unwrap(raw.get("billed_seconds_assumption")),
            assumptions=_frozen({
                str(model): unwrap(facts.get("billed_seconds")) if isinstance(facts, Mapping)
                else None
                for model, facts in _mapping(raw.get("assumptions")).items()
            }),
            prices=_frozen({str(m): entry for m, entry in _mapping(raw.get("prices")).items()}),
            fallback=unwrap(raw.get("fallback")),
        )


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The ``rate_limits`` section, unwrapped (the domain's RateLimitPolicy reads it)."""

    #: ``creates.limit`` as written (the policy checks it is a positive integer).
    creates_limit: Any = None
    creates_window_seconds: Any = None
    concurrent_limit: Any = None
    over_limit: Any = None
    concurrent_when_balance_at_most: Any = None
    #: tier name -> (creates per minute, concurrent), as written.
    tiers: Mapping[str, tuple[Any, Any]] = _field(default_factory=_empty)

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> RateLimits:
        creates = _mapping(raw.get("creates"))
        concurrent = _mapping(raw.get("concurrent"))
        tiers = {
            str(name): (
                tier.get("videos_per_minute", tier.get("creates_per_minute")),
                tier.get("concurrent"),
            )
            for name, tier in _mapping(raw.get("tiers")).items()
            if isinstance(tier, Mapping)
        }
        return cls(
            creates_limit=creates.get("limit"),
            creates_window_seconds=unwrap(creates.get("window_seconds")),
            concurrent_limit=concurrent.get("limit"),
            over_limit=unwrap(concurrent.get("over_limit")),
            concurrent_when_balance_at_most=unwrap(concurrent.get("applies_when_balance_at_most")),
            tiers=_frozen(tiers),
        )


@dataclass(frozen=True, slots=True)
class Media:
    """Where the mock serves generated files, how long links live, what an expired one gets."""

    output_url_pattern: str = _DEFAULT_OUTPUT_URL
    output_expires_seconds: float | None = None
    #: ``{status, content_type, body}`` of an expired link, or None.
    expired: Mapping[str, Any] | None = None

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Media:
        lifetime = unwrap(raw.get("output_expires_seconds"))
        expired = raw.get("expired")
        return cls(
            output_url_pattern=str(raw.get("output_url_pattern", _DEFAULT_OUTPUT_URL)),
            output_expires_seconds=None if lifetime is None else float(lifetime),
            expired=expired if isinstance(expired, Mapping) else None,
        )


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """One provider contract, typed (see the module text)."""

    name: str
    base_url: str
    hosts: tuple[str, ...]
    auth: tuple[AuthScheme, ...]
    endpoints: Mapping[str, Endpoint]
    statuses: Statuses
    errors: Errors
    webhook: Webhook
    rate_limits: RateLimits
    limits: Limits
    billing: Billing
    media: Media
    #: ``owner_key`` (jobs belong to the key that made them) or ``any_key``.
    job_isolation: str = "owner_key"

    def auth_header(self, key: str) -> tuple[str, str]:
        """``(header, value)`` carrying ``key`` the way the first usable scheme sends it.

        An ``apiKey`` header scheme sends the key as it is; an ``http`` bearer
        scheme (and a contract with neither) sends ``Authorization: Bearer <key>``.
        """
        for scheme in self.auth:
            if scheme.type == "apiKey" and scheme.location == "header":
                return str(scheme.name), key
            if scheme.type == "http" and str(scheme.scheme).lower() == "bearer":
                return "Authorization", f"Bearer {key}"
        return "Authorization", f"Bearer {key}"

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> ProviderSpec:
        """Build from a loaded ``provider.yaml`` (the loader has checked its required keys)."""
        return cls(
            name=str(data["provider"]),
            base_url=str(data["base_url"]),
            hosts=tuple(str(h).lower() for h in data.get("hosts") or ()),
            auth=tuple(
                AuthScheme.of(s) for s in _mapping(data.get("auth")).get("schemes") or ()
                if isinstance(s, Mapping)
            ),
            endpoints=_frozen({
                str(name): Endpoint.of(str(name), raw)
                for name, raw in _mapping(data.get("endpoints")).items()
            }),
            statuses=Statuses.of(_mapping(data.get("statuses"))),
            errors=Errors.of(_mapping(data.get("errors"))),
            webhook=Webhook.of(_mapping(data.get("webhook"))),
            rate_limits=RateLimits.of(_mapping(data.get("rate_limits"))),
            limits=Limits.of(_mapping(data.get("limits"))),
            billing=Billing.of(_mapping(data.get("billing"))),
            media=Media.of(_mapping(data.get("media"))),
            job_isolation=str(_mapping(data.get("isolation")).get("jobs") or "owner_key"),
        )
