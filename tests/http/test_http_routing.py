"""Routing by prefix and by Host, and the one error path, on the fake adapter.

The fake adapter (conftest.FakeAdapter) renders errors from each provider
contract's real envelope and transport, so these tests see what a client of
each provider sees for failures the HTTP layer itself produces.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import httpx
import pytest
from conftest import Served
from starlette.applications import Starlette

from mockserver.config import MockConfig, ProviderConfig
from mockserver.http.asgi import BodyTooLarge, read_body
from mockserver.http.routing import ProviderRoute

KEY = {"x-api-key": "sk-test-0123456789abcdef"}


def test_prefix_routing_gives_base_url_with_prefix(fake_client: httpx.Client) -> None:
    reply = fake_client.get("/wavespeed/v1/where?a=1&a=2&b=")
    assert reply.status_code == 200
    assert reply.json() == {
        "base_url": "http://testserver/wavespeed",
        "media_base_url": "http://testserver",
        "path": "/v1/where",
        "query": {"a": "2", "b": ""},
    }


@pytest.mark.parametrize(
    ("host", "provider"),
    [("api.eachlabs.ai", "eachlabs"), ("API.WaveSpeed.ai:443", "wavespeed"),
     ("api.apikley.ru", "apikley")],
)
def test_host_routing_needs_no_prefix(fake_client: httpx.Client, host: str, provider: str) -> None:
    reply = fake_client.get("https://x/v1/where", headers={"host": host})
    assert reply.status_code == 200
    assert reply.json()["base_url"] == f"https://{host}"
    assert reply.json()["path"] == "/v1/where"
    entry = fake_client.get("/_mock/requests?limit=1").json()["requests"][0]
    assert entry["provider"] == provider
    assert entry["endpoint"] == "where"


def test_admin_and_media_answer_on_a_provider_host(fake_client: httpx.Client) -> None:
    headers = {"host": "api.eachlabs.ai"}
    assert fake_client.get("/_mock/health", headers=headers).json()["status"] == "ok"
    assert fake_client.get("/_mock/media/x.mp4", headers=headers).status_code == 200


def test_routes_added_after_the_first_request_are_chosen_in_order(
    fake_app: Starlette, fake_client: httpx.Client
) -> None:
    # The app looks provider routes up in two tables built from the route
    # list; a changed list (here a route placed before them) rebuilds them,
    # and a layout they cannot express falls back to asking route by route.
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    assert fake_client.get("/eachlabs/v1/where").status_code == 200

    async def shadow(_request: object) -> PlainTextResponse:
        return PlainTextResponse("shadowed")

    routes = fake_app.router.routes
    first_prefix = next(
        i for i, r in enumerate(routes) if isinstance(r, ProviderRoute) and r.prefix is not None
    )
    routes.insert(first_prefix, Route("/eachlabs/v1/where", shadow))
    assert fake_client.get("/eachlabs/v1/where").text == "shadowed"
    assert fake_client.get("/wavespeed/v1/where").json()["path"] == "/v1/where"
    reply = fake_client.get("https://x/v1/where", headers={"host": "api.eachlabs.ai"})
    assert reply.json()["base_url"] == "https://api.eachlabs.ai"


def test_media_is_served_under_a_provider_prefix_too(fake_client: httpx.Client) -> None:
    reply = fake_client.get("/eachlabs/_mock/media/abc.mp4")
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "video/mp4"


def test_unknown_top_level_path_is_json_404(fake_client: httpx.Client) -> None:
    reply = fake_client.get("/nowhere")
    assert reply.status_code == 404
    assert "/eachlabs" in reply.json()["error"]


def test_unknown_path_under_prefix_is_404_in_the_provider_envelope(
    fake_client: httpx.Client,
) -> None:
    reply = fake_client.get("/eachlabs/v1/nothing")
    assert reply.status_code == 404
    assert reply.json()["status"] == "error"
    assert "/v1/nothing" in reply.json()["message"]
    # Apikley carries the code in an HTTP 200 body (its default transport).
    reply = fake_client.get("/apikley/v1/nothing")
    assert reply.status_code == 200
    assert reply.json()["code"] == 404
    reply = fake_client.get("/wavespeed/v1/nothing")
    assert reply.status_code == 404
    assert reply.json()["code"] == 404


def test_wrong_method_is_405_with_allow(fake_client: httpx.Client) -> None:
    reply = fake_client.delete("/eachlabs/v1/jobs/abc")
    assert reply.status_code == 405
    assert reply.headers["allow"] == "GET"
    assert reply.json()["status"] == "error"


def test_head_on_a_get_route_has_no_body(fake_client: httpx.Client) -> None:
    reply = fake_client.head("/eachlabs/v1/where")
    assert reply.status_code == 200
    assert reply.content == b""
    assert int(reply.headers["content-length"]) > 0


def test_body_over_the_declared_limit_is_413(fake_client: httpx.Client) -> None:
    limit = 10 * 1024 * 1024  # contracts/eachlabs/provider.yaml limits.max_body_bytes
    reply = fake_client.post(
        "/eachlabs/v1/echo",
        content=b"x" * (limit + 1),
        headers={"content-type": "application/json"},
    )
    assert reply.status_code == 413
    assert reply.json()["status"] == "error"
    assert str(limit) in reply.json()["message"]


def test_body_at_the_limit_is_read(fake_client: httpx.Client) -> None:
    body = b'"' + b"x" * 1000 + b'"'
    reply = fake_client.post(
        "/eachlabs/v1/echo", content=body, headers={"content-type": "application/json"}
    )
    assert reply.status_code == 200
    assert reply.json()["size"] == len(body)


@pytest.fixture
def small_limit_app(
    make_app: Callable[..., Starlette], fake_adapters: dict[str, object]
) -> Starlette:
    app = make_app(adapters=fake_adapters)
    # Shrink the limit on the live routes: a few chunks exercise the streaming cut.
    for route in app.router.routes:
        if isinstance(route, ProviderRoute):
            route.limit = 64
    return app


def test_chunked_body_over_the_limit_is_413(
    small_limit_app: Starlette, serve_app: Callable[[Starlette], Served]
) -> None:
    served = serve_app(small_limit_app)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit applies while reading
        for _ in range(100):
            yield b"x" * 16_384

    with httpx.Client(base_url=served.url, trust_env=False) as http:
        reply = http.post(
            "/eachlabs/v1/echo", content=chunks(), headers={"content-type": "application/json"}
        )
    assert reply.status_code == 413
    assert reply.json()["status"] == "error"


def test_read_body_stops_at_the_limit() -> None:
    calls = 0

    async def endless() -> dict[str, object]:
        nonlocal calls
        calls += 1
        return {"type": "http.request", "body": b"x" * 16, "more_body": True}

    with pytest.raises(BodyTooLarge):
        asyncio.run(read_body(endless, {}, 64))
    assert calls == 5  # 80 bytes read, then it stopped: never the whole stream


def test_read_body_refuses_a_declared_length_before_reading() -> None:
    async def never() -> dict[str, object]:
        raise AssertionError("must not read")

    with pytest.raises(BodyTooLarge):
        asyncio.run(read_body(never, {"content-length": "65"}, 64))


def test_wrong_content_type_is_415_and_bad_json_400(fake_client: httpx.Client) -> None:
    reply = fake_client.post("/eachlabs/v1/jobs", content=b"x=1", headers={
        **KEY, "content-type": "application/x-www-form-urlencoded"})
    assert reply.status_code == 415
    assert reply.json()["status"] == "error"
    reply = fake_client.post("/eachlabs/v1/jobs", content=b"{not json", headers={
        **KEY, "content-type": "application/json"})
    assert reply.status_code == 400
    assert "JSON" in reply.json()["message"]


def test_mock_error_from_a_handler_uses_the_envelope(fake_client: httpx.Client) -> None:
    reply = fake_client.post("/eachlabs/v1/jobs", json={"input": {}})
    assert reply.status_code == 401
    assert reply.json() == {"status": "error", "message": "missing credentials", "details": ""}


@pytest.mark.allow_unhandled_errors
def test_unexpected_exception_is_the_provider_500_and_recorded(
    fake_app: Starlette, fake_client: httpx.Client
) -> None:
    reply = fake_client.get("/wavespeed/v1/boom")
    assert reply.status_code == 500
    assert reply.json()["code"] == 500  # WaveSpeed's envelope, not a framework page
    errors = fake_app.state.mock.unhandled_errors
    assert len(errors) == 1
    assert errors[0].error_type == "RuntimeError"
    assert "kaboom" in errors[0].traceback
    assert errors[0].path == "/wavespeed/v1/boom"
    # The app keeps serving.
    assert fake_client.get("/wavespeed/v1/where").status_code == 200


@pytest.mark.allow_contract_violations
def test_response_breaking_its_schema_is_recorded(
    fake_app: Starlette, fake_client: httpx.Client
) -> None:
    assert fake_client.get("/eachlabs/v1/wrong").status_code == 200
    violations = fake_app.state.mock.contract_violations
    assert len(violations) == 1
    assert violations[0].schema == "/errors/envelopes/default/schema"
    assert violations[0].endpoint == "wrong"
    assert any("required" in e for e in violations[0].errors)


def test_validation_is_off_unless_asked(
    make_app: Callable[..., Starlette],
    fake_adapters: dict[str, object],
    make_client: Callable[..., httpx.Client],
) -> None:
    app = make_app(adapters=fake_adapters, validate_responses=False)
    make_client(app).get("/eachlabs/v1/wrong")
    assert app.state.mock.contract_violations == []


def test_error_transport_override_from_config(
    make_app: Callable[..., Starlette],
    fake_adapters: dict[str, object],
    make_client: Callable[..., httpx.Client],
) -> None:
    config = MockConfig(providers={"apikley": ProviderConfig(error_transport="http_status")})
    client = make_client(make_app(adapters=fake_adapters, config=config))
    reply = client.get("/apikley/v1/nothing")
    assert reply.status_code == 404
    assert reply.json()["code"] == 404


def test_each_request_ticks_the_world(fake_app: Starlette, fake_client: httpx.Client) -> None:
    state = fake_app.state.mock
    job_id = fake_client.post("/eachlabs/v1/jobs", json={}, headers=KEY).json()["id"]
    state.clock.advance(60)  # no tick yet: the next request (any) applies it
    fake_client.get("/eachlabs/v1/where")
    # world.jobs() does not advance jobs itself: the request's tick did.
    [job] = [j for j in state.world.jobs() if j.id == job_id]
    assert job.state == "succeeded"
