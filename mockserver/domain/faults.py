"""Fault injection: named scenarios, the ``Prefer`` header, queued scenarios, magic values.

A :class:`Scenario` is data: effects on the HTTP response, on the job's
lifecycle and on its webhook deliveries. This module only decides *which*
scenario applies to a request; the HTTP layer, the world and the webhook
sender interpret the effects. Scenario definitions live in a registry filled
by a decorator at import time and frozen afterwards (like schemathesis'
checks); everything that changes at run time (the queue) is an instance.

Built-in scenarios (``SCENARIOS``):

==========================  ===================================================
name                        effect
==========================  ===================================================
``job_failed``              the job runs, then fails (provider's default failure)
``job_failed:<kind>``       same, with that failure from the provider contract's
                            ``errors.job_failures`` (``content_moderation``,
                            ``invalid_input_media``, ``timeout``,
                            ``generation_failed``; WaveSpeed codes such as
                            ``job_failed:1200`` work too)
``job_stuck``               the job is accepted and never finishes
``slow``                    the response comes after a delay (default 3 s,
                            ``Prefer: delay=<s>`` to change it)
``drop_connection``         the connection closes before the status line: no response
``drop_after_headers``      the status line and headers (promising a body), then
                            the connection closes
``malformed_body``          the response body is not valid JSON
``truncated_body``          the response body is cut off halfway
``webhook_refused``         each webhook delivery meets a refused connection
``webhook_timeout``         each webhook delivery times out
``webhook_duplicate``       the final webhook is delivered twice
``webhook_out_of_order``    a stale earlier-state payload arrives after the final one
``output_expired``          the job succeeds, but its output URL has already
                            expired: fetching it gets the storage's 403
``sync_timeout``            a WaveSpeed sync-mode create gives up waiting
                            (``data.status: processing``, ``data.code: 5004``)
``chaos``                   schema-valid but adversarial responses and a
                            perturbed lifecycle, from a seed
                            (``Prefer: scenario=chaos, seed=7``; see
                            :mod:`mockserver.chaos`)
==========================  ===================================================

Choosing a scenario, strongest first: the ``Prefer`` header, then an entry
queued with ``POST /_mock/scenarios``, then a magic API key, then a prompt
marker (the HTTP layer applies this order; :func:`combine` merges several).

Magic values (Stripe-test-card style) — the lead copies this table to the README:

==========================================  ==========================================
value                                       effect
==========================================  ==========================================
``Prefer: code=429``                        that error in the provider's envelope; codes
                                            400 401 402 404 422 429 455 500 501 502 503
                                            504 505 (others: 400 from the mock)
``Prefer: scenario=job_failed``             the named scenario (unknown name: 400)
``Prefer: scenario=slow, delay=10``         ``slow`` with a 10 s delay
API key ``scenario-<name>[-anything]``      the named scenario for every request with
                                            the key, e.g. ``scenario-job_failed-ci``,
                                            ``scenario-job_failed:timeout``
API key ``scenario-<code>[-anything]``      that error code, e.g. ``scenario-429``
``[mock:<name>]`` in any text input         the named scenario for that create, e.g. a
                                            prompt ``"a cat [mock:job_stuck]"``;
                                            several markers combine
``[mock:<code>]`` in any text input         that error code, e.g. ``[mock:402]``
API key ``sk_invalid``, ``invalid…``        401 (see ``accounts``)
API key ``nofunds…``                        valid key with balance 0: 402 on create
==========================================  ==========================================

Magic values are matched ignoring the case of the ``scenario-`` prefix; the
scenario name itself is case-sensitive. An unknown name in a magic value is a
400, so a typo never silently runs the happy path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any, Literal

from mockserver.domain.errors import MockError

__all__ = [
    "ALLOWED_CODES",
    "DEFAULT_SLOW_DELAY_SECONDS",
    "MAGIC_KEY_PREFIX",
    "PROMPT_MARKER",
    "SCENARIOS",
    "Effects",
    "JobEffect",
    "Match",
    "Preference",
    "QueuedScenario",
    "ResponseEffect",
    "Scenario",
    "ScenarioError",
    "ScenarioQueue",
    "ScenarioRegistry",
    "WebhookEffect",
    "combine",
    "forced_code",
    "parse_prefer",
    "scenario_from_magic",
]

#: Error codes ``Prefer: code=`` (and magic values) may force.
ALLOWED_CODES = frozenset({400, 401, 402, 404, 422, 429, 455, 500, 501, 502, 503, 504, 505})
#: Real seconds the ``slow`` scenario waits before answering.
DEFAULT_SLOW_DELAY_SECONDS = 3.0
#: Longest delay a request may ask for; more would only hang test suites.
MAX_DELAY_SECONDS = 300.0
#: API keys starting with this select a scenario.
MAGIC_KEY_PREFIX = "scenario-"
#: ``[mock:<name>]`` inside any text input selects a scenario.
PROMPT_MARKER = re.compile(r"\[mock:([A-Za-z0-9_:.]+)\]")
#: Queued entries kept at most; an admin client in a loop must not exhaust memory.
MAX_QUEUED = 1_000

_NAME = re.compile(r"[a-z][a-z0-9_]*(?::[A-Za-z0-9_.]+)?")
_CODE = re.compile(r"[0-9]{3}")


class ScenarioError(MockError):
    """A scenario request the mock cannot honour: the HTTP layer answers 400.

    Raised for a bad ``Prefer`` value, an unknown scenario name, a code
    outside :data:`ALLOWED_CODES` or a malformed queue entry. It is a
    :class:`MockError` with status 400, but it is about the mock's controls,
    not the provider's API, so the HTTP layer may render it plainly.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(400, message, field=field, rule="scenario")


