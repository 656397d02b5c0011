"""Chaos bites: run_chaos finds seeds that break a fragile client, replays them, and a
robust client gets through every seed, with every chaos response valid.
"""

from __future__ import annotations

from typing import Any

import httpx
from conftest import load_example

from mockserver.chaos import ChaosReport, run_chaos
from mockserver.testing import mock_providers

MODEL = "wan-v2-2-a14b-image-to-video-turbo"
INPUTS = {"image_url": "https://images.example.com/dancer.jpg", "prompt": "a dancer turns"}
SEEDS = range(24)


fragile = load_example("fragile_client")
robust = load_example("robust_client")


def fragile_scenario(mock: Any) -> None:
    result = fragile.generate("el-key", MODEL, INPUTS, base_url=mock.base_url("eachlabs"),
                              sleep=mock.advance)
    assert result["output"].startswith(mock.base_url("eachlabs"))


def robust_scenario(mock: Any) -> None:
    with robust.RobustEachlabsClient("el-key", base_url=mock.base_url("eachlabs"),
                                     sleep=mock.advance) as client:
        result = client.generate(MODEL, INPUTS)
        video = client.http.get(result["output"])
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"
    assert [job["state"] for job in mock.jobs] == ["succeeded"]


def _run(fn: Any) -> ChaosReport:
    return run_chaos(fn, seeds=SEEDS, providers=["eachlabs"])


def test_the_fragile_client_breaks_and_each_failure_replays() -> None:
    report = _run(fragile_scenario)
    assert report.failing_seeds, report.summary()
    kinds = {r.error_type for r in report.failures}
    # Several distinct fragilities are found: missing keys, no retry, non-ASCII.
    assert {"KeyError", "HTTPStatusError", "UnicodeEncodeError"} <= kinds, report.summary()
    for result in report.failures[:4]:
        again = report.replay(result.seed)
        assert (again.error_type, again.error_message) == (result.error_type,
                                                           result.error_message)
        assert again.perturbations == result.perturbations
    # Chaos never breaks the contract: the failures are the client's alone.
    assert all(not r.violations and not r.mock_errors for r in report.results)
    summary = report.summary()
    first = report.failures[0]
    assert f"seed {first.seed}: {first.error_type}" in summary
    assert "perturbations" in summary and "replay" in summary


def test_replay_reraises_the_clients_exception() -> None:
    report = _run(fragile_scenario)
    seed = report.failing_seeds[0]
    expected = report.result(seed)
    try:
        report.replay(seed, reraise=True)
    except Exception as error:  # the client's own exception, with its traceback
        assert type(error).__name__ == expected.error_type
        assert str(error) == expected.error_message
    else:  # pragma: no cover - the replay must fail
        raise AssertionError(f"seed {seed} did not fail again")


def test_the_robust_client_passes_every_seed() -> None:
    report = _run(robust_scenario)
    assert report.failing_seeds == [], report.summary()
    assert len(report.results) == len(SEEDS)
    every = [p for r in report.results for p in r.perturbations]
    # It met real chaos on the way: bursts, long jobs, mutated bodies.
    assert any(": error 429" in p for p in every)
    assert any("long job" in p for p in every)
    assert any(": response " in p for p in every)


def test_the_robust_client_passes_against_the_served_mock() -> None:
    report = run_chaos(robust_scenario, seeds=range(3), providers=["eachlabs"],
                       in_process=False)
    assert report.failing_seeds == [], report.summary()


def test_webhooks_are_duplicated_and_late() -> None:
    """Find a seed whose create is marked duplicate + late; check what the receiver sees."""
    for seed in range(60):
        with mock_providers(["eachlabs"], seed=seed, validate_responses=True,
                            config={"chaos": {"enabled": True, "seed": seed},
                                    "clock": {"kind": "manual"}}) as mock:
            created = httpx.post(
                "https://api.eachlabs.ai/v1/prediction/", headers={"X-API-Key": "k"},
                json={"model": MODEL, "version": "0.0.1", "input": INPUTS,
                      "webhook_url": "https://hooks.example.com/el"},
            )
            assert created.status_code == 200
            engine = mock.state.chaos.engine
            assert engine is not None
            kinds = {p.kind for p in engine.log}
            if not {"webhook duplicate", "webhook late"} <= kinds:
                continue
            late = next(p for p in engine.log if p.kind == "webhook late")
            late_seconds = float(late.detail.split(" ")[0])
            mock.advance(400)  # long enough for the longest chaos job
            (job,) = mock.jobs
            assert job["state"] == "succeeded"
            finals = [w for w in mock.received if w.json()["status"] == "succeeded"]
            assert len(finals) == 2  # the final webhook twice
            assert finals[0].body == finals[1].body
            delivery = next(d for d in mock.webhooks if d["kind"] == "final")
            assert delivery["attempts"][0]["at"] >= _finished(mock) + late_seconds
            mock.check()
            return
    raise AssertionError("no seed in 0..59 made a webhook both duplicate and late")


def _finished(mock: Any) -> float:
    job = mock.state.world.get(mock.jobs[0]["id"])
    assert job is not None and job.finished_at is not None
    return float(job.finished_at)


def test_the_plugin_fixture_is_the_runner(provider_chaos: Any) -> None:
    report = provider_chaos(robust_scenario, seeds=[5], providers=["eachlabs"])
    report.assert_ok()
    assert report.passing_seeds == [5]


def test_without_chaos_the_fragile_client_works() -> None:
    """So every failure above is chaos finding a fragility, not a broken client."""
    with mock_providers(["eachlabs"], validate_responses=True) as mock:
        fragile_scenario(mock)
        mock.check()
