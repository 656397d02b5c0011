"""Issue 16 item 8 and the webhook parts of items 2-3: no webhook lost in silence.

The retry floor in wall time, redelivery (``POST /_mock/webhooks/{id}/resend``),
the shutdown drain and its log line, the outbox's count and byte bounds (drops
counted and logged), an outbox that never holds the loop, and a resource test:
RSS plateaus with a receiver down and 50,000 deliveries.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import Served, WebhookReceiver, free_port, wait_for_health
from http_api import Api, advance
from starlette.applications import Starlette

from mockserver.config import JobsConfig, MockConfig, WebhookConfig
from mockserver.domain.clock import RealClock

#: Run on the memory store and on a Redis store (tests/conftest.py: store_backend).
pytestmark = pytest.mark.store_backends

ROOT = Path(__file__).parents[2]


# --- the wall-time floor ---------------------------------------------------------


class _LateReceiver:
    """A receiver that starts listening on ``port`` only after ``down_seconds``."""

    def __init__(self, port: int, down_seconds: float) -> None:
        self.bodies: list[bytes] = []
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                receiver.bodies.append(self.rfile.read(length))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()
                receiver.arrived.set()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server: ThreadingHTTPServer | None = None

        def start() -> None:
            time.sleep(down_seconds)
            self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
            self._server.serve_forever(poll_interval=0.05)

        threading.Thread(target=start, daemon=True).start()

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def test_a_receiver_down_longer_than_the_mock_retry_window_still_gets_its_webhook(
    make_app: Callable[..., Starlette], serve_app: Callable[[Starlette], Served]
) -> None:
    # Eachlabs retries 3 times 10 mock seconds apart: 1.1 wall seconds at 17.5x. The
    # floor (1.5 s here, 5 s by default) spreads the attempts over 3 wall seconds.
    config = MockConfig(webhooks=WebhookConfig(min_retry_wall_seconds=1.5),
                        jobs=JobsConfig(seconds=1.0))
    served = serve_app(make_app(config=config, clock=RealClock(17.5)))
    port = free_port()
    receiver = _LateReceiver(port, down_seconds=2.0)
    try:
        with httpx.Client(base_url=served.url, trust_env=False) as http:
            api = Api(http, "eachlabs", "sk-a")
            api.create_ok(webhook=f"http://127.0.0.1:{port}/hook")
            assert receiver.arrived.wait(15), http.get("/_mock/webhooks").text
            deadline = time.monotonic() + 5  # the attempt is recorded after the answer
            while True:
                delivery = http.get("/_mock/webhooks").json()["deliveries"][0]
                if delivery["state"] == "delivered" or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
        outcomes = [a["outcome"] for a in delivery["attempts"]]
        assert outcomes[-1] == "delivered" and "refused" in outcomes, outcomes
    finally:
        receiver.close()


def test_the_default_floor_is_five_wall_seconds_on_the_real_clock(
    make_app: Callable[..., Starlette],
) -> None:
    real = make_app(config=MockConfig(), clock=RealClock(17.5)).state.mock
    policy = real.service.settings.retry_policies["eachlabs"]
    assert policy.delay_after(1) == pytest.approx(5.0 * 17.5)
    manual = make_app().state.mock  # a manual clock: mock seconds only
    assert manual.service.settings.retry_policies["eachlabs"].delay_after(1) == 10.0


# --- redelivery ---------------------------------------------------------------------


def test_a_delivery_that_gave_up_can_be_resent(
    served: Served, webhook_receiver: WebhookReceiver
) -> None:
    webhook_receiver.respond_with(500, 500, 500)
    with httpx.Client(base_url=served.url, trust_env=False) as http:
        api = Api(http, "eachlabs", "sk-a")
        api.create_ok(webhook=webhook_receiver.url)
        for _ in range(4):
            advance(http, 600)
        [gone] = http.get("/_mock/webhooks").json()["deliveries"]
        assert gone["state"] == "gave_up" and len(gone["attempts"]) == 3
        reply = http.post(f"/_mock/webhooks/{gone['id']}/resend")
        assert reply.status_code == 201, reply.text
        again = reply.json()
        assert again["resend_of"] == gone["id"] and again["id"] != gone["id"]
        advance(http, 1)
        webhook_receiver.wait_for(4)
        listed = {d["id"]: d for d in http.get("/_mock/webhooks").json()["deliveries"]}
        assert listed[gone["id"]]["resent_as"] == again["id"]
        assert listed[again["id"]]["state"] == "delivered"
        assert webhook_receiver.requests[-1].body == webhook_receiver.requests[0].body
        # Only finished deliveries; unknown ids are a 404.
        assert http.post("/_mock/webhooks/nope/resend").status_code == 404
        webhook_receiver.respond_with(500)
        api.create_ok(webhook=webhook_receiver.url)
        advance(http, 600)
        pending = http.get("/_mock/webhooks?state=pending").json()["deliveries"][0]
        assert http.post(f"/_mock/webhooks/{pending['id']}/resend").status_code == 409
        outbox = http.get("/_mock/health").json()["webhook_outbox"]
        assert outbox["waiting"] == 1 and outbox["dropped"] == 0
        assert outbox["max_pending"] == 10_000


# --- shutdown drain -------------------------------------------------------------


def test_sigterm_drains_in_flight_deliveries_and_logs_what_is_left(
    webhook_receiver: WebhookReceiver, refused_url: str
) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "serve", "--port", str(port), "--clock", "manual",
         "--log-level", "warning", "--drain-seconds", "5"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_health(f"{base}/_mock/health", process)
        webhook_receiver.respond_with(200, delay=1.5)  # slow: in flight at SIGTERM
        with httpx.Client(base_url=base, trust_env=False) as http:
            api = Api(http, "eachlabs", "sk-a")
            api.create_ok(webhook=webhook_receiver.url)
            left = api.create_ok(webhook=refused_url)
            http.post("/_mock/clock/advance", json={"seconds": 600})
            time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert len(webhook_receiver.requests) == 1  # the in-flight one finished
    assert "1 webhook deliveries left undelivered" in err, err
    assert "Traceback" not in err
    del left  # its delivery is the one left (refused, waiting for its retry)


# --- bounds and the event loop --------------------------------------------------


def _delivery(index: int, body: bytes = b"{}") -> Any:
    from mockserver.domain.webhooks import Delivery, RetryPolicy

    return Delivery(id=f"d{index}", job_id=f"j{index}", provider="eachlabs",
                    url="http://127.0.0.1:9/hook", body=body, policy=RetryPolicy(), due=0.0)


def test_pending_deliveries_are_bounded_in_count_and_bytes_and_drops_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from mockserver.domain.webhooks import Outbox

    outbox = Outbox(max_pending=3, max_pending_bytes=10**9)
    with caplog.at_level(logging.WARNING, logger="mockserver"):
        for index in range(5):
            outbox.enqueue(_delivery(index))
    assert len(outbox.waiting()) == 3 and outbox.dropped == 2
    first = outbox.get("d0")
    assert first is not None and first.state == "gave_up" and "dropped" in (first.dropped or "")
    assert caplog.text.count("dropped") >= 2 and "d0" in caplog.text
    again = outbox.resend(first, "d0-again", 1.0)  # a dropped delivery can be resent
    assert again.state == "pending"
    by_bytes = Outbox(max_pending=100, max_pending_bytes=10_000)
    for index in range(10):
        by_bytes.enqueue(_delivery(index, b"x" * 3_000))
    # 3,000 bytes + 1,024 of overhead each: two fit in 10,000.
    assert by_bytes.waiting_bytes <= 10_000 and by_bytes.dropped == 8


def test_enqueue_cost_does_not_grow_with_the_pending_store() -> None:
    # Before: every enqueue past max_deliveries scanned every delivery for a finished
    # one to evict (15 s of a blocked loop at 40,000 pending). A ratio, not a timing:
    # 1,000 enqueues at 40,000 pending cost about what 1,000 cost at 1,000.
    from mockserver.domain.webhooks import Outbox

    outbox = Outbox(max_deliveries=1_000, max_pending=100_000)

    def batch(start: int) -> float:
        began = time.perf_counter()
        for index in range(start, start + 1_000):
            outbox.enqueue(_delivery(index))
        return time.perf_counter() - began

    small = min(batch(1_000 * i) for i in range(1, 3))
    for index in range(3_000, 40_000):
        outbox.enqueue(_delivery(index))
    large = min(batch(40_000 + 1_000 * i) for i in range(3))
    assert large < small * 8 + 0.005, (small, large)


RSS_SCRIPT = textwrap.dedent("""
    import asyncio, json, resource, sys
    from mockserver.domain.clock import ManualClock
    from mockserver.domain.webhooks import Delivery, Outbox, RetryPolicy
    from mockserver.domain.world import World
    from mockserver.http.sender import WebhookSender

    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()

    async def main():
        clock = ManualClock()
        outbox = Outbox()  # the default bounds
        sender = WebhookSender(World(clock), outbox, clock, drain_seconds=0)
        sender.start()
        port = int(sys.argv[1])
        samples = {}
        for index in range(50_000):
            outbox.enqueue(Delivery(
                id=f"d{index}", job_id=f"j{index}", provider="eachlabs",
                url=f"http://127.0.0.1:{port}/hook", body=b"x" * 2048,
                policy=RetryPolicy(), due=clock.now(),
                # The receiver is down: refused at once, without a socket per attempt.
                effects=frozenset({"refused"})))
            if index % 500 == 0:
                await asyncio.sleep(0)  # let the sender try (the receiver is down)
            if (index + 1) % 10_000 == 0:
                samples[index + 1] = rss()
        await sender.idle(10)
        await sender.stop(0)
        print(json.dumps({"rss": samples, "dropped": outbox.dropped,
                          "waiting": len(outbox.waiting()), "attempts": len(outbox.log)}))

    asyncio.run(main())
""")


def test_rss_plateaus_with_a_receiver_down_and_50000_pending_deliveries() -> None:
    """Documented bound (README "Delivery guarantees"): 10,000 waiting, 64 MiB."""
    result = subprocess.run(
        [sys.executable, "-c", RSS_SCRIPT, str(free_port())], cwd=ROOT,
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    rss = {int(k): v for k, v in figures["rss"].items()}
    mib = 1024 * 1024
    print(f"RSS at 10k/20k/30k/40k/50k deliveries: "
          f"{[round(rss[n] / mib, 1) for n in sorted(rss)]} MiB, dropped {figures['dropped']}")
    assert figures["waiting"] <= 10_000
    assert figures["dropped"] >= 40_000 - 64
    # Past the bound (10,000), memory stays flat: 2 KiB x 30,000 more would be 60 MiB.
    assert rss[50_000] - rss[20_000] < 12 * mib, rss
