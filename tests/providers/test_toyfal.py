"""A fourth provider from a folder under tests/ plus one registry entry (issue 19).

``tests/providers/toyfal/`` holds a small fal.ai-style queue API: its
contract (``contracts/provider.yaml``, ``contracts/models/``), its adapter,
its webhook signer and its client shapes, declared by ``KIT``. Nothing
outside that folder knows it: the test registers the kit and serves it, over
real HTTP on loopback and in-process (respx), through the public
``mockserver.testing`` API: create, poll to the end with a queue position,
the result, a signed webhook verified by a local receiver, a 402, a 429, a
cancel, and an invalid body answered in the toy's own error envelope.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from toyfal import KIT
from toyfal.signing import verify

from mockserver.providers import registry
from mockserver.testing import ProviderMock, mock_providers, serve_providers

KEY = "sk-toy"
SECRET = "whsec_toy-secret"
MODEL = "toy-video"
CONTRACT = KIT.own_contract()
assert CONTRACT is not None


@pytest.fixture
def toyfal() -> Iterator[None]:
    """The toy provider in the registry for one test, and only then."""
    with registry.registered(KIT):
        yield


MODES: dict[str, Callable[..., ProviderMock]] = {
    "served": serve_providers,
    # respx lets the loopback webhook receiver through; the toy's host is intercepted.
    "in_process": partial(mock_providers, passthrough=["127.0.0.1"]),
}


@pytest.fixture(params=sorted(MODES))
def mock(request: pytest.FixtureRequest, toyfal: None) -> Iterator[ProviderMock]:
    with MODES[request.param](
        ["toyfal"], clock="manual", validate_responses=True,
        accounts={KEY: {"webhook_secret": SECRET}, "nofunds-toy": {}},
    ) as started:
        yield started
        started.check()  # every response matched the toy contract (validate_responses)


def _valid(pointer: str, response: httpx.Response) -> Any:
    """The body, which must satisfy the toy contract's schema at ``pointer``."""
    body = response.json()
    assert CONTRACT.validate(pointer, body) == [], (pointer, body)
    return body


def _client(mock: ProviderMock, key: str = KEY) -> httpx.Client:
    return httpx.Client(base_url=mock.base_url("toyfal"), headers={"Authorization": f"Key {key}"})


def test_the_toy_provider_is_known_only_while_registered(toyfal: None) -> None:
    assert "toyfal" in registry.names()
    with pytest.raises(ValueError, match="already registered"):
        registry.register(replace(KIT, currency="EUR"))  # another kit of the same name


def test_unregistered_the_toy_provider_is_unknown() -> None:
    assert "toyfal" not in registry.names()
    with pytest.raises(registry.UnknownProvider, match="no provider 'toyfal'"):
        registry.kit("toyfal")


def test_create_poll_result_and_signed_webhook(mock: ProviderMock, webhook_receiver: Any) -> None:
    mock.pass_webhooks_through(webhook_receiver.url)  # a real loopback server, both ways
    with _client(mock) as http:
        first = http.post(f"/{MODEL}", json={"prompt": "a lighthouse"},
                          params={"fal_webhook": webhook_receiver.url})
        assert first.status_code == 200, first.text
        created = _valid("/endpoints/create/responses/200/schema", first)
        second = _valid("/endpoints/create/responses/200/schema",
                        http.post(f"/{MODEL}", json={"prompt": "a second one"}))
        assert (created["queue_position"], second["queue_position"]) == (0, 1)
        assert created["status_url"].endswith(f"/requests/{created['request_id']}/status")

        status = http.get(created["status_url"])
        assert _valid("/endpoints/status/responses/200/schema", status)["status"] == "IN_QUEUE"
        not_ready = http.get(created["response_url"])
        assert not_ready.status_code == 400
        assert _valid("/errors/envelopes/default/schema", not_ready)["detail"]

        seen = []
        for _ in range(30):
            word = _valid("/endpoints/status/responses/200/schema",
                          http.get(created["status_url"]))["status"]
            if not seen or seen[-1] != word:
                seen.append(word)
            if word == "COMPLETED":
                break
            mock.advance(5)
        assert seen[0] == "IN_QUEUE" and seen[-1] == "COMPLETED", seen
        result = _valid("/endpoints/result/responses/200/schema", http.get(created["response_url"]))
        assert result["video"]["url"].startswith("http")

    (hook,) = webhook_receiver.wait_for(1)
    assert hook.json()["request_id"] == created["request_id"]
    assert hook.json()["status"] == "OK"
    assert CONTRACT.validate("/webhook/payload/succeeded/schema", hook.json()) == []
    assert verify(hook.headers, hook.body, SECRET, now=time.time())
    assert not verify(hook.headers, hook.body, "whsec_other", now=time.time())
    assert not verify(hook.headers, hook.body + b" ", SECRET, now=time.time())


