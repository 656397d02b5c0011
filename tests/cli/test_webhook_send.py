"""``mockserver webhook send`` against a receiver that verifies each provider's signature.

The verifiers below are written from the provider documents
(/work/shared/PROVIDERS.md, contracts/sources/), not with the mock's signer:

* WaveSpeed: ``webhook-signature: v3,<hex HMAC-SHA256>`` of
  ``"{webhook-id}.{webhook-timestamp}.{raw body}"``, keyed by the secret without
  its ``whsec_`` prefix; timestamps older than 300 s are rejected;
* Eachlabs: the create's ``webhook_secret`` comes back verbatim as ``X-Webhook-Secret``;
* Apikley (kie): ``X-Webhook-Signature = base64(HMAC-SHA256("{taskId}.{timestamp}", key))``
  with ``X-Webhook-Timestamp``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mockserver.cli import run
from mockserver.contracts import load_contracts
from mockserver.providers import registry

#: Every registered provider: one without a verifier below fails here, as it should.
PROVIDERS = registry.names()
SECRETS = {"eachlabs": "each-secret-7f3a", "wavespeed": "whsec_d2F2ZXNwZWVkLXRlc3Q",
           "apikley": "kie-secret-91b2"}


def verify(provider: str, headers: dict[str, str], body: bytes, secret: str | None) -> bool:
    """The provider's documented check, as a receiver would write it."""
    now = time.time()
    if provider == "wavespeed":
        assert secret is not None
        message_id, stamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "0")
        if abs(now - int(stamp)) > 300:
            return False
        key = secret[len("whsec_"):] if secret.startswith("whsec_") else secret
        signed = f"{message_id}.{stamp}.".encode() + body
        expected = "v3," + hmac.new(key.encode(), signed, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, headers.get("webhook-signature", ""))
    if provider == "eachlabs":
        return secret is None or hmac.compare_digest(secret, headers.get("x-webhook-secret", ""))
    if provider != "apikley":
        raise AssertionError(f"write {provider}'s documented signature check here")
    if secret is None:
        return "x-webhook-signature" not in headers
    stamp = headers.get("x-webhook-timestamp", "0")
    if abs(now - int(stamp)) > 300:
        return False
    task_id = json.loads(body)["taskId"]
    digest = hmac.new(secret.encode(), f"{task_id}.{stamp}".encode(), hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(),
                               headers.get("x-webhook-signature", ""))


