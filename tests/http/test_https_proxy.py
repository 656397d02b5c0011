"""The mock as an HTTPS forward proxy: clients with a hard-coded provider host, unmodified.

``mockserver serve`` runs as a user runs it (a subprocess, its own CA in a
temporary ``--ca-dir``); the clients run in subprocesses whose environment
differs from the test's only by ``HTTPS_PROXY``, the CA variable and the
API key (inherited proxy variables are dropped so the machine's own proxy
settings cannot interfere). Nothing leaves loopback: a tunnel to any other
host is refused by the mock, and the clients only ever dial the proxy.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import missing_tool

from mockserver.http.localca import CA_CERT_FILE, CA_KEY_FILE, CAError, LocalCA

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "tools" / "node-sdk"
NODE_INSTALL = "npm ci --prefix tools/node-sdk"
MODEL = "wavespeed-ai/wan-2.2/image-to-video"
INPUTS = {"image": "https://images.example.com/cat.png", "prompt": "a cat yawns"}
KEY = "ws-proxy-key"
PROVIDER_HOSTS = {"api.eachlabs.ai", "api.wavespeed.ai", "api.apikley.ru"}


@dataclass
class Serve:
    process: subprocess.Popen[str]
    url: str
    ca_file: Path
    banner: str


def start_serve(ca_dir: Path, *extra: str) -> Serve:
    """``mockserver serve --port 0`` on a sped-up clock; the URL and CA path it prints."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "serve", "--port", "0", "--speed", "400",
         "--log-level", "warning", "--ca-dir", str(ca_dir), *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    banner = ""
    # The banner ends with the admin line, plus two proxy lines when it runs.
    remaining = None
    while remaining != 0:
        line = process.stdout.readline()
        if not line:
            _, err = process.communicate(timeout=10)
            raise AssertionError(f"serve exited: {err}")
        banner += line
        if remaining is not None:
            remaining -= 1
        elif "/_mock/health" in line:
            remaining = 0 if "--no-https-proxy" in extra else 2
    url = re.search(r"on (http://127\.0\.0\.1:\d+)", banner)
    ca = re.search(r"trust the CA (\S+)", banner)
    assert url, banner
    _wait_for_health(url.group(1))  # signal handlers are installed by then
    return Serve(process, url.group(1), Path(ca.group(1)) if ca else Path(), banner)


def _wait_for_health(url: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/_mock/health", timeout=1, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def stop_serve(serve: Serve) -> str:
    serve.process.terminate()
    _, err = serve.process.communicate(timeout=15)
    assert serve.process.returncode == 0, err
    return err


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    serve = start_serve(tmp_path_factory.mktemp("proxy") / "ca")
    yield serve
    err = stop_serve(serve)
    assert "Traceback" not in err, err


def client_env(proxy: Serve, **extra: str) -> dict[str, str]:
    """The test's environment minus proxy settings, plus the proxy and ``extra``."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    return {**env, "HTTPS_PROXY": proxy.url, **extra}


def run_python(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``script`` in a fresh interpreter with ``env`` (a client as a user runs it)."""
    return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=90, check=False)


def raw_connect(proxy: Serve, target: str) -> bytes:
    """Send ``CONNECT target`` on a plain socket; everything the proxy answers."""
    host, port = proxy.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    return reply


def test_serve_prints_the_proxy_and_its_ca(proxy: Serve) -> None:
    assert f"HTTPS_PROXY={proxy.url}" in proxy.banner
    assert proxy.ca_file.name == CA_CERT_FILE and proxy.ca_file.exists()
    served = httpx.get(f"{proxy.url}/_mock/ca.pem", trust_env=False)
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/x-pem-file"
    assert served.content == proxy.ca_file.read_bytes()
    assert served.content.startswith(b"-----BEGIN CERTIFICATE-----")
    # Only the certificate is public; the key stays private to its owner.
    assert (proxy.ca_file.parent / CA_KEY_FILE).stat().st_mode & 0o077 == 0
    assert proxy.ca_file.parent.stat().st_mode & 0o077 == 0


