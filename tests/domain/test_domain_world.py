"""The world: scheduler, subscribers, reads that advance, eviction, seeds."""

from __future__ import annotations

from mockserver.domain.clock import ManualClock, RealClock
from mockserver.domain.lifecycle import Job, Plan, State, Transition, advance_by_poll
from mockserver.domain.world import World


def _job(world: World, job_id: str, queue: float = 1, run: float = 4, **plan: object) -> Job:
    return world.add(Job(id=job_id, provider="p", model_id="m", key="k", input={},
                         created_at=world.clock.now(),
                         plan=Plan(queue, run, **plan)))  # type: ignore[arg-type]


def _recorder(world: World) -> list[tuple[str, State, float]]:
    seen: list[tuple[str, State, float]] = []

    def listen(transition: Transition) -> None:
        seen.append((transition.job.id, transition.after, transition.at))

    world.subscribe(listen)
    return seen


def test_tick_applies_due_transitions_in_time_order() -> None:
    clock = ManualClock(0)
    world = World(clock)
    seen = _recorder(world)
    _job(world, "a", queue=1, run=4)
    _job(world, "b", queue=2, run=1)
    assert world.next_due() == 1
    assert world.tick() == []
    clock.advance(10)
    applied = world.tick()
    assert [(t.job.id, t.after, t.at) for t in applied] == seen
    assert sorted(seen, key=lambda s: s[2]) == [
        ("a", State.RUNNING, 1), ("b", State.RUNNING, 2), ("b", State.SUCCEEDED, 3),
        ("a", State.SUCCEEDED, 5)]
    assert world.next_due() is None


def test_a_read_brings_the_job_up_to_date_and_tick_does_not_repeat_it() -> None:
    clock = ManualClock(0)
    world = World(clock)
    seen = _recorder(world)
    _job(world, "a")
    clock.advance(100)
    job = world.get("a")
    assert job is not None and job.state is State.SUCCEEDED
    assert len(seen) == 2
    assert world.tick() == []  # the stale schedule entries are skipped
    assert len(seen) == 2
    assert world.get("missing") is None


def test_poll_transitions_are_announced_through_apply() -> None:
    clock = ManualClock(0)
    world = World(clock)
    seen = _recorder(world)
    job = _job(world, "a", polls_per_phase=1)
    world.apply(advance_by_poll(job, 0))
    assert seen == [("a", State.RUNNING, 0)]


def test_cancel_emits_and_release_reschedules() -> None:
    clock = ManualClock(0)
    world = World(clock)
    seen = _recorder(world)
    held = _job(world, "held", queue=1, run=1)
    held.held = True
    other = _job(world, "other")
    world.cancel(other)
    assert seen == [("other", State.CANCELLED, 0)]
    clock.advance(5)
    world.tick()
    assert world.get("held") is not None and held.state is State.QUEUED
    world.release(held)
    assert world.next_due() == 6
    clock.advance(2)
    world.tick()
    assert held.state is State.SUCCEEDED and held.started_at == 6


def test_eviction_keeps_the_store_bounded_finished_jobs_first() -> None:
    clock = ManualClock(0)
    world = World(clock, max_jobs=3)
    _job(world, "old-running", queue=0, run=10**6)
    _job(world, "done", queue=0, run=0)
    clock.advance(1)
    world.tick()
    _job(world, "c")
    _job(world, "d")
    assert len(world) == 3
    assert [j.id for j in world.jobs()] == ["old-running", "c", "d"]
    _job(world, "e")  # no finished job left: the oldest goes
    assert [j.id for j in world.jobs()] == ["c", "d", "e"]


def test_seeded_ids_are_reproducible_and_reset_restarts_them() -> None:
    one, two = World(ManualClock(), seed=3), World(ManualClock(), seed=3)
    ids = [one.new_uuid(), one.new_hex(8)]
    assert ids == [two.new_uuid(), two.new_hex(8)]
    assert len(ids[1]) == 8 and ids[0][14] == "4"
    one.reset()
    assert one.new_uuid() == ids[0]
    assert World(ManualClock()).new_uuid() != World(ManualClock()).new_uuid()


def test_journal_is_a_ring_and_reset_clears_everything() -> None:
    world = World(ManualClock(), journal_size=2)
    for index in range(3):
        world.journal.append({"i": index})
    assert [e["i"] for e in world.journal] == [1, 2]
    _job(world, "a")
    world.reset()
    assert len(world) == 0 and not world.journal and world.next_due() is None


def test_real_clock_runs_faster_and_advances() -> None:
    clock = RealClock(speed=1000)
    start = clock.now()
    assert clock.wall_seconds(35) == 0.035
    moved = clock.advance(60)
    assert moved - start >= 60


def test_a_text_seed_makes_reproducible_ids_of_its_own() -> None:
    """A fleet seeds each worker with ``f"{seed}:{boot}"``: same text, same ids; another
    worker's number, other ids."""
    def ids(seed: int | str) -> list[str]:
        world = World(ManualClock(), seed=seed)
        return [world.new_uuid() for _ in range(3)]

    assert ids("7:1") == ids("7:1")
    assert not set(ids("7:1")) & set(ids("7:2"))
    assert not set(ids("7:1")) & set(ids(7))
