"""What every provider adapter shares: reading its contract, not its shapes.

Each adapter (``<provider>/adapter.py``) only knows its provider's field
names. Everything that is the same rule applied to different data lives
here, driven by the typed provider contract (``contract.spec``):

* :func:`render_template` fills the contract's envelope / response templates;
* :func:`emit_word` picks the status word the contract emits for a job's
  neutral state, using :meth:`Job.phase_progress` when one state has several
  words (Eachlabs ``created`` then ``starting``; Apikley ``waiting`` then
  ``queuing``);
* :func:`extract_key` reads the API key by the contract's auth schemes;
* :class:`AdapterBase` implements the parts of
  :class:`~mockserver.providers.base.ProviderAdapter` that are the same for
  every provider: authentication, error rendering (envelope + transport from
  ``errors``), job creation with the webhook target, the output URL, the
  webhook secret lookup and the job-failure catalogue.

Nothing here imports Starlette or httpx: adapters are testable without a server.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mockserver.domain.accounts import Account, Accounts
from mockserver.domain.clock import is_manual
from mockserver.domain.errors import MockError
from mockserver.domain.lifecycle import NO_EFFECTS, Job, Plan, State, WebhookTarget
from mockserver.domain.service import CreateRequest, MockService, dumps
from mockserver.domain.webhooks import WebhookMessage
from mockserver.provider_spec import CatalogueEntry, Endpoint, ErrorCase, ProviderSpec, Statuses
from mockserver.providers.base import Route, WireRequest, WireResponse, extract_key

if TYPE_CHECKING:
    from mockserver.contracts import ModelContract, ProviderContract

__all__ = [
    "DEFAULT_WEBHOOK_SECRET",
    "AdapterBase",
    "SecretLookup",
    "TemplateCache",
    "earlier_snapshot",
    "emit_word",
    "epoch_ms",
    "extract_key",
    "iso_ms",
    "render_template",
    "seconds_to_ms",
]

#: What a situation or an error code has when the contract says nothing of it.
_NO_CASE = ErrorCase()
_NO_TEXTS = CatalogueEntry()

#: WaveSpeed-style account webhook secret used when no account supplies one
#: (``base64("mock-webhook-secret")`` behind the ``whsec_`` prefix). Receivers
#: in tests and examples verify signatures with it; documented in the README.
DEFAULT_WEBHOOK_SECRET = "whsec_bW9jay13ZWJob29rLXNlY3JldA=="

#: Looks up the webhook signing secret of the account behind an API key.
SecretLookup = Callable[[str], "str | None"]

_PLACEHOLDER = re.compile(r"\{(\w+)\}")

#: Scenario keys that are :class:`Plan` fields (the rest go to ``job.effects``).
_PLAN_FIELDS = frozenset(field.name for field in dataclasses.fields(Plan))


# --- templates -------------------------------------------------------------
def render_template(template: Any, values: Mapping[str, Any]) -> Any:
    """Fill a contract template with ``values``.

    The contract convention (see the header of every ``provider.yaml``): a
    string that is exactly one placeholder (``"{code}"``, ``"{output}"``)
    becomes the value itself, keeping its JSON type (an integer code, a URL,
    null); placeholders inside longer strings are replaced by ``str(value)``;
    unknown placeholders are left as written; other values are copied.
    """
    return _compile_template(template)(values)


_Render = Callable[[Mapping[str, Any]], Any]


class TemplateCache:
    """:func:`render_template` with each template compiled once; one per app.

    Every response is rendered from one of a few long-lived contract
    templates: each is compiled once into closures instead of walked and
    regex-matched on every request. The app owns the cache
    (``MockState.templates``, handed to its adapters), so two apps share
    nothing and a cache goes with its app.
    """

    #: Templates kept at most (a bound, not an LRU: contracts hold a few dozen).
    MAX_ENTRIES = 1024

    def __init__(self) -> None:
        #: id(template) -> (template, renderer); the template is kept so an id
        #: reused by a new object is recognised.
        self._compiled: dict[int, tuple[Any, _Render]] = {}

    def render(self, template: Any, values: Mapping[str, Any]) -> Any:
        """:func:`render_template`, compiled once per template."""
        if not isinstance(template, Mapping | list):
            return _compile_template(template)(values)
        entry = self._compiled.get(id(template))
        if entry is None or entry[0] is not template:
            entry = (template, _compile_template(template))
            if len(self._compiled) >= self.MAX_ENTRIES:
                self._compiled.clear()
            self._compiled[id(template)] = entry
        return entry[1](values)

    def __len__(self) -> int:
        return len(self._compiled)


def _compile_template(template: Any) -> _Render:
    if isinstance(template, Mapping):
        fields = [(key, _compile_template(value)) for key, value in template.items()]
        return lambda values: {key: render(values) for key, render in fields}
    if isinstance(template, list):
        items = [_compile_template(value) for value in template]
        return lambda values: [render(values) for render in items]
    if isinstance(template, str):
        return _compile_text(template)
    return lambda _values: template  # a number, bool or null: immutable


def _compile_text(template: str) -> _Render:
    whole = _PLACEHOLDER.fullmatch(template)
    if whole:
        name = whole.group(1)
        return lambda values: values.get(name, template)
    if "{" not in template:
        return lambda _values: template

    def fill(values: Mapping[str, Any]) -> str:
        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            return str(values[name]) if name in values else match.group(0)

        return _PLACEHOLDER.sub(substitute, template)

    return fill


# --- status words ----------------------------------------------------------
def emit_word(statuses: Statuses, job: Job, now: float) -> str | None:
    """The wire status word for ``job`` now, from the contract's ``statuses.emit``.

    ``emit.<neutral state>`` is one word, a list of words shown one after the
    other across the state's planned time, or null when the provider has no
    word for it (Apikley cannot cancel). For a list, the job's
    :meth:`~Job.phase_progress` picks the word: with ``[waiting, queuing]`` a
    job in the first half of its queued time is ``waiting``, then ``queuing``.
    """
    emit = statuses.emit.get(job.state.value)
    if emit is None or isinstance(emit, str):
        return emit
    words = emit
    if not words:
        return None
    index = int(job.phase_progress(now) * len(words))
    return str(words[min(index, len(words) - 1)])


# --- auth ------------------------------------------------------------------
# --- times -----------------------------------------------------------------
def epoch_ms(seconds: float) -> int:
    """Unix milliseconds of a mock time (Apikley createTime / completeTime)."""
    return round(seconds * 1000)


def seconds_to_ms(seconds: float) -> int:
    """A duration in whole milliseconds (WaveSpeed timings.inference, Apikley costTime)."""
    return max(0, round(seconds * 1000))


@functools.lru_cache(maxsize=4096)  # pure; a job's timestamps repeat on every poll
def iso_ms(seconds: float) -> str:
    """ISO 8601 UTC with milliseconds and ``Z`` (``2023-04-01T12:34:56.789Z``)."""
    millis = epoch_ms(seconds)
    return f"{_iso_second(millis // 1000)}.{millis % 1000:03d}Z"


@functools.lru_cache(maxsize=1024)
def _iso_second(second: int) -> str:
    # Formatting a datetime is most of iso_ms; jobs made or polled in the
    # same mock second share the text.
    return f"{datetime.fromtimestamp(second, UTC):%Y-%m-%dT%H:%M:%S}"


def run_seconds(job: Job) -> float | None:
    """Seconds the job spent running, once it has finished after starting."""
    if job.started_at is None or job.finished_at is None:
        return None
    return max(0.0, job.finished_at - job.started_at)


def callback_url_problem(url: object) -> str | None:
    """Why ``url`` cannot be a webhook / callback target, or None.

    Unlike input files, callback URLs need not be public: receivers in tests
    and local development listen on loopback. An absolute http(s) URL with a
    host, a valid port and no whitespace (the contracts say ``format: uri``).
    """
    if not isinstance(url, str) or not url:
        return "must be a non-empty string URL"
    if any(char.isspace() for char in url):
        return "must not contain whitespace"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as error:
        return f"is not a valid URL ({error})"
    if parts.scheme.lower() not in ("http", "https"):
        return f"must be an absolute http or https URL (got {parts.scheme or 'no scheme'!r})"
    if not host:
        return "has no host"
    return None


# --- the shared adapter part -----------------------------------------------
class AdapterBase:
    """The provider-independent half of a :class:`ProviderAdapter`.

    Subclasses set :attr:`name`, implement ``routes()`` and their own wire
    shapes, and call :meth:`_create_job` / :meth:`_job_url_values`. The
    constructor registers :meth:`webhook` with the service, so a finished job
    of this provider becomes a delivery in the outbox.

    Knobs the HTTP layer or a config file may set after construction:

    ``error_transport``
        ``"http_status"`` or ``"body_code"``; overrides the contract's
        ``errors.transport.mode`` (Apikley can be switched to real HTTP codes).
    ``accounts``
        the world's :class:`~mockserver.domain.accounts.Accounts` (the app
        sets the shared one; each adapter starts with its own): which keys
        are valid (magic ``sk_invalid`` keys give 401), balances for the
        balance endpoints, and each key's webhook secret.
    ``webhook_secrets``
        ``key -> secret or None``: overrides the accounts' webhook secret.
    ``templates``
        the :class:`TemplateCache` response templates are rendered through
        (the app shares its own; each adapter starts with its own).

    A create's fault scenario (forced failure, stuck job, webhook effects)
    arrives on the request: ``request.scenario_overrides``.
    """

    name: str = ""
    #: Secret used to sign webhooks when no account lookup gives one (None: unsigned).
    default_webhook_secret: str | None = None

    def __init__(self, contract: ProviderContract, service: MockService) -> None:
        self.contract = contract
        self.service = service
        self.error_transport: str | None = None
        self.webhook_secrets: SecretLookup | None = None
        self.templates = TemplateCache()
        # Our own accounts until the app shares the world's (``adapter.accounts = ...``):
        # key validity (magic invalid keys), balances, webhook secrets.
        currency = contract.spec.billing.currency
        self.accounts: Accounts = Accounts(
            currencies={self.name: str(currency)} if currency else None
        )
        service.register_webhook_renderer(self.name, self.webhook)
        service.register_stale_webhook_renderer(self.name, self.stale_webhook)

    # --- contract access ---------------------------------------------------
    @property
    def spec(self) -> ProviderSpec:
        """The provider contract, typed (``provider.yaml`` as loaded once)."""
        return self.contract.spec

    def endpoint(self, name: str) -> Endpoint:
        """The contract's endpoint ``name``."""
        return self.contract.spec.endpoints[name]

    def paths(self, endpoint: str) -> list[str]:
        """Route paths of an endpoint, as the contract lists them."""
        return list(self.endpoint(endpoint).paths)

    def bind(self, *endpoints: str, path_params: Mapping[str, str] | None = None) -> list[Route]:
        """Routes for ``endpoints``, in that order: method and paths from the contract.

        Each endpoint is handled by the adapter method of the same name.
        ``path_params`` rewrites a parameter's pattern (``{model_id}`` ->
        ``{model_id:path}`` where a model id contains slashes).
        """
        routes: list[Route] = []
        for name in endpoints:
            method = self.endpoint(name).method
            handler = getattr(self, name)
            for path in self.paths(name):
                for param, pattern in (path_params or {}).items():
                    path = path.replace("{" + param + "}", pattern)
                routes.append(Route(name, method, path, handler))
        return routes

    def word(self, job: Job) -> str:
        """The status word to show for ``job`` now.

        A neutral state the provider has no word for (Apikley has no
        cancellation) is shown with the failed word: a client sees a
        terminal failure, which is what a cancelled job is to it.
        """
        statuses = self.contract.spec.statuses
        word = emit_word(statuses, job, self.service.clock.now())
        if word is None:
            word = statuses.words_for("failed")[0]
        return word

    def case(self, name: str) -> ErrorCase:
        """``errors.cases.<name>``: which code (and message) a situation gets."""
        return self.contract.spec.errors.cases.get(name) or _NO_CASE

    def case_code(self, name: str, default: int) -> int:
        """``errors.cases.<name>.code``, else ``default``."""
        return self.contract.spec.errors.case_code(name, default)

    def case_error(self, case: str, message: str, **fields: Any) -> MockError:
        """A MockError for a named situation, coded as the contract says."""
        facts = self.case(case)
        return MockError(
            400 if facts.code is None else facts.code, facts.message or message, **fields
        )

    def catalogue(self, code: int) -> CatalogueEntry:
        """``errors.catalogue.<code>``: default texts for an error code."""
        return self.contract.spec.errors.catalogue.get(str(code)) or _NO_TEXTS

    def failure_kind(self, job: Job) -> tuple[str, Mapping[str, Any]]:
        """The ``errors.job_failures`` entry describing why ``job`` failed.

        ``job.failure`` names a kind (``content_moderation``) or, for WaveSpeed,
        a failure code (``"1200"``); anything unknown, including the domain's
        generic ``"internal"``, is the contract's ``default``.
        """
        return self.contract.spec.errors.job_failures.describe(job.failure)

    # --- auth ----------------------------------------------------------------
    def authenticate(self, request: WireRequest) -> str:
        """The API key of the request; MockError(401) in this provider's words if none."""
        key = request.api_key(self.contract.spec.auth)
        if key is None:
            text = self.catalogue(401).message or "Unauthorized"
            raise self.case_error("missing_auth", text, rule="auth")
        if not self.accounts.is_valid(key):
            raise self.case_error("invalid_auth", "Invalid API key", rule="auth",
                                  details="the API key is not valid")
        return key

    def account(self, request: WireRequest) -> Account:
        """The authenticated caller's account at this provider."""
        return self.accounts.current(self.name, self.authenticate(request))

    # --- errors --------------------------------------------------------------
    def transport_mode(self) -> str:
        """How errors travel: ``http_status`` or ``body_code`` (config beats contract)."""
        return self.error_transport or self.contract.spec.errors.transport.mode

    def http_status_for(self, code: int) -> int:
        """The HTTP status an error with provider code ``code`` is sent with."""
        transport = self.contract.spec.errors.transport
        if self.transport_mode() == "body_code":
            # Apikley [3P]: errors are HTTP 200 with the code in the body,
            # except the few listed codes (429) that are real HTTP statuses.
            if code in transport.real_http_status_codes:
                return code
            return transport.http_status
        return code

    def wire_code(self, status: int) -> int:
        """The code to put on the wire for a MockError's ``status``.

        With the code in the body (Apikley) the vocabulary is closed: the
        catalogue's codes only. A status from outside it (405 for a wrong
        method, 415 for a body that is not JSON) becomes the nearest
        catalogued code: ``errors.cases.method_not_allowed`` for 405 (Apikley:
        404 "endpoint does not exist"; 404 when the case is absent), 422
        "validation error" for another client error, else 500. With real
        HTTP statuses any status travels as it is.
        """
        catalogue = self.contract.spec.errors.catalogue
        body_code = self.transport_mode() == "body_code"
        mapped = self.case("method_not_allowed").code if status == 405 else None
        if mapped is not None and body_code:
            # errors.cases.method_not_allowed: Apikley's closed vocabulary says 404.
            status = mapped
        if not body_code or str(status) in catalogue:
            return status
        if status == 405:
            return 404
        return 422 if 400 <= status < 500 else 500

    def render_error(self, error: MockError, request: WireRequest | None) -> WireResponse:
        """The provider's envelope for ``error``, in its transport.

        The envelope is ``errors.envelopes.<code>`` or ``default``; its
        ``{message}`` is the error's own message (it names the offending field
        for validation errors), ``{details}`` the error's details or the
        catalogue text, with the field and rule appended so a client log
        shows exactly what was refused.
        """
        code = self.wire_code(error.status)
        envelopes = self.contract.spec.errors.envelopes
        key = str(code) if str(code) in envelopes else "default"
        catalogue = self.catalogue(code)
        message = error.message or (catalogue.message if catalogue.message is not None
                                    else "error")
        details = error.details or catalogue.details or message
        if envelopes[key].message_from_catalogue and catalogue.message:
            # One text per code whatever the cause (a real limit or Prefer:
            # code=): the catalogue's; the cause goes to the details.
            cause = message
            message = catalogue.message
            if cause != message:
                details = cause if not error.details else f"{cause}; {error.details}"
        named = [f"{label}: {value}" for label, value in
                 (("field", error.field), ("rule", error.rule)) if value]
        if named:
            details = f"{details} ({', '.join(named)})"
        body = self.templates.render(
            envelopes[key].template,
            {"code": code, "message": message, "details": details},
        )
        headers = dict(error.headers)
        if error.retry_after is not None:
            headers["Retry-After"] = str(max(0, math.ceil(error.retry_after)))
        return WireResponse(
            status=self.http_status_for(code),
            body=body,
            headers=headers,
            schema=f"/errors/envelopes/{key}/schema",
        )

    # --- creating jobs -------------------------------------------------------
    def model_or_error(self, model_id: object) -> ModelContract:
        """The model contract for ``model_id``; the contract's unknown-model error if none."""
        model = self.contract.model(model_id) if isinstance(model_id, str) else None
        if model is None:
            raise self.case_error(
                "unknown_model",
                f"model {model_id!r} not found",
                field="model",
                rule="exists",
            )
        return model

    def webhook_target(
        self, url: object, secret: object = None, *, field: str, status: int
    ) -> WebhookTarget | None:
        """A webhook target from the create request, or None when none was given.

        Absent (or JSON null) means no webhook; a value that is present must be
        an absolute http(s) URL, else MockError(``status``) — an empty string
        included (``?webhook=`` with nothing after it).
        """
        if url is None:
            return None
        problem = callback_url_problem(url)
        if problem:
            raise MockError(status, f"{field} {problem}", field=field, rule="uri")
        assert isinstance(url, str)
        # Not an SSRF tool: loopback and listed hosts only (see domain.webhook_targets).
        problem = self.service.settings.webhook_policy.url_problem(url)
        if problem:
            raise MockError(status, f"{field} {problem}", field=field, rule="webhook_target")
        if secret is not None and not isinstance(secret, str):
            raise MockError(status, "webhook secret must be a string", rule="type")
        return WebhookTarget(url=url, secret=secret)

    def create_job(
        self,
        request: WireRequest,
        *,
        key: str,
        model: ModelContract,
        inputs: dict[str, Any],
        job_id: str,
        webhook: WebhookTarget | None,
        validation_status: int,
        provider_fields: Any = None,
    ) -> Job:
        """Store a new job; remember where the client addressed us for later URLs.

        Webhooks are rendered without a request (when the clock finishes the
        job), so the base URLs go on the job now. ``provider_fields`` is the
        adapter's own per-job record (:attr:`Job.provider_fields`).
        """
        # Read only: both dicts below are built from it.
        scenario: Mapping[str, Any] = request.scenario_overrides
        # Plan fields shape the lifecycle; anything else (a WaveSpeed
        # ``sync_timeout``) is for the adapter and rides in ``job.effects``.
        overrides = {k: v for k, v in scenario.items() if k in _PLAN_FIELDS}
        if overrides.get("outcome") is not None:
            overrides["outcome"] = State(overrides["outcome"])
        effects = {k: v for k, v in scenario.items() if k not in _PLAN_FIELDS}
        create = CreateRequest(
            provider=self.name,
            key=key,
            model=model,
            input=inputs,
            webhook=webhook,
            validation_status=validation_status,
            plan_overrides=overrides,
            base_url=request.base_url.rstrip("/"),
            media_base_url=request.media_base_url.rstrip("/"),
            effects=effects or NO_EFFECTS,
            provider_fields=provider_fields,
        )
        return self.service.create(create, job_id)

    # --- rendering helpers ---------------------------------------------------
    def base_url(self, job: Job) -> str:
        """The provider root the job's creator addressed (for ``urls.get``)."""
        return (job.base_url or self.contract.spec.base_url).rstrip("/")

    def output_url(self, job: Job) -> str:
        """Where the mock serves the job's generated file (``media.output_url_pattern``).

        Like a provider's signed CDN link it carries its expiry (``expires``,
        unix seconds on the mock clock): ``media.output_expires_seconds`` after
        the job finished, or at once under scenario ``output_expired``. The
        media route answers 403 after it (``media.expired``).
        """
        media_base = job.media_base_url or self.base_url(job)
        lifetime = self.contract.spec.media.output_expires_seconds
        if lifetime is None or job.finished_at is None:
            return self.media_url(media_base, job.id, None)
        if job.effects.get("output_expired"):
            lifetime = 0
        return self.media_url(media_base, job.id, job.finished_at + float(lifetime))

    def media_url(self, media_base: str, job_id: str, expires: float | None) -> str:
        """The mock's URL of a job's file, in the contract's shape, expiring at ``expires``."""
        pattern = self.contract.spec.media.output_url_pattern
        url = pattern.format(base_url=media_base.rstrip("/"), id=job_id)
        return url if expires is None else f"{url}?expires={math.floor(expires)}"

    def outputs(self, job: Job) -> list[str]:
        """The job's output URLs: the mock's file once it has succeeded."""
        if job.state is not State.SUCCEEDED:
            return []
        if not job.outputs:
            job.outputs = [self.output_url(job)]
        return list(job.outputs)

    @staticmethod
    def cost(job: Job) -> float | None:
        """The job's cost as a JSON number, when billing has set one."""
        value = job.cost
        if value is None:
            return None
        amount = getattr(value, "amount", value)  # a billing Quote or a number
        try:
            return float(amount)
        except (TypeError, ValueError):
            return None

    def webhook_secret(self, job: Job) -> str | None:
        """The secret to sign ``job``'s webhook with: the account's, else the default."""
        if self.webhook_secrets is not None:
            secret = self.webhook_secrets(job.key)
            if secret:
                return secret
        if self.default_webhook_secret is None:
            return None  # the provider signs only on request (Apikley)
        return self.accounts.get(self.name, job.key).webhook_secret or self.default_webhook_secret

    def webhook(self, job: Job) -> WebhookMessage | None:
        """The webhook for a finished job; each provider renders its own payload."""
        raise NotImplementedError

    def stale_webhook(self, job: Job) -> WebhookMessage | None:
        """A stale payload of a finished job, as it was while running, or None.

        Scenario ``webhook_out_of_order`` delivers it after the final webhook
        (see :func:`earlier_snapshot`); a provider without one sends nothing.
        """
        return None

    # --- sync waits (WaveSpeed enable_sync_mode) -------------------------------
    def finish_within(self, job: Job, limit_seconds: float) -> Job:
        """Let up to ``limit_seconds`` of mock time pass for ``job`` to finish.

        With a :class:`ManualClock` nobody else will move time while the POST
        is open, so the mock advances the shared clock itself, to the job's
        end or by the limit, whichever is sooner: the same world a client
        would see after a blocking call of that length. With a real clock
        the job finishes on its own; see :meth:`wall_wait_seconds`.
        """
        clock = self.service.clock
        if is_manual(clock):
            deadline = clock.now() + limit_seconds
            due = job.next_due()
            while not job.terminal and due is not None and due <= deadline:
                clock.advance(max(0.0, due - clock.now()))
                job = self.service.get(self.name, job.id)
                due = job.next_due()
            if not job.terminal:
                clock.advance(max(0.0, deadline - clock.now()))
                job = self.service.get(self.name, job.id)
        return job

    def wall_wait_seconds(self, job: Job, limit_seconds: float) -> float:
        """Wall-clock seconds a real-clock sync wait should sleep (0 for manual clocks)."""
        clock = self.service.clock
        if is_manual(clock):
            return 0.0
        due = _end_due(job)
        remaining = limit_seconds if due is None else min(limit_seconds, due - clock.now())
        speed = float(getattr(clock, "speed", 1.0)) or 1.0
        return max(0.0, remaining) / speed

    @staticmethod
    def json_text(value: Any) -> str:
        """Compact JSON text, as providers embed JSON in strings (Apikley ``param``)."""
        return dumps(value).decode()


