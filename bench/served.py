"""Served throughput and latency: the mock's create and poll per provider vs a bare Starlette app.

The baseline is served by the stock server (uvicorn with httptools and uvloop,
or granian) as the issue's reference figures were taken; every app is loaded
by ``wrk`` (one thread, ``--latency``) on loopback, alternately, in the same
run. ``mockserver serve`` runs uvicorn with its own protocol class
(:mod:`mockserver.http.onewrite`: one socket write per response), so under
uvicorn the run also serves the baseline with that protocol
(``baseline-onewrite``): mock/baseline-onewrite is what the mock's own work
costs on equal servers, mock/baseline what a user gains or pays against a
bare Starlette app on the stock server.
The load generator shares the machine's cores with the server; ``--pin``
puts the server on CPU 0 and wrk on CPU 1 (``taskset``).

Without wrk, a bounded asyncio HTTP/1.1 keep-alive load generator stands in;
its figures are labelled ``python-loadgen`` and are NOT comparable with wrk's
(it is much slower than the servers it measures). Install wrk with
``apt-get install wrk``.

    .venv/bin/python bench/served.py [--server uvicorn|granian] [--duration 2] [--rounds 5] [--pin]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import (
    BENCH,
    CONFIG,
    KEY,
    PYTHON,
    ROOT,
    SHAPES,
    env,
    free_port,
    have_wrk,
    http,
    load_average,
    stop,
    wait_http,
)

CONNECTIONS = (1, 32)
#: ``--pin``: the server on CPU 0 and wrk on CPU 1 (``taskset``). Unpinned (the
#: default, as the issue's reference figures were taken) a cell can move by
#: 10-20% between runs; pinned it moves less, but the server then has one core
#: for its kernel network work too, so the baseline is slower (18-22k req/s).
SERVER_CPU, LOAD_CPU = 0, 1
PIN = False


def pinned(command: list[str], cpu: int) -> list[str]:
    """``command`` under ``taskset -c cpu`` when pinning is on and possible."""
    usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    if not PIN or shutil.which("taskset") is None or {SERVER_CPU, LOAD_CPU} - usable:
        return command
    return ["taskset", "-c", str(cpu), *command]
SERVERS = ("uvicorn", "granian")


def server_command(app: str, server: str, port: int) -> tuple[list[str], Path]:
    """The command (and working dir) that serves ``app`` (mock | baseline) on ``port``."""
    if server == "uvicorn":
        if app == "mock":
            return [PYTHON, "-m", "mockserver", "serve", "--host", "127.0.0.1",
                    "--port", str(port), "--config", str(CONFIG), "--log-level", "warning"], ROOT
        protocol = ("mockserver.http.onewrite:OneWriteHttpToolsProtocol"
                    if app == "baseline-onewrite" else "httptools")
        return [PYTHON, "-m", "uvicorn", "--app-dir", str(BENCH), "baseline_app:app",
                "--host", "127.0.0.1", "--port", str(port), "--http", protocol,
                "--loop", "uvloop", "--no-access-log", "--log-level", "warning"], ROOT
    if server == "granian":
        target = ["--factory", "mock_app:app"] if app == "mock" else ["baseline_app:app"]
        return [str(Path(PYTHON).parent / "granian"), "--interface", "asgi", "--host",
                "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--workers", "1",
                "--runtime-mode", "st", "--http", "1", "--no-ws", "--log-level", "warning",
                "--working-dir", str(BENCH), *target], BENCH
    raise ValueError(server)


class Server:
    def __init__(self, app: str, server: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        command, cwd = server_command(app, server, self.port)
        self.process = subprocess.Popen(pinned(command, SERVER_CPU), cwd=cwd, env=env(),
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_http(f"{self.base}/_mock/health", self.process)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process and its children (granian's workers)."""
        total = 0.0
        pids = [self.process.pid]
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        if children.exists():
            pids += [int(pid) for pid in children.read_text().split()]
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def rss_kib(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        match = re.search(r"VmRSS:\s+(\d+)", status)
        return int(match.group(1)) if match else 0

    def close(self) -> None:
        stop(self.process)


# --- load generators ---------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if not match:
        raise ValueError(text)
    return float(match.group(1)) * _UNITS[match.group(2)]


def _lua(method: str, body: dict[str, Any] | None, headers: dict[str, str]) -> str:
    lines = [f'wrk.method = "{method}"']
    if body is not None:
        lines.append(f"wrk.body = {json.dumps(json.dumps(body, separators=(',', ':')))}")
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    return "\n".join(lines) + "\n"


def run_wrk(url: str, method: str, body: dict[str, Any] | None, headers: dict[str, str],
            connections: int, duration: float) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_lua(method, body, headers))
    try:
        out = subprocess.run(
            pinned(["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s",
                    "--latency", "-s", script.name, url], LOAD_CPU),
            capture_output=True, text=True, timeout=duration + 30, check=True,
        ).stdout
    finally:
        Path(script.name).unlink()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99,
            "non_2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": sum(int(g) for g in errors.groups()) if errors else 0}