def test_402_429_cancel_and_the_toy_error_envelope(mock: ProviderMock) -> None:
    with _client(mock, "nofunds-toy") as broke:
        poor = broke.post(f"/{MODEL}", json={"prompt": "x"})
        assert poor.status_code == 402
        detail = _valid("/errors/envelopes/default/schema", poor)["detail"]
        assert detail.startswith("Insufficient balance: this job costs $0.50"), detail

    with _client(mock) as http:
        invalid = http.post(f"/{MODEL}", json={"prompt": "x", "duration": 7})
        assert invalid.status_code == 422
        assert "duration" in _valid("/errors/envelopes/default/schema", invalid)["detail"]
        unknown_field = http.post(f"/{MODEL}", json={"prompt": "x", "colour": "red"})
        assert unknown_field.status_code == 422
        _valid("/errors/envelopes/default/schema", unknown_field)

        ids = [http.post(f"/{MODEL}", json={"prompt": "x"}).json()["request_id"] for _ in range(2)]
        limited = http.post(f"/{MODEL}", json={"prompt": "x"})
        assert limited.status_code == 429, limited.text
        assert "2 jobs in flight" in _valid("/errors/envelopes/default/schema", limited)["detail"]
        assert int(limited.headers["Retry-After"]) > 0

        cancelled = http.put(f"/{MODEL}/requests/{ids[0]}/cancel")
        assert cancelled.status_code == 202
        assert _valid("/endpoints/cancel/responses/202/schema", cancelled) == {
            "status": "CANCELLATION_REQUESTED"
        }
        # A slot is free again: the next create is admitted.
        assert http.post(f"/{MODEL}", json={"prompt": "x"}).status_code == 200


def test_served_by_the_command_line_from_the_environment(tmp_path: Path) -> None:
    """``mockserver serve`` with ``MOCKSERVER_PROVIDER_KITS=toyfal:KIT`` serves the toy too."""
    folder = Path(__file__).resolve().parent
    env = {**os.environ, "MOCKSERVER_PROVIDER_KITS": "toyfal:KIT",
           "PYTHONPATH": os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")])}
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "serve", "--port", str(port), "--clock", "manual"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                health = httpx.get(f"{base}/_mock/health", timeout=1).json()
                break
            except httpx.TransportError:
                time.sleep(0.05)
        else:
            pytest.fail("the served mock did not come up: " + server.stderr.read().decode()
                        if server.stderr else "")
        assert "toyfal" in health["providers"]
        created = httpx.post(f"{base}/toyfal/{MODEL}", json={"prompt": "a lighthouse"},
                             headers={"Authorization": f"Key {KEY}"})
        assert created.status_code == 200, created.text
        _valid("/endpoints/create/responses/200/schema", created)
    finally:
        server.terminate()
        server.wait(timeout=10)


def _free_port() -> int:
    """A free loopback port (bound, then released for the server to take)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
