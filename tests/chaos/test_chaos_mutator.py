"""The chaos mutator and engine: bodies stay valid, semantic fields stay put, seeds replay.

Sample bodies are every response the real adapters send (create, poll in
each state, cancel, balance, error envelopes of every code), captured from an
in-process mock running chaos at intensity 0 (nothing changed).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mockserver.chaos.engine import ChaosEngine
from mockserver.chaos.mutator import mutate, semantic_fields
from mockserver.config import ConfigError, MockConfig
from mockserver.contracts import ProviderContract, load_contracts
from mockserver.domain.errors import MockError
from mockserver.faults import SCENARIOS, parse_prefer
from mockserver.faults.chaos import ChaosTurn
from mockserver.providers import registry
from mockserver.providers.base import WireResponse
from mockserver.testing import mock_providers

IMAGE = "https://images.example.com/a.jpg"
Sample = tuple[str, str, Any]  # provider, schema pointer, body


def _drive(mock: Any) -> None:
    http = httpx.Client()
    el = {"X-API-Key": "k"}
    bearer = {"Authorization": "Bearer k"}
    ids = []
    for key in ("k", "scenario-job_failed"):
        created = http.post("https://api.eachlabs.ai/v1/prediction/", headers={"X-API-Key": key},
                            json={"model": "wan-v2-2-a14b-image-to-video-turbo",
                                  "version": "0.0.1", "input": {"image_url": IMAGE, "prompt": "x"}})
        ids.append((key, created.json()["predictionID"]))
    to_cancel = http.post("https://api.eachlabs.ai/v1/prediction/", headers=el,
                          json={"model": "wan-v2-2-a14b-image-to-video-turbo", "version": "0.0.1",
                                "input": {"image_url": IMAGE, "prompt": "x"}}).json()
    http.post(f"https://api.eachlabs.ai/v1/prediction/{to_cancel['predictionID']}/cancel",
              headers=el)
    ws = http.post("https://api.wavespeed.ai/api/v3/wavespeed-ai/wan-2.2/image-to-video",
                   headers=bearer, json={"image": IMAGE, "prompt": "x"}).json()["data"]["id"]
    ak = http.post("https://api.apikley.ru/api/v1/jobs/createTask", headers=bearer,
                   json={"model": "wan/2-2-a14b-image-to-video-turbo",
                         "input": {"image_url": IMAGE, "prompt": "x"}}).json()["data"]["taskId"]
    for step in (0, 2, 10, 600):
        mock.advance(step)
        for key, pid in ids:
            http.get(f"https://api.eachlabs.ai/v1/prediction/{pid}", headers={"X-API-Key": key})
        http.get(f"https://api.wavespeed.ai/api/v3/predictions/{ws}/result", headers=bearer)
        http.get(f"https://api.apikley.ru/api/v1/jobs/recordInfo?taskId={ak}", headers=bearer)
    http.get("https://api.wavespeed.ai/api/v3/balance", headers=bearer)
    http.get("https://api.apikley.ru/api/v1/chat/credit", headers=bearer)


@pytest.fixture(scope="module")
def samples() -> list[Sample]:
    captured: list[Sample] = []
    original = ChaosTurn.mutate

    def spy(self: ChaosTurn, response: WireResponse) -> WireResponse:
        if response.schema and response.raw is None:
            captured.append((self.adapter.name, response.schema, response.body))
        return response

    ChaosTurn.mutate = spy  # type: ignore[method-assign]
    try:
        with mock_providers(config={"chaos": {"enabled": True, "intensity": 0}},
                            clock="manual", validate_responses=True) as mock:
            _drive(mock)
            for name, adapter in mock.state.adapters.items():
                for code in (400, 401, 402, 404, 422, 429, 500, 502, 503):
                    error = adapter.render_error(MockError(code, "boom"), None)
                    assert error.schema is not None
                    captured.append((name, error.schema, error.body))
            mock.check()
    finally:
        ChaosTurn.mutate = original  # type: ignore[method-assign]
    return captured


def _contract(provider: str) -> ProviderContract:
    return load_contracts().provider(provider)


def _semantic_values(value: Any, semantic: frozenset[str], path: str = "") -> Iterator[
        tuple[str, Any]]:
    if isinstance(value, dict):
        for key, child in value.items():
            here = f"{path}/{key}"
            if key in semantic and child is not None:
                yield here, child
            else:
                yield from _semantic_values(child, semantic, here)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _semantic_values(child, semantic, f"{path}/{index}")


def _urls(value: Any) -> Iterator[str]:
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        yield value
    elif isinstance(value, dict):
        for child in value.values():
            yield from _urls(child)
    elif isinstance(value, list):
        for child in value:
            yield from _urls(child)


def _at(document: Any, pointer: str) -> Any:
    for part in pointer.strip("/").split("/"):
        document = document[int(part)] if isinstance(document, list) else document[part]
    return document


def test_samples_cover_every_provider_and_state(samples: list[Sample]) -> None:
    pointers = {(p, s) for p, s, _ in samples}
    assert {p for p, _ in pointers} == set(registry.names())
    assert len(pointers) >= 20  # creates, polls per status word, cancel, balances, envelopes


@pytest.mark.parametrize("intensity", [0.5, 1.0])
def test_every_mutated_body_validates_and_keeps_semantic_fields(
    samples: list[Sample], intensity: float
) -> None:
    kinds: set[str] = set()
    details: set[str] = set()
    for index, (provider, pointer, body) in enumerate(samples):
        contract = _contract(provider)
        semantic = semantic_fields(provider)
        for seed in range(12):
            rng = random.Random(f"{seed}:{index}")
            mutated, mutations = mutate(body, contract.validator(pointer), rng,
                                        schema=contract.at(pointer), semantic=semantic,
                                        intensity=intensity)
            assert contract.validate(pointer, mutated) == [], (provider, pointer, mutations)
            for where, value in _semantic_values(body, semantic):
                assert _at(mutated, where) == value, (provider, pointer, where, mutations)
            assert sorted(_urls(body)) == sorted(_urls(mutated)), (pointer, mutations)
            kinds.update(m.kind for m in mutations)
            details.update(m.detail.split(" ")[0] for m in mutations if m.kind == "value")
    assert kinds == {"extra_field", "dropped", "value", "reordered"}
    assert {"empty", "long", "emoji", "rtl", "combining", "null"} <= details
    assert details & {"float", "fraction", "bound", "zero", "large"}


def test_the_original_body_is_not_touched(samples: list[Sample]) -> None:
    provider, pointer, body = samples[1]
    before = repr(body)
    contract = _contract(provider)
    mutate(body, contract.validator(pointer), random.Random(1), intensity=1.0)
    assert repr(body) == before


def test_one_seed_one_body(samples: list[Sample]) -> None:
    provider, pointer, body = next(s for s in samples if s[0] == "eachlabs" and "poll" in s[1])
    contract = _contract(provider)

    def run(seed: int) -> tuple[str, list[str]]:
        mutated, mutations = mutate(body, contract.validator(pointer), random.Random(seed),
                                    semantic=semantic_fields(provider))
        return repr(mutated), [str(m) for m in mutations]

    assert run(7) == run(7)
    assert len({run(seed)[0] for seed in range(10)}) > 5


def test_an_invalid_body_is_returned_unchanged() -> None:
    contract = _contract("eachlabs")
    pointer = "/endpoints/create/responses/200/schema"
    body = {"nothing": "valid"}
    assert mutate(body, contract.validator(pointer), random.Random(0)) == (body, [])


# --- the engine -----------------------------------------------------------------


def test_poll_error_bursts_end_and_carry_retry_after() -> None:
    engine = ChaosEngine()
    errors: list[MockError | None] = []
    for _ in range(300):
        errors.append(engine.poll_error(engine.rng(3), "eachlabs", 1.0, {429, 500, 502, 503}))
    statuses = {e.status for e in errors if e is not None}
    assert statuses <= {429, 500, 502, 503} and 429 in statuses
    run = longest = 0
    for error in errors:
        run = run + 1 if error is not None else 0
        longest = max(longest, run)
    assert 1 <= longest <= 3  # a client retrying a few times always gets through
    for error in errors:
        if error is not None:
            assert (error.retry_after is not None) == (error.status in (429, 503))


def test_create_overrides_lengthen_the_plan_and_mark_webhooks() -> None:
    seen: set[str] = set()
    for seed in range(40):
        engine = ChaosEngine()
        overrides = engine.create_overrides(engine.rng(seed), "wavespeed", 1.0)
        seen.update(overrides)
        if "run_seconds" in overrides:
            assert overrides["run_seconds"] >= 60
    assert {"queue_seconds", "run_seconds", "webhook_duplicate", "webhook_late"} <= seen
    engine = ChaosEngine(polls_per_phase=2)
    for seed in range(20):
        overrides = engine.create_overrides(engine.rng(seed), "wavespeed", 1.0)
        assert "run_seconds" not in overrides
        assert overrides.get("polls_per_phase", 6) >= 6


# --- switches --------------------------------------------------------------------------


def test_the_chaos_scenario_and_prefer_seed() -> None:
    assert SCENARIOS.resolve("chaos").response.chaos
    preference = parse_prefer("scenario=chaos, seed=42")
    assert preference.effective() is not None
    assert preference.preferences["seed"] == "42"


def test_config_chaos_section() -> None:
    config = MockConfig.from_mapping({"chaos": {"enabled": True, "seed": 9, "intensity": 0.25}})
    assert (config.chaos.enabled, config.chaos.seed, config.chaos.intensity) == (True, 9, 0.25)
    assert MockConfig().chaos.enabled is False
    for bad, words in (({"enable": True}, "chaos.enable"), ({"intensity": 2}, "at most 1"),
                       ({"enabled": "yes"}, "true or false")):
        with pytest.raises(ConfigError, match=words):
            MockConfig.from_mapping({"chaos": bad})


def _poll_bodies(prefer: str | None, seed: int = 0) -> list[bytes]:
    bodies = []
    headers = {"X-API-Key": "k"} | ({"Prefer": prefer} if prefer else {})
    with mock_providers(["eachlabs"], seed=seed, validate_responses=True) as mock:
        http = httpx.Client()
        created = http.post("https://api.eachlabs.ai/v1/prediction/", headers=headers,
                            json={"model": "wan-v2-2-a14b-image-to-video-turbo",
                                  "version": "0.0.1", "input": {"image_url": IMAGE, "prompt": "x"}})
        bodies.append(created.content)
        pid = created.json()["predictionID"]
        for _ in range(6):
            mock.advance(5)
            bodies.append(http.get(f"https://api.eachlabs.ai/v1/prediction/{pid}",
                                   headers=headers).content)
        mock.check()  # no contract violation, no mock error
        assert mock.requests[0]["scenario"] == ("chaos" if prefer else None)
    return bodies


def test_prefer_chaos_with_a_seed_replays_byte_for_byte() -> None:
    plain = _poll_bodies(None)
    first = _poll_bodies("scenario=chaos, seed=11")
    assert first == _poll_bodies("scenario=chaos, seed=11")
    assert first != plain
    assert first != _poll_bodies("scenario=chaos; seed=12")