async def _python_load(url: str, method: str, body: dict[str, Any] | None,
                       headers: dict[str, str], connections: int,
                       duration: float) -> dict[str, Any]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    payload = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    head = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    head.append(f"Content-Length: {len(payload)}")
    raw = ("\r\n".join(head) + "\r\n\r\n").encode() + payload
    latencies: list[float] = []
    bad = 0
    deadline = time.perf_counter() + duration

    async def worker() -> None:
        nonlocal bad
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(raw)
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append((time.perf_counter() - started) * 1000)
            if not status_line.split()[1].startswith(b"2"):
                bad += 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"rps": len(latencies) / elapsed,
            "p50_ms": latencies[len(latencies) // 2],
            "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
            "non_2xx": bad, "socket_errors": 0}


def load(url: str, method: str, body: dict[str, Any] | None, headers: dict[str, str],
         connections: int, duration: float) -> dict[str, Any]:
    if have_wrk():
        return run_wrk(url, method, body, headers, connections, duration)
    return asyncio.run(_python_load(url, method, body, headers, connections, duration))


# --- the run -------------------------------------------------------------------------

def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    figures = {
        "rps": statistics.median(r["rps"] for r in runs),
        "p50_ms": statistics.median(r["p50_ms"] for r in runs),
        "p99_ms": statistics.median(r["p99_ms"] for r in runs),
        "non_2xx": sum(r["non_2xx"] for r in runs),
        "socket_errors": sum(r["socket_errors"] for r in runs),
        "runs": len(runs),
    }
    if all("cpu_us" in r for r in runs):
        figures["cpu_us"] = statistics.median(r["cpu_us"] for r in runs)
    return figures


def paired_ratio(runs: list[dict[str, Any]], base_runs: list[dict[str, Any]],
                 figure: str = "rps") -> float:
    """Median over rounds of run / baseline run of the same round.

    The machine's speed drifts by 10-30% over minutes; a round measures
    every target within seconds of each other, so per-round ratios cancel
    most of the drift that a ratio of two medians keeps.
    """
    return statistics.median(r[figure] / b[figure] for r, b in zip(runs, base_runs, strict=True))


def poll_target(mock: Server, name: str) -> tuple[str, str, None, dict[str, str]]:
    """Create a job at provider ``name``; the (url, method, body, headers) that poll it."""
    shape = SHAPES[name]
    job = shape.job_id(http("POST", mock.base + shape.create_path, shape.body, shape.headers))
    auth = {k: v for k, v in shape.headers.items() if k != "Content-Type"}
    return mock.base + shape.poll_path(job), "GET", None, auth


def run(server: str = "uvicorn", duration: float = 2.0, rounds: int = 5,
        providers: tuple[str, ...] = tuple(SHAPES), connections: tuple[int, ...] = CONNECTIONS,
        log: Any = print, console_page: bool = False) -> dict[str, Any]:
    """Medians over ``rounds`` of each (target, operation, connections); baseline interleaved."""
    generator = "wrk" if have_wrk() else "python-loadgen"
    if generator != "wrk":
        log("wrk not found: install it with `apt-get install wrk`. Falling back to the "
            "Python load generator; its figures are NOT comparable with wrk's.")
    results: dict[str, Any] = {"server": server, "generator": generator,
                               "pinned": pinned(["x"], 0) != ["x"],
                               "duration_s": duration, "rounds": rounds,
                               "load_before": load_average(), "cells": {}}
    baseline = Server("baseline", server)
    # The same static app on mockserver's own protocol (uvicorn only).
    same = Server("baseline-onewrite", server) if server == "uvicorn" else None
    mock = Server("mock", server)
    page = ConsolePage(mock.base) if console_page else None
    results["console_page"] = console_page
    try:
        rss_start = mock.rss_kib()
        # Poll targets: one job per provider, created before the load.
        targets: dict[str, tuple[str, str, dict[str, Any] | None, dict[str, str]]] = {
            "baseline/create": (f"{baseline.base}/create", "POST", SHAPES["eachlabs"].body,
                                SHAPES["eachlabs"].headers),
            "baseline/poll": (f"{baseline.base}/poll/0b6a3b52", "GET", None,
                              {"X-API-Key": KEY}),
        }
        bases = ["baseline"]
        if same is not None:
            bases.append("baseline-onewrite")
            targets["baseline-onewrite/create"] = (f"{same.base}/create",
                                                   *targets["baseline/create"][1:])
            targets["baseline-onewrite/poll"] = (f"{same.base}/poll/0b6a3b52",
                                                 *targets["baseline/poll"][1:])
        for name in providers:
            shape = SHAPES[name]
            targets[f"{name}/create"] = (mock.base + shape.create_path, "POST", shape.body,
                                         shape.headers)
            targets[f"{name}/poll"] = poll_target(mock, name)
        # Warm up every target briefly (first-request imports, caches, JIT-free but lazy paths).
        for url, method, body, headers in targets.values():
            load(url, method, body, headers, 4, 1)
        runs: dict[str, list[dict[str, Any]]] = {}
        for _ in range(rounds):
            for connections_now in connections:
                for operation in ("poll", "create"):
                    for name in (*bases, *providers):
                        if operation == "poll" and name not in bases:
                            # A fresh job to poll: the store keeps at most 100,000
                            # jobs and evicts the oldest unfinished ones first, so
                            # after enough creates the first target would be gone
                            # (and polled as 404s).
                            targets[f"{name}/poll"] = poll_target(mock, name)
                        url, method, body, headers = targets[f"{name}/{operation}"]
                        server_now = {"baseline": baseline, "baseline-onewrite": same}.get(
                            name, mock)
                        assert server_now is not None
                        cpu_before = server_now.cpu_seconds()
                        figures = load(url, method, body, headers, connections_now, duration)
                        served_requests = figures["rps"] * max(1, round(duration))
                        if served_requests:
                            # Server CPU per request: steadier than req/s when the
                            # load generator and the server share the cores.
                            figures["cpu_us"] = ((server_now.cpu_seconds() - cpu_before)
                                                 / served_requests * 1e6)
                        runs.setdefault(f"{name}/{operation}/c{connections_now}", []).append(
                            figures)
        for cell, cell_runs in runs.items():
            results["cells"][cell] = _median(cell_runs)
        for cell, figures in results["cells"].items():
            name, operation, conns = cell.split("/")
            if name not in bases:
                base_runs = runs[f"baseline/{operation}/{conns}"]
                figures["ratio"] = paired_ratio(runs[cell], base_runs)
                if all("cpu_us" in r for r in (*runs[cell], *base_runs)):
                    # baseline CPU / mock CPU per request: the ratio req/s would
                    # show if the server alone decided the rate.
                    figures["cpu_ratio"] = 1 / paired_ratio(runs[cell], base_runs, "cpu_us")
                same_runs = runs.get(f"baseline-onewrite/{operation}/{conns}")
                if same_runs is not None:
                    figures["ratio_same_server"] = paired_ratio(runs[cell], same_runs)
        results["mock_jobs"] = http("GET", f"{mock.base}/_mock/health").get("jobs")
        results["mock_rss_kib"] = {"start": rss_start, "end": mock.rss_kib()}
        if page is not None:
            results["console_page_events"] = page.events
    finally:
        if page is not None:
            page.stop.set()
        mock.close()
        if same is not None:
            same.close()
        baseline.close()
    results["load_after"] = load_average()
    return results


