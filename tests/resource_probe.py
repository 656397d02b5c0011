"""Run by tests/test_resources.py in a fresh process: RSS while the stores fill up.

Prints one JSON object: RSS (MiB) at checkpoints of ``creates`` creates with a
new API key each, then at checkpoints of 40 creates with 9 MiB bodies. The
app is called directly over ASGI (what a served create does, without the
socket), with the store bounds given on the command line.

    python tests/resource_probe.py CREATES JOBS KEYS JOB_BYTES JOURNAL_BYTES
"""

from __future__ import annotations

import asyncio
import gc
import json
import re
import sys
from pathlib import Path
from typing import Any

from mockserver.config import LimitsConfig, MockConfig
from mockserver.domain.clock import ManualClock
from mockserver.http.app import create_app

MODEL = "wan-v2-2-a14b-image-to-video-turbo"


def rss_mib() -> float:
    found = re.search(r"VmRSS:\s+(\d+)", Path("/proc/self/status").read_text())
    return int(found.group(1)) / 1024 if found else 0.0


async def create(app: Any, key: str, body: bytes) -> int:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/eachlabs/v1/prediction/",
             "raw_path": b"/eachlabs/v1/prediction/", "query_string": b"", "root_path": "",
             "headers": [(b"host", b"127.0.0.1:8000"), (b"x-api-key", key.encode()),
                         (b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode())],
             "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000)}
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def main(creates: int, jobs: int, keys: int, job_bytes: int, journal_bytes: int) -> None:
    limits = LimitsConfig(jobs=jobs, keys=keys, job_bytes=job_bytes, journal_bytes=journal_bytes)
    app = create_app(MockConfig(limits=limits), clock=ManualClock())
    small = json.dumps({"model": MODEL, "input": {"image_url": "https://example.com/a.png",
                                                  "prompt": "a cat"}}).encode()
    result: dict[str, Any] = {"start": rss_mib(), "unique_keys": {}, "big_bodies": {}}
    step = creates // 6
    for index in range(creates):
        status = await create(app, f"sk-unique-{index:09d}", small)
        assert status == 200, status
        if (index + 1) % step == 0:
            gc.collect()
            result["unique_keys"][index + 1] = round(rss_mib(), 1)
    big = json.dumps({"model": MODEL, "input": {"image_url": "https://example.com/a.png",
                                                "prompt": "p" * (9 * 1024 * 1024)}}).encode()
    statuses = set()
    for index in range(40):
        statuses.add(await create(app, "sk-big-bodies-0123456789", big))
        if (index + 1) % 10 == 0:
            gc.collect()
            result["big_bodies"][index + 1] = round(rss_mib(), 1)
    state = app.state.mock
    result["statuses"] = sorted(statuses)
    result["stored"] = {"jobs": len(state.world), "job_bytes": state.world.job_bytes,
                        "keys": len(state.accounts), "journal": len(state.world.journal),
                        "journal_bytes": state.journal.bytes}
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main(*(int(argument) for argument in sys.argv[1:6])))
