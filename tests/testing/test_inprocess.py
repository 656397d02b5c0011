"""mockserver.testing: the in-process and served handles, without the plugin."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import respx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import mockserver.testing as testing
from mockserver.testing import (
    MockControlError,
    ReceivedWebhook,
    WebhookReceiver,
    mock_providers,
    serve_providers,
)

EACH = "https://api.eachlabs.ai"
MODEL = "wan-v2-2-a14b-image-to-video-turbo"
IMAGE = "https://images.example.com/a.jpg"


def create(client: httpx.Client, base: str = EACH, **extra: Any) -> str:
    response = client.post(
        f"{base}/v1/prediction/",
        json={"model": MODEL, "input": {"image_url": IMAGE, "prompt": "cat"}, **extra},
        headers={"X-API-Key": "k"},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["predictionID"])


def test_public_names() -> None:
    assert sorted(testing.__all__) == sorted([
        "RECEIVER_HOST", "ConfigSource", "InProcessMock", "MockControlError", "MockOptions",
        "ProviderMock", "ReceivedWebhook", "ScenarioSpec", "ServedMock", "WebhookReceiver",
        "mock_providers", "serve_providers",
    ])


def test_sync_client_full_lifecycle_and_records() -> None:
    with mock_providers() as mock, httpx.Client() as client:
        job_id = create(client, webhook_url="https://hooks.example.com/done")
        assert mock.jobs[0]["state"] == "queued"
        start = mock.now
        assert mock.advance(60) == start + 60
        poll = client.get(f"{EACH}/v1/prediction/{job_id}", headers={"X-API-Key": "k"}).json()
        assert poll["status"] == "success"
        # Webhook delivered in-process before advance() returned; nothing hit the network.
        (hook,) = mock.received
        assert isinstance(hook, ReceivedWebhook)
        assert hook.url == "https://hooks.example.com/done"
        assert hook.routed_to == "captured" and hook.status == 200
        assert hook.json()["exec_id"] == job_id
        assert mock.webhook_inbox == mock.received
        # The handle's records are the admin API's, verbatim.
        assert mock.jobs == mock.admin("GET", "/_mock/jobs?order=oldest")["jobs"]
        assert mock.webhooks == mock.admin("GET", "/_mock/webhooks")["deliveries"]
        assert mock.requests == mock.admin("GET", "/_mock/requests?order=oldest")["requests"]
        assert [r["endpoint"] for r in mock.requests] == ["create", "poll"]
        mock.check()


def test_async_client_is_routed_to_the_same_app() -> None:
    async def scenario(mock: testing.InProcessMock) -> str:
        async with httpx.AsyncClient() as client:
            response = await client.post(
                f"{EACH}/v1/prediction",
                json={"model": MODEL, "input": {"image_url": IMAGE, "prompt": "dog"}},
                headers={"Authorization": "Bearer k"},
            )
            job_id = str(response.json()["predictionID"])
            await mock.aadvance(60)
            poll = await client.get(f"{EACH}/v1/prediction/{job_id}",
                                    headers={"Authorization": "Bearer k"})
            return str(poll.json()["status"])

    with mock_providers() as mock:
        assert asyncio.run(scenario(mock)) == "success"
        # A sync client from inside a running loop works too (it blocks, as sync clients do).
        async def sync_inside_loop() -> str:
            with httpx.Client() as client:
                return create(client)

        asyncio.run(sync_inside_loop())
        assert len(mock.jobs) == 2


def test_other_hosts_raise_unless_passed_through() -> None:
    with mock_providers(), pytest.raises(respx.models.AllMockedAssertionError):
        httpx.get("https://example.org/")
    with mock_providers(passthrough=["example.org"]) as mock:
        route = mock.router.routes["genmock:passthrough:example.org"]
        assert route.pass_through


def test_only_the_chosen_providers_are_mocked() -> None:
    with mock_providers(providers=["eachlabs"]) as mock:
        assert mock.providers == ["eachlabs"]
        assert mock.base_url("eachlabs") == EACH
        with pytest.raises(respx.models.AllMockedAssertionError):
            httpx.get("https://api.wavespeed.ai/api/v3/balance")
        with pytest.raises(KeyError):
            mock.base_url("wavespeed")


def test_user_routes_on_the_same_router() -> None:
    with mock_providers() as mock, httpx.Client() as client:
        mock.router.get("https://cdn.example.com/x").respond(200, text="hi")
        assert client.get("https://cdn.example.com/x").text == "hi"
        create(client)


def test_webhook_retries_when_the_inbox_refuses() -> None:
    with mock_providers() as mock, httpx.Client() as client:
        mock.webhook_status = 500
        create(client, webhook_url="https://hooks.example.com/x")
        mock.advance(60)
        assert [h.status for h in mock.received] == [500]
        assert mock.webhooks[0]["state"] == "pending"
        mock.webhook_status = 200
        mock.advance(3600)  # the retry delay runs on the mock clock
        assert [h.status for h in mock.received] == [500, 200]
        assert mock.webhooks[0]["state"] == "delivered"


def test_webhooks_routed_to_an_asgi_app_and_a_receiver() -> None:
    seen: list[Any] = []

    async def hook(request: Request) -> JSONResponse:
        seen.append(await request.json())
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    with mock_providers() as mock, httpx.Client() as client:
        mock.route_webhooks("https://myservice.example.com/", app)
        receiver = mock.webhook_receiver()
        receiver.respond_with(503)
        first = create(client, webhook_url="https://myservice.example.com/hook")
        second = create(client, webhook_url=receiver.url)
        mock.advance(60)
        assert [p["exec_id"] for p in seen] == [first]
        assert [h.status for h in receiver.received] == [503]
        mock.advance(3600)
        assert [h.json()["exec_id"] for h in receiver.received] == [second, second]
        assert {h.routed_to for h in mock.received} == {"app"}


def test_reset_forgets_everything() -> None:
    with mock_providers() as mock, httpx.Client() as client:
        create(client, webhook_url="https://hooks.example.com/x")
        mock.advance(60)
        mock.reset()
        assert (mock.jobs, mock.requests, mock.webhooks, mock.received) == ([], [], [], [])


def test_decorator_gives_each_call_a_fresh_world() -> None:
    counts: list[int] = []

    @mock_providers(providers=["eachlabs"])
    def run(provider_mock: testing.InProcessMock) -> None:
        with httpx.Client() as client:
            create(client)
        counts.append(len(provider_mock.jobs))

    run()
    run()
    assert counts == [1, 1]

    @mock_providers()
    async def arun(provider_mock: testing.InProcessMock) -> int:
        async with httpx.AsyncClient() as client:
            await client.get(f"{EACH}/v1/prediction/nope", headers={"X-API-Key": "k"})
        return len(provider_mock.requests)

    assert asyncio.run(arun()) == 1


def test_a_mock_starts_once() -> None:
    mock = mock_providers()
    with mock:
        pass
    with pytest.raises(RuntimeError):
        mock.start()
    with pytest.raises(RuntimeError):
        _ = mock.jobs


def test_config_choices() -> None:
    with mock_providers(clock="real", speed=100, seed=7) as mock:
        assert mock.state.clock_kind == "real"
        assert mock.config.seed == 7
    with mock_providers(config={"jobs": {"polls_per_phase": 1}}) as mock:
        assert mock.state.clock_kind == "manual"  # a config without [clock] stays manual
        assert mock.config.jobs.polls_per_phase == 1
    with pytest.raises(ValueError):
        mock_providers(clock="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        mock_providers(providers=["nope"]).start()


def test_controls_use_the_admin_api() -> None:
    with mock_providers() as mock:
        try:
            entry = mock.queue_scenario("job_failed", provider="eachlabs")
        except MockControlError as error:
            if error.status == 404:
                pytest.skip("POST /_mock/scenarios is not in the admin API yet")
            raise
        assert entry
        with httpx.Client() as client:
            job_id = create(client)
        mock.advance(60)
        assert mock.admin("GET", "/_mock/jobs/" + job_id)["state"] == "failed"
        mock.set_account("poor", balance=0)
        assert mock.account("poor")["accounts"]["eachlabs"]["balance"] == 0


def test_served_mock_same_api_on_loopback() -> None:
    receiver = WebhookReceiver()
    with serve_providers(providers=["eachlabs"]) as mock, httpx.Client() as client:
        assert mock.url.startswith("http://127.0.0.1:")
        assert mock.base_url("eachlabs") == f"{mock.url}/eachlabs"
        mock.route_webhooks(receiver.url, receiver)
        job_id = create(client, base=mock.base_url("eachlabs"), webhook_url=receiver.url)
        mock.advance(60)
        assert [h.json()["exec_id"] for h in receiver.received] == [job_id]
        assert mock.jobs[0]["state"] == "succeeded"
        url = mock.url
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/_mock/health")


def test_configured_accounts_and_scenarios_survive_reset() -> None:
    with mock_providers(accounts={"poor": {"balance": 0}}, scenarios=["job_failed"]) as mock:
        for _ in range(2):
            assert mock.account("poor")["accounts"]["eachlabs"]["balance"] == 0
            assert [s["scenario"] for s in mock.scenarios] == ["job_failed"]
            with httpx.Client() as client:
                job_id = create(client)
            mock.advance(60)
            assert mock.admin("GET", "/_mock/jobs/" + job_id)["state"] == "failed"
            mock.reset()
