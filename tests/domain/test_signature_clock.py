"""Signature timestamps verify on the receiver's own clock, whatever the mock clock does.

A receiver written from each provider's documents runs on a loopback port and
checks every delivery when it arrives, against ``time.time()``:

* WaveSpeed (wavespeed.ai/docs/docs-api/verifying_webhook): hex HMAC-SHA256 of
  ``{webhook-id}.{webhook-timestamp}.{raw body}`` keyed by the secret without
  ``whsec_``, and ``WebhookMaxAgeSeconds = 300``;
* Apikley / kie (docs.kie.ai/common-api/webhook-verification): base64
  HMAC-SHA256 of ``{data.task_id}.{X-Webhook-Timestamp}`` keyed by the
  webhookHmacKey, the task id read from ``data.task_id`` as kie's sample
  verifiers read it; kie documents no window, so this receiver takes 300 s too.

It answers 401 to a delivery it rejects. The mock runs on the default real
clock (17.5x): after a 10-minute run its clock is 9,900 s ahead of the wall
clock (16.5 s per second). Rather than wait 10 minutes, the test moves the
mock clock forward minute by minute by the drift such a run accumulates
(``advance``; the same offset a 10-minute run has) and completes jobs of both
providers at each step. Then the same on a manual clock advanced by days.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from mockserver.domain.clock import DEFAULT_SPEED
from mockserver.testing import ServedMock, serve_providers

KEY = "sig-clock-key"
KIE_HMAC_KEY = "kie-hmac-key"
#: WaveSpeed's documented WebhookMaxAgeSeconds.
MAX_AGE = 300
WAVESPEED_MODEL = "wavespeed-ai/wan-2.2/image-to-video"
APIKLEY_MODEL = "wan/2-2-a14b-image-to-video-turbo"
IMAGE = "https://images.example.com/cat.png"


@dataclass
class Verdicts:
    accepted: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def verify_wavespeed(headers: dict[str, str], body: bytes, secret: str) -> str | None:
    """WaveSpeed's documented check; the reason it fails, or None."""
    try:
        message_id = headers["webhook-id"]
        timestamp = headers["webhook-timestamp"]
        version, signature = headers["webhook-signature"].split(",", 1)
    except (KeyError, ValueError):
        return "missing or malformed signature headers"
    if version != "v3":
        return f"signature version {version}"
    if abs(time.time() - int(timestamp)) > MAX_AGE:
        return f"timestamp {timestamp} is {time.time() - int(timestamp):+.0f} s from now"
    key = secret.removeprefix("whsec_").encode()
    expected = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body,
                        hashlib.sha256).hexdigest()
    return None if hmac.compare_digest(expected, signature) else "signature mismatch"


def verify_kie(headers: dict[str, str], body: bytes, key: str) -> str | None:
    """kie's documented check (the task id from ``data.task_id``); the reason it fails, or None."""
    timestamp = headers.get("x-webhook-timestamp")
    received = headers.get("x-webhook-signature")
    if not timestamp or not received:
        return "missing signature headers"
    task_id = (json.loads(body).get("data") or {}).get("task_id")
    if not task_id:
        return "missing data.task_id"
    if abs(time.time() - int(timestamp)) > MAX_AGE:
        return f"timestamp {timestamp} is {time.time() - int(timestamp):+.0f} s from now"
    expected = base64.b64encode(hmac.new(
        key.encode(), f"{task_id}.{timestamp}".encode(), hashlib.sha256).digest()).decode()
    return None if hmac.compare_digest(expected, received) else "signature mismatch"


@pytest.fixture
def receiver() -> Iterator[tuple[str, Verdicts, dict[str, str]]]:
    """A verifying receiver on a loopback port: (base URL, verdicts, secrets by provider)."""
    verdicts = Verdicts()
    secrets: dict[str, str] = {"apikley": KIE_HMAC_KEY}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            provider = self.path.strip("/")
            if provider == "wavespeed":
                problem = verify_wavespeed(headers, body, secrets["wavespeed"])
            else:
                problem = verify_kie(headers, body, secrets["apikley"])
            with verdicts.lock:
                if problem is None:
                    verdicts.accepted.append(provider)
                else:
                    verdicts.rejected.append(f"{provider}: {problem}")
            self.send_response(200 if problem is None else 401)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", verdicts, secrets
    finally:
        server.shutdown()
        server.server_close()