class Receiver:
    """A loopback receiver: 200 when the signature verifies, 401 when it does not."""

    def __init__(self, provider: str, secret: str | None) -> None:
        self.provider, self.secret = provider, secret
        self.received: list[tuple[dict[str, str], bytes, bool]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                good = verify(receiver.provider, headers, body, receiver.secret)
                receiver.received.append((headers, body, good))
                answer = b'{"ok": true}' if good else b'{"error": "bad signature"}'
                self.send_response(200 if good else 401)
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/{provider}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers() -> Any:
    made: list[Receiver] = []

    def factory(provider: str, secret: str | None) -> Receiver:
        made.append(Receiver(provider, secret))
        return made[-1]

    yield factory
    for receiver in made:
        receiver.close()


def send(*args: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = run(["webhook", "send", *args], stdout, stderr)
    return code, stdout.getvalue(), stderr.getvalue()


@pytest.mark.parametrize("outcome", ["succeeded", "failed"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_each_provider_and_outcome_verifies_at_the_receiver(
    provider: str, outcome: str, receivers: Any
) -> None:
    receiver = receivers(provider, SECRETS[provider])
    code, out, err = send("--provider", provider, "--outcome", outcome, "--to", receiver.url,
                          "--secret", SECRETS[provider], "--job-id", "job-under-test-1",
                          "--json")
    assert code == 0, err
    assert err == ""
    ((headers, body, good),) = receiver.received
    assert good, headers
    report = json.loads(out)
    assert report["status"] == 200 and report["ok"] is True and report["latency_ms"] > 0
    assert report["body"] == '{"ok": true}'
    payload = json.loads(body)
    assert payload == report["payload"]
    contract = load_contracts().provider(provider)
    assert contract.validate(f"/webhook/payload/{outcome}/schema", payload) == []
    if provider == "apikley":
        assert contract.validate("/webhook/callback/schema", payload) == []
    assert "job-under-test-1" in body.decode()
    assert headers["content-type"].startswith("application/json")
    assert SECRETS[provider] not in json.dumps(report["sent_headers"])  # masked in output
    if provider != "eachlabs":
        stamp = headers.get("webhook-timestamp") or headers["x-webhook-timestamp"]
        assert abs(int(stamp) - time.time()) < 60  # wall clock, not the mock's


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_wrong_secret_fails_verification_and_exits_1(provider: str, receivers: Any) -> None:
    receiver = receivers(provider, SECRETS[provider])
    wrong = "whsec_d3Jvbmctc2VjcmV0" if provider == "wavespeed" else "wrong-secret-0000"
    code, out, err = send("--provider", provider, "--outcome", "succeeded", "--to",
                          receiver.url, "--secret", wrong)
    ((_, _, good),) = receiver.received
    assert not good
    assert code == 1
    assert "receiver answered 401" in out and '{"error": "bad signature"}' in out
    assert err.count("\n") == 1 and "answered 401, not 2xx" in err


def test_wavespeed_without_a_secret_signs_with_the_printed_default(receivers: Any) -> None:
    code, out, err = send("--provider", "wavespeed", "--outcome", "failed", "--to",
                          "http://127.0.0.1:9/unused", "--json")
    default = json.loads(out)["default_secret"]
    assert default.startswith("whsec_") and code == 2
    receiver = receivers("wavespeed", default)
    code, out, err = send("--provider", "wavespeed", "--outcome", "failed", "--to",
                          receiver.url)
    assert code == 0, err
    assert receiver.received[0][2] and default in out


def test_apikley_without_a_secret_sends_no_signature(receivers: Any) -> None:
    receiver = receivers("apikley", None)
    code, _, err = send("--provider", "apikley", "--outcome", "succeeded", "--to", receiver.url,
                        "--model", "wan/2-2-a14b-image-to-video-turbo")
    assert code == 0, err
    headers = receiver.received[0][0]
    assert "x-webhook-signature" not in headers and "x-webhook-timestamp" not in headers


def test_an_unreachable_receiver_is_one_clear_line() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    code, _, err = send("--provider", "eachlabs", "--outcome", "succeeded", "--to",
                        f"http://127.0.0.1:{port}/hook")
    assert code == 2
    assert err.count("\n") == 1 and "could not connect" in err and str(port) in err


@pytest.mark.parametrize(("args", "message"), [
    (["--to", "not a url"], "--to"),
    (["--to", "http://127.0.0.1:9/", "--model", "no-such-model"], "unknown eachlabs model"),
])
def test_bad_arguments_exit_2_with_one_line(args: list[str], message: str) -> None:
    code, _, err = send("--provider", "eachlabs", "--outcome", "succeeded", *args)
    assert code == 2 and message in err and err.count("\n") == 1


def test_the_installed_command_sends_and_documents_itself(receivers: Any) -> None:
    mockserver = Path(sys.executable).with_name("mockserver")
    env = {k: v for k, v in os.environ.items() if not k.upper().endswith("_PROXY")}
    help_text = subprocess.run([str(mockserver), "webhook", "send", "--help"], env=env,
                               capture_output=True, text=True, timeout=60, check=True).stdout
    for option in ("--provider", "--outcome", "--to", "--secret", "--model", "--job-id",
                   "--json", "loopback", "Exit 0"):
        assert option in help_text
    receiver = receivers("wavespeed", SECRETS["wavespeed"])
    done = subprocess.run(
        [str(mockserver), "webhook", "send", "--provider", "wavespeed", "--outcome",
         "succeeded", "--to", receiver.url, "--secret", SECRETS["wavespeed"]],
        env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "receiver answered 200" in done.stdout and receiver.received[0][2]