# --- effects ------------------------------------------------------------------


@dataclass(frozen=True)
class ResponseEffect:
    """What happens to the HTTP response of the request."""

    #: Answer with this error code in the provider's envelope instead.
    status: int | None = None
    #: Wait this many real seconds before answering.
    delay_seconds: float = 0.0
    #: Close the connection without answering (before the status line).
    drop_connection: bool = False
    #: Send the status line and headers, promising a body, then close the connection.
    drop_after_headers: bool = False
    #: Send a body that is not JSON.
    malformed_body: bool = False
    #: Send the first half of the body only.
    truncated_body: bool = False
    #: Client fuzzing: valid but adversarial bodies and lifecycle (mockserver.chaos).
    chaos: bool = False


@dataclass(frozen=True)
class JobEffect:
    """What happens to the job the request creates."""

    outcome: Literal["failed"] | None = None
    #: A key of the provider contract's ``errors.job_failures`` (``None``: its default).
    failure: str | None = None
    #: The job never finishes.
    stuck: bool = False
    #: A WaveSpeed sync-mode create returns before the job ends (code 5004).
    sync_timeout: bool = False
    #: The output URL expires the moment the job succeeds.
    output_expired: bool = False


@dataclass(frozen=True)
class WebhookEffect:
    """What happens to the job's webhook deliveries (the sender honours these)."""

    #: Every attempt meets a refused connection (nothing reaches the receiver).
    refused: bool = False
    #: Every attempt times out.
    timeout: bool = False
    #: The final delivery is sent twice.
    duplicate: bool = False
    #: After the final delivery, a payload of an earlier state is sent.
    out_of_order: bool = False


@dataclass(frozen=True)
class Effects:
    """The three kinds of effect together; what a scenario factory returns."""

    response: ResponseEffect = ResponseEffect()
    job: JobEffect = JobEffect()
    webhook: WebhookEffect = WebhookEffect()


def _merge(base: Any, top: Any) -> Any:
    """Field-wise: ``top``'s non-default values over ``base``."""
    changes = {
        f.name: getattr(top, f.name) for f in fields(top) if getattr(top, f.name) != f.default
    }
    return replace(base, **changes)


