"""The job lifecycle as data: transition table, exact times, polls, stuck, held."""

from __future__ import annotations

import pytest

from mockserver.domain.lifecycle import (
    QUEUED_SHARE,
    TERMINAL,
    TRANSITIONS,
    Job,
    Plan,
    State,
    advance_by_clock,
    advance_by_poll,
    move,
)


def _job(plan: Plan, created: float = 100.0) -> Job:
    return Job(id="j1", provider="p", model_id="m", key="k", input={}, created_at=created,
               plan=plan)


def test_transition_table() -> None:
    assert TRANSITIONS[State.QUEUED] == {State.RUNNING, State.CANCELLED}
    assert TRANSITIONS[State.RUNNING] == {State.SUCCEEDED, State.FAILED, State.CANCELLED}
    assert {State.SUCCEEDED, State.FAILED, State.CANCELLED} == TERMINAL
    for state in TERMINAL:
        assert TRANSITIONS[state] == frozenset()
        assert state.terminal


@pytest.mark.parametrize(
    ("before", "after"),
    [(State.QUEUED, State.SUCCEEDED), (State.SUCCEEDED, State.RUNNING),
     (State.CANCELLED, State.RUNNING), (State.RUNNING, State.QUEUED)],
)
def test_moves_outside_the_table_are_refused(before: State, after: State) -> None:
    job = _job(Plan(1, 1))
    job.state = before
    with pytest.raises(ValueError, match="is not a transition"):
        move(job, after, 200)


def test_plan_from_estimate_splits_queue_and_run() -> None:
    plan = Plan.from_estimate(35)
    assert plan.queue_seconds == pytest.approx(35 * QUEUED_SHARE)
    assert plan.queue_seconds + plan.run_seconds == pytest.approx(35)
    assert Plan.from_estimate(10, outcome=State.FAILED).outcome is State.FAILED


def test_clock_transitions_happen_at_their_planned_times_however_late_we_look() -> None:
    job = _job(Plan(queue_seconds=2, run_seconds=8))
    assert job.next_due() == 102
    assert advance_by_clock(job, 101.9) == []
    transitions = advance_by_clock(job, 10_000)
    assert [(t.before, t.after, t.at) for t in transitions] == [
        (State.QUEUED, State.RUNNING, 102), (State.RUNNING, State.SUCCEEDED, 110)]
    assert (job.started_at, job.finished_at, job.updated_at) == (102, 110, 110)
    assert job.next_due() is None
    assert advance_by_clock(job, 20_000) == []


def test_failure_outcome_records_the_reason() -> None:
    job = _job(Plan(1, 1, outcome=State.FAILED, failure="content_moderation"))
    advance_by_clock(job, 200)
    assert job.state is State.FAILED and job.failure == "content_moderation"
    plain = _job(Plan(1, 1, outcome=State.FAILED))
    advance_by_clock(plain, 200)
    assert plain.failure == "internal"


def test_poll_driven_progress_ignores_the_clock() -> None:
    job = _job(Plan(1, 1, polls_per_phase=2))
    assert job.next_due() is None
    assert advance_by_clock(job, 10_000) == []
    seen = []
    for poll in range(1, 7):
        moved = advance_by_poll(job, 100 + poll)
        seen.append((poll, [t.after for t in moved]))
    assert seen == [(1, []), (2, [State.RUNNING]), (3, []), (4, [State.SUCCEEDED]),
                    (5, []), (6, [])]
    assert job.polls == 6
    assert job.started_at == 102 and job.finished_at == 104


def test_a_stuck_job_runs_for_ever() -> None:
    job = _job(Plan(1, 1, stuck=True))
    advance_by_clock(job, 10**9)
    assert job.state is State.RUNNING
    assert job.next_due() is None
    polled = _job(Plan(1, 1, stuck=True, polls_per_phase=1))
    for poll in range(5):
        advance_by_poll(polled, 100 + poll)
    assert polled.state is State.RUNNING


def test_a_held_job_waits_until_released() -> None:
    job = _job(Plan(queue_seconds=2, run_seconds=3))
    job.held = True
    assert job.next_due() is None
    assert advance_by_clock(job, 500) == []
    job.release(400)
    assert not job.held
    assert job.next_due() == 402  # the queued phase starts at the release
    advance_by_clock(job, 1000)
    assert (job.started_at, job.finished_at) == (402, 405)


def test_phase_progress_picks_among_words_of_one_state() -> None:
    job = _job(Plan(queue_seconds=10, run_seconds=10))
    assert job.phase_progress(100) == 0
    assert job.phase_progress(105) == 0.5
    assert job.phase_progress(200) == 1.0
    advance_by_clock(job, 115)
    assert job.state is State.RUNNING and job.phase_progress(115) == 0.5


def test_cancel_from_queued_or_running_only() -> None:
    job = _job(Plan(1, 1))
    transition = move(job, State.CANCELLED, 100.5)
    assert transition.after is State.CANCELLED and job.finished_at == 100.5
    assert job.terminal and job.next_due() is None
