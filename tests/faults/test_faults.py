"""Scenarios: the registry, Prefer parsing, the queue and magic values."""

from __future__ import annotations

from typing import Any

import pytest

from mockserver.domain.errors import MockError
from mockserver.faults import (
    ALLOWED_CODES,
    SCENARIOS,
    JobEffect,
    Match,
    Scenario,
    ScenarioError,
    ScenarioQueue,
    ScenarioRegistry,
    combine,
    forced_code,
    parse_prefer,
    scenario_from_magic,
)

REQUIRED = [
    "job_failed",
    "job_stuck",
    "slow",
    "drop_connection",
    "malformed_body",
    "webhook_refused",
    "webhook_timeout",
    "webhook_duplicate",
    "webhook_out_of_order",
    "sync_timeout",
]


# --- registry -------------------------------------------------------------------


@pytest.mark.parametrize("name", REQUIRED)
def test_required_scenarios_exist_with_descriptions(name: str) -> None:
    scenario = SCENARIOS.resolve(name)
    assert scenario.name == name
    assert scenario.description and "\n" not in scenario.description
    assert scenario.to_dict() != {"name": name, "description": scenario.description}


def test_effects_are_what_the_names_say() -> None:
    assert SCENARIOS.resolve("job_failed").job == JobEffect(outcome="failed")
    assert SCENARIOS.resolve("job_stuck").job.stuck
    assert SCENARIOS.resolve("slow").response.delay_seconds > 0
    assert SCENARIOS.resolve("drop_connection").response.drop_connection
    assert SCENARIOS.resolve("malformed_body").response.malformed_body
    assert SCENARIOS.resolve("truncated_body").response.truncated_body
    assert SCENARIOS.resolve("webhook_refused").webhook.refused
    assert SCENARIOS.resolve("webhook_timeout").webhook.timeout
    assert SCENARIOS.resolve("webhook_duplicate").webhook.duplicate
    assert SCENARIOS.resolve("webhook_out_of_order").webhook.out_of_order
    assert SCENARIOS.resolve("sync_timeout").job.sync_timeout


def test_failure_variants() -> None:
    registered = SCENARIOS.resolve("job_failed:content_moderation")
    assert registered.job == JobEffect(outcome="failed", failure="content_moderation")
    dynamic = SCENARIOS.resolve("job_failed:1200")  # a WaveSpeed code
    assert dynamic.job == JobEffect(outcome="failed", failure="1200")
    assert "job_failed:1200" in SCENARIOS
    assert "job_stuck:x" not in SCENARIOS
    assert SCENARIOS.get("job_failed:bad kind") is None


def test_registry_is_frozen_but_extensible() -> None:
    extra = Scenario(name="mine", description="a custom one", job=JobEffect(stuck=True))
    with pytest.raises(RuntimeError):
        SCENARIOS.add(extra)
    registry = SCENARIOS.extended([extra])
    assert registry.resolve("mine") is extra
    assert "mine" not in SCENARIOS
    with pytest.raises(ValueError, match="already registered"):
        registry.add(extra)
    with pytest.raises(ValueError, match="bad scenario name"):
        ScenarioRegistry([Scenario(name="Bad-Name", description="x")])


def test_registry_listing_is_sorted() -> None:
    names = [entry["name"] for entry in SCENARIOS.to_list()]
    assert names == sorted(names) == SCENARIOS.names()
    assert len(SCENARIOS) == len(names)


def test_unknown_scenario_is_a_400() -> None:
    with pytest.raises(ScenarioError) as caught:
        SCENARIOS.resolve("job_exploded")
    assert isinstance(caught.value, MockError)
    assert caught.value.status == 400
    assert "job_failed" in caught.value.message


def test_forced_codes() -> None:
    for code in ALLOWED_CODES:
        assert forced_code(code).response.status == code
    assert {400, 401, 402, 404, 422, 429, 455, 500, 501, 502, 503, 504, 505} == ALLOWED_CODES
    for bad in (200, 418, "abc", "4290", 99):
        with pytest.raises(ScenarioError):
            forced_code(bad)


def test_combine_later_wins() -> None:
    both = combine(forced_code(429), SCENARIOS.resolve("job_failed"), None)
    assert both is not None
    assert both.response.status == 429 and both.job.outcome == "failed"
    assert both.name == "code=429+job_failed"
    assert combine(None, None) is None
    override = combine(forced_code(429), forced_code(503))
    assert override is not None and override.response.status == 503