@dataclass(frozen=True)
class Scenario:
    """A named, described set of effects."""

    name: str
    description: str
    response: ResponseEffect = ResponseEffect()
    job: JobEffect = JobEffect()
    webhook: WebhookEffect = WebhookEffect()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (only effects that differ from normal)."""

        def changed(effect: Any) -> dict[str, Any]:
            return {
                f.name: getattr(effect, f.name)
                for f in fields(effect)
                if getattr(effect, f.name) != f.default
            }

        return {
            "name": self.name,
            "description": self.description,
            "response": changed(self.response),
            "job": changed(self.job),
            "webhook": changed(self.webhook),
        }

    def with_delay(self, seconds: float) -> Scenario:
        """This scenario with the response delayed by ``seconds``."""
        return replace(self, response=replace(self.response, delay_seconds=seconds))


def combine(*scenarios: Scenario | None) -> Scenario | None:
    """Merge scenarios; later ones win where both set the same effect."""
    present = [s for s in scenarios if s is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    result = present[0]
    for other in present[1:]:
        result = Scenario(
            name=f"{result.name}+{other.name}",
            description=f"{result.description}; {other.description}",
            response=_merge(result.response, other.response),
            job=_merge(result.job, other.job),
            webhook=_merge(result.webhook, other.webhook),
        )
    return result


def forced_code(status: int | str) -> Scenario:
    """The scenario that answers with error ``status``; :class:`ScenarioError` if not allowed."""
    text = str(status).strip()
    if not _CODE.fullmatch(text) or int(text) not in ALLOWED_CODES:
        allowed = " ".join(str(c) for c in sorted(ALLOWED_CODES))
        raise ScenarioError(f"code must be one of {allowed}; got {status!r}", field="code")
    code = int(text)
    return Scenario(
        name=f"code={code}",
        description=f"answer {code} in the provider's error envelope",
        response=ResponseEffect(status=code),
    )


# --- the registry -------------------------------------------------------------

Factory = Callable[[], Effects]


class ScenarioRegistry:
    """Scenario definitions by name.

    ``register`` is a decorator for a factory returning :class:`Effects`.
    ``job_failed:<kind>`` resolves for any kind (the provider contract knows
    which kinds exist; an unknown one falls back to its default failure).
    A frozen registry refuses new names; :meth:`extended` makes an unfrozen copy.
    """

    def __init__(self, scenarios: Iterable[Scenario] = ()) -> None:
        self._scenarios: dict[str, Scenario] = {}
        self._frozen = False
        for scenario in scenarios:
            self.add(scenario)

    def add(self, scenario: Scenario) -> Scenario:
        """Register one scenario; names are unique."""
        if self._frozen:
            raise RuntimeError("this scenario registry is frozen; use extended()")
        if not _NAME.fullmatch(scenario.name):
            raise ValueError(f"bad scenario name {scenario.name!r}")
        if scenario.name in self._scenarios:
            raise ValueError(f"scenario {scenario.name!r} is already registered")
        self._scenarios[scenario.name] = scenario
        return scenario

    def register(self, name: str, description: str) -> Callable[[Factory], Factory]:
        """Decorator: register the scenario the factory's effects describe."""

        def decorate(factory: Factory) -> Factory:
            effects = factory()
            self.add(
                Scenario(
                    name=name,
                    description=description,
                    response=effects.response,
                    job=effects.job,
                    webhook=effects.webhook,
                )
            )
            return factory

        return decorate

    def freeze(self) -> None:
        """Refuse further registrations (the built-in registry after import)."""
        self._frozen = True

    def extended(self, scenarios: Iterable[Scenario] = ()) -> ScenarioRegistry:
        """A new, unfrozen registry with these definitions plus ``scenarios``."""
        return ScenarioRegistry([*self._scenarios.values(), *scenarios])

    def get(self, name: str) -> Scenario | None:
        """The scenario called ``name`` (``job_failed:<kind>`` included), or None."""
        found = self._scenarios.get(name)
        if found is not None:
            return found
        base, _, kind = name.partition(":")
        template = self._scenarios.get(base)
        if kind and template is not None and template.job.outcome == "failed":
            if not re.fullmatch(r"[A-Za-z0-9_.]+", kind):
                return None
            return replace(
                template,
                name=name,
                description=f"{template.description} ({kind})",
                job=replace(template.job, failure=kind),
            )
        return None

    def resolve(self, name: str) -> Scenario:
        """:meth:`get`, or :class:`ScenarioError` listing the known names."""
        found = self.get(name)
        if found is None:
            raise ScenarioError(
                f"unknown scenario {name!r}; known: {', '.join(self.names())}", field="scenario"
            )
        return found

    def resolve_any(self, value: str) -> Scenario:
        """A scenario name or a three-digit error code."""
        return forced_code(value) if _CODE.fullmatch(value) else self.resolve(value)

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._scenarios)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[Scenario]:
        return iter([self._scenarios[n] for n in self.names()])

    def __len__(self) -> int:
        return len(self._scenarios)

    def to_list(self) -> list[dict[str, Any]]:
        """Every definition, for the admin API and the docs."""
        return [s.to_dict() for s in self]