def table(results: dict[str, Any]) -> str:
    rows = [f"served ({results['server']}, {results['generator']}, "
            f"{results['duration_s']:g}s x {results['rounds']} rounds, medians; "
            f"load {results['load_before']} -> {results['load_after']})",
            f"{'target':<32}{'rps':>9}{'p50 ms':>9}{'p99 ms':>9}{'x base':>8}"
            f"{'x 1w':>7}{'cpu us':>8}{'x cpu':>7}{'errors':>8}",
            "(x base: / bare Starlette on the stock server, median of per-round ratios; "
            "x 1w: / the same app on mockserver's one-write protocol; cpu us: server "
            "CPU per request; x cpu: baseline's / this one's)"]
    for cell, f in results["cells"].items():
        ratio = f"{f['ratio']:.2f}" if "ratio" in f else "-"
        same = f"{f['ratio_same_server']:.2f}" if "ratio_same_server" in f else "-"
        cpu = f"{f['cpu_us']:.0f}" if "cpu_us" in f else "-"
        cpu_ratio = f"{f['cpu_ratio']:.2f}" if "cpu_ratio" in f else "-"
        rows.append(f"{cell:<32}{f['rps']:>9.0f}{f['p50_ms']:>9.2f}{f['p99_ms']:>9.2f}"
                    f"{ratio:>8}{same:>7}{cpu:>8}{cpu_ratio:>7}"
                    f"{f['non_2xx'] + f['socket_errors']:>8}")
    return "\n".join(rows)


class ConsolePage:
    """What an open console tab costs the mock: its event stream, followed for the whole run.

    The page also re-reads one page of jobs on each change event, as the console does.
    """

    def __init__(self, base: str) -> None:
        import threading

        self.base = base
        self.events = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._follow, daemon=True)
        self.thread.start()

    def _follow(self) -> None:
        import httpx

        with httpx.Client(base_url=self.base, timeout=None) as http, \
                http.stream("GET", "/_mock/events") as stream:
            for line in stream.iter_lines():
                if self.stop.is_set():
                    return
                if line.startswith("event: change"):
                    self.events += 1
                    http.get("/_mock/jobs?limit=50")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", choices=SERVERS, default="uvicorn")
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--providers", default=",".join(SHAPES))
    parser.add_argument("--connections", default="1,32")
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--pin", action="store_true",
                        help="server on CPU 0, wrk on CPU 1 (taskset)")
    parser.add_argument("--console-page", action="store_true",
                        help="keep a console page open on the mock: follow /_mock/events and "
                             "re-read a page of jobs on each change, as the browser does")
    args = parser.parse_args()
    global PIN
    PIN = args.pin
    results = run(args.server, args.duration, args.rounds,
                  tuple(p for p in args.providers.split(",") if p),
                  tuple(int(c) for c in args.connections.split(",")),
                  console_page=args.console_page)
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
