"""The admin API under /_mock/ (DESIGN.md): JSON in, JSON out, {"error"} on 4xx."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route

from mockserver.http.admin import admin_routes
from mockserver.http.admin_openapi import build_admin_openapi
from mockserver.providers import registry

KEY = {"x-api-key": "sk-test-0123456789abcdef"}


def _create(client: httpx.Client, provider: str = "eachlabs", **body: Any) -> str:
    reply = client.post(f"/{provider}/v1/jobs", json={"input": {}, **body}, headers=KEY)
    assert reply.status_code == 200, reply.text
    job_id: str = reply.json()["id"]
    return job_id


def test_health(fake_client: httpx.Client) -> None:
    health = fake_client.get("/_mock/health").json()
    assert health["status"] == "ok"
    assert set(health["providers"]) == set(registry.names())
    assert health["providers"]["eachlabs"] == {"prefix": "/eachlabs", "hosts": ["api.eachlabs.ai"]}
    assert health["clock"]["kind"] == "manual"
    assert health["webhook_sender"] == "running"


def test_clock_get_and_advance(fake_client: httpx.Client) -> None:
    start = fake_client.get("/_mock/clock").json()
    assert start == {"kind": "manual", "now": 1_767_225_600.0, "iso": "2026-01-01T00:00:00.000Z"}
    moved = fake_client.post("/_mock/clock/advance", json={"seconds": 1.5})
    assert moved.status_code == 200
    assert moved.json()["now"] == 1_767_225_601.5
    assert moved.json()["advanced"] == 1.5
    assert fake_client.get("/_mock/clock").json()["now"] == 1_767_225_601.5


@pytest.mark.parametrize(
    "body",
    [{"seconds": -1}, {"seconds": "5"}, {"seconds": True}, {}, {"seconds": None},
     {"seconds": 1, "extra": 2}, [1], {"seconds": 1, "wait": "yes"}],
)
def test_clock_advance_rejects_bad_bodies(fake_client: httpx.Client, body: Any) -> None:
    reply = fake_client.post("/_mock/clock/advance", json=body)
    assert reply.status_code == 400
    assert isinstance(reply.json()["error"], str)
    assert fake_client.get("/_mock/clock").json()["now"] == 1_767_225_600.0


def test_clock_advance_rejects_malformed_json(fake_client: httpx.Client) -> None:
    reply = fake_client.post(
        "/_mock/clock/advance", content=b"{", headers={"content-type": "application/json"}
    )
    assert reply.status_code == 400
    assert "JSON" in reply.json()["error"]


def test_advance_drives_job_transitions_at_exact_times(fake_client: httpx.Client) -> None:
    job_id = _create(fake_client)  # fake model: 10 s estimate -> 1 s queued, 9 s running
    jobs = fake_client.get("/_mock/jobs").json()["jobs"]
    assert [(j["id"], j["state"]) for j in jobs] == [(job_id, "queued")]
    fake_client.post("/_mock/clock/advance", json={"seconds": 1})
    job = fake_client.get(f"/_mock/jobs/{job_id}").json()
    assert job["state"] == "running"
    assert job["started_at"] == 1_767_225_601.0
    fake_client.post("/_mock/clock/advance", json={"seconds": 100})
    job = fake_client.get(f"/_mock/jobs/{job_id}").json()
    assert job["state"] == "succeeded"
    assert job["finished_at"] == 1_767_225_610.0  # its planned time, not when we looked
    assert job["key"] == "***cdef"


def test_jobs_filters(fake_client: httpx.Client) -> None:
    first = _create(fake_client, "eachlabs")
    _create(fake_client, "wavespeed")
    fake_client.post("/_mock/clock/advance", json={"seconds": 1})
    third = _create(fake_client, "eachlabs")
    by_provider = fake_client.get("/_mock/jobs?provider=eachlabs").json()
    assert [j["id"] for j in by_provider["jobs"]] == [third, first]  # newest first
    assert by_provider["count"] == 2
    queued = fake_client.get("/_mock/jobs?state=queued").json()["jobs"]
    assert [j["id"] for j in queued] == [third]
    both = fake_client.get("/_mock/jobs?provider=eachlabs&state=running").json()["jobs"]
    assert [j["id"] for j in both] == [first]


@pytest.mark.parametrize(
    "query", ["/_mock/jobs?provider=nope", "/_mock/jobs?state=done",
              "/_mock/requests?limit=x", "/_mock/requests?limit=-1",
              "/_mock/webhooks?state=sent", "/_mock/webhooks?provider=nope"],
)
def test_bad_filters_are_400(fake_client: httpx.Client, query: str) -> None:
    reply = fake_client.get(query)
    assert reply.status_code == 400
    assert "error" in reply.json()


def test_unknown_job_and_unknown_admin_path_are_404_json(fake_client: httpx.Client) -> None:
    assert fake_client.get("/_mock/jobs/nope").json() == {"error": "no job 'nope'"}
    reply = fake_client.get("/_mock/nothing")
    assert reply.status_code == 404
    assert "error" in reply.json()


def test_wrong_method_on_admin_is_405_json(fake_client: httpx.Client) -> None:
    reply = fake_client.get("/_mock/reset")
    assert reply.status_code == 405
    assert "error" in reply.json()


def test_reset_forgets_jobs_deliveries_and_journal(
    fake_client: httpx.Client, fake_app: Starlette, refused_url: str
) -> None:
    _create(fake_client, webhook_url=refused_url)
    fake_client.post("/_mock/clock/advance", json={"seconds": 20, "wait": True})
    assert fake_client.get("/_mock/webhooks").json()["count"] == 1
    reply = fake_client.post("/_mock/reset")
    assert reply.status_code == 200
    assert reply.json()["status"] == "reset"
    jobs = fake_client.get("/_mock/jobs").json()
    assert (jobs["count"], jobs["jobs"], jobs["next_cursor"]) == (0, [], None)
    deliveries = fake_client.get("/_mock/webhooks").json()
    assert (deliveries["count"], deliveries["deliveries"]) == (0, [])
    assert fake_client.get("/_mock/requests").json()["count"] == 0
    # Time does not go back.
    assert fake_client.get("/_mock/clock").json()["now"] == 1_767_225_620.0


def test_webhooks_lists_deliveries_with_attempts(
    fake_client: httpx.Client, webhook_receiver: Any
) -> None:
    job_id = _create(fake_client, webhook_url=webhook_receiver.url)
    other = _create(fake_client, "wavespeed", webhook_url=webhook_receiver.url)
    fake_client.post("/_mock/clock/advance", json={"seconds": 10, "wait": True})
    everything = fake_client.get("/_mock/webhooks").json()
    assert everything["count"] == 2
    mine = fake_client.get(f"/_mock/webhooks?job_id={job_id}").json()["deliveries"]
    assert len(mine) == 1
    delivery = mine[0]
    assert delivery["state"] == "delivered"
    assert delivery["url"] == webhook_receiver.url
    assert [a["outcome"] for a in delivery["attempts"]] == ["delivered"]
    assert delivery["attempts"][0]["status_code"] == 200
    by_provider = fake_client.get("/_mock/webhooks?provider=wavespeed").json()["deliveries"]
    assert [d["job_id"] for d in by_provider] == [other]
    delivered = fake_client.get("/_mock/webhooks?state=delivered").json()
    assert delivered["count"] == 2


def _served_admin_routes(app: Starlette) -> list[BaseRoute]:
    """Every route the app serves under ``/_mock`` (admin, timeline, console ...)."""
    [mount] = [r for r in app.routes if isinstance(r, Mount) and r.path == "/_mock"]
    routes = mount.routes
    assert isinstance(routes, list)
    return routes


def test_openapi_document_is_valid_and_covers_every_route(
    fake_app: Starlette, fake_client: httpx.Client
) -> None:
    document = fake_client.get("/_mock/openapi.json").json()
    assert document == build_admin_openapi()
    validate(document)  # OpenAPI 3.1
    documented = set(document["paths"])
    served = _served_admin_routes(fake_app)
    # admin.py's own list is one part of what is served, not all of it.
    assert len(served) > len(admin_routes())
    for route in served:
        if isinstance(route, Mount):
            assert "/_mock/media/{name}.mp4" in documented
            continue
        assert isinstance(route, Route)
        path = "/_mock" + route.path.replace(":str", "")
        assert path in documented, f"{path} is not in the admin OpenAPI"
        methods = {m.lower() for m in route.methods or ()} - {"head"}
        assert methods <= set(document["paths"][path]), path


@pytest.mark.allow_unhandled_errors
def test_admin_bug_is_a_recorded_json_500(
    fake_app: Starlette, fake_client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = fake_app.state.mock

    def broken() -> None:
        raise RuntimeError("admin bug")

    monkeypatch.setattr(state, "reset", broken)
    reply = fake_client.post("/_mock/reset")
    assert reply.status_code == 500
    assert reply.json() == {"error": "internal error: RuntimeError"}
    assert state.unhandled_errors[0].where == "admin"