def earlier_snapshot(job: Job) -> Job:
    """A copy of a finished ``job`` as it was while running (nothing output yet).

    Adapters render it for scenario ``webhook_out_of_order``: the stale
    payload that arrives after the final one.
    """
    started = job.started_at if job.started_at is not None else job.created_at
    snapshot = dataclasses.replace(
        job,
        state=State.RUNNING,
        started_at=started,
        finished_at=None,
        outputs=[],
        failure=None,
    )
    snapshot.updated_at = started  # replace() re-runs __post_init__
    snapshot.queued_since = job.queued_since
    return snapshot


def _end_due(job: Job) -> float | None:
    """Mock time the job is planned to end, if its plan says (not stuck, held or poll-driven)."""
    if job.terminal:
        return job.finished_at
    if job.plan.stuck or job.plan.polls_per_phase or job.held:
        return None
    if job.state is State.QUEUED:
        return job.queued_since + job.plan.queue_seconds + job.plan.run_seconds
    if job.started_at is None:
        return None
    return job.started_at + job.plan.run_seconds


def parse_json_object(request: WireRequest, status: int) -> dict[str, Any]:
    """The request body as a JSON object; MockError(``status``) otherwise."""
    body = request.json()
    if not isinstance(body, dict):
        raise MockError(status, "request body must be a JSON object", rule="type")
    return body


def loads(text: str) -> Any:
    """Parse JSON text (tests and adapters reading embedded JSON strings)."""
    return json.loads(text)