def test_python_sdk_module_run_through_the_proxy(proxy: Serve) -> None:
    """``wavespeed.run()`` (hard-coded https://api.wavespeed.ai) completes on the mock."""
    pytest.importorskip("wavespeed")
    script = (
        "import json, wavespeed\n"
        f"result = wavespeed.run({MODEL!r}, {INPUTS!r}, poll_interval=0.05, timeout=60)\n"
        "print(json.dumps(result))\n"
    )
    env = client_env(proxy, REQUESTS_CA_BUNDLE=str(proxy.ca_file), WAVESPEED_API_KEY=KEY)
    done = run_python(script, env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    [output] = result["outputs"]
    _assert_job_done_on_mock(proxy, "python-requests")
    # The output URL is on the host the SDK asked (through the proxy, too).
    with _proxied_client(proxy) as http:
        video = http.get(output)
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"


def _proxied_client(proxy: Serve) -> httpx.Client:
    """An httpx client that sends https:// through the mock's proxy, trusting its CA."""
    context = ssl.create_default_context(cafile=str(proxy.ca_file))
    transport = httpx.HTTPTransport(proxy=proxy.url, verify=context)
    return httpx.Client(mounts={"https://": transport}, trust_env=False, timeout=10)


def _assert_job_done_on_mock(proxy: Serve, user_agent: str) -> None:
    """The mock journalled the SDK's create and polls, sent to the provider's real host."""
    entries = httpx.get(f"{proxy.url}/_mock/requests", params={"provider": "wavespeed"},
                        trust_env=False).json()
    entries = entries.get("requests", entries) if isinstance(entries, dict) else entries
    ours = [e for e in entries if user_agent in json.dumps(e.get("headers", {})).lower()]
    assert ours, entries
    assert {e["method"] for e in ours} == {"POST", "GET"}
    assert all("api.wavespeed.ai" in json.dumps(e["headers"]) for e in ours)


def test_python_client_without_the_ca_is_refused_by_tls(proxy: Serve) -> None:
    """The mock really terminates TLS with its own CA: an untrusting client fails closed."""
    script = (
        "import requests, sys\n"
        "try:\n"
        "    requests.get('https://api.wavespeed.ai/api/v3/balance', timeout=10)\n"
        "except requests.exceptions.SSLError:\n"
        "    sys.exit(3)\n"
    )
    done = run_python(script, client_env(proxy))
    assert done.returncode == 3, done.stdout + done.stderr


@pytest.mark.parametrize(
    "target", ["example.com:443", "api.openai.com:443", "api.wavespeed.ai:80", "127.0.0.1:22"]
)
def test_connect_to_other_hosts_is_refused(proxy: Serve, target: str) -> None:
    head, _, body = raw_connect(proxy, target).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 403 ")
    text = body.decode()
    assert f"CONNECT {target} refused" in text and "never forwards" in text
    for allowed in PROVIDER_HOSTS:
        assert f"{allowed}:443" in text


def test_connect_without_a_port_is_a_bad_request(proxy: Serve) -> None:
    reply = raw_connect(proxy, "api.wavespeed.ai")
    assert reply.startswith(b"HTTP/1.1 400 ") and b"needs host:port" in reply


def test_requests_to_other_hosts_fail_at_the_proxy(proxy: Serve) -> None:
    script = (
        "import requests, sys\n"
        "try:\n"
        "    requests.get('https://example.com/', timeout=10)\n"
        "except requests.exceptions.ProxyError as error:\n"
        "    print(error); sys.exit(3)\n"
    )
    done = run_python(script, client_env(proxy, REQUESTS_CA_BUNDLE=str(proxy.ca_file)))
    assert done.returncode == 3 and "403" in done.stdout, done.stdout + done.stderr


def test_httpx_and_urllib_through_the_proxy(proxy: Serve) -> None:
    """httpx and the standard library honour HTTPS_PROXY and SSL_CERT_FILE."""
    script = (
        "import json, urllib.request, httpx\n"
        "headers = {'Authorization': 'Bearer k'}\n"
        "r = httpx.get('https://api.apikley.ru/api/v1/chat/credit', headers=headers)\n"
        "req = urllib.request.Request('https://api.wavespeed.ai/api/v3/balance', headers=headers)\n"
        "with urllib.request.urlopen(req, timeout=10) as u:\n"
        "    print(json.dumps([r.status_code, r.json(), u.status, json.load(u)]))\n"
    )
    done = run_python(script, client_env(proxy, SSL_CERT_FILE=str(proxy.ca_file)))
    assert done.returncode == 0, done.stderr
    status, credit, status2, balance = json.loads(done.stdout)
    assert status == 200 and credit["code"] == 200
    assert status2 == 200 and balance["code"] == 200


def _require_node_sdk() -> str:
    node = shutil.which("node")
    if node and (NODE_DIR / "node_modules" / "wavespeed").is_dir():
        return node
    missing_tool(f"the npm wavespeed SDK is not installed: run `{NODE_INSTALL}` "
                 "(needs Node and npm)")


def test_npm_sdk_run_through_the_proxy(proxy: Serve) -> None:
    """The npm SDK's module-level ``run()`` with its default host, unmodified.

    Node's own fetch honours HTTPS_PROXY only where Node knows NODE_USE_ENV_PROXY=1
    (24, and 22 from 22.21); on older Node (the machine's 20) the project's preload
    (tools/node-sdk/use-env-proxy.cjs, undici's EnvHttpProxyAgent) goes in
    NODE_OPTIONS: still no change to the SDK or the script.
    """
    node = _require_node_sdk()
    script = (
        "const wavespeed = require('wavespeed');\n"
        f"wavespeed.run({json.dumps(MODEL)}, {json.dumps(INPUTS)},"
        " {pollInterval: 0.05, timeout: 60})\n"
        "  .then((r) => console.log(JSON.stringify(r)))\n"
        "  .catch((e) => { console.error(String(e)); process.exit(1); });\n"
    )
    usage = subprocess.run([node, "--help"], capture_output=True, text=True, check=True).stdout
    env = client_env(proxy, NODE_EXTRA_CA_CERTS=str(proxy.ca_file), WAVESPEED_API_KEY=KEY)
    if "--use-env-proxy" in usage:  # Node 24, and 22 from 22.21
        env["NODE_USE_ENV_PROXY"] = "1"
    else:
        env["NODE_OPTIONS"] = f"--require {NODE_DIR / 'use-env-proxy.cjs'}"
    done = subprocess.run([node, "-e", script], cwd=NODE_DIR, env=env, capture_output=True,
                          text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(result["outputs"]) == 1
    _assert_job_done_on_mock(proxy, "node")


def test_ca_is_made_once_and_reused(tmp_path: Path) -> None:
    first = LocalCA.load_or_create(tmp_path / "ca")
    again = LocalCA.load_or_create(tmp_path / "ca")
    assert first.cert_pem == again.cert_pem
    assert first.cert_path == tmp_path / "ca" / CA_CERT_FILE


def test_ca_dir_with_other_files_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(CAError, match="not empty, or not writable"):
        LocalCA.load_or_create(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_serve_reuses_its_ca_and_can_run_without_proxy(tmp_path: Path) -> None:
    first = start_serve(tmp_path / "ca")
    pem = first.ca_file.read_bytes()
    stop_serve(first)
    second = start_serve(tmp_path / "ca")
    try:
        assert httpx.get(f"{second.url}/_mock/ca.pem", trust_env=False).content == pem
    finally:
        stop_serve(second)
    plain = start_serve(tmp_path / "unused", "--no-https-proxy")
    try:
        reply = httpx.get(f"{plain.url}/_mock/ca.pem", trust_env=False)
        assert reply.status_code == 404 and "--no-https-proxy" in reply.json()["error"]
    finally:
        stop_serve(plain)
    assert "proxy" not in plain.banner and not (tmp_path / "unused").exists()


def test_in_process_app_has_no_ca(client: Any) -> None:
    reply = client.get("/_mock/ca.pem")
    assert reply.status_code == 404