SCENARIOS = ScenarioRegistry()


@SCENARIOS.register("job_failed", "the job runs, then fails with the provider's default failure")
def _job_failed() -> Effects:
    return Effects(job=JobEffect(outcome="failed"))


# The failure kinds the provider contracts share (errors.job_failures.kinds);
# other kinds still resolve through the `job_failed:<kind>` template.
for _kind, _text in (
    ("generation_failed", "the model failed to generate"),
    ("content_moderation", "the input or output was flagged by moderation"),
    ("invalid_input_media", "an input file could not be fetched"),
    ("timeout", "the provider timed out the job"),
):
    SCENARIOS.add(
        Scenario(
            name=f"job_failed:{_kind}",
            description=f"the job runs, then fails: {_text}",
            job=JobEffect(outcome="failed", failure=_kind),
        )
    )


@SCENARIOS.register("job_stuck", "the job is accepted and never finishes")
def _job_stuck() -> Effects:
    return Effects(job=JobEffect(stuck=True))


@SCENARIOS.register("slow", "the response is delayed (default 3 s; Prefer: delay=<s>)")
def _slow() -> Effects:
    return Effects(response=ResponseEffect(delay_seconds=DEFAULT_SLOW_DELAY_SECONDS))


@SCENARIOS.register("drop_connection", "the connection closes without a response")
def _drop_connection() -> Effects:
    return Effects(response=ResponseEffect(drop_connection=True))


@SCENARIOS.register(
    "drop_after_headers",
    "the status line and headers are sent (promising a body), then the connection closes",
)
def _drop_after_headers() -> Effects:
    return Effects(response=ResponseEffect(drop_after_headers=True))


@SCENARIOS.register("malformed_body", "the response body is not valid JSON")
def _malformed_body() -> Effects:
    return Effects(response=ResponseEffect(malformed_body=True))


@SCENARIOS.register("truncated_body", "the response body is cut off halfway")
def _truncated_body() -> Effects:
    return Effects(response=ResponseEffect(truncated_body=True))


@SCENARIOS.register("webhook_refused", "every webhook delivery meets a refused connection")
def _webhook_refused() -> Effects:
    return Effects(webhook=WebhookEffect(refused=True))


@SCENARIOS.register("webhook_timeout", "every webhook delivery times out")
def _webhook_timeout() -> Effects:
    return Effects(webhook=WebhookEffect(timeout=True))


@SCENARIOS.register("webhook_duplicate", "the final webhook is delivered twice")
def _webhook_duplicate() -> Effects:
    return Effects(webhook=WebhookEffect(duplicate=True))


@SCENARIOS.register(
    "webhook_out_of_order", "a stale earlier-state webhook arrives after the final one"
)
def _webhook_out_of_order() -> Effects:
    return Effects(webhook=WebhookEffect(out_of_order=True))


@SCENARIOS.register(
    "output_expired", "the job succeeds, but its output URL has already expired (403)"
)
def _output_expired() -> Effects:
    return Effects(job=JobEffect(output_expired=True))


@SCENARIOS.register(
    "sync_timeout", "a sync-mode create gives up waiting: status processing, code 5004"
)
def _sync_timeout() -> Effects:
    return Effects(job=JobEffect(sync_timeout=True))


@SCENARIOS.register(
    "chaos", "schema-valid but adversarial responses and lifecycle from a seed (Prefer: seed=<n>)"
)
def _chaos() -> Effects:
    return Effects(response=ResponseEffect(chaos=True))


SCENARIOS.freeze()


# --- Prefer (RFC 7240) ----------------------------------------------------------


@dataclass(frozen=True)
class Preference:
    """What a ``Prefer`` header asks of the mock.

    ``preferences`` holds every preference as parsed (names lower-cased, the
    first of duplicates kept, as RFC 7240 says); the mock acts on ``code``,
    ``scenario`` and ``delay`` and ignores the rest (``return=minimal``...).
    """

    code: int | None = None
    scenario: Scenario | None = None
    delay_seconds: float | None = None
    preferences: Mapping[str, str | None] = field(default_factory=dict)

    def effective(self) -> Scenario | None:
        """The one scenario to apply: the named one, the forced code, the delay."""
        result = combine(self.scenario, None if self.code is None else forced_code(self.code))
        if self.delay_seconds is not None:
            base = result or Scenario(name="delay", description="the response is delayed")
            result = base.with_delay(self.delay_seconds)
        return result


