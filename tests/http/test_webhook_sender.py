"""The webhook sender: attempts, retries on the mock clock, signatures, never blocking."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from conftest import Served, WebhookReceiver
from starlette.applications import Starlette

from mockserver.config import JobsConfig, MockConfig, WebhookConfig
from mockserver.domain.clock import ManualClock, RealClock
from mockserver.domain.webhooks import (
    Delivery,
    Outbox,
    RetryPolicy,
)
from mockserver.domain.world import World
from mockserver.http.sender import WebhookSender
from mockserver.providers.wavespeed.signing import verify_standard_webhooks_v3

KEY = {"x-api-key": "sk-test-0123456789abcdef"}
START = 1_767_225_600.0


def _create(client: httpx.Client, url: str, provider: str = "eachlabs", **body: Any) -> str:
    reply = client.post(
        f"/{provider}/v1/jobs", json={"input": {}, "webhook_url": url, **body}, headers=KEY
    )
    assert reply.status_code == 200, reply.text
    job_id: str = reply.json()["id"]
    return job_id


def _advance(client: httpx.Client, seconds: float) -> dict[str, Any]:
    reply = client.post("/_mock/clock/advance", json={"seconds": seconds, "wait": True})
    assert reply.status_code == 200
    body: dict[str, Any] = reply.json()
    assert body["settled"] is True
    return body


def test_a_finished_job_fires_its_webhook(
    fake_client: httpx.Client, webhook_receiver: WebhookReceiver
) -> None:
    job_id = _create(fake_client, webhook_receiver.url)
    _advance(fake_client, 9.9)
    assert webhook_receiver.requests == []
    _advance(fake_client, 0.1)
    [received] = webhook_receiver.wait_for(1)
    assert received.method == "POST"
    assert received.path == "/hook"
    assert received.headers["content-type"] == "application/json"
    assert received.json() == {"id": job_id, "status": "succeeded"}


def test_500_500_200_is_three_attempts_and_one_success(
    fake_client: httpx.Client, webhook_receiver: WebhookReceiver
) -> None:
    webhook_receiver.respond_with(500, 500, 200)
    job_id = _create(fake_client, webhook_receiver.url)  # eachlabs: 3 attempts, 10 s apart
    _advance(fake_client, 10)
    assert len(webhook_receiver.wait_for(1)) == 1
    _advance(fake_client, 9)  # the retry is due 10 s after the failure, not before
    assert len(webhook_receiver.requests) == 1
    _advance(fake_client, 1)
    _advance(fake_client, 10)
    webhook_receiver.wait_for(3)
    [delivery] = fake_client.get(f"/_mock/webhooks?job_id={job_id}").json()["deliveries"]
    assert delivery["state"] == "delivered"
    attempts = delivery["attempts"]
    assert [(a["attempt"], a["outcome"], a["status_code"]) for a in attempts] == [
        (1, "rejected", 500), (2, "rejected", 500), (3, "delivered", 200)]
    assert [a["at"] - START for a in attempts] == [10, 20, 30]
    # Every attempt carries the same payload.
    assert len({r.body for r in webhook_receiver.requests}) == 1


def test_a_receiver_that_is_down_loses_nothing(
    fake_client: httpx.Client, refused_url: str
) -> None:
    job_id = _create(fake_client, refused_url)
    for _ in range(4):
        _advance(fake_client, 10)
    [delivery] = fake_client.get(f"/_mock/webhooks?job_id={job_id}").json()["deliveries"]
    assert delivery["state"] == "gave_up"
    assert [a["outcome"] for a in delivery["attempts"]] == ["refused"] * 3
    assert all(a["status_code"] is None and a["error"] for a in delivery["attempts"])
    assert '"succeeded"' in delivery["body"]  # the payload is still there to inspect


def test_config_overrides_the_retry_policy(
    make_app: Callable[..., Starlette],
    fake_adapters: dict[str, object],
    make_client: Callable[..., httpx.Client],
    refused_url: str,
) -> None:
    config = MockConfig(webhooks=WebhookConfig(attempts=2, delays_seconds=(5.0,)))
    client = make_client(make_app(adapters=fake_adapters, config=config))
    _create(client, refused_url)
    _advance(client, 10)
    _advance(client, 5)
    _advance(client, 100)
    [delivery] = client.get("/_mock/webhooks").json()["deliveries"]
    assert delivery["state"] == "gave_up"
    assert [a["at"] - START for a in delivery["attempts"]] == [10, 15]


def test_webhooks_are_signed_per_attempt(
    fake_client: httpx.Client, webhook_receiver: WebhookReceiver
) -> None:
    secret = "whsec_dGVzdC1zZWNyZXQ="
    webhook_receiver.respond_with(503)
    _create(fake_client, webhook_receiver.url, "wavespeed", webhook_secret=secret)
    _advance(fake_client, 10)
    _advance(fake_client, 10)  # wavespeed retry: 10 s
    first, second = webhook_receiver.wait_for(2)
    # Each attempt is signed when it is made, with wall time (not the mock's START + 10).
    for received in (first, second):
        now = time.time()
        assert abs(int(received.headers["webhook-timestamp"]) - now) < 60
        assert verify_standard_webhooks_v3(received.headers, received.body, secret, now=now)
        assert not verify_standard_webhooks_v3(received.headers, received.body, "whsec_x", now=now)


def test_a_slow_receiver_does_not_block_requests(
    make_app: Callable[..., Starlette],
    fake_adapters: dict[str, object],
    serve_app: Callable[[Starlette], Served],
    webhook_receiver: WebhookReceiver,
) -> None:
    served = serve_app(make_app(adapters=fake_adapters))
    webhook_receiver.respond_with(200, delay=1.5)
    with httpx.Client(base_url=served.url, trust_env=False, timeout=10) as http:
        for _ in range(3):
            _create(http, webhook_receiver.url)
        http.post("/_mock/clock/advance", json={"seconds": 10})
        started = time.monotonic()
        for _ in range(10):
            assert http.get("/eachlabs/v1/where").status_code == 200
        assert time.monotonic() - started < 1.0  # while three deliveries hang for 1.5 s
        # The three deliveries ran concurrently: all in ~1.5 s, not ~4.5 s.
        webhook_receiver.wait_for(3, timeout=3.0)
    assert served.drain(5)
    outcomes = [d.state for d in served.state.outbox.deliveries()]
    assert outcomes == ["delivered"] * 3


def test_a_receiver_slower_than_the_timeout_is_a_timeout(
    make_app: Callable[..., Starlette],
    fake_adapters: dict[str, object],
    make_client: Callable[..., httpx.Client],
    webhook_receiver: WebhookReceiver,
) -> None:
    config = MockConfig(webhooks=WebhookConfig(attempts=1, timeout_seconds=0.2))
    client = make_client(make_app(adapters=fake_adapters, config=config))
    webhook_receiver.respond_with(200, delay=1.0)
    _create(client, webhook_receiver.url)
    _advance(client, 10)
    [delivery] = client.get("/_mock/webhooks").json()["deliveries"]
    assert delivery["state"] == "gave_up"
    [attempt] = delivery["attempts"]
    assert attempt["outcome"] == "timeout"
    assert 150 < attempt["duration_ms"] < 900


def test_real_clock_finishes_a_job_and_fires_without_any_poll(
    make_app: Callable[..., Starlette],
    fake_adapters: dict[str, object],
    make_client: Callable[..., httpx.Client],
    webhook_receiver: WebhookReceiver,
) -> None:
    # 2 mock seconds at 20x: the job ends ~0.1 s after its create.
    config = MockConfig(jobs=JobsConfig(seconds=2.0))
    app = make_app(adapters=fake_adapters, config=config, clock=RealClock(speed=20))
    client = make_client(app)
    started = time.monotonic()
    job_id = _create(client, webhook_receiver.url)
    [received] = webhook_receiver.wait_for(1, timeout=5.0)
    assert received.json() == {"id": job_id, "status": "succeeded"}
    assert time.monotonic() - started < 2.0
    journal = client.get("/_mock/requests").json()["requests"]
    assert [e["endpoint"] for e in journal] == ["create"]  # nobody polled


# --- the sender on its own -------------------------------------------------------------


def _delivery(outbox: Outbox, url: str, due: float, **policy: Any) -> Delivery:
    return outbox.enqueue(
        Delivery(
            id=f"d{len(outbox.deliveries())}",
            job_id="job",
            provider="test",
            url=url,
            body=b'{"x":1}',
            policy=RetryPolicy(**policy),
            due=due,
            headers={"X-Static": "yes"},
            signer=lambda ts: {"X-Signed-At": str(ts)},
        )
    )


def test_sender_sleeps_until_woken_on_a_manual_clock(webhook_receiver: WebhookReceiver) -> None:
    async def scenario() -> None:
        clock = ManualClock()
        world, outbox = World(clock), Outbox()
        sender = WebhookSender(world, outbox, clock)
        passes = 0
        original = sender._pass

        def counting() -> None:
            nonlocal passes
            passes += 1
            original()

        sender._pass = counting  # type: ignore[method-assign]
        sender.start()
        try:
            _delivery(outbox, webhook_receiver.url, clock.now() + 5)
            await asyncio.sleep(0.3)
            assert passes <= 3  # start + the enqueue wake-up: no polling loop
            assert webhook_receiver.requests == []
            clock.advance(5)
            sender.wake()
            assert await sender.idle(5)
            [received] = webhook_receiver.requests
            assert received.headers["x-static"] == "yes"
            # Signatures carry wall time (receivers check it against their own clock).
            assert abs(int(received.headers["x-signed-at"]) - time.time()) < 60
            assert outbox.deliveries()[0].state == "delivered"
        finally:
            await sender.stop()

    asyncio.run(scenario())


def test_sender_wakes_itself_when_a_real_clock_retry_is_due(refused_url: str) -> None:
    async def scenario() -> None:
        clock = RealClock(speed=50)  # 10 mock seconds = 0.2 wall seconds
        world, outbox = World(clock), Outbox()
        sender = WebhookSender(world, outbox, clock)
        sender.start()
        try:
            delivery = _delivery(outbox, refused_url, clock.now(), attempts=3,
                                 delays_seconds=(10.0,))
            deadline = time.monotonic() + 5
            while delivery.state != "gave_up" and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            assert [a.outcome for a in delivery.attempts] == ["refused"] * 3
            times = [a.at for a in delivery.attempts]
            gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
            assert all(gap >= 10 for gap in gaps)
        finally:
            await sender.stop()

    asyncio.run(scenario())


def test_stop_returns_an_unfinished_attempt_to_pending(webhook_receiver: WebhookReceiver) -> None:
    async def scenario() -> None:
        clock = ManualClock()
        world, outbox = World(clock), Outbox()
        sender = WebhookSender(world, outbox, clock)
        webhook_receiver.respond_with(200, delay=3.0)
        sender.start()
        delivery = _delivery(outbox, webhook_receiver.url, clock.now())
        await asyncio.sleep(0.2)
        assert delivery.state == "in_flight"
        await sender.stop(grace=1.0)  # shorter than the receiver's 3 s
        assert delivery.state == "pending"
        assert delivery.attempts == []

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("url", "outcome"), [("http://127.0.0.1:1/x", "refused"), ("ftp://example.test/x", "error")]
)
def test_transport_failures_are_classified(url: str, outcome: str) -> None:
    async def scenario() -> None:
        clock = ManualClock()
        world, outbox = World(clock), Outbox()
        sender = WebhookSender(world, outbox, clock)
        sender.start()
        try:
            delivery = _delivery(outbox, url, clock.now(), attempts=1)
            assert await sender.idle(5)
            assert [a.outcome for a in delivery.attempts] == [outcome]
            assert delivery.state == "gave_up"
        finally:
            await sender.stop()

    asyncio.run(scenario())
