"""Shared pieces of the benchmarks: processes, ports, request shapes per provider."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PYTHON = sys.executable
KEY = "bench-key"
CONFIG = BENCH / "bench.toml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def wait_http(url: str, process: subprocess.Popen[bytes] | None, timeout: float = 20.0) -> float:
    """Seconds until ``url`` answers 200 (polling every 5 ms)."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as reply:
                if reply.status == 200:
                    return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.005)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "NO_PROXY": "*", "no_proxy": "*"}


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as reply:
        return json.loads(reply.read() or b"null")


@dataclass(frozen=True)
class Shape:
    """How to create and poll a job at one provider (the bench key, a valid body)."""

    provider: str
    create_path: str
    body: dict[str, Any]
    headers: dict[str, str]

    def poll_path(self, job_id: str) -> str:
        if self.provider == "eachlabs":
            return f"/eachlabs/v1/prediction/{job_id}"
        if self.provider == "wavespeed":
            return f"/wavespeed/api/v3/predictions/{job_id}/result"
        return f"/apikley/api/v1/jobs/recordInfo?taskId={job_id}"

    @staticmethod
    def job_id(answer: dict[str, Any]) -> str:
        for path in (("predictionID",), ("data", "id"), ("data", "taskId")):
            node: Any = answer
            for part in path:
                node = node.get(part) if isinstance(node, dict) else None
            if isinstance(node, str):
                return node
        raise RuntimeError(f"no job id in {answer}")


SHAPES = {
    "eachlabs": Shape(
        "eachlabs", "/eachlabs/v1/prediction/",
        {"model": "wan-v2-2-a14b-image-to-video-turbo",
         "input": {"image_url": "https://images.example.com/a.jpg", "prompt": "bench"}},
        {"X-API-Key": KEY, "Content-Type": "application/json"},
    ),
    "wavespeed": Shape(
        "wavespeed", "/wavespeed/api/v3/wavespeed-ai/wan-2.2/image-to-video",
        {"image": "https://images.example.com/cat.png", "prompt": "a cat yawns",
         "duration": 5, "resolution": "480p", "seed": -1},
        {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
    ),
    "apikley": Shape(
        "apikley", "/apikley/api/v1/jobs/createTask",
        {"model": "wan/2-2-a14b-image-to-video-turbo",
         "input": {"image_url": "https://images.example.com/a.png", "prompt": "bench"}},
        {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
    ),
}


def have_wrk() -> bool:
    return shutil.which("wrk") is not None
