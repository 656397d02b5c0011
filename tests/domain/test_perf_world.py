"""Eviction stays bounded and cheap: finished jobs go first, running ones are kept.

Correctness only (no timing): the store and the schedule stay bounded when
the oldest jobs never finish (a manual clock), and finished jobs are evicted
before any running one however many running jobs are older.
"""

from __future__ import annotations

from mockserver.domain.clock import ManualClock
from mockserver.domain.lifecycle import Job, Plan, State
from mockserver.domain.world import World


def _job(world: World, job_id: str, queue: float = 1, run: float = 4) -> Job:
    return world.add(Job(id=job_id, provider="p", model_id="m", key="k", input={},
                         created_at=world.clock.now(), plan=Plan(queue, run)))


def test_finished_jobs_are_evicted_before_older_running_ones() -> None:
    clock = ManualClock(0)
    world = World(clock, max_jobs=100)
    for index in range(90):
        _job(world, f"running-{index}", queue=0, run=10**6)
    for index in range(10):
        _job(world, f"quick-{index}", queue=0, run=1)
    clock.advance(2)
    world.tick()
    for index in range(10):
        _job(world, f"new-{index}", queue=0, run=10**6)
    ids = {job.id for job in world.jobs()}
    assert len(ids) == 100
    assert all(f"running-{i}" in ids for i in range(90))
    assert not any(i.startswith("quick-") for i in ids)
    # No finished job left: the oldest running one goes next.
    _job(world, "one-more")
    assert "running-0" not in {job.id for job in world.jobs()}


def test_store_and_schedule_stay_bounded_when_nothing_finishes() -> None:
    world = World(ManualClock(0), max_jobs=50)
    for index in range(20_000):
        _job(world, f"j{index}")
    assert len(world) == 50
    # One schedule entry per stored job: evicted jobs leave none behind.
    assert len(world._schedule) == len(world._entries) == 50
    assert {entry[2] for entry in world._schedule} == {job.id for job in world.jobs()}
    assert next(job.id for job in world.jobs()) == "j19950"


def test_a_read_cancel_or_finish_leaves_exactly_the_live_entries() -> None:
    clock = ManualClock(0)
    world = World(clock)
    for name in ("a", "b", "c"):
        _job(world, name, queue=1, run=4)
    clock.advance(2)
    world.get("a")  # advanced to running by the read: its queued entry is replaced
    cancelled = world.get("b")
    assert cancelled is not None
    world.cancel(cancelled)
    assert sorted((entry[0], entry[2]) for entry in world._schedule) == [(1, "c"), (5, "a")]
    assert [(t.job.id, t.after) for t in world.tick()] == [("c", State.RUNNING)]
    clock.advance(10)
    assert [(t.job.id, t.after) for t in world.tick()] == [
        ("a", State.SUCCEEDED), ("c", State.SUCCEEDED)]
    assert not world._schedule and not world._entries and world.next_due() is None


def test_a_job_changed_behind_the_worlds_back_is_rescheduled_not_dropped() -> None:
    clock = ManualClock(0)
    world = World(clock)
    job = _job(world, "late", queue=1, run=4)
    job.queued_since = 3  # its queue now ends at 4, not at 1: nobody told the world
    clock.advance(2)
    assert world.tick() == []
    assert world.next_due() == 4
    clock.advance(2)
    assert [(t.job.id, t.after) for t in world.tick()] == [("late", State.RUNNING)]


def test_a_job_finished_by_a_read_is_evicted_first() -> None:
    clock = ManualClock(0)
    world = World(clock, max_jobs=3)
    _job(world, "a", queue=0, run=10**6)
    _job(world, "b", queue=0, run=1)
    _job(world, "c", queue=0, run=10**6)
    clock.advance(2)
    job = world.get("b")  # brought up to date by the read, not by tick
    assert job is not None and job.state is State.SUCCEEDED
    _job(world, "d")
    assert [j.id for j in world.jobs()] == ["a", "c", "d"]
    world.reset()
    assert len(world) == 0 and not world._finished


def test_sender_idle_resolves_without_polling() -> None:
    import asyncio

    import httpx

    from mockserver.domain.webhooks import Outbox
    from mockserver.http.sender import WebhookSender

    clock = ManualClock(0)
    world = World(clock)
    hits: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        hits.append(str(request.url))
        return httpx.Response(200)

    async def run() -> tuple[bool, bool]:
        from mockserver.domain.webhooks import Delivery, RetryPolicy

        outbox = Outbox()
        sender = WebhookSender(world, outbox, clock, transport=httpx.MockTransport(answer))
        sender.start()
        try:
            empty = await sender.idle(timeout=1)
            outbox.enqueue(Delivery(id="d1", job_id="j", provider="p",
                                    url="https://hooks.example.com/x", body=b"{}",
                                    policy=RetryPolicy(), due=0.0))
            delivered = await sender.idle(timeout=5)
            return empty, delivered
        finally:
            await sender.stop()

    assert asyncio.run(run()) == (True, True)
    assert hits == ["https://hooks.example.com/x"]