def _create_both(http: httpx.Client, mock: ServedMock, hooks: str) -> None:
    wavespeed = http.post(
        f"{mock.base_url('wavespeed')}/api/v3/{WAVESPEED_MODEL}",
        params={"webhook": f"{hooks}/wavespeed"},
        headers={"Authorization": f"Bearer {KEY}"},
        json={"image": IMAGE, "prompt": "a cat yawns"},
    )
    assert wavespeed.status_code == 200, wavespeed.text
    apikley = http.post(
        f"{mock.base_url('apikley')}/api/v1/jobs/createTask",
        headers={"Authorization": f"Bearer {KEY}"},
        json={"model": APIKLEY_MODEL, "callBackUrl": f"{hooks}/apikley",
              "input": {"image_url": IMAGE, "prompt": "a cat yawns"}},
    )
    assert apikley.json()["code"] == 200, apikley.text


def _wait_for(verdicts: Verdicts, count: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with verdicts.lock:
            if len(verdicts.accepted) + len(verdicts.rejected) >= count:
                return
        time.sleep(0.01)
    raise AssertionError(f"{count} deliveries expected, got {verdicts}")


def _run(mock: ServedMock, hooks: str, verdicts: Verdicts, secrets: dict[str, str],
         steps: list[float], after_create: float) -> None:
    mock.set_account(KEY, webhook_secret=KIE_HMAC_KEY)  # Apikley signs only with a key set
    mock.set_account(KEY, limits={"creates_per_window": 1000, "window_seconds": 60,
                                  "concurrent": 100})
    secrets["wavespeed"] = mock.webhook_secret(KEY)
    expected = 0
    with httpx.Client(timeout=10) as http:
        for step in steps:
            mock.advance(step)
            _create_both(http, mock, hooks)
            expected += 2
            if after_create:
                mock.advance(after_create)
            _wait_for(verdicts, expected)
    assert verdicts.rejected == []
    assert Counter(verdicts.accepted) == {"apikley": expected // 2, "wavespeed": expected // 2}


def test_a_ten_minute_run_on_the_default_real_clock_verifies(
    receiver: tuple[str, Verdicts, dict[str, str]],
) -> None:
    hooks, verdicts, secrets = receiver
    drift_per_minute = 60 * (DEFAULT_SPEED - 1)  # mock seconds ahead of wall per wall minute
    with serve_providers(providers=["wavespeed", "apikley"], clock="real",
                         config={"jobs": {"seconds": 3.5}}) as mock:
        mock.pass_webhooks_through(hooks)
        _run(mock, hooks, verdicts, secrets, steps=[drift_per_minute] * 10, after_create=0)
        # The mock clock really was ahead of the wall clock by a 10-minute run's drift.
        assert mock.now - time.time() >= 10 * drift_per_minute
    assert len(verdicts.accepted) == 20


def test_a_manual_clock_advanced_by_days_verifies(
    receiver: tuple[str, Verdicts, dict[str, str]],
) -> None:
    hooks, verdicts, secrets = receiver
    day = 86_400.0
    with serve_providers(providers=["wavespeed", "apikley"], clock="manual") as mock:
        mock.pass_webhooks_through(hooks)
        _run(mock, hooks, verdicts, secrets, steps=[0, day, 3 * day], after_create=600)
        assert abs(mock.now - time.time()) > MAX_AGE  # far from the wall clock
    assert len(verdicts.accepted) == 6


def test_signature_clock_mock_signs_with_mock_time(
    receiver: tuple[str, Verdicts, dict[str, str]],
) -> None:
    """``[webhooks] signature_clock = "mock"``: the documented opt-out; such a receiver rejects."""
    hooks, verdicts, secrets = receiver
    with serve_providers(providers=["wavespeed", "apikley"], clock="manual",
                         config={"webhooks": {"signature_clock": "mock"}}) as mock:
        mock.pass_webhooks_through(hooks)
        mock.set_account(KEY, webhook_secret=KIE_HMAC_KEY)
        secrets["wavespeed"] = mock.webhook_secret(KEY)
        with httpx.Client(timeout=10) as http:
            mock.advance(2 * 86_400)
            _create_both(http, mock, hooks)
            mock.advance(600)
        _wait_for(verdicts, 2)
        webhooks = mock.webhooks
    assert len(verdicts.rejected) >= 2 and verdicts.accepted == []
    assert all("timestamp" in reason for reason in verdicts.rejected)
    assert webhooks  # rejected deliveries are recorded, not lost
