"""The official npm ``wavespeed`` SDK, unmodified, under the machine's Node, against the mock.

The SDK is pinned in ``tools/node-clients/package.json`` (+ lockfile) and
installed by ``npm ci --prefix tools/node-clients``. The script
``tools/node-clients/wavespeed_run.js`` uses it as its README does: ``new
Client(key, {baseUrl})``, ``client.upload(path)`` (ticket, then PUT) and
``client.run(model, input)`` polling to the end; then it downloads the output.

Without node or the installed package the test is skipped with the reason
locally, and fails in CI (``CI=true``), where the setup installs both.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from conftest import missing_tool

from mockserver.http.media import sample_video
from mockserver.testing import serve_providers

NODE_CLIENTS = Path(__file__).resolve().parents[2] / "tools" / "node-clients"
SCRIPT = NODE_CLIENTS / "wavespeed_run.js"
MODEL = "wavespeed-ai/wan-2.2/image-to-video"
KEY = "node-sdk-key"


def _node() -> str:
    node = shutil.which("node")
    installed = (NODE_CLIENTS / "node_modules" / "wavespeed" / "package.json").is_file()
    problem = None
    if node is None:
        problem = "node is not installed"
    elif not installed:
        problem = "the npm clients are not installed (npm ci --prefix tools/node-clients)"
    if problem is not None:
        missing_tool(f"test_node_clients: {problem}")
    assert node is not None
    return node


def test_npm_wavespeed_sdk_uploads_and_runs_unmodified(tmp_path: Path) -> None:
    node = _node()
    installed = json.loads(
        (NODE_CLIENTS / "node_modules" / "wavespeed" / "package.json").read_text())
    locked = json.loads((NODE_CLIENTS / "package-lock.json").read_text())
    assert installed["version"] == locked["packages"]["node_modules/wavespeed"]["version"]
    image = tmp_path / "cat.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    with serve_providers(providers=["wavespeed"],
                         config={"jobs": {"polls_per_phase": 1}}) as mock:
        env = {**os.environ, "WAVESPEED_API_KEY": KEY,
               "WAVESPEED_BASE_URL": mock.base_url("wavespeed")}
        env.pop("HTTPS_PROXY", None)
        env.pop("HTTP_PROXY", None)
        done = subprocess.run(
            [node, str(SCRIPT), MODEL, str(image)], cwd=NODE_CLIENTS, env=env,
            capture_output=True, text=True, timeout=60, check=False,
        )
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout.strip().splitlines()[-1])
        jobs = mock.jobs
        requests = mock.requests
    assert result["download_status"] == 200
    assert result["download_bytes"] == len(sample_video())
    assert "/_mock/uploads/" in result["image"]
    [job] = jobs
    assert job["state"] == "succeeded" and job["input"]["image"] == result["image"]
    # The SDK's own calls, as it makes them.
    paths = [(r["method"], r["path"]) for r in requests if r["provider"] == "wavespeed"]
    assert ("POST", "/wavespeed/api/v3/media/uploads") in paths
    assert ("POST", f"/wavespeed/api/v3/{MODEL}") in paths
    assert ("GET", f"/wavespeed/api/v3/predictions/{job['id']}/result") in paths
