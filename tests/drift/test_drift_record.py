"""``mockserver record``: the recording proxy in front of the served mock (loopback only)."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mockserver.cli import run
from mockserver.contracts import load_contracts
from mockserver.drift.record import build_proxy_app
from mockserver.drift.redact import MASK, Redactor

KEY = "sk-PLANTED-123456"
WEBHOOK_SECRET = "whsec_PLANTEDsecret987"


def _files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.json"))


def _all_text(folder: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in _files(folder))


def _replay(*paths: str) -> tuple[int, dict[str, Any]]:
    out, err = io.StringIO(), io.StringIO()
    code = run(["drift", "replay", *paths, "--format", "json"], out, err)
    return code, json.loads(out.getvalue())


def test_eachlabs_session_is_recorded_redacted_and_replays_clean(
    served: Any, serve_app: Callable[[Any], Any], tmp_path: Path
) -> None:
    contract = load_contracts().provider("eachlabs")
    output = tmp_path / "recordings" / "eachlabs"
    proxy = serve_app(
        build_proxy_app(contract, served.url + "/eachlabs", output, Redactor([KEY]))
    ).url
    with httpx.Client(base_url=proxy, timeout=10) as client:
        created = client.post(
            "/v1/prediction/",
            headers={"X-API-Key": KEY},
            json={
                "model": "wan-2-5-preview-image-to-video",
                "input": {
                    "prompt": "a lake",
                    "image_url": "https://example.com/lake.png",
                    "resolution": "480p",
                },
                "webhook_url": "https://receiver.genmock.invalid/hook",
                "webhook_secret": WEBHOOK_SECRET,
            },
        )
        assert created.status_code == 200, created.text
        job = created.json()["predictionID"]
        assert client.get(f"/v1/prediction/{job}", headers={"X-API-Key": KEY}).status_code == 200
        assert client.get(f"/v1/prediction/{job}").status_code == 401
        missing = client.get("/v1/prediction/nope", headers={"Authorization": f"Bearer {KEY}"})
        assert missing.status_code == 404
    files = _files(output)
    assert len(files) == 4
    text = _all_text(output)
    assert KEY not in text and WEBHOOK_SECRET not in text
    first = json.loads(files[0].read_text(encoding="utf-8"))
    assert first["provider"] == "eachlabs" and first["endpoint"] == "create"
    assert first["provenance"].startswith("[LIVE]")
    assert first["request"]["headers"]["x-api-key"] == MASK
    assert first["request"]["body"]["webhook_secret"] == MASK
    assert first["request"]["body"]["input"]["prompt"] == "a lake"  # ordinary fields kept
    last = json.loads(files[-1].read_text(encoding="utf-8"))
    assert last["request"]["headers"]["authorization"] == f"Bearer {MASK}"
    # The recordings are valid input for replay: no drift.
    code, report = _replay(str(output))
    assert code == 0, report["findings"]
    assert len(report["subjects"]) == 4 and report["skipped"] == {}
    # ...and an edited recording is flagged.
    data = json.loads(files[0].read_text(encoding="utf-8"))
    data["response"]["body"]["id"] = data["response"]["body"].pop("predictionID")
    files[0].write_text(json.dumps(data), encoding="utf-8")
    code, report = _replay(str(output))
    assert code == 1
    assert {f["rule"] for f in report["findings"]} == {"response-property-renamed"}


def test_secrets_echoed_by_the_upstream_are_masked(
    serve_app: Callable[[Any], Any], tmp_path: Path
) -> None:
    async def echo(request: Request) -> JSONResponse:
        key = request.headers.get("authorization", "").partition(" ")[2]
        return JSONResponse(
            {"code": 401, "message": f"key {key} is not valid", "data": None, "token": "t-0000001"},
            status_code=401,
        )

    upstream = serve_app(Starlette(routes=[Route("/{path:path}", echo)])).url
    output = tmp_path / "wavespeed"
    contract = load_contracts().provider("wavespeed")
    proxy = serve_app(build_proxy_app(contract, upstream, output, Redactor())).url
    response = httpx.get(
        f"{proxy}/api/v3/balance?webhook=https://x.example/h&api_key={KEY}",
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert response.status_code == 401
    assert KEY in response.text  # the client still gets the real response
    [path] = _files(output)
    text = path.read_text(encoding="utf-8")
    assert KEY not in text and "t-0000001" not in text
    saved = json.loads(text)
    assert saved["response"]["body"]["message"] == f"key {MASK} is not valid"
    assert "api_key=%5BREDACTED%5D" in saved["request"]["path"] or MASK in saved["request"]["path"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.timeout(60)
def test_record_command_end_to_end(served: Any, tmp_path: Path) -> None:
    port = _free_port()
    output = tmp_path / "out"
    env = {**os.environ, "MY_KEY": KEY}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mockserver",
            "record",
            "--provider",
            "apikley",
            "--port",
            str(port),
            "--upstream",
            served.url + "/apikley",
            "--output",
            str(output),
            "--api-key-env",
            "MY_KEY",
            "--max-exchanges",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:  # bounded: until the proxy answers or 20 s pass
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}/api/v1/jobs/recordInfo",
                    params={"taskId": "unknown"},
                    headers={"Authorization": f"Bearer {KEY}"},
                    timeout=5,
                )
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert response.json()["msg"] == "recordInfo is null"
        stdout, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert "recording apikley" in stdout and KEY not in stdout + stderr
    [path] = _files(output)
    assert KEY not in path.read_text(encoding="utf-8")
    code, report = _replay(str(path), "--provider", "apikley")
    assert code == 0, report