def _split(text: str, separator: str) -> list[str]:
    """Split on ``separator`` outside quoted strings (escapes honoured)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif quoted and char == "\\":
            current.append(char)
            escaped = True
        elif char == '"':
            current.append(char)
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if quoted:
        raise ScenarioError("Prefer header has an unterminated quoted string", field="Prefer")
    parts.append("".join(current))
    return parts


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
#: An unquoted value: a token, leniently also with ":" (RFC 7240 token chars
#: exclude it, but ``scenario=job_failed:timeout`` is what people write).
_LENIENT_VALUE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z:-]+")


def _word(raw: str) -> str:
    """A token or a quoted-string, unquoted; an unquoted value may contain ":"."""
    raw = raw.strip()
    if raw.startswith('"'):
        if len(raw) < 2 or not raw.endswith('"'):
            raise ScenarioError(f"bad quoted value {raw!r} in Prefer", field="Prefer")
        return re.sub(r"\\(.)", r"\1", raw[1:-1])
    if not _LENIENT_VALUE.fullmatch(raw):
        raise ScenarioError(f"bad value {raw!r} in Prefer", field="Prefer")
    return raw


def parse_prefer(header_value: str | None, registry: ScenarioRegistry = SCENARIOS) -> Preference:
    """Parse a ``Prefer`` header (several headers: join them with ``", "``).

    Grammar (RFC 7240): ``preference *( "," preference )``, each
    ``token [ "=" word ] *( ";" parameter )``, ``word`` a token or a quoted
    string. Leniently, an unquoted word may contain ``:`` so
    ``scenario=job_failed:timeout`` works without quotes. Parameters are
    accepted and ignored. Raises
    :class:`ScenarioError` (answer 400) for syntax errors, a ``code`` that
    is not an allowed error code, an unknown ``scenario`` or a bad ``delay``.
    """
    if header_value is None or not header_value.strip():
        return Preference()
    found: dict[str, str | None] = {}
    for item in _split(header_value, ","):
        if not item.strip():
            continue  # "a, , b" is legal list syntax (RFC 9110 #rule)
        head = _split(item, ";")[0]
        name, equals, value = head.partition("=")
        name = name.strip()
        if not _TOKEN.fullmatch(name):
            raise ScenarioError(f"bad preference {item.strip()!r} in Prefer", field="Prefer")
        key = name.lower()
        parsed = _word(value) if equals else None
        found.setdefault(key, parsed)  # RFC 7240: only the first instance counts
    code: int | None = None
    scenario: Scenario | None = None
    delay: float | None = None
    if "code" in found:
        code_value = found["code"] or ""
        code = int(forced_code(code_value).name.removeprefix("code="))
    if "scenario" in found:
        scenario = registry.resolve(found["scenario"] or "")
    if "delay" in found:
        try:
            delay = float(found["delay"] or "")
        except ValueError:
            raise ScenarioError(
                f"delay must be a number of seconds, got {found['delay']!r}", field="delay"
            ) from None
        if not 0 <= delay <= MAX_DELAY_SECONDS:
            raise ScenarioError(
                f"delay must be between 0 and {MAX_DELAY_SECONDS:g} seconds", field="delay"
            )
    return Preference(
        code=code,
        scenario=scenario,
        delay_seconds=delay,
        preferences=MappingProxyType(found),
    )


# --- queued scenarios ---------------------------------------------------------


@dataclass(frozen=True)
class MatchVocabulary:
    """What a queued scenario's match may name for one provider."""

    endpoints: frozenset[str]
    models: frozenset[str]


