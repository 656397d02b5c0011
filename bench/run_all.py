"""Every benchmark, one table, bench/results.json. Bounded: a few minutes.

    .venv/bin/python bench/run_all.py [--quick] [--server uvicorn|granian]
    nox -s bench

Figures are medians; the served ones are taken with wrk (or, without it, a
clearly labelled Python load generator) against the mock and a bare Starlette
baseline in the same run, on the same cores as the load generator. The load
average is printed with each part: other work on the machine moves the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import admin_lists
import coldstart
import fuzzrate
import inprocess_lifecycle
import served
import store
from _common import BENCH, load_average

TARGETS = "poll >= 0.5x baseline, create >= 0.35x (32 conns), p99 < 10 ms, lifecycle >= 1000/s, " \
          "<= 2 KiB/job, poll at 1M jobs <= 1.2x at 0, admin lists < 50 ms at 200k, " \
          "cold start < 1 s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", choices=served.SERVERS, default="uvicorn")
    parser.add_argument("--pin", action="store_true",
                        help="served: server on CPU 0, wrk on CPU 1 (taskset)")
    parser.add_argument("--quick", action="store_true", help="shorter runs (a smoke test)")
    parser.add_argument("--output", default=str(BENCH / "results.json"))
    args = parser.parse_args()
    duration, rounds = (1.0, 1) if args.quick else (2.0, 5)
    results: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python "
                   f"{platform.python_version()}; load generator on the same cores",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    print(f"== served (load {load_average()})", flush=True)
    served.PIN = args.pin
    results["served"] = served.run(args.server, duration, rounds)
    print(served.table(results["served"]), flush=True)
    print(f"\n== in-process lifecycles (load {load_average()})", flush=True)
    results["inprocess"] = inprocess_lifecycle.run(jobs=300 if args.quick else 1000,
                                                   rounds=1 if args.quick else 3)
    results["inprocess_load"] = load_average()
    for shape, figures in results["inprocess"].items():
        print(f"{shape:>16}: median {figures['median']:.0f} jobs/s", flush=True)
    print(f"\n== store (load {load_average()})", flush=True)
    results["store"] = store.run(memory_jobs=5000 if args.quick else 20_000,
                                 polls=500 if args.quick else 2000)
    results["store"]["load"] = load_average()
    print(store.table(results["store"]), flush=True)
    print(f"\n== admin lists (load {load_average()})", flush=True)
    results["admin_lists"] = admin_lists.run(20_000 if args.quick else 200_000,
                                             5 if args.quick else 15)
    print(admin_lists.table(results["admin_lists"]["lists"], results["admin_lists"]["size"]),
          flush=True)
    print(f"\n== cold start (load {load_average()})", flush=True)
    results["coldstart"] = coldstart.run(3 if args.quick else 5)
    print(f"median {results['coldstart']['median_s']:.3f} s", flush=True)
    print(f"\n== fuzz (load {load_average()})", flush=True)
    results["fuzz"] = fuzzrate.run()
    print(f"{results['fuzz']['cases_per_s']} cases/s", flush=True)
    results["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    results["load_end"] = load_average()
    print("\n" + summary(results))
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.output}")


def summary(results: dict[str, Any]) -> str:
    cells = results["served"]["cells"]
    lines = [f"SUMMARY ({results['machine']}; targets: {TARGETS})",
             f"{'figure':<44}{'value':>14}{'target':>14}{'met':>6}"]

    def row(name: str, value: str, target: str, met: bool | None) -> None:
        mark = "-" if met is None else ("yes" if met else "NO")
        lines.append(f"{name:<44}{value:>14}{target:>14}{mark:>6}")

    for key, figures in cells.items():
        name, operation, conns = key.split("/")
        if name.startswith("baseline") or conns != "c32":
            continue
        need = 0.5 if operation == "poll" else 0.35
        row(f"{name} {operation} rps @32 / baseline", f"{figures['ratio']:.2f}x",
            f">= {need}x", figures["ratio"] >= need)
        if "ratio_same_server" in figures:
            row("  (/ baseline on the one-write protocol)",
                f"{figures['ratio_same_server']:.2f}x", "", None)
        if "cpu_ratio" in figures:
            row("  (baseline CPU / mock CPU per request)", f"{figures['cpu_ratio']:.2f}x", "",
                None)
        row(f"{name} {operation} p99 @32", f"{figures['p99_ms']:.2f} ms", "< 10 ms",
            figures["p99_ms"] < 10)
    best = max(f["median"] for f in results["inprocess"].values())
    row("in-process lifecycles (best shape)", f"{best:.0f}/s", ">= 1000/s", best >= 1000)
    mem = results["store"]["memory"]
    per_job = max(mem["traced_bytes_per_job"], mem["rss_bytes_per_job"])
    row("memory per stored job (max of traced, RSS)", f"{per_job:.0f} B", "<= 2048 B",
        per_job <= 2048)
    last = results["store"]["growth"][-1]
    row(f"poll latency at {last['inserted']:,} jobs / at 0", f"{last['vs_empty']:.2f}x",
        "<= 1.2x", last["vs_empty"] <= 1.2)
    lists = results["admin_lists"]
    slowest = max(f["median_ms"] for f in lists["lists"].values())
    row(f"slowest admin list at {lists['size']:,} (median)", f"{slowest:.1f} ms", "< 50 ms",
        slowest < admin_lists.TARGET_MS)
    cold = results["coldstart"]["median_s"]
    row("cold start (serve -> first 200)", f"{cold:.2f} s", "< 1 s", cold < 1)
    row("fuzz (wavespeed, 20 examples)", f"{results['fuzz']['cases_per_s']} /s", "", None)
    return "\n".join(lines)


if __name__ == "__main__":
    main()
