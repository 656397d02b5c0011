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
    "Statuses",
    "Webhook",
    "unwrap",
]

_EMPTY: Mapping[str, Any] = MappingProxyType({})
#: Where generated files are served when a contract does not say.
_DEFAULT_OUTPUT_URL = "{base_url}/_mock/media/{id}.mp4"


def unwrap(value: Any) -> Any:
    """``v`` for a fact object ``{"value": v, "provenance": ...}``; anything else as it is."""
    if isinstance(value, Mapping) and "value" in value and "provenance" in value:
        return value["value"]
    return value


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else _EMPTY


def _frozen(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


@dataclass(frozen=True, slots=True)
class AuthScheme:
    """One way a request carries its key: ``apiKey`` in a header, or ``http`` bearer."""

    type: str
    location: str | None = None
    name: str | None = None
    scheme: str | None = None
    #: Text before the key in the header (fal's ``Authorization: Key <key>``).
    prefix: str = ""

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> AuthScheme:
        return cls(
            type=str(raw.get("type", "")),
            location=None if raw.get("in") is None else str(raw["in"]),
            name=None if raw.get("name") is None else str(raw["name"]),
            scheme=None if raw.get("scheme") is None else str(raw["scheme"]),
            prefix=str(raw.get("prefix") or ""),
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

    @classmethod
    def of(cls, name: str, raw: Mapping[str, Any]) -> Endpoint:
        model_id = raw.get("model_id")
        return cls(
            name=name,
            method=str(raw["method"]).upper(),
            paths=tuple(str(p) for p in raw["paths"]),
            request=_mapping(raw.get("request")),
            responses=_mapping(raw.get("responses")),
            model_id=model_id if isinstance(model_id, Mapping) else None,
            raw=raw,
        )


@dataclass(frozen=True, slots=True)
class Statuses:
    """Wire status words: each word's neutral state, and the word(s) shown per state."""

    #: wire word -> neutral state.
    words: Mapping[str, str]
    #: neutral state -> one word, words shown in turn across the state's time, or None.
    emit: Mapping[str, str | tuple[str, ...] | None]

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Statuses:
        words = {
            str(word): str(fact["neutral"])
            for word, fact in _mapping(raw.get("words")).items()
            if isinstance(fact, Mapping) and "neutral" in fact
        }
        emit: dict[str, str | tuple[str, ...] | None] = {}
        for state, shown in _mapping(raw.get("emit")).items():
            if state == "provenance":
                continue
            emit[str(state)] = (
                None if shown is None
                else tuple(str(w) for w in shown) if isinstance(shown, list) else str(shown)
            )
        return cls(_frozen(words), _frozen(emit))

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


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """The default texts of one error code."""

    message: str | None = None
    details: str | None = None


@dataclass(frozen=True, slots=True)
class ErrorCase:
    """Which code (and message) a named situation gets (``unknown_model``, ``validation``)."""

    code: int | None = None
    message: str | None = None


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
            str(key): Envelope(env.get("template"), env.get("message_from") == "catalogue")
            for key, env in _mapping(raw.get("envelopes")).items()
            if isinstance(env, Mapping)
        }
        catalogue = {
            str(code): CatalogueEntry(
                None if entry.get("message") is None else str(entry["message"]),
                None if entry.get("details") is None else str(entry["details"]),
            )
            for code, entry in _mapping(raw.get("catalogue")).items()
            if isinstance(entry, Mapping)
        }
        cases = {
            str(name): ErrorCase(
                None if facts.get("code") is None else int(facts["code"]),
                None if facts.get("message") is None else str(facts["message"]),
            )
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
    registration: tuple[Mapping[str, Any], ...]
    #: Apikley's callback facts (``code_success``, ``callback_type`` ...), else empty.
    callback: Mapping[str, Any]

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Webhook:
        signing = _mapping(raw.get("signing"))
        return cls(
            fires_on=frozenset(str(s) for s in raw.get("fires_on") or ()),
            on_cancel=bool(raw.get("on_cancel", False)),
            payload=_mapping(raw.get("payload")),
            signing_scheme=None if signing.get("scheme") is None else str(signing["scheme"]),
            retry=_mapping(raw.get("retry")),
            registration=tuple(r for r in raw.get("registration") or () if isinstance(r, Mapping)),
            callback=_mapping(raw.get("callback")),
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
    """The ``billing`` section: the currency, and the section for the domain's price rules."""

    currency: str | None
    section: Mapping[str, Any]


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
    #: The ``rate_limits`` section as written (the domain's RateLimitPolicy reads it).
    rate_limits: Mapping[str, Any]
    limits: Limits
    billing: Billing
    media: Media
    #: ``owner_key`` (jobs belong to the key that made them) or ``any_key``.
    job_isolation: str = "owner_key"

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> ProviderSpec:
        """Build from a loaded ``provider.yaml`` (the loader has checked its required keys)."""
        billing = _mapping(data.get("billing"))
        currency = billing.get("currency")
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
            rate_limits=_mapping(data.get("rate_limits")),
            limits=Limits.of(_mapping(data.get("limits"))),
            billing=Billing(None if not currency else str(currency), billing),
            media=Media.of(_mapping(data.get("media"))),
            job_isolation=str(_mapping(data.get("isolation")).get("jobs") or "owner_key"),
        )
