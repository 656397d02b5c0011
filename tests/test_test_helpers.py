"""The test suite's own helpers: a flaw here makes every test that uses them flaky."""

from __future__ import annotations

import threading
import time

import httpx
from conftest import WebhookReceiver


def test_the_receiver_lists_requests_in_the_order_they_arrived(
    webhook_receiver: WebhookReceiver,
) -> None:
    # The first request's answer is slow; the second is read later and answered
    # at once. Recorded in the order answers finished, the second would come
    # first (the out-of-order webhook test failed that way on a loaded machine).
    webhook_receiver.respond_with(200, delay=0.6)
    first = threading.Thread(
        target=httpx.post, args=(webhook_receiver.url,), kwargs={"content": b"first"}
    )
    first.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and webhook_receiver.arrived < 1:
        time.sleep(0.01)
    webhook_receiver.respond_with(200, delay=0)
    httpx.post(webhook_receiver.url, content=b"second")
    first.join(5)
    assert [request.body for request in webhook_receiver.wait_for(2)] == [b"first", b"second"]
