"""What a user expects of the command line: version, usage, logs, and no tracebacks."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

import mockserver

MOCKSERVER = str(Path(sys.executable).with_name("mockserver"))


def mockserver_cli(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MOCKSERVER, *argv], capture_output=True, text=True, timeout=60, cwd=cwd
    )


def test_version_has_one_source() -> None:
    from importlib.metadata import version

    result = mockserver_cli("--version")
    assert result.returncode == 0
    assert result.stdout == f"mockserver (genmock) {mockserver.__version__}\n"
    assert version("genmock") == mockserver.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", mockserver.__version__)


def test_unknown_option_shows_the_subcommands_usage() -> None:
    result = mockserver_cli("serve", "--prot")
    assert result.returncode == 2
    assert result.stderr.startswith("usage: mockserver serve ")
    assert "mockserver serve: error: unrecognized arguments: --prot" in result.stderr
    nested = mockserver_cli("contracts", "check", "--rot", "x")
    assert nested.returncode == 2
    assert nested.stderr.startswith("usage: mockserver contracts check ")


def test_closed_pipe_is_not_a_traceback() -> None:
    # `true` reads nothing and is gone long before Python starts writing.
    pipeline = subprocess.run(
        f"set -o pipefail; {MOCKSERVER} drift rules | true",
        shell=True, executable="/bin/bash", capture_output=True, text=True, timeout=60,
    )
    assert pipeline.stderr == ""
    assert pipeline.returncode == 141  # as any Unix tool stopped by SIGPIPE


def test_unwritable_output_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir" / "x.json"
    (tmp_path / "no").write_text("a file, not a folder")
    for argv in (
        ("openapi", "eachlabs", "--output", str(missing)),
        ("drift", "docs", "--format", "json", "--output", str(missing)),
        ("fuzz", "--provider", "eachlabs", "--max-examples", "1", "--phase", "examples",
         "--report", str(missing)),
    ):
        result = mockserver_cli(*argv)
        assert result.returncode == 2, argv
        assert "Traceback" not in result.stderr
        about = [line for line in result.stderr.splitlines() if str(tmp_path / "no") in line]
        assert len(about) == 1, result.stderr  # one line names the path (drift adds its verdict)


def test_serve_logs_json_lines(tmp_path: Path) -> None:
    server = subprocess.Popen(
        [MOCKSERVER, "serve", "--port", "0", "--clock", "manual", "--log-format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert server.stdout is not None
        match = re.search(r"on (http://127\.0\.0\.1:\d+)", server.stdout.readline())
        assert match
        base = match.group(1)
        deadline = time.monotonic() + 10
        while True:
            try:
                if httpx.get(f"{base}/_mock/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline
            time.sleep(0.05)
        reply = httpx.get(f"{base}/eachlabs/v1/prediction/nope", headers={"X-API-Key": "k"})
        assert reply.status_code == 404
    finally:
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=15)
    entries = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert entries, err
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    requests = [e for e in entries if e.get("path") == "/eachlabs/v1/prediction/nope"]
    assert requests and requests[0]["status"] == 404 and requests[0]["provider"] == "eachlabs"
    assert isinstance(requests[0]["duration_ms"], float)


def test_contracts_commands_find_the_current_folders_contracts(tmp_path: Path) -> None:
    (tmp_path / "contracts" / "sources").mkdir(parents=True)
    result = mockserver_cli("contracts", "check", cwd=tmp_path)
    assert result.returncode == 2
    assert str(Path("contracts") / "sources") in result.stderr  # the local folder was used
    elsewhere = mockserver_cli("contracts", "check", cwd=tmp_path / "contracts")
    assert elsewhere.returncode == 0, elsewhere.stdout + elsewhere.stderr  # the bundled ones
    assert os.environ.get("MOCKSERVER_CONTRACTS") is None
