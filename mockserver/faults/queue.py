"""Scenarios queued with ``POST /_mock/scenarios`` for matching calls."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, Protocol

from mockserver import wirejson
from mockserver.faults.effects import (
    MAX_DELAY_SECONDS,
    JobEffect,
    ResponseEffect,
    Scenario,
    ScenarioError,
    WebhookEffect,
    combine,
    forced_code,
)
from mockserver.faults.registry import SCENARIOS, ScenarioRegistry
from mockserver.store.interface import QueuedEntry, StoreError, StoreUnavailable

__all__ = [
    "MAX_QUEUED",
    "Match",
    "MatchVocabulary",
    "QueuedScenario",
    "ScenarioQueue",
    "SharedScenarioQueue",
    "scenario_doc",
    "scenario_from_doc",
]

#: Queued entries kept at most; an admin client in a loop must not exhaust memory.
MAX_QUEUED = 1_000


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
        #: Bumped whenever an entry is queued, counted, fired or dropped: the
        #: console's event stream compares it instead of listing the queue.
        self.changes = 0

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
        self.changes += 1
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
            self.changes += 1
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
        self.changes += 1
        return count

    def __len__(self) -> int:
        return len(self._entries)

    def __bool__(self) -> bool:
        """Whether anything may be queued (checked on every provider request)."""
        return bool(self._entries)


class SharedScenarioStore(Protocol):
    """What :class:`SharedScenarioQueue` needs of a shared store (``RedisStore``)."""

    def push_scenario(
        self, doc: bytes, match: Mapping[str, str], *, nth: int = 1, times: int = 1
    ) -> int: ...

    def take_scenario_counted(
        self, provider: str | None, endpoint: str | None, model: str | None, key: str | None
    ) -> tuple[bytes | None, int]: ...

    def scenarios(self) -> Sequence[QueuedEntry]: ...

    def clear_scenarios(self) -> int: ...

    def watch(self, on_change: Callable[[str, str], None]) -> None: ...


def scenario_doc(scenario: Scenario) -> bytes:
    """A scenario as a shared store keeps it (every effect field, by name)."""
    return wirejson.dumps({
        "name": scenario.name,
        "description": scenario.description,
        "response": asdict(scenario.response),
        "job": asdict(scenario.job),
        "webhook": asdict(scenario.webhook),
    })


def scenario_from_doc(doc: bytes) -> Scenario:
    """:func:`scenario_doc` read back (fields this version does not know are left out)."""
    data = wirejson.loads(doc)

    def effect(kind: type[Any], values: Mapping[str, Any]) -> Any:
        known = {f.name for f in fields(kind)}
        return kind(**{name: value for name, value in values.items() if name in known})

    return Scenario(
        name=str(data["name"]),
        description=str(data.get("description", "")),
        response=effect(ResponseEffect, data.get("response", {})),
        job=effect(JobEffect, data.get("job", {})),
        webhook=effect(WebhookEffect, data.get("webhook", {})),
    )


class SharedScenarioQueue(ScenarioQueue):
    """The scenario queue of every worker on a shared store: an entry with ``times: 1``
    fires once across all of them (the store counts and fires in one atomic step).

    A call costs a round trip only while something may be queued: the store
    answers each take with how many entries are left, and tells every worker
    when one is queued (``watch``); a worker that knows the queue is
    empty skips it. (A push on another worker reaches this one within about a
    millisecond on one machine; a call arriving in that window misses it.)
    """

    def __init__(
        self,
        store: SharedScenarioStore,
        registry: ScenarioRegistry = SCENARIOS,
        vocabulary: Mapping[str, MatchVocabulary] | None = None,
    ) -> None:
        super().__init__(registry, vocabulary)
        self.store = store
        #: False once a take found the queue empty and no push was heard since.
        self._maybe_queued = True
        store.watch(self._changed)

    def _changed(self, topic: str, value: str) -> None:
        """A change notice (on the watch's thread): a push, a reset, a reconnect."""
        if topic != "keys":
            self._maybe_queued = True
            self.changes += 1

    def push(
        self, scenario: Scenario, match: Match | None = None, times: int = 1
    ) -> QueuedScenario:
        """Queue ``scenario`` in the store for ``times`` matching calls from the ``nth``."""
        match = match or Match()
        times = _positive(times, "times")
        _positive(match.nth, "nth")
        self._maybe_queued = True
        try:
            entry_id = self.store.push_scenario(
                scenario_doc(scenario), _match_fields(match), nth=match.nth, times=times
            )
        except StoreUnavailable:
            raise  # the store is away: a 503 to retry, not the client's mistake
        except StoreError as error:  # the queue is full
            raise ScenarioError(str(error)) from None
        self.changes += 1
        return QueuedScenario(id=entry_id, scenario=scenario, match=match, times=times)

    def take(
        self,
        provider: str | None,
        endpoint: str | None,
        model: str | None = None,
        key: str | None = None,
    ) -> Scenario | None:
        """Count this call in the store; the scenario that fires, if any."""
        if not self._maybe_queued:
            return None
        doc, left = self.store.take_scenario_counted(provider, endpoint, model, key)
        if left == 0:
            self._maybe_queued = False  # a push (any worker's) sets it again
        self.changes += 1
        return None if doc is None else scenario_from_doc(doc)

    def list(self) -> list[dict[str, Any]]:
        """Entries still queued in the store, oldest first."""
        return [self._entry(stored).to_dict() for stored in self.store.scenarios()]

    def _entry(self, stored: QueuedEntry) -> QueuedScenario:
        fields_ = stored.match
        match = Match(provider=fields_.get("provider"), endpoint=fields_.get("endpoint"),
                      model=fields_.get("model"), key=fields_.get("key"), nth=stored.nth)
        return QueuedScenario(id=stored.id, scenario=scenario_from_doc(stored.doc), match=match,
                              times=stored.times, seen=stored.seen, fired=stored.fired)

    def clear(self) -> int:
        """Drop every entry in the store; how many there were."""
        count = self.store.clear_scenarios()
        self.changes += 1
        return count

    def __len__(self) -> int:
        return len(self.store.scenarios())

    def __bool__(self) -> bool:
        """Whether something may be queued, without a round trip (the hint; a take
        finds out)."""
        return self._maybe_queued


def _match_fields(match: Match) -> dict[str, str]:
    return {name: value for name, value in (
        ("provider", match.provider), ("endpoint", match.endpoint),
        ("model", match.model), ("key", match.key)) if value is not None}
