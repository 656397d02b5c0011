"""The in-process mock's fast path: a request's first step runs on the caller's thread.

What must hold whatever thread runs the app: a request that waits still gets
its answer, the loop still wakes for work scheduled from outside, two threads
never use the world at once, and re-mocking a provider route in respx still
wins over the mock.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from mockserver.testing import mock_providers, serve_providers
from mockserver.testing._loop import LoopThread

EACH = "https://api.eachlabs.ai"
WAVE = "https://api.wavespeed.ai"
EACH_MODEL = "wan-v2-2-a14b-image-to-video-turbo"
WAVE_MODEL = "wavespeed-ai/wan-2.2/image-to-video"
WAVE_BODY = {"image": "https://example.com/cat.png", "prompt": "a cat walks",
             "enable_sync_mode": True}
KEY = {"X-API-Key": "k"}
#: Wall seconds a LoopThread call may take here (a broken wake-up fails, not hangs).
WAIT = 5.0
#: A key that may create as fast as the test likes.
UNLIMITED = {"k": {"balance": 10**9, "limits": {
    "creates_per_window": 10**9, "window_seconds": 1, "concurrent": 10**9}}}


def each_create(client: httpx.Client, **extra: Any) -> str:
    response = client.post(
        f"{EACH}/v1/prediction/",
        json={"model": EACH_MODEL,
              "input": {"image_url": "https://images.example.com/a.jpg", "prompt": "cat"},
              **extra},
        headers=KEY,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["predictionID"])


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    thread = LoopThread("genmock-test-loop")
    thread.start()
    yield thread
    thread.stop()


# --- LoopThread ---------------------------------------------------------------


def test_a_task_that_does_not_wait_runs_on_the_callers_thread_as_a_real_task(
    loop_thread: LoopThread,
) -> None:
    async def where() -> tuple[str, bool, bool]:
        task = asyncio.current_task()
        return (threading.current_thread().name, task is not None,
                asyncio.get_running_loop() is loop_thread.loop)

    assert loop_thread.run(where(), WAIT) == (threading.current_thread().name, True, True)


def test_a_task_that_waits_is_finished_by_the_loop(loop_thread: LoopThread) -> None:
    async def wait_then_where() -> tuple[str, str]:
        first = threading.current_thread().name
        await asyncio.sleep(0.01)
        return first, threading.current_thread().name

    assert loop_thread.run(wait_then_where(), WAIT) == (
        threading.current_thread().name, "genmock-test-loop")


def test_callbacks_and_timers_scheduled_in_a_first_step_wake_the_sleeping_loop(
    loop_thread: LoopThread,
) -> None:
    fired = threading.Event()
    soon = threading.Event()

    async def schedule() -> None:
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, fired.set)
        loop.call_soon(soon.set)

    time.sleep(0.05)  # the loop is asleep in select() with nothing to do
    loop_thread.run(schedule(), WAIT)
    assert soon.wait(2.0), "a call_soon from the caller's thread never ran"
    assert fired.wait(2.0), "a timer set from the caller's thread never fired"


def test_errors_timeouts_and_deadlocks(loop_thread: LoopThread) -> None:
    async def fail() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        loop_thread.run(fail(), WAIT)

    cancelled = threading.Event()

    async def hang() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            cancelled.set()

    with pytest.raises(TimeoutError):
        loop_thread.run(hang(), timeout=0.05)
    assert cancelled.wait(2.0), "a timed-out task was left running"

    async def nested() -> None:
        async def inner() -> None:
            return None

        loop_thread.run(inner())  # blocking on the mock from inside the mock

    with pytest.raises(RuntimeError, match="deadlock"):
        loop_thread.run(nested(), WAIT)


def test_debug_mode_hands_every_call_over(loop_thread: LoopThread) -> None:
    loop_thread.call(lambda: loop_thread.loop.set_debug(True))

    async def where() -> str:
        return threading.current_thread().name

    assert loop_thread.run(where(), WAIT) == "genmock-test-loop"


def test_a_served_mock_hands_every_call_to_its_loop() -> None:
    # Its loop serves uvicorn too; a caller must not wait for that loop to go idle.
    async def where() -> str:
        return threading.current_thread().name

    with serve_providers(providers=["eachlabs"]) as served:
        assert served._thread.run(where(), WAIT) == "genmock-ServedMock"
        assert httpx.get(f"{served.base_url('eachlabs')}/v1/prediction/x",
                         headers=KEY).status_code == 404
    with mock_providers(providers=["eachlabs"]) as mock:
        assert mock._thread.run(where(), WAIT) == threading.current_thread().name


def test_arun_does_not_block_the_callers_loop_while_the_mock_is_busy(
    loop_thread: LoopThread,
) -> None:
    release = threading.Event()

    def busy() -> None:
        release.wait(5.0)  # holds the mock's loop (and its lock) like a slow receiver

    async def where() -> str:
        return threading.current_thread().name

    async def scenario() -> tuple[str, str, int]:
        loop_thread.loop.call_soon_threadsafe(busy)
        await asyncio.sleep(0.05)
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while not release.is_set():
                ticks += 1
                await asyncio.sleep(0.005)

        ticking = asyncio.create_task(ticker())
        pending = asyncio.create_task(loop_thread.arun(where(), WAIT))
        await asyncio.sleep(0.1)
        release.set()
        handed_over = await pending
        await ticking
        # The loop thread may still hold its lock for the rest of the turn that
        # answered `pending` (then arun hands over again, which is correct);
        # once it is idle, an async caller runs the coroutine itself.
        quiet = ""
        for _ in range(200):
            quiet = await loop_thread.arun(where(), WAIT)
            if quiet != "genmock-test-loop":
                break
            await asyncio.sleep(0.005)
        return handed_over, quiet, ticks

    handed_over, quiet, ticks = asyncio.run(scenario())
    assert handed_over == "genmock-test-loop"
    assert quiet == threading.current_thread().name
    assert ticks > 5, "the caller's loop was blocked while the mock was busy"


# --- the mock -------------------------------------------------------------------


def test_sync_mode_create_that_waits_on_a_real_clock_answers_sync_and_async() -> None:
    with mock_providers(providers=["wavespeed"], clock="real", speed=200) as mock:
        headers = {"Authorization": "Bearer sync-key"}
        with httpx.Client(timeout=10) as client:
            answer = client.post(f"{WAVE}/api/v3/{WAVE_MODEL}", json=WAVE_BODY,
                                 headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"]["status"] == "completed"

        async def acreate() -> httpx.Response:
            async with httpx.AsyncClient(timeout=10) as client:
                return await client.post(f"{WAVE}/api/v3/{WAVE_MODEL}", json=WAVE_BODY,
                                         headers={"Authorization": "Bearer other-key"})

        answer = asyncio.run(acreate())
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"]["status"] == "completed"
        assert [job["state"] for job in mock.jobs] == ["succeeded", "succeeded"]
        mock.check()


def test_requests_still_answer_while_a_sync_create_waits() -> None:
    # 35 s of mock time at 35x: the sync create waits about a wall second.
    with mock_providers(providers=["wavespeed"], clock="real", speed=35) as mock:
        done: dict[str, float] = {}

        def sync_create() -> None:
            with httpx.Client(timeout=30) as client:
                response = client.post(f"{WAVE}/api/v3/{WAVE_MODEL}", json=WAVE_BODY,
                                       headers={"Authorization": "Bearer sync-key"})
            assert response.json()["data"]["status"] == "completed"
            done["at"] = time.monotonic()

        worker = threading.Thread(target=sync_create)
        worker.start()
        time.sleep(0.2)
        with httpx.Client() as client:
            balance = client.get(f"{WAVE}/api/v3/balance",
                                 headers={"Authorization": "Bearer sync-key"})
        answered = time.monotonic()
        worker.join(30)
        assert balance.status_code == 200
        assert "at" in done, "the sync-mode create never answered"
        assert answered < done["at"]
        mock.check()


def test_webhooks_sent_by_the_loop_while_the_test_thread_polls() -> None:
    jobs = 30
    with mock_providers(providers=["eachlabs"], clock="real", speed=2000,
                        accounts=UNLIMITED) as mock, httpx.Client() as client:
        ids = [each_create(client, webhook_url=f"https://hooks.example.com/{i}")
               for i in range(jobs)]
        deadline = time.monotonic() + 10
        while len(mock.received) < jobs and time.monotonic() < deadline:
            for job_id in ids:
                client.get(f"{EACH}/v1/prediction/{job_id}", headers=KEY)
        assert mock.settle()
        assert sorted(hook.url for hook in mock.received) == sorted(
            f"https://hooks.example.com/{i}" for i in range(jobs))
        assert {hook.json()["status"] for hook in mock.received} == {"succeeded"}
        mock.check()


def test_threads_and_an_async_client_share_one_world_safely() -> None:
    per_thread = 60
    with mock_providers(providers=["eachlabs"], accounts=UNLIMITED) as mock:
        created: list[str] = []
        errors: list[BaseException] = []
        lock = threading.Lock()

        def sync_worker() -> None:
            try:
                with httpx.Client() as client:
                    for _ in range(per_thread):
                        job_id = each_create(client, webhook_url="https://hooks.example.com/x")
                        client.get(f"{EACH}/v1/prediction/{job_id}", headers=KEY)
                        with lock:
                            created.append(job_id)
            except BaseException as error:  # reported below, not lost in a thread
                errors.append(error)

        async def async_worker() -> None:
            async with httpx.AsyncClient(headers=KEY) as client:

                async def one() -> None:
                    response = await client.post(f"{EACH}/v1/prediction/", json={
                        "model": EACH_MODEL,
                        "input": {"image_url": "https://images.example.com/a.jpg",
                                  "prompt": "cat"},
                        "webhook_url": "https://hooks.example.com/x"})
                    job_id = str(response.json()["predictionID"])
                    await client.get(f"{EACH}/v1/prediction/{job_id}")
                    with lock:
                        created.append(job_id)

                await asyncio.gather(*(one() for _ in range(per_thread)))

        def async_thread() -> None:
            try:
                asyncio.run(async_worker())
            except BaseException as error:
                errors.append(error)

        workers = [threading.Thread(target=sync_worker), threading.Thread(target=sync_worker),
                   threading.Thread(target=async_thread)]
        for worker in workers:
            worker.start()
        for _ in range(5):  # the clock moves (and webhooks go out) meanwhile
            mock.advance(1)
        for worker in workers:
            worker.join(60)
        assert not errors, errors
        assert len(created) == len(set(created)) == 3 * per_thread
        mock.advance(60)
        jobs = mock.jobs
        assert sorted(job["id"] for job in jobs) == sorted(created)
        assert {job["state"] for job in jobs} == {"succeeded"}
        assert len(mock.received) == 3 * per_thread
        assert len(mock.requests) == 2 * 3 * per_thread
        mock.check()


def test_a_provider_route_re_mocked_in_respx_wins_and_calls_are_recorded() -> None:
    with mock_providers(providers=["eachlabs"]) as mock, httpx.Client() as client:
        route = mock.router.routes["genmock:api.eachlabs.ai"]
        job_id = each_create(client)
        assert route.call_count == 1 and mock.router.calls.call_count == 1
        assert route.calls.last.response.json()["predictionID"] == job_id

        route.side_effect = httpx.ConnectError
        with pytest.raises(httpx.ConnectError):
            client.get(f"{EACH}/v1/prediction/{job_id}", headers=KEY)
        route.respond(503, json={"down": True})
        assert client.get(f"{EACH}/v1/prediction/{job_id}", headers=KEY).status_code == 503
        assert route.call_count == 3
        assert len(mock.requests) == 1  # the app saw only the first call


def test_a_request_that_times_out_is_recorded_by_respx() -> None:
    with mock_providers(providers=["wavespeed"], clock="real", speed=1) as mock, \
            httpx.Client(timeout=httpx.Timeout(5.0, read=0.1)) as client:
        route = mock.router.routes["genmock:api.wavespeed.ai"]
        with pytest.raises(httpx.ReadTimeout):
            client.post(f"{WAVE}/api/v3/{WAVE_MODEL}", json=WAVE_BODY,
                        headers={"Authorization": "Bearer sync-key"})
        assert route.call_count == 1 and not route.calls.last.has_response
        assert isinstance(mock.router, respx.MockRouter)
