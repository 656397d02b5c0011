"""State that used to be module-global is owned by the app: the chaos engine and the
compiled response templates (issue 19 item 5). Two apps in one process share neither,
in-process and served alike, and an app's cache goes with the app."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable
from typing import Any

import httpx
from conftest import Served
from starlette.applications import Starlette
from starlette.testclient import TestClient

from mockserver.testing import mock_providers, serve_providers

MODEL = "wan-v2-2-a14b-image-to-video-turbo"
BODY = {"model": MODEL, "input": {"image_url": "https://example.com/a.png", "prompt": "a cat"}}
KEY = {"X-API-Key": "sk-test-owned-state"}


def _create(
    http: httpx.Client | TestClient, prefer: str | None = None, root: str = "/eachlabs"
) -> httpx.Response:
    headers = {**KEY, **({"Prefer": prefer} if prefer else {})}
    reply = http.post(f"{root}/v1/prediction/", json=BODY, headers=headers)
    assert reply.status_code == 200, reply.text
    return reply


def test_two_apps_keep_their_own_templates_and_chaos(
    make_app: Callable[..., Starlette],
    make_client: Callable[..., TestClient],
    serve_app: Callable[[Starlette], Served],
) -> None:
    first, second = make_app(), make_app()
    one, two = first.state.mock, second.state.mock
    assert one.templates is not two.templates and one.chaos is not two.chaos
    # Every adapter of an app renders through its app's cache.
    assert all(a.templates is one.templates for a in one.adapters.values())
    assert all(a.templates is two.templates for a in two.adapters.values())

    # In process: a create on the first fills only its cache.
    first_client = make_client(first)
    _create(first_client)
    assert len(one.templates) > 0 and len(two.templates) == 0

    # Chaos over real HTTP on the second: its engine, not the first's.
    served = serve_app(second)
    with httpx.Client(base_url=served.url, timeout=10) as http:
        _create(http, prefer="scenario=chaos, seed=3")
    assert len(two.templates) > 0
    assert one.chaos.engine is None and two.chaos.engine is not None
    seen = list(two.chaos.engine.log)
    _create(first_client, prefer="scenario=chaos, seed=3")
    assert one.chaos.engine is not None and one.chaos.engine is not two.chaos.engine
    assert list(two.chaos.engine.log) == seen  # the first app's chaos left it alone


def test_in_process_and_served_mocks_each_own_theirs() -> None:
    with serve_providers(["eachlabs"]) as served:
        with httpx.Client(base_url=served.url, timeout=10) as http:
            _create(http)
        # respx routes every httpx request to the in-process app while it is entered.
        with mock_providers(["eachlabs"]) as inproc:
            assert inproc.state.templates is not served.state.templates
            assert inproc.state.chaos is not served.state.chaos
            with httpx.Client(base_url="https://api.eachlabs.ai") as real_host:
                _create(real_host, prefer="scenario=chaos", root="")
        assert inproc.state.chaos.engine is not None and served.state.chaos.engine is None
        assert len(inproc.state.templates) > 0 and len(served.state.templates) > 0


def test_an_apps_caches_go_with_it(make_client: Callable[..., TestClient]) -> None:
    from mockserver.http.app import create_app

    app: Any = create_app()
    with TestClient(app) as client:
        _create(client, prefer="scenario=chaos, seed=1")
    cache, hook = weakref.ref(app.state.mock.templates), weakref.ref(app.state.mock.chaos)
    del app, client
    gc.collect()
    assert cache() is None and hook() is None