# --- Prefer -------------------------------------------------------------------------


def test_prefer_code() -> None:
    preference = parse_prefer("code=429")
    assert preference.code == 429
    effective = preference.effective()
    assert effective is not None and effective.response.status == 429


def test_prefer_scenario_quoted_and_case_insensitive_names() -> None:
    preference = parse_prefer('Scenario="job_failed:timeout"')
    assert preference.scenario is not None
    assert preference.scenario.job.failure == "timeout"


def test_prefer_scenario_with_a_colon_needs_no_quotes() -> None:
    # ":" is not an RFC 7240 token character; the mock accepts it unquoted anyway.
    preference = parse_prefer("scenario=job_failed:timeout, code=503")
    assert preference.scenario is not None
    assert preference.scenario.job.failure == "timeout"
    assert preference.code == 503
    assert parse_prefer("scenario=job_failed:1200").scenario is not None


def test_prefer_multiple_with_parameters_and_unknown_preferences() -> None:
    preference = parse_prefer('return=minimal, code=503; foo=bar, scenario=slow, delay="1.5", ,')
    assert preference.code == 503
    assert preference.delay_seconds == 1.5
    assert preference.preferences["return"] == "minimal"
    effective = preference.effective()
    assert effective is not None
    assert effective.response.status == 503
    assert effective.response.delay_seconds == 1.5


def test_prefer_first_instance_wins() -> None:
    assert parse_prefer("code=404, code=500").code == 404


def test_prefer_quoted_commas_and_escapes() -> None:
    preference = parse_prefer(r'note="a, b; \"c\"", code=402')
    assert preference.preferences["note"] == 'a, b; "c"'
    assert preference.code == 402


def test_prefer_empty_or_absent() -> None:
    for value in (None, "", "   "):
        preference = parse_prefer(value)
        assert preference.code is None and preference.effective() is None


def test_prefer_delay_alone() -> None:
    effective = parse_prefer("delay=2").effective()
    assert effective is not None and effective.response.delay_seconds == 2.0


@pytest.mark.parametrize(
    "header",
    [
        "code=418",
        "code=abc",
        "code",
        'code="42 9"',
        "scenario=nope",
        "scenario",
        "delay=soon",
        "delay=-1",
        "delay=100000",
        'code="429',
        "code=4 29",
        "=429",
        "co de=429",
    ],
)
def test_prefer_invalid_values_answer_400(header: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_prefer(header)
    assert caught.value.status == 400


# --- the queue ----------------------------------------------------------------------


def calls(queue: ScenarioQueue, n: int, **call: Any) -> list[str | None]:
    args = {"provider": "eachlabs", "endpoint": "create", "model": "m", "key": "k", **call}
    results = []
    for _ in range(n):
        scenario = queue.take(args["provider"], args["endpoint"], args["model"], args["key"])
        results.append(None if scenario is None else scenario.name)
    return results


def test_queue_default_fires_once_on_the_next_call() -> None:
    queue = ScenarioQueue()
    queue.add({"scenario": "job_failed"})
    assert calls(queue, 3) == ["job_failed", None, None]
    assert queue.list() == []


def test_queue_nth_and_times() -> None:
    queue = ScenarioQueue()
    entry = queue.add({"code": 429, "match": {"nth": 3}, "times": 2})
    assert calls(queue, 5) == [None, None, "code=429", "code=429", None]
    assert entry.fired == 2 and entry.seen == 4
    assert len(queue) == 0


@pytest.mark.parametrize(
    ("field", "other"),
    [("provider", "wavespeed"), ("endpoint", "get"), ("model", "m2"), ("key", "k2")],
)
def test_queue_matches_each_field(field: str, other: str) -> None:
    queue = ScenarioQueue()
    value = {"provider": "eachlabs", "endpoint": "create", "model": "m", "key": "k"}[field]
    queue.add({"scenario": "job_stuck", "match": {field: value, "nth": 2}})
    # Calls that do not match are not counted.
    assert calls(queue, 3, **{field: other}) == [None, None, None]
    assert calls(queue, 1) == [None]
    assert calls(queue, 1, **{field: other}) == [None]
    assert calls(queue, 1) == ["job_stuck"]


def test_queue_first_queued_fires_and_others_stay_due() -> None:
    queue = ScenarioQueue()
    queue.add({"scenario": "job_failed"})
    queue.add({"scenario": "slow"})
    assert calls(queue, 3) == ["job_failed", "slow", None]


def test_queue_listing_and_clear() -> None:
    queue = ScenarioQueue()
    queue.add(
        {"scenario": "webhook_duplicate", "match": {"provider": "apikley", "nth": 2}, "times": 3}
    )
    queue.add({"code": 500, "delay": 1})
    listed = queue.list()
    assert [e["id"] for e in listed] == [1, 2]
    assert listed[0]["match"] == {"provider": "apikley", "nth": 2}
    assert listed[0]["remaining"] == 3
    assert listed[1]["effects"]["response"] == {"status": 500, "delay_seconds": 1.0}
    assert queue.clear() == 2
    assert queue.list() == []
    assert queue.take("apikley", "create") is None


def test_queue_is_deterministic() -> None:
    def run() -> list[str | None]:
        queue = ScenarioQueue()
        queue.add({"scenario": "job_failed", "match": {"nth": 2}, "times": 2})
        queue.add({"code": 429, "match": {"endpoint": "create"}})
        return calls(queue, 5)

    assert run() == run() == ["code=429", "job_failed", "job_failed", None, None]


def test_queue_scenario_and_code_together() -> None:
    queue = ScenarioQueue()
    queue.add({"scenario": "job_failed", "code": 503})
    scenario = queue.take("eachlabs", "create")
    assert scenario is not None
    assert scenario.response.status == 503 and scenario.job.outcome == "failed"


@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"scenario": "nope"},
        {"scenario": 3},
        {"code": 418},
        {"code": 429, "times": 0},
        {"code": 429, "times": "2"},
        {"code": 429, "match": {"nth": 0}},
        {"code": 429, "match": {"host": "x"}},
        {"code": 429, "match": {"key": 5}},
        {"code": 429, "match": []},
        {"code": 429, "delay": "1"},
        {"code": 429, "extra": True},
    ],
)
def test_queue_rejects_bad_entries(spec: dict[str, Any]) -> None:
    with pytest.raises(ScenarioError):
        ScenarioQueue().add(spec)


