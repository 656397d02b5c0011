"""Cold start: ``python -m mockserver serve --port <free>`` to the first 200 on /_mock/health.

Median of ``--runs`` starts (each a new process; polled every 5 ms).

    .venv/bin/python bench/coldstart.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time

from _common import PYTHON, ROOT, env, free_port, stop, wait_http


def one() -> float:
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        [PYTHON, "-m", "mockserver", "serve", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/_mock/health", process)
        return time.perf_counter() - started
    finally:
        stop(process)


def run(runs: int = 5) -> dict[str, float]:
    times = [one() for _ in range(runs)]
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times),
            "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    result = run(parser.parse_args().runs)
    print(f"cold start: median {result['median_s']:.3f} s "
          f"(min {result['min_s']:.3f}, max {result['max_s']:.3f}, {result['runs']} runs)")


if __name__ == "__main__":
    main()
