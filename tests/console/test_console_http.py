"""The console's routes over HTTP: page, redirect, trigger, accounts by fingerprint, events."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import httpx
import pytest
from http_api import PROVIDERS, Api
from starlette.routing import Route

from mockserver.config import MockConfig, SecurityConfig
from mockserver.console.events import MAX_STREAMS, snapshot
from mockserver.console.routes import console_routes
from mockserver.http.admin_openapi import build_admin_openapi

pytestmark = pytest.mark.store_backends


def test_get_root_redirects_to_the_console_unless_a_provider_answers_it(served: Any) -> None:
    with httpx.Client(base_url=served.url) as http:
        root = http.get("/", follow_redirects=False)
        assert root.status_code == 307 and root.headers["location"] == "/_mock/ui"
        # A provider served on its own host answers its own "/" (in its envelope).
        own = http.get("/", headers={"Host": "api.wavespeed.ai"}, follow_redirects=False)
        assert own.status_code == 404 and "location" not in own.headers
        assert http.post("/", follow_redirects=False).status_code in (404, 405)
        page = http.get("/_mock/ui")
        assert page.status_code == 200 and "genmock console" in page.text
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        assert http.get("/_mock/ui/console.js").headers["content-type"].startswith(
            "text/javascript")
        assert http.get("/_mock/ui/../admin.py").status_code == 404
        assert http.get("/_mock/ui/secrets.txt").status_code == 404
        # A link from another site opens the page; a frame on another site does not.
        link = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}
        assert http.get("/_mock/ui", headers={**link, "Sec-Fetch-Dest": "document"}
                        ).status_code == 200
        assert http.get("/_mock/ui", headers={**link, "Sec-Fetch-Dest": "iframe"}
                        ).status_code == 403
        assert http.get("/_mock/jobs", headers={**link, "Sec-Fetch-Dest": "document"}
                        ).status_code == 403


@pytest.mark.parametrize("provider", PROVIDERS)
def test_trigger_creates_a_job_through_the_providers_own_route(
    provider: str, served: Any, webhook_receiver: Any
) -> None:
    with httpx.Client(base_url=served.url) as http:
        options = http.get("/_mock/trigger").json()
        model = options["models"][provider][0]
        reply = http.post("/_mock/trigger", json={
            "provider": provider, "model": model, "scenario": "job_failed",
            "webhook_url": webhook_receiver.url, "key": f"trigger-{provider}"})
        assert reply.status_code == 201, reply.text
        job = reply.json()["job"]
        assert job["provider"] == provider and job["model_id"] == model
        assert job["scenario"] == "job_failed" and job["webhook"]["url"] == webhook_receiver.url
        # The create went through the provider route: it is in the journal like a client's.
        entry = http.get(f"/_mock/requests?provider={provider}&endpoint=create").json()
        assert entry["requests"][0]["job_id"] == job["id"]
        http.post("/_mock/clock/advance", json={"seconds": 3600, "wait": True})
        assert http.get(f"/_mock/jobs/{job['id']}").json()["state"] == "failed"
        assert webhook_receiver.wait_for(1)


def test_trigger_answers_the_providers_refusal_and_bad_input(served: Any) -> None:
    with httpx.Client(base_url=served.url) as http:
        Api(http, "eachlabs", "broke").set(balance=0)
        refused = http.post("/_mock/trigger", json={
            "provider": "eachlabs", "model": "wan-2-5-preview-image-to-video", "key": "broke"})
        assert refused.status_code == 422
        assert refused.json()["response"]["status"] == 402 and refused.json()["job"] is None
        for body, word in (({"provider": "nope"}, "provider"),
                           ({"provider": "eachlabs", "model": "x"}, "model"),
                           ({"provider": "apikley", "color": 1}, "color"),
                           ({"provider": "apikley", "input": [1]}, "input")):
            bad = http.post("/_mock/trigger", json=body)
            assert bad.status_code == 400 and word in bad.json()["error"], bad.text


def test_accounts_by_fingerprint_show_and_edit_a_key(served: Any) -> None:
    with httpx.Client(base_url=served.url) as http:
        api = Api(http, "apikley", "fp-key-1234")
        api.create_ok()
        listed = http.get("/_mock/accounts").json()["keys"]
        fingerprint = next(k["fingerprint"] for k in listed if k["key"].endswith("34"))
        assert fingerprint == hashlib.sha256(b"fp-key-1234").hexdigest()[:12]
        view = http.get(f"/_mock/accounts/by-fingerprint/{fingerprint}").json()
        assert view["key"] != "fp-key-1234" and view["webhook_secret_full"]
        assert view["effective_limits"]["apikley"]["creates_per_window"] == 20
        assert view["effective_limits"]["wavespeed"]["creates_per_window"] == 2
        # Reading a key creates nothing: it is still used with Apikley only.
        assert http.get(f"/_mock/accounts/{'fp-key-1234'}").json()["used_with"] == ["apikley"]
        changed = http.put(f"/_mock/accounts/by-fingerprint/{fingerprint}", json={
            "provider": "apikley", "balance": 0, "limits": {"creates_per_window": 3}})
        assert changed.status_code == 200, changed.text
        assert changed.json()["effective_limits"]["apikley"]["creates_per_window"] == 3
        assert api.balance() == 0
        assert http.get("/_mock/accounts/by-fingerprint/000000000000").status_code == 404
        bad = http.put(f"/_mock/accounts/by-fingerprint/{fingerprint}", json={"balance": -1})
        assert bad.status_code == 400


def test_console_routes_are_in_the_admin_openapi() -> None:
    document = build_admin_openapi()
    for route in console_routes():
        assert isinstance(route, Route)
        path = "/_mock" + route.path.replace(":str", "")
        assert path in document["paths"], path
        methods = {m.lower() for m in route.methods or ()} - {"head"}
        assert methods <= set(document["paths"][path]), path


def test_the_token_guards_the_consoles_data_but_not_its_files(make_app: Any,
                                                               serve_app: Any) -> None:
    served = serve_app(make_app(config=MockConfig(security=SecurityConfig(admin_token="s3"))))
    with httpx.Client(base_url=served.url) as http:
        assert http.get("/_mock/ui").status_code == 200
        assert http.get("/_mock/ui/console.js").status_code == 200
        for path in ("/_mock/events", "/_mock/trigger", "/_mock/jobs"):
            assert http.get(path).status_code == 401, path
        assert http.post("/_mock/trigger", json={"provider": "apikley"}).status_code == 401
        assert http.get("/_mock/trigger", headers={"X-Mock-Admin-Token": "s3"}).status_code == 200
        # Cross-site: refused before the token is even looked at.
        cross = http.post("/_mock/trigger", json={"provider": "apikley"},
                          headers={"Origin": "http://evil.example", "X-Mock-Admin-Token": "s3"})
        assert cross.status_code == 403
        form = http.post("/_mock/trigger", content=b"provider=apikley",
                         headers={"Content-Type": "text/plain", "X-Mock-Admin-Token": "s3"})
        assert form.status_code == 415


def _read_events(response: httpx.Response, events: list[str], stop: threading.Event) -> None:
    try:
        for line in response.iter_lines():
            if line.startswith("event:"):
                events.append(line.split(":", 1)[1].strip())
            if stop.is_set():
                return
    except httpx.HTTPError:
        events.append("closed")


def test_event_stream_reports_changes_is_bounded_and_ends_on_shutdown(
    app: Any, serve_app: Any
) -> None:
    served = serve_app(app)
    http = httpx.Client(base_url=served.url, timeout=10)
    streams = [http.stream("GET", "/_mock/events") for _ in range(MAX_STREAMS)]
    opened = [s.__enter__() for s in streams]
    assert all(r.status_code == 200 for r in opened)
    assert opened[0].headers["content-type"].startswith("text/event-stream")
    over = http.get("/_mock/events")
    assert over.status_code == 503 and over.headers["retry-after"] == "5"
    events: list[str] = []
    stop = threading.Event()
    reader = threading.Thread(target=_read_events, args=(opened[0], events, stop), daemon=True)
    reader.start()
    Api(http, "eachlabs", "live-key").create_ok()
    deadline = time.monotonic() + 5
    while events.count("change") < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert events[:2] == ["hello", "change"]
    for stream in streams[1:]:
        stream.__exit__(None, None, None)  # a client leaving frees its slot
    deadline = time.monotonic() + 3
    while http.get("/_mock/health").status_code and app.state.console_streams.open > 1:
        assert time.monotonic() < deadline, "closed streams were not noticed"
        time.sleep(0.05)
    # uvicorn's graceful shutdown with a stream still open: it ends, the server stops.
    started = time.monotonic()
    served.stop()
    assert time.monotonic() - started < 5
    reader.join(5)
    assert "bye" in events or "closed" in events
    http.close()


def test_serve_stops_promptly_with_a_console_stream_open(tmp_path: Any) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "serve", "--port", "0", "--clock", "manual",
         "--no-https-proxy", "--drain-seconds", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        url = first.split(" on ", 1)[1].split()[0]
        events: list[str] = []
        stop = threading.Event()
        with httpx.Client(base_url=url, timeout=10) as http, \
                http.stream("GET", "/_mock/events") as stream:
            reader = threading.Thread(target=_read_events, args=(stream, events, stop),
                                      daemon=True)
            reader.start()
            time.sleep(0.3)
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            assert process.wait(10) == 0
            stopped = time.monotonic() - started
            reader.join(5)
        print(f"serve stopped {stopped:.2f} s after SIGTERM with a stream open")
        assert stopped < 4  # drain 1 s + a poll period; it used to wait for the stream forever
        assert "bye" in events
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_event_snapshot_moves_when_a_queued_scenario_counts_a_call(served: Any) -> None:
    # A queued entry waiting for its 2nd matching call counts the 1st without
    # firing: the queue's length stays 1, but the page's list (seen: 1) changed.
    state = served.app.state.mock
    http = httpx.Client(base_url=served.url, timeout=10)
    queued = http.post("/_mock/scenarios", json={
        "scenario": "job_failed", "match": {"endpoint": "create", "nth": 2}})
    assert queued.status_code == 201, queued.text
    before = snapshot(state)
    Api(http, PROVIDERS[0], "sk-count-1").create_ok()
    listed = http.get("/_mock/scenarios").json()
    assert [entry["seen"] for entry in listed["queued"]] == [1]
    assert snapshot(state)["scenarios"] != before["scenarios"]
    http.close()