def test_queue_is_bounded() -> None:
    queue = ScenarioQueue()
    for _ in range(1000):
        queue.push(forced_code(500))
    with pytest.raises(ScenarioError):
        queue.push(forced_code(500))


def test_match_helper() -> None:
    assert Match().matches("a", "b", None, None)
    assert not Match(model="m").matches("a", "create", None, "k")


# --- magic values -------------------------------------------------------------------


def test_magic_key_selects_a_scenario() -> None:
    scenario = scenario_from_magic("scenario-job_failed-ci-run-7", {})
    assert scenario is not None and scenario.name == "job_failed"
    variant = scenario_from_magic("Scenario-job_failed:timeout", None)
    assert variant is not None and variant.job.failure == "timeout"
    code = scenario_from_magic("scenario-429-x", {})
    assert code is not None and code.response.status == 429


def test_prompt_markers_select_and_combine() -> None:
    inputs = {
        "prompt": "a cat on a boat [mock:job_failed]",
        "negative_prompt": "blur [mock:webhook_duplicate]",
        "nested": {"list": ["[mock:402]"]},
    }
    scenario = scenario_from_magic("sk_plain", inputs)
    assert scenario is not None
    assert scenario.job.outcome == "failed"
    assert scenario.webhook.duplicate
    assert scenario.response.status == 402


def test_key_and_prompt_together() -> None:
    # Markers first, the key over them: a magic key beats a prompt marker.
    scenario = scenario_from_magic("scenario-slow", {"prompt": "[mock:job_stuck]"})
    assert scenario is not None and scenario.name == "job_stuck+slow"
    both = scenario_from_magic("scenario-500", {"prompt": "[mock:429]"})
    assert both is not None and both.response.status == 500


def test_no_magic() -> None:
    assert scenario_from_magic(None, None) is None
    assert scenario_from_magic("sk_live_123", {"prompt": "a [mock] cat", "seed": 3}) is None


@pytest.mark.parametrize(
    ("key", "inputs"),
    [
        ("scenario-nope", {}),
        ("scenario-", {}),
        ("scenario-418", {}),
        (None, {"prompt": "[mock:nope]"}),
        (None, {"prompt": "[mock:200]"}),
    ],
)
def test_unknown_magic_is_a_400(key: str | None, inputs: dict[str, Any]) -> None:
    with pytest.raises(ScenarioError):
        scenario_from_magic(key, inputs)
