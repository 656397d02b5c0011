"""The seam between the HTTP layer and a provider.

The HTTP layer turns a Starlette request into a framework-free
:class:`WireRequest`, finds the provider's :class:`Route`, and calls the
adapter's handler. A handler parses the wire shape, calls the neutral
:class:`~mockserver.domain.service.MockService`, and renders a
:class:`WireResponse` in the provider's exact shape and status words. Every
expected failure is a :class:`~mockserver.domain.errors.MockError`; the HTTP
layer's one handler gives it to :meth:`ProviderAdapter.render_error`, which
applies the provider's envelope and error transport from its contract.

Adapters never import Starlette: they can be exercised without a server.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from mockserver import wirejson
from mockserver.domain.errors import MockError
from mockserver.domain.webhooks import WebhookMessage

if TYPE_CHECKING:
    from mockserver.contracts import ProviderContract
    from mockserver.domain.lifecycle import Job
    from mockserver.domain.service import MockService
    from mockserver.provider_spec import AuthScheme


#: WireRequest._parsed before the body is parsed.
_UNPARSED: Any = object()


def extract_key(headers: Mapping[str, str], schemes: Iterable[AuthScheme]) -> str | None:
    """The API key carried by ``headers`` under any of the contract's auth schemes.

    Supports the two scheme kinds the providers use: ``apiKey`` in a header
    (Eachlabs ``X-API-Key``) and ``http`` ``bearer`` (``Authorization: Bearer``).
    An ``apiKey`` scheme with a ``prefix`` (fal's ``Authorization: Key <key>``)
    carries the key only after that prefix (compared ignoring case).
    Header names in ``headers`` are lower-case (see :class:`WireRequest`).
    """
    for scheme in schemes:
        if scheme.type == "apiKey" and scheme.location == "header" and scheme.name:
            value = headers.get(scheme.name.lower(), "").strip()
            if scheme.prefix:
                if not value.lower().startswith(scheme.prefix.lower()):
                    continue
                value = value[len(scheme.prefix):].strip()
            if value:
                return value
        elif scheme.type == "http" and (scheme.scheme or "").lower() == "bearer":
            authorization = headers.get("authorization", "")
            prefix, _, token = authorization.partition(" ")
            if prefix.lower() == "bearer" and token.strip():
                return token.strip()
    return None


@dataclass(slots=True)
class WireRequest:
    """An HTTP request as an adapter sees it (treat it as read only).

    ``headers`` keys are lower-case. ``base_url`` is where this provider is
    served from as the client addressed it (``http://127.0.0.1:8080/wavespeed``,
    or ``https://api.wavespeed.ai`` when routed by Host), so URLs the adapter
    renders (``urls.get``, output files) lead back to the mock.

    Not frozen, only because a frozen dataclass sets each of its eight
    fields through ``object.__setattr__``: 0.9 µs instead of 0.2 on every
    request.
    """

    method: str
    path: str
    path_params: Mapping[str, str]
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    base_url: str
    media_base_url: str
    #: The body parsed once (scenario matching reads it before the handler):
    #: :meth:`parsed_body` fills it; not part of the request's value.
    _parsed: Any = field(default=_UNPARSED, init=False, compare=False, repr=False)
    #: The API key, read once: scenario matching asks before the adapter does.
    _api_key: Any = field(default=_UNPARSED, init=False, compare=False, repr=False)
    #: What this request's fault scenario asks of a create (plan fields such as
    #: ``outcome``, ``stuck``; ``webhook_*`` flags): the HTTP layer sets it once
    #: the scenario is chosen (mockserver.faults.selection), the adapter reads it.
    scenario_overrides: Mapping[str, Any] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def api_key(self, schemes: Iterable[AuthScheme]) -> str | None:
        """:func:`extract_key` of this request's headers, read once per request.

        ``schemes`` are the provider contract's auth schemes; every caller of
        one request serves the same provider, so the first answer stands.
        """
        if self._api_key is _UNPARSED:
            self._api_key = extract_key(self.headers, schemes)
        return self._api_key  # type: ignore[no-any-return]

    def parsed_body(self) -> Any:
        """``json.loads(body)`` whatever the content type, parsed once per request.

        Raises what ``json.loads`` raises. Callers must not mutate the result
        before the handler has read it (scenario matching only reads).
        """
        if self._parsed is _UNPARSED:
            self._parsed = wirejson.loads(self.body)
        return self._parsed

    def json(self) -> Any:
        """The body parsed as JSON; MockError(400) when it is not JSON.

        The content type must be JSON (``application/json`` or ``+json``);
        adapters call this only on routes that take a JSON body.
        """
        content_type = self.headers.get("content-type", "")
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type != "application/json" and not media_type.endswith("+json"):
            raise MockError(
                415 if self.body else 400,
                f"Content-Type must be application/json, got {content_type or 'nothing'!r}",
                rule="content-type",
            )
        try:
            return self.parsed_body()
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise MockError(400, f"request body is not valid JSON: {error}", rule="json") from error


@dataclass(slots=True)
class WireResponse:
    """A response to send: HTTP status, JSON-able body, extra headers.

    ``raw`` (bytes) replaces the JSON body when set (media files, and
    deliberately malformed bodies from fault scenarios). ``schema`` is the
    JSON pointer, into the provider contract, of the schema the body must
    satisfy; with response validation on (every test), the HTTP layer checks
    the body against it, so a mock that strays from its contract fails loudly.
    """

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    media_type: str = "application/json"
    schema: str | None = None


#: A handler answers at once, or returns an awaitable when the answer has to
#: wait (WaveSpeed sync mode on a real clock) without blocking the event loop.
Handler = Callable[[WireRequest], WireResponse | Awaitable[WireResponse]]


@dataclass(frozen=True, slots=True)
class Route:
    """One endpoint of a provider.

    ``path`` is a Starlette path pattern relative to the provider's root
    (``/v1/prediction/{id}``); ``name`` is the contract's endpoint name
    (``create``, ``poll``, ``cancel``, ``balance``, ``upload``), used by the
    journal, fault matching and the OpenAPI export.
    """

    name: str
    method: str
    path: str
    handler: Handler
    #: For a catch-all path (``{model_id:path}``): whether the matched
    #: parameters name something that exists. A path it denies is unknown to
    #: another method (404, not 405); None: every match exists.
    exists: Callable[[dict[str, str]], bool] | None = None


class ProviderAdapter(Protocol):
    """What the HTTP layer needs from each provider."""

    #: Provider name: the path prefix and the contract folder.
    name: str
    contract: ProviderContract

    def routes(self) -> list[Route]:
        """Every endpoint this provider serves, bound to its handler."""
        ...

    def authenticate(self, request: WireRequest) -> str:
        """Return the API key the request carries; raise MockError(401) if none."""
        ...

    def render_error(self, error: MockError, request: WireRequest | None) -> WireResponse:
        """The provider's error envelope and transport for ``error``."""
        ...

    def webhook(self, job: Job) -> WebhookMessage | None:
        """The payload (and signing inputs) to POST when ``job`` ends, or None."""
        ...


AdapterFactory = Callable[["ProviderContract", "MockService"], ProviderAdapter]
