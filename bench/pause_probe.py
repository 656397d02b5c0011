"""How one server pause shows in wrk's p99: a bare ASGI app that pauses now and then.

A p99 target at 32 connections is sensitive to pauses far rarer than 1% of
requests: this probe serves static JSON and blocks its event loop for
``--pause-ms`` every ``--every`` requests, so the effect of, say, one 150 ms
pause in a 10 s run can be read off wrk's percentiles directly. It is how
the mock's pauses (a garbage collection, an O(n) clean-up) were judged.

    .venv/bin/python bench/pause_probe.py --every 50000 --pause-ms 150 [--seconds 10]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from _common import free_port, have_wrk, wait_http  # noqa: E402

EVERY = 50_000
PAUSE_SECONDS = 0.15
_served = 0


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Static JSON; every EVERY-th request first blocks the loop for PAUSE_SECONDS."""
    global _served
    if scope["type"] != "http":
        return
    _served += 1
    if _served % EVERY == 0:
        time.sleep(PAUSE_SECONDS)  # blocks the event loop on purpose: the pause probed
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"ok":true}'})


PERCENTILES = (50, 90, 99, 99.5, 99.9)
_LUA = "done = function(summary, latency, requests)\n" + "".join(
    f'  io.write(string.format("p{p}=%.2fms ", latency:percentile({p})/1000))\n'
    for p in PERCENTILES
) + ('  io.write(string.format("max=%.2fms requests=%d\\n",'
      ' latency.max/1000, summary.requests))\nend\n')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--every", type=int, default=EVERY, help="requests between pauses")
    parser.add_argument("--pause-ms", type=float, default=PAUSE_SECONDS * 1000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if not have_wrk():
        raise SystemExit("pause_probe needs wrk (Debian package wrk)")
    port = free_port()
    code = (f"import sys; sys.path.insert(0, {str(BENCH)!r}); import pause_probe as p; "
            f"p.EVERY = {args.every}; p.PAUSE_SECONDS = {args.pause_ms / 1000}; "
            f"import uvicorn; uvicorn.run(p.app, host='127.0.0.1', port={port}, "
            "http='httptools', loop='uvloop', log_level='warning', access_log=False)")
    server = subprocess.Popen([sys.executable, "-c", code])
    try:
        wait_http(f"http://127.0.0.1:{port}/", server)
        with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
            script.write(_LUA)
            script.flush()
            out = subprocess.run(
                ["wrk", "-t1", f"-c{args.connections}", f"-d{args.seconds}s", "-s", script.name,
                 f"http://127.0.0.1:{port}/"], capture_output=True, text=True, check=True,
            ).stdout
        print(f"pause {args.pause_ms:g} ms every {args.every} requests, "
              f"{args.connections} connections, {args.seconds} s:")
        print(out.strip().splitlines()[-1])
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