@dataclass(frozen=True)
class Match:
    """Which calls a queued scenario applies to; ``None`` matches anything.

    ``endpoint`` is the HTTP layer's name for the operation (``create``,
    ``get``, ``cancel``...); ``model`` matches the model id (or slug) of the
    call, for polls the job's model. ``nth`` fires on the n-th matching call
    counted from when the entry was queued.
    """

    provider: str | None = None
    endpoint: str | None = None
    model: str | None = None
    key: str | None = None
    nth: int = 1

    def matches(
        self, provider: str | None, endpoint: str | None, model: str | None, key: str | None
    ) -> bool:
        """Whether a call with these attributes is one this entry counts."""
        return all(
            wanted is None or wanted == actual
            for wanted, actual in (
                (self.provider, provider),
                (self.endpoint, endpoint),
                (self.model, model),
                (self.key, key),
            )
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (unset fields left out)."""
        out: dict[str, Any] = {
            name: value
            for name, value in (
                ("provider", self.provider),
                ("endpoint", self.endpoint),
                ("model", self.model),
                ("key", self.key),
            )
            if value is not None
        }
        out["nth"] = self.nth
        return out


@dataclass
class QueuedScenario:
    """One ``POST /_mock/scenarios`` entry and its counters."""

    id: int
    scenario: Scenario
    match: Match
    times: int
    seen: int = 0
    fired: int = 0

    @property
    def remaining(self) -> int:
        """How many more times it will fire."""
        return self.times - self.fired

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``GET /_mock/scenarios``."""
        return {
            "id": self.id,
            "scenario": self.scenario.name,
            "effects": self.scenario.to_dict(),
            "match": self.match.to_dict(),
            "times": self.times,
            "seen": self.seen,
            "fired": self.fired,
            "remaining": self.remaining,
        }


def _positive(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ScenarioError(f"{name} must be a positive integer, got {value!r}", field=name)
    return value


class ScenarioQueue:
    """Scenarios queued for matching calls; entries are used up as they fire.

    Every entry counts the calls that match it. An entry fires on its
    ``nth`` matching call and on the following ones until it has fired
    ``times`` times, then it is removed. When several entries are due on one
    call, the one queued first fires; the others stay due and fire on their
    next matching call. Nothing is random: the same calls give the same result.
    """

    def __init__(
        self,
        registry: ScenarioRegistry = SCENARIOS,
        vocabulary: Mapping[str, MatchVocabulary] | None = None,
    ) -> None:
        self.registry = registry
        #: provider -> the endpoints and model ids a match may name; None: anything.
        self.vocabulary = vocabulary
        self._entries: list[QueuedScenario] = []
        self._next_id = 1

    def push(
        self, scenario: Scenario, match: Match | None = None, times: int = 1
    ) -> QueuedScenario:
        """Queue ``scenario`` for ``times`` matching calls from the ``nth``."""
        if len(self._entries) >= MAX_QUEUED:
            raise ScenarioError(f"at most {MAX_QUEUED} scenarios may be queued")
        entry = QueuedScenario(
            id=self._next_id,
            scenario=scenario,
            match=match or Match(),
            times=_positive(times, "times"),
        )
        _positive(entry.match.nth, "nth")
        self._next_id += 1
        self._entries.append(entry)
        return entry

    def add(self, spec: Mapping[str, Any]) -> QueuedScenario:
        """Queue from a ``POST /_mock/scenarios`` body; :class:`ScenarioError` if malformed.

        ``{"scenario": "<name>"}`` or ``{"code": 429}`` (or both, merged),
        optional ``"delay": s``, ``"match": {"provider", "endpoint", "model",
        "key", "nth"}``, ``"times": n`` (default 1).
        """
        if not isinstance(spec, Mapping):
            raise ScenarioError("the body must be a JSON object")
        unknown = set(spec) - {"scenario", "code", "delay", "match", "times"}
        if unknown:
            raise ScenarioError(f"unknown field(s): {', '.join(sorted(unknown))}")
        name, code = spec.get("scenario"), spec.get("code")
        if name is None and code is None:
            raise ScenarioError("give a scenario name or a code", field="scenario")
        if name is not None and not isinstance(name, str):
            raise ScenarioError("scenario must be a string", field="scenario")
        scenario = combine(
            None if name is None else self.registry.resolve(name),
            None if code is None else forced_code(code),
        )
        assert scenario is not None  # one of the two is set
        delay = spec.get("delay")
        if delay is not None:
            if isinstance(delay, bool) or not isinstance(delay, int | float):
                raise ScenarioError("delay must be a number of seconds", field="delay")
            if not 0 <= delay <= MAX_DELAY_SECONDS:
                raise ScenarioError(
                    f"delay must be between 0 and {MAX_DELAY_SECONDS:g} seconds", field="delay"
                )
            scenario = scenario.with_delay(float(delay))
        raw_match = spec.get("match")
        if raw_match is None:
            raw_match = {}
        if not isinstance(raw_match, Mapping):
            raise ScenarioError("match must be an object", field="match")
        unknown = set(raw_match) - {"provider", "endpoint", "model", "key", "nth"}
        if unknown:
            raise ScenarioError(f"unknown match field(s): {', '.join(sorted(unknown))}")
        for text_field in ("provider", "endpoint", "model", "key"):
            value = raw_match.get(text_field)
            if value is not None and not isinstance(value, str):
                raise ScenarioError(f"match.{text_field} must be a string", field=text_field)
        match = Match(
            provider=raw_match.get("provider"),
            endpoint=raw_match.get("endpoint"),
            model=raw_match.get("model"),
            key=raw_match.get("key"),
            nth=_positive(raw_match.get("nth", 1), "nth"),
        )
        self._check_known(match)
        return self.push(scenario, match, spec.get("times", 1))

    def _check_known(self, match: Match) -> None:
        """A match naming a provider, endpoint or model that no call can have is refused:
        it would be queued and never fire (``"eachlab"``, ``"creat"``)."""
        if self.vocabulary is None:
            return
        if match.provider is not None and match.provider not in self.vocabulary:
            raise ScenarioError(
                f"match.provider {match.provider!r} is not served here; "
                f"known: {', '.join(sorted(self.vocabulary))}",
                field="provider",
            )
        scope = (
            [self.vocabulary[match.provider]]
            if match.provider is not None
            else list(self.vocabulary.values())
        )
        where = f" of {match.provider}" if match.provider is not None else ""
        for name, value, known in (
            ("endpoint", match.endpoint, sorted({e for v in scope for e in v.endpoints})),
            ("model", match.model, sorted({m for v in scope for m in v.models})),
        ):
            if value is not None and value not in known:
                raise ScenarioError(
                    f"match.{name} {value!r} is not an {name}{where}; known: {', '.join(known)}",
                    field=name,
                )

    def take(
        self,
        provider: str | None,
        endpoint: str | None,
        model: str | None = None,
        key: str | None = None,
    ) -> Scenario | None:
        """Count this call against every matching entry; return the scenario that fires."""
        chosen: QueuedScenario | None = None
        for entry in self._entries:
            if not entry.match.matches(provider, endpoint, model, key):
                continue
            entry.seen += 1
            if chosen is None and entry.seen >= entry.match.nth:
                chosen = entry
        if chosen is None:
            return None
        chosen.fired += 1
        if chosen.remaining <= 0:
            self._entries.remove(chosen)
        return chosen.scenario

    def list(self) -> list[dict[str, Any]]:
        """Entries still queued, oldest first."""
        return [entry.to_dict() for entry in self._entries]

    def clear(self) -> int:
        """Drop every entry; return how many there were."""
        count = len(self._entries)
        self._entries.clear()
        return count

    def __len__(self) -> int:
        return len(self._entries)


# --- magic values -------------------------------------------------------------


def _texts(value: Any, depth: int = 0) -> Iterator[str]:
    """Every string inside an input document (bounded depth: inputs are small)."""
    if depth > 8:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _texts(item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item, depth + 1)


def scenario_from_magic(
    key: str | None,
    inputs: Mapping[str, Any] | None,
    registry: ScenarioRegistry = SCENARIOS,
) -> Scenario | None:
    """The scenario a magic API key and prompt markers select, or ``None``.

    A magic key beats a prompt marker (README, "Faults on demand"): markers
    are merged first, in the order they appear (a later one wins over an
    earlier one), then the key's scenario over them. Unknown names raise
    :class:`ScenarioError`.
    """
    selected: list[Scenario | None] = []
    for text in _texts(inputs or {}):
        for marker in PROMPT_MARKER.findall(text):
            selected.append(registry.resolve_any(marker))
    if key and key[: len(MAGIC_KEY_PREFIX)].lower() == MAGIC_KEY_PREFIX:
        # The name runs to the next "-": scenario names never contain one.
        name = key[len(MAGIC_KEY_PREFIX) :].split("-", 1)[0]
        if not name:
            raise ScenarioError(f"magic key {key!r} names no scenario", field="key")
        selected.append(registry.resolve_any(name))
    return combine(*selected)
