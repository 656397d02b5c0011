"""Every fault a client must survive, for every provider, over HTTP.

``tests/faults/test_http_scenarios.py`` covers the scenario sources (Prefer,
queue, magic key, prompt marker) on Eachlabs; this file checks that each
forced code and each scenario does what its description says for each
provider where it applies: envelopes and transports, failure details, stuck
jobs, delays, broken connections and bodies, webhook faults, WaveSpeed's
sync timeout; plus the rules for webhook URLs and wrong methods. Every app
fails its test on a contract violation or an unhandled server error.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from conftest import Served, WebhookReceiver
from http_api import DONE, FAILED, PROVIDERS, Api, advance, error_code
from starlette.applications import Starlette

from mockserver.config import MockConfig
from mockserver.contracts import load_contracts
from mockserver.domain.accounts import default_webhook_secret
from mockserver.faults import ALLOWED_CODES
from mockserver.providers.wavespeed.signing import verify_standard_webhooks_v3

#: Run on the memory store and on a Redis store (tests/conftest.py: store_backend).
pytestmark = pytest.mark.store_backends

KEY = "sk-scenario-0123456789"
RUNNING = {"eachlabs": "processing", "wavespeed": "processing", "apikley": "generating"}


def _api(http: httpx.Client, provider: str, key: str = KEY) -> Api:
    api = Api(http, provider, key)
    if provider == "wavespeed":  # room above the bronze tier's 2 creates per minute
        api.set(limits={"creates_per_window": 100, "concurrent": 100})
    return api


# --- forced codes ------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["create", "poll"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_forced_code_in_the_envelope_and_transport(
    client: httpx.Client, provider: str, endpoint: str
) -> None:
    api = _api(client, provider)
    job_id = api.create_ok()
    for code in sorted(ALLOWED_CODES):
        prefer = f"code={code}"
        reply = api.create(prefer=prefer) if endpoint == "create" else api.poll(
            job_id, prefer=prefer)
        assert error_code(provider, reply) == code, (code, reply.text)
        if provider == "apikley":  # the code in the body; only 429 is a real HTTP status
            assert reply.status_code == (429 if code == 429 else 200)
            assert reply.json()["data"] is None
        else:
            assert reply.status_code == code
        body = reply.json()
        if provider == "eachlabs":
            assert body["status"] in ("error", code)
        else:
            assert body["code"] == code
        if code in (429, 503):
            assert reply.headers["retry-after"] == "1"
    assert client.get("/_mock/jobs").json()["count"] == 1  # no forced create made a job


# --- job scenarios ------------------------------------------------------------------


def _failure_detail(provider: str, reply: dict[str, Any]) -> Any:
    if provider == "eachlabs":
        return reply["output"]["error_code"]
    if provider == "wavespeed":
        return reply["data"]["code"]
    return reply["data"]["failCode"], reply["data"]["failMsg"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_job_failed_gives_each_providers_failure_detail(
    client: httpx.Client, provider: str
) -> None:
    api = _api(client, provider)
    plain = api.create_ok(prefer="scenario=job_failed")
    # ":" unquoted is accepted (leniently beyond RFC 7240 tokens).
    moderated = api.create_ok(prefer="scenario=job_failed:content_moderation")
    advance(client, 600)
    contract = load_contracts().provider(provider).data["errors"]["job_failures"]
    for job_id in (plain, moderated):
        assert api.status(job_id) == FAILED[provider]
    detail = _failure_detail(provider, api.poll(moderated).json())
    if provider == "eachlabs":
        assert detail == contract["kinds"]["content_moderation"]["error_code"]
        assert _failure_detail(provider, api.poll(plain).json()) == "GENERATION_FAILED"
    elif provider == "wavespeed":
        assert detail == 1200
        assert _failure_detail(provider, api.poll(plain).json()) == contract["default"]
    else:
        facts = contract["kinds"]["content_moderation"]
        assert detail == (facts["failCode"], facts["failMsg"])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_job_failed_timeout_unquoted_is_accepted(client: httpx.Client, provider: str) -> None:
    api = _api(client, provider)
    job_id = api.create_ok(prefer="scenario=job_failed:timeout")
    advance(client, 600)
    assert client.get(f"/_mock/jobs/{job_id}").json()["failure"] == "timeout"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_job_stuck_never_finishes(client: httpx.Client, provider: str) -> None:
    api = _api(client, provider)
    job_id = api.create_ok(prefer="scenario=job_stuck")
    advance(client, 10_000)
    assert api.status(job_id) == RUNNING[provider]
    # A stuck job still holds its slot and its reservation until it is given up on.
    assert api.account()["reserved"] > 0


@pytest.mark.parametrize("provider", PROVIDERS)
def test_slow_answers_after_the_delay(client: httpx.Client, provider: str) -> None:
    api = _api(client, provider)
    started = time.monotonic()
    job_id = api.create_ok(prefer="scenario=slow, delay=0.2")
    assert time.monotonic() - started >= 0.2
    started = time.monotonic()
    assert api.poll(job_id, prefer="scenario=slow; x=1, delay=0.2").status_code == 200
    assert time.monotonic() - started >= 0.2


@pytest.mark.parametrize("provider", PROVIDERS)
def test_broken_responses_on_create_and_poll(served: Served, provider: str) -> None:
    with httpx.Client(base_url=served.url, trust_env=False) as http:
        api = _api(http, provider)
        job_id = api.create_ok()
        for scenario in ("malformed_body", "truncated_body"):
            for reply in (api.create(prefer=f"scenario={scenario}"),
                          api.poll(job_id, prefer=f"scenario={scenario}")):
                assert reply.content
                with pytest.raises(ValueError):
                    reply.json()
        with pytest.raises(httpx.RemoteProtocolError):
            api.create(prefer="scenario=drop_connection")
        with pytest.raises(httpx.RemoteProtocolError):
            api.poll(job_id, prefer="scenario=drop_connection")
        assert api.poll(job_id).status_code == 200  # the server lives on
    assert served.state.unhandled_errors == []


def test_sync_timeout_gives_up_waiting_with_5004(client: httpx.Client) -> None:
    api = _api(client, "wavespeed")
    reply = api.create(inputs={"enable_sync_mode": True}, prefer="scenario=sync_timeout")
    assert reply.status_code == 200
    data = reply.json()["data"]
    assert data["status"] == "processing" and data["code"] == 5004
    assert data["urls"]["get"].endswith(f"/api/v3/predictions/{data['id']}/result")
    advance(client, 600)
    assert api.status(data["id"]) == "completed"  # the job itself goes on


# --- webhook scenarios ------------------------------------------------------------------


def _deliveries(client: httpx.Client) -> list[dict[str, Any]]:
    deliveries: list[dict[str, Any]] = client.get("/_mock/webhooks").json()["deliveries"]
    return deliveries


@pytest.mark.parametrize("scenario", ["webhook_refused", "webhook_timeout"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_webhook_refused_and_timeout_retry_then_give_up(
    client: httpx.Client, webhook_receiver: WebhookReceiver, provider: str, scenario: str
) -> None:
    api = _api(client, provider)
    api.create_ok(webhook=webhook_receiver.url, prefer=f"scenario={scenario}")
    for _ in range(6):
        advance(client, 120)
    [delivery] = _deliveries(client)
    attempts = load_contracts().provider(provider).data["webhook"]["retry"]["attempts"]
    outcome = "refused" if scenario == "webhook_refused" else "timeout"
    assert [a["outcome"] for a in delivery["attempts"]] == [outcome] * attempts
    assert delivery["state"] == "gave_up"
    assert webhook_receiver.requests == []


def test_a_receiver_slower_than_the_webhook_timeout_is_a_timeout(
    make_app: Callable[..., Starlette],
    make_client: Callable[..., httpx.Client],
    webhook_receiver: WebhookReceiver,
) -> None:
    config = MockConfig.from_mapping({"webhooks": {"timeout_seconds": 0.2, "attempts": 2}})
    client = make_client(make_app(config=config))
    webhook_receiver.respond_with(200, delay=1.0)
    _api(client, "eachlabs").create_ok(webhook=webhook_receiver.url)
    advance(client, 600)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not _deliveries(client)[0]["attempts"]:
        time.sleep(0.05)
    webhook_receiver.respond_with(200, delay=0)
    advance(client, 600)
    [delivery] = _deliveries(client)
    assert delivery["attempts"][0]["outcome"] == "timeout"
    assert delivery["attempts"][-1]["outcome"] == "delivered"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_webhook_duplicate_delivers_the_final_payload_twice(
    client: httpx.Client, webhook_receiver: WebhookReceiver, provider: str
) -> None:
    api = _api(client, provider)
    api.create_ok(webhook=webhook_receiver.url, prefer="scenario=webhook_duplicate")
    advance(client, 600)
    first, second = webhook_receiver.wait_for(2)
    assert first.body == second.body


def _state_of(provider: str, payload: dict[str, Any]) -> str:
    if provider == "eachlabs":
        return str(payload["status"])
    if provider == "wavespeed":
        return str(payload["status"])
    return str(payload["data"]["state"])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_webhook_out_of_order_sends_a_stale_processing_payload_after_the_final(
    client: httpx.Client, webhook_receiver: WebhookReceiver, provider: str
) -> None:
    api = _api(client, provider)
    job_id = api.create_ok(webhook=webhook_receiver.url, prefer="scenario=webhook_out_of_order")
    advance(client, 600)
    final, stale = webhook_receiver.wait_for(2)
    final_word = {"eachlabs": "succeeded", "wavespeed": "completed", "apikley": "success"}
    assert _state_of(provider, final.json()) == final_word[provider]
    assert _state_of(provider, stale.json()) == RUNNING[provider]
    assert api.status(job_id) == DONE[provider]  # the job itself is done
    kinds = [d["kind"] for d in _deliveries(client)]
    assert kinds == ["final", "stale"]
    if provider == "wavespeed":  # both signed; the stale one is its own event
        secret = default_webhook_secret(KEY)
        now = time.time()  # signature timestamps are wall time
        for received in (final, stale):
            assert verify_standard_webhooks_v3(received.headers, received.body, secret, now=now)
        assert final.headers["webhook-id"] != stale.headers["webhook-id"]
        assert stale.json()["outputs"] == []


# --- webhook URLs and methods ------------------------------------------------------------


BAD_URLS = ["", "not a url", "ftp://example.com/hook", "/relative/hook", "http://",
            "http://example.com:99999/hook", "https://exa mple.com/hook"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_present_but_invalid_webhook_urls_are_refused(
    client: httpx.Client, provider: str
) -> None:
    api = _api(client, provider)
    validation = {"eachlabs": 400, "wavespeed": 400, "apikley": 422}[provider]
    for url in BAD_URLS:
        body: dict[str, Any] = {"eachlabs": {"webhook_url": url}, "wavespeed": {},
                                "apikley": {}}[provider]
        if provider == "eachlabs":
            reply = client.post("/eachlabs/v1/prediction/", headers=api.headers(), json={
                "model": "wan-v2-2-a14b-image-to-video-turbo",
                "input": {"image_url": "https://example.com/a.png", "prompt": "x"}, **body})
        elif provider == "wavespeed":
            reply = api.create(query={"webhook": url})
        else:
            reply = client.post("/apikley/api/v1/jobs/createTask", headers=api.headers(), json={
                "model": "wan/2-2-a14b-image-to-video-turbo", "callBackUrl": url,
                "input": {"image_url": "https://example.com/a.png", "prompt": "x"}})
        assert error_code(provider, reply) == validation, (url, reply.text)
    assert client.get("/_mock/jobs").json()["count"] == 0
    # Loopback receivers are fine for webhooks (unlike input files).
    api.create_ok(webhook="http://127.0.0.1:9/hook")


def test_wavespeed_empty_webhook_query_is_refused_even_with_a_body_url(
    client: httpx.Client,
) -> None:
    api = _api(client, "wavespeed")
    reply = api.create(inputs={"webhook_url": "https://hooks.example.com/ws"},
                       query={"webhook": ""})
    assert reply.status_code == 400 and "webhook" in reply.json()["message"]


def test_a_wrong_method_per_provider(client: httpx.Client) -> None:
    eachlabs = client.delete("/eachlabs/v1/prediction/abc", headers={"X-API-Key": KEY})
    assert eachlabs.status_code == 405 and eachlabs.headers["allow"] == "GET"
    assert eachlabs.json()["status"] == "error"
    wavespeed = client.get("/wavespeed/api/v3/wavespeed-ai/wan-2.2/image-to-video",
                           headers={"Authorization": f"Bearer {KEY}"})
    assert wavespeed.status_code == 405 and wavespeed.json()["code"] == 405
    apikley = client.delete("/apikley/api/v1/chat/credit",
                            headers={"Authorization": f"Bearer {KEY}"})
    # Apikley's codes have no 405: "endpoint does not exist" (errors.cases.method_not_allowed).
    assert apikley.status_code == 200 and apikley.json()["code"] == 404
